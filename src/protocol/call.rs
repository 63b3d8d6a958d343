//! The circumstances of one call into a tool, prompt or resource, and what it may ask of
//! the client while it runs: progress, log messages, and input (elicitation, sampling,
//! roots).
//!
//! Input works differently per era, behind one method, [`Call::input`]:
//!
//! * legacy revisions send a server→client request on the request's stream (or the
//!   session's SSE stream) and wait for the client's answer, which arrives as a separate
//!   POST, possibly at another instance, and meets the waiting call in the shared store;
//! * 2026-07-28 has no server→client requests: the call stops, the client receives an
//!   `input_required` result listing what is needed, and retries with `inputResponses`.
//!   The server keeps nothing in between; what it needs travels in `requestState`,
//!   signed (HMAC-SHA256) so a client cannot forge or alter it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use super::jsonrpc::{self, RequestId, RpcError};
use super::Revision;
use crate::auth::Principal;
use crate::config::Settings;
use crate::host::{Host, KeyValue};
use crate::transport::expiry;
use crate::transport::quota::{Counted, Place, Places, MAX_RUNNING_CALLS};
use crate::transport::session::SessionId;

use super::tasks::{self, TaskLink};

/// Why a call stopped before producing its result.
#[derive(Debug, PartialEq)]
pub enum Stop {
    /// The client went away or cancelled the request: send nothing more.
    Cancelled,
    /// 2026-07-28: input is needed; the result is `input_required`.
    InputRequired,
    /// The call failed in a way the caller should see as a tool error (`isError`).
    Failed(String),
    /// A protocol error.
    Error(RpcError),
    /// 2026-07-28 with the tasks extension: go on as a task (see [`Call::start_task`]).
    StartTask,
}

impl From<crate::config::ConfigError> for Stop {
    fn from(e: crate::config::ConfigError) -> Stop {
        Stop::Error(e.into())
    }
}

/// Where a call's messages to the client go while it runs.
pub trait Emitter {
    /// Sends a notification or server→client request now. `Err(Stop::Cancelled)` when the
    /// client is gone.
    fn send(&mut self, message: &Value) -> Result<(), Stop>;
}

/// An emitter for calls that cannot stream (batches): messages are dropped.
pub struct Discard;

impl Emitter for Discard {
    fn send(&mut self, _message: &Value) -> Result<(), Stop> {
        Ok(())
    }
}

/// Log levels (RFC 5424 severities, as MCP names them), least severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl LogLevel {
    pub const ALL: [LogLevel; 8] = [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Notice,
        LogLevel::Warning,
        LogLevel::Error,
        LogLevel::Critical,
        LogLevel::Alert,
        LogLevel::Emergency,
    ];

    pub fn parse(name: &str) -> Option<LogLevel> {
        LogLevel::ALL.into_iter().find(|l| l.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
            LogLevel::Alert => "alert",
            LogLevel::Emergency => "emergency",
        }
    }
}

/// A legacy session the call belongs to, in the shared store: where server→client
/// answers and cancellations arrive.
#[derive(Clone)]
pub struct SessionLink<'a> {
    pub store: &'a dyn KeyValue,
    pub id: SessionId,
}

impl SessionLink<'_> {
    /// Marks server→client request `id` as awaited: only then is an answer to it kept.
    /// `id` is one [`is_ask_id`] accepts.
    pub fn ask_key(&self, id: &str) -> String {
        format!("ask:{}:{id}", self.id)
    }

    /// Where the client's answer to server→client request `id` is left.
    pub fn reply_key(&self, id: &str) -> String {
        format!("reply:{}:{id}", self.id)
    }

    /// Where a `notifications/cancelled` for request `id` is recorded. The id is the
    /// client's and of any length, so the key holds its SHA-256 (128 bits of it) instead.
    pub fn cancel_key(&self, id: &RequestId) -> String {
        format!("cancel:{}:{}", self.id, digest(id))
    }

    /// The marker of a request of this session that is running (it has waited once):
    /// only such a request's cancellation is recorded.
    pub fn running_key(&self, id: &RequestId) -> String {
        format!("running:{}:{}", self.id, digest(id))
    }
}

