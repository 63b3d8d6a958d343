//! Tasks: the 2026-07-28 extension `io.modelcontextprotocol/tasks` (SEP-2663). A tool call
//! that would take long answers at once with a task handle; the client polls `tasks/get`
//! for its status and, at the end, its result; `tasks/update` answers what the task asked
//! the client while it ran; `tasks/cancel` asks it to stop.
//!
//! **Where a task runs.** Every request may run in a fresh instance on any node, so the
//! question is whether an instance may keep working once its response is sent. Under the
//! real `spin up` (Spin 4.0.2) it may: a component that finished its response and then
//! worked on for 5 and for 40 seconds, logging each second, had its client served in under
//! 30 ms and logged every second to the end (the local host and `wasmtime serve` spawn the
//! handler the same way).await. So the request that creates a task stores it, answers with the
//! handle, and then runs the tool in the same instance (`TaskRun`, started by the web layer
//! after the response is complete and logged), writing status and result to the shared
//! store, where `tasks/get` on any node reads them.
//!
//! **A runner that dies** (its node killed) stops renewing the task's lease; the first
//! `tasks/get` after the lease lapsed ends the task as `failed`. Whichever ends a task, the
//! runner or that `tasks/get`, claims the end first (an atomic increment), so a task ends
//! once. A task is bound to the principal that created it (others get "no such task"),
//! kept [`TTL_MS`] from creation (its records, in [`crate::store::tasks`], are in the
//! expiry index, and the sweep removes them), counted among its principal's stored tasks
//! ([`MAX_TASKS_PER_PRINCIPAL`]) and, while it waits, among its long-running requests.
//!
//! **Which calls become tasks.** A tool that supports tasks calls
//! [`Call::start_task`] where it should go on in the
//! background: input asked for before that point is a 2026-07-28 input round of the
//! request itself; after it, the task parks in `input_required` and its `inputRequests`
//! are answered through `tasks/update`. Without the client's declaration of the extension
//! the call goes on within its request, or, for a tool that only runs as a task, is
//! refused with -32021. A tool declared without task support never becomes one. The task
//! replays the tool from its start, so the answers of the request's input rounds serve the
//! same asks again; an ask repeated under the same key within a task gets the answer
//! already given (keys name questions, as in input rounds). The portable build has no
//! store and offers no tasks.

use serde_json::{json, Map, Value};

use super::tool_result;
use crate::auth::Principal;
use crate::config::Settings;
use crate::host::{Host, KeyValue, StoreError};
use crate::protocol::call::{
    task_deadline, Call, Discard, Rounds, Stop, Target, REQUEST_BUDGET_MS,
};
use crate::protocol::exchange::Exchange;
use crate::protocol::jsonrpc::{self, RpcError};
use crate::protocol::model::finish;
use crate::protocol::model::{declares_tasks, TASKS_EXTENSION as EXTENSION};
use crate::protocol::Revision;
use crate::store::places::{Counted, Place, Places, MAX_RUNNING_CALLS};
pub use crate::store::tasks::TTL_MS;
use crate::store::tasks::{self as records, Ending, Record, Status, TaskLink};
use crate::tools::ToolDef;

/// How often clients are asked to poll.
pub const POLL_INTERVAL_MS: u64 = 1000;
/// Tasks one principal may have stored at once (running or kept for their result).
pub const MAX_TASKS_PER_PRINCIPAL: usize = 256;

/// -32021 naming the extension (SEP-2663 "Required Capabilities").
pub fn missing_extension(what: &str) -> RpcError {
    RpcError::new(
        jsonrpc::MISSING_REQUIRED_CLIENT_CAPABILITY,
        format!(
            "Missing required client capability: {what} needs the {EXTENSION} extension in \
             the request's clientCapabilities.extensions"
        ),
    )
    .with_data(json!({"requiredCapabilities": {"extensions": {EXTENSION: {}}}}))
}

