//! Task records (the 2026-07-28 tasks extension; `protocol::handler::tasks` has the methods): a
//! task's state under `task:<id>`, written by its runner; its end under `task-final:<id>`,
//! written once by whoever claimed it (the runner, or the `tasks/get` that found the runner
//! gone), and outranking the record a runner still going could write over; the client's
//! answers to its input requests and its cancellation, under keys of their own so the
//! runner's writes never race them. Every key is in the expiry index for the task's time
//! to live.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::places::claim_once;
use super::{expiry, keys};
use crate::host::{KeyValue, StoreError};

/// How long a task (and its result) is kept, from its creation.
pub const TTL_MS: u64 = 60 * 60 * 1000;
/// A runner renews its task's lease at least this often while it waits...
pub const RENEW_MS: u64 = 10_000;
/// ...and a task whose lease is older than this has lost its runner.
pub const LEASE_MS: u64 = 30_000;

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

/// A task as stored. Only its runner writes it (and, once the runner is gone, the
/// `tasks/get` that ends it); answers and cancellations go to keys of their own.
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
    /// A task just created for `tool`, working.
    pub fn new(owner: String, tool: &str, now: u64) -> Record {
        Record {
            owner,
            tool: tool.to_string(),
            status: Status::Working,
            message: None,
            created: now,
            updated: now,
            lease: now + LEASE_MS,
            input_requests: Map::new(),
            result: None,
            error: None,
        }
    }
}