/// 128 bits of the SHA-256 of a request id, hex.
fn digest(id: &RequestId) -> String {
    // Display quotes strings, so the string "1" and the number 1 stay apart.
    crate::ids::sha256_hex(&id.to_string(), 16)
}

/// Whether `id` has the form of this server's server→client request ids (`s-` and 24 hex
/// digits), which is checked before it goes into any key.
pub fn is_ask_id(id: &str) -> bool {
    id.len() == 26 && id.starts_with("s-") && id[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// A server→client request being waited for: the marker that lets its answer in and the
/// answer once it came, both removed however the wait ends (answered, timed out,
/// cancelled, failed).
struct Awaited<'s> {
    store: &'s dyn KeyValue,
    ask: String,
    reply: String,
}

impl Drop for Awaited<'_> {
    fn drop(&mut self) {
        // The marker first, so an answer arriving now is dropped, not left behind.
        let _ = self.store.delete(&self.ask);
        let _ = self.store.delete(&self.reply);
    }
}

/// How long a legacy call waits for the client to answer a server→client request.
pub const INPUT_TIMEOUT_MS: u64 = 60_000;
/// How long a `requestState` stays valid.
const STATE_TTL_MS: u64 = 15 * 60 * 1000;

/// One call into a tool, prompt or resource.
pub struct Call<'a> {
    pub principal: &'a Principal,
    pub host: &'a dyn Host,
    pub settings: &'a Settings<'a>,
    pub revision: Revision,
    /// What the client declared it can do (`sampling`, `elicitation`, `roots`, …).
    pub client_capabilities: Value,
    progress_token: Option<Value>,
    /// Messages below this level are not sent; `None` sends none (2026-07-28 without
    /// `_meta` logLevel).
    log_level: Option<LogLevel>,
    emitter: &'a mut dyn Emitter,
    session: Option<SessionLink<'a>>,
    request_id: Option<RequestId>,
    /// Modern input rounds: answers so far (this retry's and earlier rounds'), state the
    /// callee keeps across rounds, and the requests this round could not satisfy.
    responses: Map<String, Value>,
    state: Map<String, Value>,
    pending: Map<String, Value>,
    /// What the `requestState` is bound to: the method and its tool, prompt or URI.
    binding: (String, String),
    /// When the request's time budget runs out.
    deadline: u64,
    /// This request's place among its principal's long-running ones, taken at its first
    /// wait and given back when the call ends.
    running: Option<(Places<'a>, Place)>,
    /// How long the call may run in all (its request's budget, or a task's).
    budget_ms: u64,
    /// The task this call runs as, when it runs as one.
    task: Option<TaskLink<'a>>,
    /// Whether the tool may become a task (its [`TaskSupport`](crate::tools::TaskSupport)).
    tasks_allowed: bool,
}

/// How long one request may run: the longest legitimate call (a countdown of 60 steps of
/// 5 s), and a little more.
pub const REQUEST_BUDGET_MS: u64 = 330_000;
/// A task sleeps in slices of at most this, looking for a cancellation in between.
const TASK_SLICE_MS: u64 = 250;

impl Drop for Call<'_> {
    fn drop(&mut self) {
        if let Some((places, place)) = self.running.take() {
            let _ = places.release(&place, self.host.now_unix_ms());
            if let (Some(link), Some(request)) = (&self.session, &self.request_id) {
                let _ = link.store.delete(&link.running_key(request));
            }
        }
    }
}

/// What a modern call carried for input rounds.
#[derive(Default)]
pub struct Rounds {
    pub responses: Map<String, Value>,
    pub state: Map<String, Value>,
}

/// The signed contents of a `requestState`.
#[derive(Serialize, Deserialize)]
struct StatePayload {
    /// Method and target it was issued for.
    m: String,
    t: String,
    /// Principal it was issued to.
    p: String,
    /// Unix milliseconds after which it is refused.
    e: u64,
    r: Map<String, Value>,
    s: Map<String, Value>,
}