/// The task on the wire (`Task`), with its status's payload when `detailed`
/// (`DetailedTask`, for `tasks/get`).
fn wire(record: &Record, id: &str, detailed: bool) -> Value {
    let mut task = json!({
        "taskId": id,
        "status": record.status,
        "createdAt": iso8601(record.created),
        "lastUpdatedAt": iso8601(record.updated),
        "ttlMs": TTL_MS,
        "pollIntervalMs": POLL_INTERVAL_MS,
    });
    if let Some(message) = &record.message {
        task["statusMessage"] = message.clone().into();
    }
    if detailed {
        match record.status {
            Status::InputRequired => {
                task["inputRequests"] = Value::Object(record.input_requests.clone())
            }
            Status::Completed => task["result"] = record.result.clone().unwrap_or(json!({})),
            Status::Failed => task["error"] = record.error.clone().unwrap_or(json!({})),
            _ => {}
        }
    }
    task
}

/// The principal's digest, as the caps count it.
fn owner(principal: &Principal) -> String {
    crate::ids::sha256_hex(&principal.id, 16)
}

/// A store failure, as the client sees it.
fn store_failed(error: StoreError) -> RpcError {
    RpcError::internal(format!("the task store failed: {error}"))
}

/// What the web layer runs once the response that created a task is complete: the tool,
/// from the start, as the task (answers of the request's input rounds carried over).
pub struct TaskRun {
    id: String,
    tool: &'static ToolDef,
    arguments: Map<String, Value>,
    principal: Principal,
    client_capabilities: Value,
    rounds: Rounds,
    deadline: u64,
    /// The task's place among its principal's long-running requests, taken at creation.
    running: Place,
}

impl std::fmt::Debug for TaskRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TaskRun({})", self.id)
    }
}

/// Stores a new task for `tool`, whose call stopped at `start_task` with `rounds` so far:
/// the `CreateTaskResult` to answer with, and the run to start after it.
pub async fn create(
    exchange: &Exchange<'_>,
    tool: &'static ToolDef,
    arguments: &Map<String, Value>,
    rounds: Rounds,
) -> Result<(Value, TaskRun), RpcError> {
    let host = exchange.host;
    let store = host
        .store()
        .ok_or_else(|| RpcError::internal(format!("tasks need {}", host.how_to_get_a_store())))?;
    let now = host.now_unix_ms();
    let id = crate::ids::random_hex(host, 20);
    // A place among the principal's stored tasks, and one among its long-running
    // requests (which the runner keeps, renewing it, until the task ends): a task over
    // either cap is refused now rather than failing later.
    let admit = async |places: &Places<'_>, until: u64, cap: usize| {
        let admitted = places
            .admit(&exchange.principal.id, &id, until, cap, usize::MAX, now)
            .await;
        admitted.map_err(store_failed)?.map_err(|full| full.error())
    };
    let stored = Places::new(store, Counted::Tasks, TTL_MS);
    let stored_place = admit(&stored, now + TTL_MS, MAX_TASKS_PER_PRINCIPAL).await?;
    let running = Places::new(store, Counted::Calls, REQUEST_BUDGET_MS);
    let running_place = match admit(&running, now + REQUEST_BUDGET_MS, MAX_RUNNING_CALLS).await {
        Ok(place) => place,
        Err(error) => {
            let _ = stored.release(&stored_place, now).await;
            return Err(error);
        }
    };
    let record = Record::new(owner(exchange.principal), tool.name, now);
    if let Err(e) = records::create(store, &id, &record, now).await {
        let _ = stored.release(&stored_place, now).await;
        let _ = running.release(&running_place, now).await;
        return Err(store_failed(e));
    }
    let mut created = wire(&record, &id, false);
    created["resultType"] = "task".into();
    let run = TaskRun {
        id,
        tool,
        arguments: arguments.clone(),
        principal: exchange.principal.clone(),
        client_capabilities: exchange.client_capabilities.clone(),
        rounds,
        deadline: task_deadline(exchange.settings, now),
        running: running_place,
    };
    Ok((created, run))
}

