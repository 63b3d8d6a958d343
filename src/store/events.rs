//! Changes to what the server offers — a list changed, a resource was updated — published
//! through the shared store so that clients listening on other instances hear of them.
//!
//! A change is appended to a feed (`events:head` counter, `events:<seq>` records, the last
//! [`KEEP`] kept) that 2026-07-28 `subscriptions/listen` streams poll. Legacy sessions that
//! subscribed to a resource (`resources/subscribe`) get `notifications/resources/updated`
//! pushed into their outboxes directly.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::keys;
use super::outbox::Outbox;
use crate::host::{Host, KeyValue, StoreError};
use crate::ids::SessionId;
use crate::protocol::jsonrpc;

/// Feed records kept for streams that fall behind.
pub const KEEP: u64 = 256;

/// A change clients may be told about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "uri", rename_all = "kebab-case")]
pub enum Change {
    ToolsList,
    PromptsList,
    ResourcesList,
    ResourceUpdated(String),
}

impl Change {
    /// The notification announcing it.
    pub fn notification(&self) -> Value {
        match self {
            Change::ToolsList => {
                json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
            }
            Change::PromptsList => {
                json!({"jsonrpc": "2.0", "method": "notifications/prompts/list_changed"})
            }
            Change::ResourcesList => {
                json!({"jsonrpc": "2.0", "method": "notifications/resources/list_changed"})
            }
            Change::ResourceUpdated(uri) => {
                jsonrpc::notification("notifications/resources/updated", &json!({"uri": uri}))
            }
        }
    }
}

/// Publishes a change. Without a shared store nobody else could hear of it: a no-op.
pub async fn publish(host: &dyn Host, change: &Change) -> Result<(), StoreError> {
    let Some(store) = host.store() else {
        return Ok(());
    };
    let seq = store.increment(keys::EVENTS_HEAD, 1).await? as u64;
    let record = serde_json::to_vec(change).map_err(|e| StoreError(e.to_string()))?;
    store.set(&keys::event(seq), &record).await?;
    if seq > KEEP {
        store.delete(&keys::event(seq - KEEP)).await?;
    }
    if let Change::ResourceUpdated(uri) = change {
        let message = change.notification().to_string();
        for key in store.keys_with_prefix(&subscription_prefix(uri)).await? {
            if let Some(id) = key.rsplit(':').next().and_then(SessionId::parse) {
                Outbox::new(store, &id)
                    .push(message.as_bytes(), host.now_unix_ms())
                    .await?;
            }
        }
    }
    Ok(())
}

/// The sequence number of the latest change.
pub async fn head(store: &dyn KeyValue) -> Result<u64, StoreError> {
    Ok(store.counter(keys::EVENTS_HEAD).await?.unwrap_or(0).max(0) as u64)
}

/// Change `seq`, if still kept.
pub async fn get(store: &dyn KeyValue, seq: u64) -> Result<Option<Change>, StoreError> {
    Ok(store
        .get(&keys::event(seq))
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

fn subscription_prefix(uri: &str) -> String {
    keys::subscriptions(&crate::ids::sha256_hex(uri, 12))
}

/// Records that legacy session `id` wants updates of `uri`.
/// The key is noted in the expiry index for `expires_at` (the session's expiry), so that
/// it goes with its session even if the session record lost track of it (two subscribes
/// at once each write the record back).
pub async fn subscribe(
    store: &dyn KeyValue,
    id: &SessionId,
    uri: &str,
    expires_at: u64,
    now: u64,
) -> Result<(), StoreError> {
    let key = format!("{}{id}", subscription_prefix(uri));
    store.set(&key, uri.as_bytes()).await?;
    super::expiry::note(store, &key, expires_at, now).await
}

pub async fn unsubscribe(
    store: &dyn KeyValue,
    id: &SessionId,
    uri: &str,
) -> Result<(), StoreError> {
    store
        .delete(&format!("{}{id}", subscription_prefix(uri)))
        .await
}