impl<'a> Call<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        principal: &'a Principal,
        host: &'a dyn Host,
        settings: &'a Settings<'a>,
        revision: Revision,
        client_capabilities: Value,
        log_level: Option<LogLevel>,
        emitter: &'a mut dyn Emitter,
        session: Option<SessionLink<'a>>,
        request: &jsonrpc::Request,
        target: &str,
        rounds: Rounds,
        deadline: u64,
    ) -> Call<'a> {
        let progress_token = request
            .params
            .get("_meta")
            .and_then(|m| m.get("progressToken"))
            .filter(|t| t.is_string() || t.is_number())
            .cloned();
        Call {
            principal,
            host,
            settings,
            revision,
            client_capabilities,
            progress_token,
            log_level,
            emitter,
            session,
            request_id: Some(request.id.clone()),
            responses: rounds.responses,
            state: rounds.state,
            pending: Map::new(),
            binding: (request.method.clone(), target.to_string()),
            deadline,
            running: None,
            budget_ms: REQUEST_BUDGET_MS,
            task: None,
            tasks_allowed: false,
        }
    }

    /// A call running as task `link` (after its request was answered with the task):
    /// `rounds` are the answers its request's input rounds gathered.
    #[allow(clippy::too_many_arguments)]
    pub fn for_task(
        principal: &'a Principal,
        host: &'a dyn Host,
        settings: &'a Settings<'a>,
        client_capabilities: Value,
        emitter: &'a mut dyn Emitter,
        tool: &str,
        rounds: Rounds,
        deadline: u64,
        link: TaskLink<'a>,
        running: (Places<'a>, Place),
    ) -> Call<'a> {
        Call {
            principal,
            host,
            settings,
            revision: Revision::V2026_07_28,
            client_capabilities,
            progress_token: None,
            log_level: None,
            emitter,
            session: None,
            request_id: None,
            responses: rounds.responses,
            state: rounds.state,
            pending: Map::new(),
            binding: ("tools/call".into(), tool.to_string()),
            deadline,
            running: Some(running),
            budget_ms: tasks::BUDGET_MS,
            task: Some(link),
            tasks_allowed: true,
        }
    }

    /// From here on the tool runs as a task, when it can: in a 2026-07-28 request whose
    /// client declared the tasks extension, on a host with a shared store, the request is
    /// answered with a task handle now and the tool runs again, from the start, as the task
    /// (answers to this request's input rounds carried over, so everything before this
    /// point must be quick and repeatable). Otherwise the call simply goes on within its
    /// request. Tools that may become tasks say so in their [`ToolDef`](crate::tools::ToolDef).
    pub fn start_task(&mut self) -> Result<(), Stop> {
        if self.task.is_some()
            || !self.tasks_allowed
            || !self.revision.is_modern()
            || self.host.store().is_none()
            || !tasks::declared(&self.client_capabilities)
        {
            return Ok(());
        }
        Err(Stop::StartTask)
    }

    /// Lets the call become a task (for tools whose definition allows it).
    pub fn allow_tasks(&mut self, allowed: bool) {
        self.tasks_allowed = allowed;
    }

    /// The answers and state of this request's input rounds, for the task it becomes.
    pub fn take_rounds(&mut self) -> Rounds {
        Rounds {
            responses: std::mem::take(&mut self.responses),
            state: std::mem::take(&mut self.state),
        }
    }

    /// Before a wait: the request must still be within its time budget, and (the first
    /// time) take a place among its principal's long-running requests, so that nobody can
    /// keep more than [`MAX_RUNNING_CALLS`] instances waiting. Without a shared store there
    /// is nothing to count in; the budget still holds.
    fn before_wait(&mut self, millis: u64) -> Result<(), Stop> {
        let now = self.host.now_unix_ms();
        if now + millis > self.deadline {
            return Err(Stop::Failed(format!(
                "This {} ran out of its time budget of {} seconds.",
                if self.task.is_some() {
                    "task"
                } else {
                    "request"
                },
                self.budget_ms / 1000
            )));
        }
        self.keep_task_alive()?;
        if self.running.is_some() {
            return Ok(());
        }
        let Some(store) = self.host.store() else {
            return Ok(());
        };
        let places = Places::new(store, Counted::Calls, REQUEST_BUDGET_MS);
        let id = crate::ids::random_hex(self.host, 16);
        match places.admit(
            &self.principal.id,
            &id,
            self.deadline,
            MAX_RUNNING_CALLS,
            usize::MAX,
            now,
        ) {
            Ok(Ok(place)) => {
                self.running = Some((places, place));
                crate::transport::sweep::when_due(self.host, store, self.settings);
                // Now the request can be cancelled: a legacy cancellation is recorded
                // only for a request that is running (so clients cannot have the server
                // store cancellations of anything).
                if let (Some(link), Some(request)) = (&self.session, &self.request_id) {
                    let key = link.running_key(request);
                    let _ = store
                        .set(&key, b"1")
                        .and_then(|()| expiry::note(store, &key, self.deadline + 5_000, now));
                }
                Ok(())
            }
            Ok(Err(full)) => Err(Stop::Error(full.error().1)),
            // The cap is a guard, not the work: a store failure does not stop the call.
            Err(_) => Ok(()),
        }
    }

    /// A task renews its lease (and its place among the long-running requests, which it
    /// may hold longer than a request) when due: at every wait, progress report and log
    /// message. A task that works longer than the lease without any of them is taken for
    /// gone by the next `tasks/get`.
    fn keep_task_alive(&mut self) -> Result<(), Stop> {
        let Some(task) = &mut self.task else {
            return Ok(());
        };
        let now = self.host.now_unix_ms();
        if task.keep_alive(now)? {
            if let Some((places, place)) = &mut self.running {
                let _ = places.renew(place, self.deadline, now);
            }
        }
        Ok(())
    }

    /// Whether the client declared `capability` (`sampling`, `elicitation`, `roots`).
    pub fn has_capability(&self, capability: &str) -> bool {
        self.client_capabilities
            .get(capability)
            .is_some_and(|c| !c.is_null())
    }

    /// Reports progress, if the client asked for it with a progress token.
    pub fn progress(
        &mut self,
        progress: f64,
        total: Option<f64>,
        message: Option<&str>,
    ) -> Result<(), Stop> {
        self.check_cancelled()?;
        self.keep_task_alive()?;
        let Some(token) = self.progress_token.clone() else {
            return Ok(());
        };
        let mut params = json!({"progressToken": token, "progress": progress});
        if let Some(total) = total {
            params["total"] = json!(total);
        }
        if let Some(message) = message.filter(|_| self.revision >= Revision::V2025_03_26) {
            params["message"] = json!(message);
        }
        self.emitter
            .send(&jsonrpc::notification("notifications/progress", &params))
    }

    /// Sends a log message, if the level in force lets it through.
    pub fn log(&mut self, level: LogLevel, logger: &str, data: Value) -> Result<(), Stop> {
        self.keep_task_alive()?;
        if self.log_level.is_none_or(|floor| level < floor) {
            return Ok(());
        }
        let params = json!({"level": level.as_str(), "logger": logger, "data": data});
        self.emitter
            .send(&jsonrpc::notification("notifications/message", &params))
    }

    /// Waits, noticing a cancellation meanwhile (a task, at least every quarter second).
    pub fn sleep_ms(&mut self, millis: u64) -> Result<(), Stop> {
        self.check_cancelled()?;
        self.before_wait(millis)?;
        if self.task.is_none() {
            self.host.sleep_ms(millis);
            return self.check_cancelled();
        }
        let until = self.host.now_unix_ms() + millis;
        loop {
            let now = self.host.now_unix_ms();
            if now >= until {
                return Ok(());
            }
            self.host.sleep_ms((until - now).min(TASK_SLICE_MS));
            self.check_cancelled()?;
            self.before_wait(0)?;
        }
    }

    /// Whether a legacy client cancelled this request (`notifications/cancelled`, recorded
    /// in the store by whichever instance received it).
    fn check_cancelled(&self) -> Result<(), Stop> {
        if let Some(task) = &self.task {
            return if task.cancel_requested() {
                Err(Stop::Cancelled)
            } else {
                Ok(())
            };
        }
        let (Some(link), Some(id)) = (&self.session, &self.request_id) else {
            return Ok(());
        };
        match link.store.get(&link.cancel_key(id)) {
            Ok(Some(_)) => Err(Stop::Cancelled),
            _ => Ok(()),
        }
    }

    /// Asks the client for input: `method` is `elicitation/create`,
    /// `sampling/createMessage` or `roots/list`; `key` names the request among this
    /// call's inputs. Returns the client's result.
    pub fn input(&mut self, key: &str, method: &str, params: Value) -> Result<Value, Stop> {
        let mut answers = self.inputs(&[(key, method, params)])?;
        Ok(answers.remove(0))
    }

    /// Asks for several inputs at once. In 2026-07-28 all missing ones go to the client in
    /// one `input_required` round.
    pub fn inputs(&mut self, asks: &[(&str, &str, Value)]) -> Result<Vec<Value>, Stop> {
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
            return self.task_inputs(asks);
        }
        if self.revision.is_modern() {
            let mut answers = Vec::new();
            for (key, method, params) in asks {
                match self.responses.get(*key) {
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
        asks.iter()
            .map(|(_, method, params)| self.ask(method, params.clone()))
            .collect()
    }

    /// A task's input: what its request's input rounds answered already, else the task
    /// waits in `input_required` (its requests listed for `tasks/get`) until `tasks/update`
    /// has left every answer, taking each pending request off the list as it is answered.
    fn task_inputs(&mut self, asks: &[(&str, &str, Value)]) -> Result<Vec<Value>, Stop> {
        let mut answers: Vec<Option<Value>> = asks
            .iter()
            .map(|(key, _, _)| self.responses.get(*key).filter(|a| a.is_object()).cloned())
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
                    if let Ok(Some(bytes)) = task.store.get(&tasks::input_key(&task.id, key)) {
                        *slot = serde_json::from_slice(&bytes).ok();
                    }
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
                    tasks::Status::Working
                } else {
                    tasks::Status::InputRequired
                };
                task.update(now, |record| {
                    record.status = status;
                    record.input_requests = pending;
                    record.updated = now;
                })?;
                if !keys.is_empty() {
                    waited_since = now;
                }
                listed = Some(keys.clone());
            }
            if keys.is_empty() {
                return Ok(answers.into_iter().map(Option::unwrap_or_default).collect());
            }
            if now.saturating_sub(asked_at) > tasks::INPUT_WAIT_MS {
                // A task holds its instance while it waits: not for ever.
                return Err(Stop::Failed(format!(
                    "The client did not answer {} within {} minutes.",
                    keys.join(", "),
                    tasks::INPUT_WAIT_MS / 60_000
                )));
            }
            self.check_cancelled()?;
            let interval = crate::transport::stream::poll_interval(now - waited_since).max(50);
            self.before_wait(interval)?;
            self.host.sleep_ms(interval);
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
    fn ask(&mut self, method: &str, params: Value) -> Result<Value, Stop> {
        let Some(link) = self.session.clone() else {
            return Err(Stop::Failed(
                "Asking the client needs a session (a host with a shared key-value store, such as Spin).".into(),
            ));
        };
        let id = format!("s-{}", crate::ids::random_hex(self.host, 12));
        // The marker goes in before the request goes out, so the answer cannot beat it.
        let awaited = Awaited {
            store: link.store,
            ask: link.ask_key(&id),
            reply: link.reply_key(&id),
        };
        let now = self.host.now_unix_ms();
        let deadline = now + INPUT_TIMEOUT_MS;
        link.store
            .set(&awaited.ask, b"1")
            // Should this instance die waiting, the sweep removes the marker and answer.
            .and_then(|()| expiry::note(link.store, &awaited.ask, deadline + 5_000, now))
            .map_err(|e| {
                Stop::Failed(format!(
                    "Could not ask the client ({method}): the session store failed: {e}"
                ))
            })?;
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.emitter.send(&request)?;
        let mut interval = 5;
        loop {
            if let Ok(Some(bytes)) = link.store.get(&awaited.reply) {
                let reply: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
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
            self.check_cancelled()?;
            self.before_wait(interval)?;
            self.host.sleep_ms(interval);
            interval = (interval * 2).min(50);
        }
    }

    /// A value the callee keeps across 2026-07-28 input rounds.
    pub fn state(&self, key: &str) -> Option<&Value> {
        self.state.get(key)
    }

    pub fn set_state(&mut self, key: &str, value: Value) {
        self.state.insert(key.to_string(), value);
    }

    /// The `input_required` result for a stopped modern call: the pending requests and a
    /// signed `requestState` carrying every answer so far.
    pub fn input_required(&self) -> Result<Value, RpcError> {
        let payload = StatePayload {
            m: self.binding.0.clone(),
            t: self.binding.1.clone(),
            p: self.principal.id.clone(),
            e: self.host.now_unix_ms() + STATE_TTL_MS,
            r: self.responses.clone(),
            s: self.state.clone(),
        };
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap_or_default());
        let signature =
            URL_SAFE_NO_PAD.encode(sign(&state_key(self.host, self.settings)?, body.as_bytes()));
        Ok(json!({
            "resultType": "input_required",
            "inputRequests": self.pending,
            "requestState": format!("{body}.{signature}"),
        }))
    }
}

