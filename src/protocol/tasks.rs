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
//! handler the same way). So the request that creates a task stores it, answers with the
//! handle, and then runs the tool in the same instance (`TaskRun`, started by the web layer
//! after the response is complete and logged), writing status and result to the shared
//! store, where `tasks/get` on any node reads them.
//!
//! **A runner that dies** (its node killed) stops renewing the task's lease; the first
//! `tasks/get` after the lease lapsed ends the task as `failed`. Whichever ends a task, the
//! runner or that `tasks/get`, claims the end first (an atomic increment), so a task ends
//! once. A task is bound to the principal that created it (others get "no such task"),
//! kept [`TTL_MS`] from creation (its keys are in the expiry index, and the sweep removes
//! them), counted among its principal's stored tasks ([`MAX_TASKS_PER_PRINCIPAL`]) and,
//! while it waits, among its long-running requests.
//!
//! **Which calls become tasks.** A tool that supports tasks calls
//! [`Call::start_task`](super::call::Call::start_task) where it should go on in the
//! background: input asked for before that point is a 2026-07-28 input round of the
//! request itself; after it, the task parks in `input_required` and its `inputRequests`
//! are answered through `tasks/update`. Without the client's declaration of the extension
//! the call goes on within its request, or, for a tool that only runs as a task, is
//! refused with -32021. A tool declared without task support never becomes one. The task
//! replays the tool from its start, so the answers of the request's input rounds serve the
//! same asks again; an ask repeated under the same key within a task gets the answer
//! already given (keys name questions, as in input rounds). The portable build has no
//! store and offers no tasks.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::call::{Call, Discard, Rounds, Stop, REQUEST_BUDGET_MS};
use super::jsonrpc::{self, RpcError};
use super::server::{finish, tool_result, Exchange};
use super::Revision;
use crate::auth::Principal;
use crate::config::Settings;
use crate::host::{Host, KeyValue, StoreError};
use crate::tools::ToolDef;
use crate::transport::expiry;
use crate::transport::quota::{claim_once, Counted, Place, Places, MAX_RUNNING_CALLS};

/// The extension's identifier, in capabilities.
pub const EXTENSION: &str = "io.modelcontextprotocol/tasks";
/// How long a task (and its result) is kept, from its creation.
pub const TTL_MS: u64 = 60 * 60 * 1000;
/// How long a task may run.
pub const BUDGET_MS: u64 = 30 * 60 * 1000;
/// How long a task waits for the client's answers (it holds its instance meanwhile).
pub const INPUT_WAIT_MS: u64 = 10 * 60 * 1000;
/// How often clients are asked to poll.
pub const POLL_INTERVAL_MS: u64 = 1000;
/// A runner renews its task's lease at least this often while it waits...
pub const RENEW_MS: u64 = 10_000;
/// ...and a task whose lease is older than this has lost its runner.
pub const LEASE_MS: u64 = 30_000;
/// Tasks one principal may have stored at once (running or kept for their result).
pub const MAX_TASKS_PER_PRINCIPAL: usize = 256;

pub const PREFIX: &str = "task:";
/// A task's end, written once by whoever claimed it: it outranks `task:<id>`, which a
/// runner still going could write over.
pub const FINAL_PREFIX: &str = "task-final:";
pub const INPUT_PREFIX: &str = "task-in:";
pub const CANCEL_PREFIX: &str = "task-cancel:";
/// The claim that makes a task's end happen once (see [`claim_once`]).
const END_CLAIM: &str = "claim:task-end:";

/// Whether the request's client capabilities declare the extension.
pub fn declared(client_capabilities: &Value) -> bool {
    client_capabilities
        .get("extensions")
        .and_then(|e| e.get(EXTENSION))
        .is_some_and(Value::is_object)
}

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Working,
    InputRequired,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }
}

/// A task as stored under `task:<id>`. Only its runner writes it (and, once the runner is
/// gone, the `tasks/get` that ends it); answers and cancellations go to keys of their own.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// Digest of the principal that created it.
    pub owner: String,
    pub tool: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub created: u64,
    pub updated: u64,
    /// Until when the runner is known to be alive.
    pub lease: u64,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub input_requests: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