/// A task id: 160 random bits, hex.
pub fn is_task_id(id: &str) -> bool {
    id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn input_key(id: &str, key: &str) -> String {
    keys::task_input(id, &crate::ids::sha256_hex(key, 12))
}

fn end_claim(id: &str) -> String {
    keys::claim(&format!("task-end:{id}"))
}

/// The task's state: its end once it ended, else what its runner last wrote.
pub async fn read(store: &dyn KeyValue, id: &str) -> Result<Option<Record>, StoreError> {
    let bytes = match store.get(&keys::task_final(id)).await? {
        Some(bytes) => Some(bytes),
        None => store.get(&keys::task(id)).await?,
    };
    Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

async fn write(store: &dyn KeyValue, id: &str, record: &Record) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(record).map_err(|e| StoreError(e.to_string()))?;
    store.set(&keys::task(id), &bytes).await
}

/// Stores a new task, durable before its handle goes out (a `tasks/get` right after
/// finds it), noted in the expiry index for its time to live.
pub async fn create(
    store: &dyn KeyValue,
    id: &str,
    record: &Record,
    now: u64,
) -> Result<(), StoreError> {
    write(store, id, record).await?;
    expiry::note(store, &keys::task(id), record.created + TTL_MS, now).await
}

/// How a task ended, as whoever ends it says.
pub struct Ending {
    pub status: Status,
    pub message: Option<String>,
    pub result: Option<Value>,
    pub error: Option<Value>,
}

/// Ends task `id` once: the first to claim its end writes it; others leave it be. Whether
/// this call ended it.
pub async fn end(
    store: &dyn KeyValue,
    id: &str,
    now: u64,
    ending: Ending,
) -> Result<bool, StoreError> {
    let Some(mut record) = read(store, id).await? else {
        return Ok(false);
    };
    if record.status.is_terminal()
        || !claim_once(store, &end_claim(id), record.created + TTL_MS, now).await?
    {
        return Ok(false);
    }
    record.status = ending.status;
    record.updated = now;
    record.input_requests.clear();
    record.message = ending.message;
    record.result = ending.result;
    record.error = ending.error;
    let mut bytes = serde_json::to_vec(&record).map_err(|e| StoreError(e.to_string()))?;
    if bytes.len() > super::MAX_VALUE_BYTES {
        // A result too large to keep ends the task failed, saying why, rather than not at all.
        let size = bytes.len();
        record.status = Status::Failed;
        record.result = None;
        record.message = None;
        record.error = Some(serde_json::json!({
            "code": -32603,
            "message": format!(
                "the task's result took {size} bytes; the server keeps at most {} (ask for less)",
                super::MAX_VALUE_BYTES
            ),
        }));
        bytes = serde_json::to_vec(&record).map_err(|e| StoreError(e.to_string()))?;
    }
    store.set(&keys::task_final(id), &bytes).await?;
    expiry::note(store, &keys::task_final(id), record.created + TTL_MS, now).await?;
    // For readers of task:<id> alone; a runner still going may write over it, the end
    // above stands.
    write(store, id, &record).await?;
    Ok(true)
}

/// The client's answer to input request `key` of task `id`, once given.
pub async fn answer(
    store: &dyn KeyValue,
    id: &str,
    key: &str,
) -> Result<Option<Value>, StoreError> {
    Ok(store
        .get(&input_key(id, key))
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Whether input request `key` of task `id` has been answered.
pub async fn answered(store: &dyn KeyValue, id: &str, key: &str) -> Result<bool, StoreError> {
    Ok(store.get(&input_key(id, key)).await?.is_some())
}

/// Leaves the client's answer to input request `key` of task `record`; the first answer
/// stands, and repeats write (and index).await nothing.
pub async fn leave_answer(
    store: &dyn KeyValue,
    id: &str,
    record: &Record,
    key: &str,
    answer: &Value,
    now: u64,
) -> Result<(), StoreError> {
    let answer_key = input_key(id, key);
    if store.get(&answer_key).await?.is_some() {
        return Ok(());
    }
    store
        .set(&answer_key, answer.to_string().as_bytes())
        .await?;
    expiry::note(store, &answer_key, record.created + TTL_MS, now).await
}

/// Asks task `record` to stop; asked once is enough, repeats write (and index).await nothing.
pub async fn request_cancel(
    store: &dyn KeyValue,
    id: &str,
    record: &Record,
    now: u64,
) -> Result<(), StoreError> {
    let key = keys::task_cancel(id);
    if record.status.is_terminal() || store.get(&key).await?.is_some() {
        return Ok(());
    }
    store.set(&key, b"1").await?;
    expiry::note(store, &key, record.created + TTL_MS, now).await
}

/// Why a runner cannot go on writing its task.
#[derive(Debug)]
pub enum Gone {
    /// The task ended elsewhere (its runner was taken for gone), ended already, or
    /// lapsed with its time to live: the tool should stop.
    Ended,
    /// The record could not be read.
    Unreadable(StoreError),
    /// The record could not be written.
    Unwritable(StoreError),
}

/// The task a call runs as: its runner's handle on the record.
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

    /// Whether the client asked to cancel.
    pub async fn cancel_requested(&self) -> bool {
        matches!(
            self.store.get(&keys::task_cancel(&self.id)).await,
            Ok(Some(_))
        )
    }

    /// The client's answer to input request `key`, if it came.
    pub async fn answer(&self, key: &str) -> Option<Value> {
        answer(self.store, &self.id, key).await.ok().flatten()
    }

    /// Whether the task was ended elsewhere (its runner was taken for gone).
    async fn ended_elsewhere(&self) -> bool {
        matches!(self.store.counter(&end_claim(&self.id)).await, Ok(Some(n)) if n > 0)
    }

    /// Changes the record (status, input requests) and renews the lease.
    pub async fn update(&mut self, now: u64, change: impl FnOnce(&mut Record)) -> Result<(), Gone> {
        if self.ended_elsewhere().await {
            return Err(Gone::Ended);
        }
        let mut record = match read(self.store, &self.id).await {
            Ok(Some(record)) if !record.status.is_terminal() => record,
            // Ended, or gone with its time to live: nothing more to do.
            Ok(_) => return Err(Gone::Ended),
            Err(e) => return Err(Gone::Unreadable(e)),
        };
        change(&mut record);
        record.lease = now + LEASE_MS;
        self.renewed = now;
        write(self.store, &self.id, &record)
            .await
            .map_err(Gone::Unwritable)
    }

    /// Renews the lease when it is due, so `tasks/get` does not take the runner for gone;
    /// whether it did.
    pub async fn keep_alive(&mut self, now: u64) -> Result<bool, Gone> {
        if now < self.renewed + RENEW_MS {
            return Ok(false);
        }
        self.update(now, |_| {}).await.map(|()| true)
    }
}