type HmacSha256 = Hmac<Sha256>;

fn sign(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The key that signs `requestState`: `state_secret` if configured, else a random key
/// kept in the shared store (created by the first instance that needs it).
fn state_key(host: &dyn Host, settings: &Settings) -> Result<Vec<u8>, RpcError> {
    if let Some(secret) = settings.state_secret()? {
        return Ok(secret.to_vec());
    }
    let Some(store) = host.store() else {
        return Err(RpcError::internal(
            "this needs the state_secret variable (or a host with a shared key-value store) to sign requestState",
        ));
    };
    const KEY: &str = "server:state-key";
    if let Ok(Some(key)) = store.get(KEY) {
        return Ok(key);
    }
    let mut key = vec![0u8; 32];
    host.fill_random(&mut key);
    store
        .set(KEY, &key)
        .map_err(|e| RpcError::internal(format!("could not keep the state key: {e}")))?;
    // Another instance may have raced us; converge on whatever the store holds now.
    Ok(store.get(KEY).ok().flatten().unwrap_or(key))
}

/// Reads a modern call's `inputResponses` and `requestState`: verified, unexpired, and
/// issued for this method, target and principal. Anything else is `-32602`.
pub fn rounds(
    host: &dyn Host,
    settings: &Settings,
    principal: &Principal,
    params: &Map<String, Value>,
    method: &str,
    target: &str,
) -> Result<Rounds, RpcError> {
    let mut rounds = Rounds::default();
    if let Some(state) = params.get("requestState") {
        let text = state
            .as_str()
            .ok_or_else(|| RpcError::invalid_params("requestState must be a string"))?;
        let tampered = || {
            RpcError::invalid_params(
                "requestState failed its integrity check: pass it back exactly as received",
            )
        };
        let (body, signature) = text.split_once('.').ok_or_else(tampered)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| tampered())?;
        let mut mac =
            HmacSha256::new_from_slice(&state_key(host, settings)?).expect("any key length");
        mac.update(body.as_bytes());
        mac.verify_slice(&signature).map_err(|_| tampered())?;
        let payload: StatePayload = URL_SAFE_NO_PAD
            .decode(body)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(tampered)?;
        if payload.m != method || payload.t != target || payload.p != principal.id {
            return Err(RpcError::invalid_params(
                "requestState was issued for another request",
            ));
        }
        if payload.e < host.now_unix_ms() {
            return Err(RpcError::invalid_params(
                "requestState has expired: start the request again without it",
            ));
        }
        rounds.responses = payload.r;
        rounds.state = payload.s;
    }
    match params.get("inputResponses") {
        None | Some(Value::Null) => {}
        Some(Value::Object(responses)) => {
            for (key, response) in responses {
                rounds.responses.insert(key.clone(), response.clone());
            }
        }
        Some(other) => {
            return Err(RpcError::invalid_params(format!(
                "inputResponses must be an object keyed by input request, got {}",
                jsonrpc::kind_of(other)
            )))
        }
    }
    Ok(rounds)
}
