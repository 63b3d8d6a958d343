//! Asking the client for input while a call runs, behind one method, [`Call::input`]:
//!
//! * legacy revisions send a server→client request on the request's stream (or the
//!   session's SSE stream) and wait for the client's answer, which arrives as a separate
//!   POST, possibly at another instance, and meets the waiting call in the shared store
//!   ([`crate::store::asks`]);
//! * 2026-07-28 has no server→client requests: the call stops, the client receives an
//!   `input_required` result listing what is needed, and retries with `inputResponses`
//!   ([`super::state`]);
//! * a task parks in `input_required` until `tasks/update` has answered.

use serde_json::{json, Map, Value};

use super::admission::stopped;
use super::{Call, Stop};
use crate::protocol::jsonrpc::{self, RpcError};
use crate::store::asks::Awaited;
use crate::store::tasks::Status;

/// How long a legacy call waits for the client to answer a server→client request.
pub const INPUT_TIMEOUT_MS: u64 = 60_000;
/// How long a task waits for the client's answers (it holds its instance meanwhile).
pub const TASK_INPUT_WAIT_MS: u64 = 10 * 60 * 1000;

impl Call<'_> {
    /// Asks the client for input: `method` is `elicitation/create`,
    /// `sampling/createMessage` or `roots/list`; `key` names the request among this
    /// call's inputs. Returns the client's result.
    pub async fn input(&mut self, key: &str, method: &str, params: Value) -> Result<Value, Stop> {
        let mut answers = self.inputs(&[(key, method, params)]).await?;
        Ok(answers.remove(0))
    }

    /// Asks for several inputs at once. In 2026-07-28 all missing ones go to the client in
    /// one `input_required` round.
    pub async fn inputs(&mut self, asks: &[(&str, &str, Value)]) -> Result<Vec<Value>, Stop> {
        let capability = |method: &str| match method {
            "sampling/createMessage" => "sampling",
            "elicitation/create" => "elicitation",
            _ => "roots",
        };
        for (_, method, _) in asks {
            if !self.has_capability(capability(method)) {
                return Err(self.missing_capability(capability(method)));
            }
        }
        if self.task.is_some() {
            return self.task_inputs(asks).await;
        }
        if self.revision.is_modern() {
            let mut answers = Vec::new();
            for (key, method, params) in asks {
                match self.rounds.responses.get(*key) {
                    Some(answer) if answer.is_object() => answers.push(answer.clone()),
                    _ => {
                        self.pending
                            .insert(key.to_string(), json!({"method": method, "params": params}));
                    }
                }
            }
            return if self.pending.is_empty() {
                Ok(answers)
            } else {
                Err(Stop::InputRequired)
            };
        }
        let mut answers = Vec::with_capacity(asks.len());
        for (_, method, params) in asks {
            answers.push(self.ask(method, params.clone()).await?);
        }
        Ok(answers)
    }

    /// A task's input: what its request's input rounds answered already, else the task
    /// waits in `input_required` (its requests listed for `tasks/get`) until `tasks/update`
    /// has left every answer, taking each pending request off the list as it is answered.
    async fn task_inputs(&mut self, asks: &[(&str, &str, Value)]) -> Result<Vec<Value>, Stop> {
        let mut answers: Vec<Option<Value>> = asks
            .iter()
            .map(|(key, _, _)| {
                self.rounds
                    .responses
                    .get(*key)
                    .filter(|a| a.is_object())
                    .cloned()
            })
            .collect();
        let asked_at = self.host.now_unix_ms();
        let mut waited_since = asked_at;
        let mut listed: Option<Vec<String>> = None;
        loop {
            let Some(task) = &mut self.task else {
                return Err(Stop::Failed("not a task".into()));
            };
            for (slot, (key, _, _)) in answers.iter_mut().zip(asks) {
                if slot.is_none() {
                    *slot = task.answer(key).await;
                }
            }
            let pending: Map<String, Value> = answers
                .iter()
                .zip(asks)
                .filter(|(slot, _)| slot.is_none())
                .map(|(_, (key, method, params))| {
                    (key.to_string(), json!({"method": method, "params": params}))
                })
                .collect();
            let now = self.host.now_unix_ms();
            let keys: Vec<String> = pending.keys().cloned().collect();
            if listed.as_ref() != Some(&keys) {
                let status = if pending.is_empty() {
                    Status::Working
                } else {
                    Status::InputRequired
                };
                task.update(now, |record| {
                    record.status = status;
                    record.input_requests = pending;
                    record.updated = now;
                })
                .await
                .map_err(stopped)?;
                if !keys.is_empty() {
                    waited_since = now;
                }
                listed = Some(keys.clone());
            }
            if keys.is_empty() {
                return Ok(answers.into_iter().map(Option::unwrap_or_default).collect());
            }
            if now.saturating_sub(asked_at) > TASK_INPUT_WAIT_MS {
                // A task holds its instance while it waits: not for ever.
                return Err(Stop::Failed(format!(
                    "The client did not answer {} within {} minutes.",
                    keys.join(", "),
                    TASK_INPUT_WAIT_MS / 60_000
                )));
            }
            self.check_cancelled().await?;
            let interval = crate::store::poll_interval(now - waited_since).max(50);
            self.before_wait(interval).await?;
            self.host.sleep_ms(interval).await;
        }
    }

    fn missing_capability(&self, capability: &str) -> Stop {
        if self.revision.is_modern() {
            Stop::Error(
                RpcError::new(
                    jsonrpc::MISSING_REQUIRED_CLIENT_CAPABILITY,
                    format!("Missing required client capability: this needs {capability}, which the request's clientCapabilities do not declare"),
                )
                .with_data(json!({"requiredCapabilities": {capability: {}}})),
            )
        } else {
            Stop::Failed(format!(
                "This needs the client's {capability} capability, which it did not declare at initialize."
            ))
        }
    }

    /// Legacy: a server→client request on the stream, then a wait for the answer.
    async fn ask(&mut self, method: &str, params: Value) -> Result<Value, Stop> {
        let Some(link) = self.session.clone() else {
            return Err(Stop::Failed(format!(
                "Asking the client needs a session ({}).",
                self.host.how_to_get_a_store()
            )));
        };
        let id = format!("s-{}", crate::ids::random_hex(self.host, 12));
        let now = self.host.now_unix_ms();
        let deadline = now + INPUT_TIMEOUT_MS;
        let awaited = link.ask(&id, deadline, now).await.map_err(|e| {
            Stop::Failed(format!(
                "Could not ask the client ({method}): the session store failed: {e}"
            ))
        })?;
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let answered = self
            .await_answer(&awaited, &request, method, deadline)
            .await;
        awaited.done().await;
        answered
    }

    /// Sends the request, then waits for its answer until `deadline`.
    async fn await_answer(
        &mut self,
        awaited: &Awaited<'_>,
        request: &Value,
        method: &str,
        deadline: u64,
    ) -> Result<Value, Stop> {
        self.emitter.send(request).await?;
        let mut interval = 5;
        loop {
            if let Ok(Some(reply)) = awaited.answer().await {
                return match reply.get("error") {
                    Some(error) => Err(Stop::Failed(format!(
                        "The client refused {method}: {}",
                        error
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or("no reason given")
                    ))),
                    None => Ok(reply.get("result").cloned().unwrap_or(Value::Null)),
                };
            }
            if self.host.now_unix_ms() >= deadline {
                return Err(Stop::Failed(format!(
                    "The client did not answer {method} within {} seconds.",
                    INPUT_TIMEOUT_MS / 1000
                )));
            }
            self.check_cancelled().await?;
            self.before_wait(interval).await?;
            self.host.sleep_ms(interval).await;
            interval = (interval * 2).min(50);
        }
    }
}