impl TaskRun {
    /// Runs the tool to its end and records how it ended.
    pub async fn run(self, host: &dyn Host) {
        let Some(store) = host.store() else {
            return;
        };
        let settings = Settings::load(host).await;
        let started = host.now_unix_ms();
        let exchange = Exchange::task(
            host,
            &settings,
            &self.principal,
            self.client_capabilities.clone(),
            self.deadline,
        );
        let mut emitter = Discard;
        let target = Target {
            method: "tools/call".into(),
            name: self.tool.name.to_string(),
        };
        let outcome = {
            let mut call = Call::for_task(
                exchange.context(),
                &mut emitter,
                target,
                self.rounds,
                TaskLink::new(store, self.id.clone(), started),
                (
                    Places::new(store, Counted::Calls, REQUEST_BUDGET_MS),
                    self.running,
                ),
            );
            let outcome = match self.tool.prepare(&self.arguments) {
                Ok(body) => body(&mut call).await,
                Err(problem) => Err(Stop::Error(RpcError::invalid_params(problem))),
            };
            call.end().await;
            outcome
        };
        let revision = Revision::V2026_07_28;
        let (status, result, error) = match outcome {
            Ok(output) => (
                Status::Completed,
                Some(finish(revision, tool_result(revision, output))),
                None,
            ),
            Err(Stop::Failed(why)) => (
                Status::Completed,
                Some(finish(
                    revision,
                    tool_result(revision, crate::tools::ToolOutput::error(why)),
                )),
                None,
            ),
            Err(Stop::Error(error)) => (Status::Failed, None, Some(error)),
            Err(Stop::Cancelled) => (Status::Cancelled, None, None),
            Err(Stop::InputRequired | Stop::StartTask) => (
                Status::Failed,
                None,
                Some(RpcError::internal(
                    "the task stopped for input it could not ask for",
                )),
            ),
        };
        let code = error.as_ref().map(|e| e.code);
        match end(store, &self.id, host.now_unix_ms(), status, result, error).await {
            // One line per task, like the one per request: which, how it ended, how long.
            Ok(ended) => host.log(
                &json!({
                    "task": self.id,
                    "tool": self.tool.name,
                    "principal": self.principal.label,
                    "status": if ended { status } else { Status::Failed },
                    "error": code,
                    "ms": host.now_unix_ms().saturating_sub(started),
                    "note": (!ended).then_some("ended elsewhere first (cancelled, or its lease had lapsed)"),
                })
                .to_string(),
            ),
            Err(e) => host.log(&format!("task {}: could not record its end: {e}", self.id)),
        }
    }
}

/// Ends task `id` once, with its status, result or error.
async fn end(
    store: &dyn KeyValue,
    id: &str,
    now: u64,
    status: Status,
    result: Option<Value>,
    error: Option<RpcError>,
) -> Result<bool, StoreError> {
    let message = match (&error, status) {
        (Some(error), _) => Some(error.message.clone()),
        (None, Status::Cancelled) => Some("Cancelled at the client's request.".into()),
        _ => None,
    };
    let ending = Ending {
        status,
        message,
        result,
        error: error.map(|e| serde_json::to_value(e).unwrap_or(Value::Null)),
    };
    records::end(store, id, now, ending).await
}

/// The caller's task `id`, or -32602 (unknown, expired, or someone else's: the same
/// answer, so nobody learns of other callers' tasks).
async fn lookup<'e>(
    exchange: &Exchange<'e>,
    params: &Map<String, Value>,
    method: &str,
) -> Result<(&'e dyn KeyValue, String, Record), RpcError> {
    let store = exchange
        .host
        .store()
        .ok_or_else(|| RpcError::method_not_found(method))?;
    if !declares_tasks(&exchange.client_capabilities) {
        return Err(missing_extension(method));
    }
    let id = match params.get("taskId") {
        Some(Value::String(id)) => id,
        _ => {
            return Err(RpcError::invalid_params(format!(
                "{method} needs params.taskId, the id a CreateTaskResult returned"
            )))
        }
    };
    let unknown = || {
        RpcError::invalid_params(format!(
            "Failed to retrieve task: no task {id:?} (unknown, expired, or created by another caller)"
        ))
    };
    if !records::is_task_id(id) {
        return Err(unknown());
    }
    let now = exchange.host.now_unix_ms();
    let record = records::read(store, id)
        .await
        .map_err(store_failed)?
        // Past its time to live a task is gone, swept or not.
        .filter(|r| r.owner == owner(exchange.principal) && r.created + TTL_MS > now)
        .ok_or_else(unknown)?;
    Ok((store, id.clone(), record))
}

