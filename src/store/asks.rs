//! What a legacy session's calls and its client leave for each other in the store: the
//! answers to server→client requests (elicitation, sampling, roots), cancellations, and the
//! markers that say which of those the server is waiting for. A call may run in one
//! instance while the client's answer or cancellation arrives at another.
//!
//! Nothing is kept that the server did not ask for: an answer only while its request is
//! awaited (an `ask:` marker), a cancellation only for a request that is running (a
//! `running:` marker, set at its first wait). Every marker is in the expiry index, so one
//! left by an instance that died goes with the next sweep.

use serde_json::Value;

use super::{expiry, keys};
use crate::host::{KeyValue, StoreError};
use crate::ids::SessionId;
use crate::protocol::jsonrpc::RequestId;

/// How long a recorded cancellation is kept: longer than any request runs.
pub const CANCEL_KEEP_MS: u64 = 15 * 60 * 1000;

/// How long after its wait should have ended a marker whose instance died is swept.
const MARKER_GRACE_MS: u64 = 5_000;

/// A legacy session in the shared store, where its server→client answers and
/// cancellations meet the calls waiting for them.
#[derive(Clone)]
pub struct SessionLink<'a> {
    pub store: &'a dyn KeyValue,
    pub id: SessionId,
}

/// 128 bits of the SHA-256 of a request id, hex: the client's ids are of any length.
fn digest(id: &RequestId) -> String {
    // Display quotes strings, so the string "1" and the number 1 stay apart.
    crate::ids::sha256_hex(&id.to_string(), 16)
}

/// Whether `id` has the form of this server's server→client request ids (`s-` and 24 hex
/// digits), which is checked before it goes into any key.
pub fn is_ask_id(id: &str) -> bool {
    id.len() == 26 && id.starts_with("s-") && id[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

impl<'a> SessionLink<'a> {
    /// Marks server→client request `id` (one [`is_ask_id`] accepts) as awaited until
    /// `until`: only then is an answer to it kept. The marker goes in before the request
    /// goes out, so the answer cannot beat it.
    pub async fn ask(&self, id: &str, until: u64, now: u64) -> Result<Awaited<'a>, StoreError> {
        let awaited = Awaited {
            store: self.store,
            ask: keys::ask(&self.id, id),
            reply: keys::reply(&self.id, id),
        };
        self.store.set(&awaited.ask, b"1").await?;
        // Should this instance die waiting, the sweep removes the marker and the answer.
        expiry::note(self.store, &awaited.ask, until + MARKER_GRACE_MS, now).await?;
        Ok(awaited)
    }

    /// Leaves the client's answer to server→client request `id` for the call waiting on
    /// it; an answer nobody waits for is dropped.
    pub async fn answer(&self, id: &str, reply: &Value) -> Result<(), StoreError> {
        if !is_ask_id(id) || self.store.get(&keys::ask(&self.id, id)).await?.is_none() {
            return Ok(());
        }
        let mut text = reply.to_string();
        if text.len() > super::MAX_VALUE_BYTES {
            // The waiting call gets a refusal it can report, instead of waiting in vain.
            text = serde_json::json!({"error": {"code": -32600, "message": format!(
                "the client's answer took {} bytes; the server keeps at most {}",
                text.len(),
                super::MAX_VALUE_BYTES
            )}})
            .to_string();
        }
        self.store
            .set(&keys::reply(&self.id, id), text.as_bytes())
            .await
    }

    /// Records that the client cancelled `request`, if it is running (a quick one has
    /// answered already); kept while it may still run, then swept.
    pub async fn cancel(&self, request: &RequestId, now: u64) -> Result<(), StoreError> {
        let digest = digest(request);
        if self
            .store
            .get(&keys::running(&self.id, &digest))
            .await?
            .is_none()
        {
            return Ok(());
        }
        let key = keys::cancel(&self.id, &digest);
        self.store.set(&key, b"1").await?;
        expiry::note(self.store, &key, now + CANCEL_KEEP_MS, now).await
    }

    /// Whether the client cancelled `request`.
    pub async fn cancelled(&self, request: &RequestId) -> Result<bool, StoreError> {
        Ok(self
            .store
            .get(&keys::cancel(&self.id, &digest(request)))
            .await?
            .is_some())
    }

    /// Removes a cancellation once it stopped its request.
    pub async fn forget_cancellation(&self, request: &RequestId) -> Result<(), StoreError> {
        self.store
            .delete(&keys::cancel(&self.id, &digest(request)))
            .await
    }

    /// Marks `request` as running (it waits) until `until`: from now on it can be
    /// cancelled.
    pub async fn mark_running(
        &self,
        request: &RequestId,
        until: u64,
        now: u64,
    ) -> Result<(), StoreError> {
        let key = keys::running(&self.id, &digest(request));
        self.store.set(&key, b"1").await?;
        expiry::note(self.store, &key, until + MARKER_GRACE_MS, now).await
    }

    /// The request ended.
    pub async fn unmark_running(&self, request: &RequestId) -> Result<(), StoreError> {
        self.store
            .delete(&keys::running(&self.id, &digest(request)))
            .await
    }
}

/// A server→client request being waited for: the marker that lets its answer in and the
/// answer once it came. [`Awaited::done`] removes both however the wait ends (answered,
/// timed out, cancelled, failed); should the instance die first, the sweep does.
pub struct Awaited<'s> {
    store: &'s dyn KeyValue,
    ask: String,
    reply: String,
}

impl Awaited<'_> {
    /// The client's answer (`{"result": …}` or `{"error": …}`), once it came.
    pub async fn answer(&self) -> Result<Option<Value>, StoreError> {
        Ok(self
            .store
            .get(&self.reply)
            .await?
            .map(|bytes| serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }
}

impl Awaited<'_> {
    /// The wait is over: removes the marker, then the answer.
    pub async fn done(self) {
        // The marker first, so an answer arriving now is dropped, not left behind.
        let _ = self.store.delete(&self.ask).await;
        let _ = self.store.delete(&self.reply).await;
    }
}