impl Record {
    /// The task on the wire (`Task`), with its status's payload when `detailed`
    /// (`DetailedTask`, for `tasks/get`).
    pub fn wire(&self, id: &str, detailed: bool) -> Value {
        let mut task = json!({
            "taskId": id,
            "status": self.status,
            "createdAt": iso8601(self.created),
            "lastUpdatedAt": iso8601(self.updated),
            "ttlMs": TTL_MS,
            "pollIntervalMs": POLL_INTERVAL_MS,
        });
        if let Some(message) = &self.message {
            task["statusMessage"] = message.clone().into();
        }
        if detailed {
            match self.status {
                Status::InputRequired => {
                    task["inputRequests"] = Value::Object(self.input_requests.clone())
                }
                Status::Completed => task["result"] = self.result.clone().unwrap_or(json!({})),
                Status::Failed => task["error"] = self.error.clone().unwrap_or(json!({})),
                _ => {}
            }
        }
        task
    }
}

/// The principal's digest, as the caps count it.
fn owner(principal: &Principal) -> String {
    crate::ids::sha256_hex(&principal.id, 16)
}

fn record_key(id: &str) -> String {
    format!("{PREFIX}{id}")
}

fn final_key(id: &str) -> String {
    format!("{FINAL_PREFIX}{id}")
}

fn cancel_key(id: &str) -> String {
    format!("{CANCEL_PREFIX}{id}")
}

/// Where the answer to input request `key` of task `id` is left.
pub fn input_key(id: &str, key: &str) -> String {
    format!("{INPUT_PREFIX}{id}:{}", crate::ids::sha256_hex(key, 12))
}

fn end_claim(id: &str) -> String {
    format!("{END_CLAIM}{id}")
}

/// A task id: 160 random bits, hex.
fn is_task_id(id: &str) -> bool {
    id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The store and the task a call runs as.
pub struct TaskLink<'a> {
    pub store: &'a dyn KeyValue,
    pub id: String,
    /// When the lease was last renewed.
    renewed: u64,
}