/// `tasks/get`: the task's state, its result or error once it ended. A task whose runner
/// stopped renewing its lease is ended here, as failed.
pub async fn get(exchange: &Exchange<'_>, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let (store, id, mut record) = lookup(exchange, params, "tasks/get").await?;
    let now = exchange.host.now_unix_ms();
    if !record.status.is_terminal() && record.lease < now {
        let lost = RpcError::internal(
            "The task stopped: the instance running it went away before it finished.",
        );
        let _ = end(store, &id, now, Status::Failed, None, Some(lost)).await;
        if let Ok(Some(now_recorded)) = records::read(store, &id).await {
            record = now_recorded;
        }
    }
    if record.status == Status::InputRequired {
        // Answers left by tasks/update count at once, before the runner takes them: what
        // was answered is no longer asked, and a task with nothing left to ask is working.
        let mut answered = Vec::new();
        for key in record.input_requests.keys() {
            if matches!(records::answered(store, &id, key).await, Ok(true)) {
                answered.push(key.clone());
            }
        }
        for key in answered {
            record.input_requests.remove(&key);
        }
        if record.input_requests.is_empty() {
            record.status = Status::Working;
        }
    }
    Ok(wire(&record, &id, true))
}

/// `tasks/update`: answers to the task's outstanding input requests; others are ignored.
pub async fn update(
    exchange: &Exchange<'_>,
    params: &Map<String, Value>,
) -> Result<Value, RpcError> {
    let (store, id, record) = lookup(exchange, params, "tasks/update").await?;
    let responses = match params.get("inputResponses") {
        Some(Value::Object(responses)) => responses,
        _ => return Err(RpcError::invalid_params(
            "tasks/update needs params.inputResponses, an object keyed by the task's inputRequests",
        )),
    };
    let now = exchange.host.now_unix_ms();
    // Checked before anything is kept: an update is taken whole or not at all.
    for (key, response) in responses {
        let size = response.to_string().len();
        if record.input_requests.contains_key(key) && size > crate::store::MAX_VALUE_BYTES {
            return Err(RpcError::invalid_params(format!(
                "tasks/update: the input response for \"{key}\" takes {size} bytes; the server keeps at most {}",
                crate::store::MAX_VALUE_BYTES
            )));
        }
    }
    for (key, response) in responses {
        if !record.input_requests.contains_key(key) || !response.is_object() {
            continue;
        }
        records::leave_answer(store, &id, &record, key, response, now)
            .await
            .map_err(store_failed)?;
    }
    Ok(json!({}))
}

/// `tasks/cancel`: ends the task as cancelled; its runner stops at its next wait.
pub async fn cancel(
    exchange: &Exchange<'_>,
    params: &Map<String, Value>,
) -> Result<Value, RpcError> {
    let (store, id, record) = lookup(exchange, params, "tasks/cancel").await?;
    let now = exchange.host.now_unix_ms();
    records::request_cancel(store, &id, &record, now)
        .await
        .map_err(store_failed)?;
    // The task ends now, whether or not its runner is still there to notice: a runner
    // still going stops at its next wait (its end is claimed already), and one whose
    // instance went away leaves nothing to wait for.
    if !record.status.is_terminal() {
        end(store, &id, now, Status::Cancelled, None, None)
            .await
            .map_err(store_failed)?;
    }
    Ok(json!({}))
}

/// Unix milliseconds as ISO 8601 in UTC (`2026-07-28T12:00:00.000Z`).
pub fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::iso8601;

    #[test]
    fn timestamps_are_iso_8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(1_785_240_000_123), "2026-07-28T12:00:00.123Z");
        assert_eq!(iso8601(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
    }
}