impl<'a> TaskLink<'a> {
    pub fn new(store: &'a dyn KeyValue, id: String, now: u64) -> TaskLink<'a> {
        TaskLink {
            store,
            id,
            renewed: now,
        }
    }

    pub fn read(&self) -> Result<Option<Record>, StoreError> {
        read(self.store, &self.id)
    }

    /// Whether the client asked to cancel.
    pub fn cancel_requested(&self) -> bool {
        matches!(self.store.get(&cancel_key(&self.id)), Ok(Some(_)))
    }

    /// Whether the task was ended elsewhere (its runner was taken for gone).
    fn ended_elsewhere(&self) -> bool {
        matches!(self.store.counter(&end_claim(&self.id)), Ok(Some(n)) if n > 0)
    }

    /// Changes the record (status, input requests, lease): `Err(Stop::Cancelled)` when the
    /// task was ended elsewhere, so the tool stops.
    pub fn update(&mut self, now: u64, change: impl FnOnce(&mut Record)) -> Result<(), Stop> {
        if self.ended_elsewhere() {
            return Err(Stop::Cancelled);
        }
        let mut record = match self.read() {
            Ok(Some(record)) if !record.status.is_terminal() => record,
            // Ended, or gone with its time to live: nothing more to do.
            Ok(_) => return Err(Stop::Cancelled),
            Err(e) => {
                return Err(Stop::Error(RpcError::internal(format!(
                    "the task store failed: {e}"
                ))))
            }
        };
        change(&mut record);
        record.lease = now + LEASE_MS;
        self.renewed = now;
        write(self.store, &self.id, &record)
            .map_err(|e| Stop::Failed(format!("the task store failed: {e}")))
    }

    /// Renews the lease when it is due, so `tasks/get` does not take the runner for gone;
    /// whether it did.
    pub fn keep_alive(&mut self, now: u64) -> Result<bool, Stop> {
        if now < self.renewed + RENEW_MS {
            return Ok(false);
        }
        self.update(now, |_| {}).map(|()| true)
    }
}

/// The task's state: its end once it ended, else what its runner last wrote.
/// A store failure, as the client sees it.
fn store_failed(error: StoreError) -> RpcError {
    RpcError::internal(format!("the task store failed: {error}"))
}

fn read(store: &dyn KeyValue, id: &str) -> Result<Option<Record>, StoreError> {
    let bytes = match store.get(&final_key(id))? {
        Some(bytes) => Some(bytes),
        None => store.get(&record_key(id))?,
    };
    Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

fn write(store: &dyn KeyValue, id: &str, record: &Record) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(record).map_err(|e| StoreError(e.to_string()))?;
    store.set(&record_key(id), &bytes)
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
pub fn create(
    exchange: &Exchange,
    tool: &'static ToolDef,
    arguments: &Map<String, Value>,
    rounds: Rounds,
) -> Result<(Value, TaskRun), RpcError> {
    let host = exchange.host;
    let store = host
        .store()
        .ok_or_else(|| RpcError::internal("tasks need a shared key-value store"))?;
    let now = host.now_unix_ms();
    let id = crate::ids::random_hex(host, 20);
    // A place among the principal's stored tasks, and one among its long-running
    // requests (which the runner keeps, renewing it, until the task ends): a task over
    // either cap is refused now rather than failing later.
    let admit = |places: &Places, until: u64, cap: usize| {
        let admitted = places.admit(&exchange.principal.id, &id, until, cap, usize::MAX, now);
        admitted
            .map_err(store_failed)?
            .map_err(|full| full.error().1)
    };
    let stored = Places::new(store, Counted::Tasks, TTL_MS);
    let stored_place = admit(&stored, now + TTL_MS, MAX_TASKS_PER_PRINCIPAL)?;
    let running = Places::new(store, Counted::Calls, REQUEST_BUDGET_MS);
    let running_place =
        admit(&running, now + REQUEST_BUDGET_MS, MAX_RUNNING_CALLS).inspect_err(|_| {
            let _ = stored.release(&stored_place, now);
        })?;
    let give_back = |error: RpcError| {
        let _ = stored.release(&stored_place, now);
        let _ = running.release(&running_place, now);
        error
    };
    let record = Record {
        owner: owner(exchange.principal),
        tool: tool.name.to_string(),
        status: Status::Working,
        message: None,
        created: now,
        updated: now,
        lease: now + LEASE_MS,
        input_requests: Map::new(),
        result: None,
        error: None,
    };
    // Durable before the handle goes out: a tasks/get right after it finds the task.
    write(store, &id, &record)
        .and_then(|()| expiry::note(store, &record_key(&id), now + TTL_MS, now))
        .map_err(|e| give_back(store_failed(e)))?;
    let mut created = record.wire(&id, false);
    created["resultType"] = "task".into();
    let run = TaskRun {
        id,
        tool,
        arguments: arguments.clone(),
        principal: exchange.principal.clone(),
        client_capabilities: exchange.client_capabilities.clone(),
        rounds,
        deadline: now + BUDGET_MS,
        running: running_place,
    };
    Ok((created, run))
}

impl TaskRun {
    /// Runs the tool to its end and records how it ended.
    pub fn run(self, host: &dyn Host) {
        let Some(store) = host.store() else {
            return;
        };
        let settings = Settings::new(host);
        let started = host.now_unix_ms();
        let mut emitter = Discard;
        let link = TaskLink::new(store, self.id.clone(), host.now_unix_ms());
        let outcome = {
            let mut call = Call::for_task(
                &self.principal,
                host,
                &settings,
                self.client_capabilities.clone(),
                &mut emitter,
                self.tool.name,
                self.rounds,
                self.deadline,
                link,
                (
                    Places::new(store, Counted::Calls, REQUEST_BUDGET_MS),
                    self.running,
                ),
            );
            match self.tool.prepare(&self.arguments) {
                Ok(body) => body(&mut call),
                Err(problem) => Err(Stop::Error(RpcError::invalid_params(problem))),
            }
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
        match end(store, &self.id, host.now_unix_ms(), status, result, error) {
            // One line per task, like the one per request: which, how it ended, how long.
            Ok(ended) => host.log(
                &json!({
                    "task": self.id,
                    "tool": self.tool.name,
                    "principal": self.principal.label,
                    "status": if ended { status } else { Status::Failed },
                    "error": code,
                    "ms": host.now_unix_ms().saturating_sub(started),
                    "note": (!ended).then_some("ended elsewhere first (its lease had lapsed)"),
                })
                .to_string(),
            ),
            Err(e) => host.log(&format!("task {}: could not record its end: {e}", self.id)),
        }
    }
}

/// Ends task `id` once: the first to claim its end writes it; others leave it be.
fn end(
    store: &dyn KeyValue,
    id: &str,
    now: u64,
    status: Status,
    result: Option<Value>,
    error: Option<RpcError>,
) -> Result<bool, StoreError> {
    let Some(mut record) = read(store, id)? else {
        return Ok(false);
    };
    if record.status.is_terminal()
        || !claim_once(store, &end_claim(id), record.created + TTL_MS, now)?
    {
        return Ok(false);
    }
    record.status = status;
    record.updated = now;
    record.input_requests.clear();
    record.message = match (&error, status) {
        (Some(error), _) => Some(error.message.clone()),
        (None, Status::Cancelled) => Some("Cancelled at the client's request.".into()),
        _ => None,
    };
    record.result = result;
    record.error = error.map(|e| serde_json::to_value(e).unwrap_or(Value::Null));
    let bytes = serde_json::to_vec(&record).map_err(|e| StoreError(e.to_string()))?;
    store.set(&final_key(id), &bytes)?;
    expiry::note(store, &final_key(id), record.created + TTL_MS, now)?;
    // For readers of task:<id> alone; a runner still going may write over it, the end
    // above stands.
    write(store, id, &record)?;
    Ok(true)
}

/// The caller's task `id`, or -32602 (unknown, expired, or someone else's: the same
/// answer, so nobody learns of other callers' tasks).
fn lookup<'e>(
    exchange: &Exchange<'e>,
    params: &Map<String, Value>,
    method: &str,
) -> Result<(&'e dyn KeyValue, String, Record), RpcError> {
    let store = exchange
        .host
        .store()
        .ok_or_else(|| RpcError::method_not_found(method))?;
    if !declared(&exchange.client_capabilities) {
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
    if !is_task_id(id) {
        return Err(unknown());
    }
    let now = exchange.host.now_unix_ms();
    let record = read(store, id)
        .map_err(store_failed)?
        // Past its time to live a task is gone, swept or not.
        .filter(|r| r.owner == owner(exchange.principal) && r.created + TTL_MS > now)
        .ok_or_else(unknown)?;
    Ok((store, id.clone(), record))
}

/// `tasks/get`: the task's state, its result or error once it ended. A task whose runner
/// stopped renewing its lease is ended here, as failed.
pub fn get(exchange: &Exchange, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let (store, id, mut record) = lookup(exchange, params, "tasks/get")?;
    let now = exchange.host.now_unix_ms();
    if !record.status.is_terminal() && record.lease < now {
        let lost = RpcError::internal(
            "The task stopped: the instance running it went away before it finished.",
        );
        let _ = end(store, &id, now, Status::Failed, None, Some(lost));
        if let Ok(Some(now_recorded)) = read(store, &id) {
            record = now_recorded;
        }
    }
    if record.status == Status::InputRequired {
        // Answers left by tasks/update count at once, before the runner takes them: what
        // was answered is no longer asked, and a task with nothing left to ask is working.
        record
            .input_requests
            .retain(|key, _| !matches!(store.get(&input_key(&id, key)), Ok(Some(_))));
        if record.input_requests.is_empty() {
            record.status = Status::Working;
        }
    }
    Ok(record.wire(&id, true))
}

/// `tasks/update`: answers to the task's outstanding input requests; others are ignored.
pub fn update(exchange: &Exchange, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let (store, id, record) = lookup(exchange, params, "tasks/update")?;
    let responses = match params.get("inputResponses") {
        Some(Value::Object(responses)) => responses,
        _ => return Err(RpcError::invalid_params(
            "tasks/update needs params.inputResponses, an object keyed by the task's inputRequests",
        )),
    };
    let now = exchange.host.now_unix_ms();
    for (key, response) in responses {
        if !record.input_requests.contains_key(key) || !response.is_object() {
            continue;
        }
        let answer_key = input_key(&id, key);
        // The first answer to a request stands; repeats write (and index) nothing.
        if store.get(&answer_key).map_err(store_failed)?.is_some() {
            continue;
        }
        let bytes = serde_json::to_vec(response).unwrap_or_default();
        store
            .set(&answer_key, &bytes)
            .and_then(|()| expiry::note(store, &answer_key, record.created + TTL_MS, now))
            .map_err(store_failed)?;
    }
    Ok(json!({}))
}

/// `tasks/cancel`: asks the task to stop (it notices at its next wait).
pub fn cancel(exchange: &Exchange, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let (store, id, record) = lookup(exchange, params, "tasks/cancel")?;
    let key = cancel_key(&id);
    // Asked once is enough: repeats write (and index) nothing.
    if !record.status.is_terminal() && store.get(&key).map_err(store_failed)?.is_none() {
        let now = exchange.host.now_unix_ms();
        store
            .set(&key, b"1")
            .and_then(|()| expiry::note(store, &key, record.created + TTL_MS, now))
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
