//! A session's outbox: messages for the client, waiting in the shared store for whichever
//! instance holds the session's event stream.
//!
//! Sequence numbers come from the store's atomic increment, so POSTs served at the same
//! moment by different instances (or nodes) never take the same slot. A writer takes a
//! number, then stores the message under it; the stream delivers in number order.

use super::{expiry, keys};
use crate::host::{KeyValue, StoreError};
use crate::ids::SessionId;

/// At most this many messages of a session stay in the store; older ones are dropped as
/// new ones arrive, so a session nobody reads cannot grow without bound.
pub const MAX_BACKLOG: u64 = 256;

/// How long after an outbox starts the sweep checks that its session lives: its first
/// message notes it in the expiry index, so that one started after its session ended (a
/// POST racing the session's end) is cleared by the sweep.
const CHECK_AFTER_MS: u64 = 60_000;

pub struct Outbox<'a> {
    store: &'a dyn KeyValue,
    id: SessionId,
    prefix: String,
}

impl<'a> Outbox<'a> {
    pub fn new(store: &'a dyn KeyValue, id: &SessionId) -> Outbox<'a> {
        Outbox {
            store,
            id: id.clone(),
            prefix: keys::outbox(id),
        }
    }

    pub fn session(&self) -> &SessionId {
        &self.id
    }

    fn key(&self, name: impl std::fmt::Display) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Queues a message; returns its sequence number (1, 2, …). `now` dates the first.
    pub async fn push(&self, message: &[u8], now: u64) -> Result<u64, StoreError> {
        let oversized = (message.len() > super::MAX_VALUE_BYTES).then(|| too_large(message));
        let message = oversized.as_deref().unwrap_or(message);
        let seq = self.store.increment(&self.key("head"), 1).await? as u64;
        self.store.set(&self.key(seq), message).await?;
        if seq == 1 {
            let started = keys::outbox_started(&self.id);
            expiry::note(self.store, &started, now + CHECK_AFTER_MS, now).await?;
        }
        if seq > MAX_BACKLOG {
            self.store.delete(&self.key(seq - MAX_BACKLOG)).await?;
        }
        if let Ok(Some(bell)) = self.store.get(&self.key("bell")).await {
            self.ring(&bell, seq).await;
        }
        Ok(seq)
    }

    /// Rings `bell`, the bell this outbox names (`outbox:<id>:bell`, read by the caller):
    /// the one the instance holding this outbox's stream listens on (`transport::feed`),
    /// saying `what` happened. Whatever it says differs from what it said before, so the
    /// holder reads its outboxes at its next tick. Rung after what it tells of is stored,
    /// so a poller that hears the bell finds it. A bell that fails to ring costs only
    /// time: the holder also reads its outboxes at a slower pace without one. (Where the
    /// outbox names no bell, a push costs the one read that finds none.)
    async fn ring(&self, bell: &[u8], what: impl std::fmt::Display) {
        if let [slot] = bell[..] {
            let _ = self
                .store
                .set(&keys::bell(slot), format!("{}:{what}", self.id).as_bytes())
                .await;
        }
    }

    /// Names the bell the instance holding this outbox's stream listens on (the stream
    /// holding it writes this when it takes the outbox, and when its instance starts to
    /// listen).
    pub async fn set_bell(&self, slot: u8) -> Result<(), StoreError> {
        self.store.set(&self.key("bell"), &[slot]).await
    }

    /// The last sequence number handed out (0 before the first message).
    pub async fn head(&self) -> Result<u64, StoreError> {
        Ok(self
            .store
            .counter(&self.key("head"))
            .await?
            .unwrap_or(0)
            .max(0) as u64)
    }

    pub async fn get(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get(&self.key(seq)).await
    }

    pub async fn remove(&self, seq: u64) -> Result<(), StoreError> {
        self.store.delete(&self.key(seq)).await
    }

    /// What a stream of this session last delivered (for reconnects without Last-Event-ID).
    pub async fn delivered(&self) -> Result<u64, StoreError> {
        Ok(self
            .store
            .get(&self.key("delivered"))
            .await?
            .and_then(|b| String::from_utf8(b).ok()?.parse().ok())
            .unwrap_or(0))
    }

    pub async fn set_delivered(&self, seq: u64) -> Result<(), StoreError> {
        self.store
            .set(&self.key("delivered"), seq.to_string().as_bytes())
            .await
    }

    /// The stream holding this outbox: a new stream takes over from an older one. An
    /// unreadable lease counts as none.
    pub async fn lease(&self) -> Result<Option<Lease>, StoreError> {
        Ok(self
            .store
            .get(&self.key("lease"))
            .await?
            .and_then(|record| Lease::read(&record)))
    }

    pub async fn set_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        self.store.set(&self.key("lease"), &lease.record()).await
    }

    pub async fn clear_lease(&self) -> Result<(), StoreError> {
        self.store.delete(&self.key("lease")).await
    }

    /// Deletes everything: the messages still held and the bookkeeping.
    pub async fn clear(&self) -> Result<(), StoreError> {
        let head = self.head().await?;
        for seq in head.saturating_sub(MAX_BACKLOG) + 1..=head {
            self.store.delete(&self.key(seq)).await?;
        }
        for name in ["head", "delivered", "lease"] {
            self.store.delete(&self.key(name)).await?;
        }
        // Written only where the holder's instance listens on a bell, which the instance
        // clearing cannot know: a read, and writes only where there is a bell. It is rung,
        // so that a quiet holder sees its session end at its next tick, not at its next
        // full read (30 s).
        if let Some(bell) = self.store.get(&self.key("bell")).await? {
            self.store.delete(&self.key("bell")).await?;
            self.ring(&bell, "end").await;
        }
        Ok(())
    }
}

/// What a poller sees of an outbox: the last sequence number handed out, and the token
/// of the stream that holds it (a different one, or none, means the stream lost it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watched {
    pub head: u64,
    pub holder: Option<[u8; 16]>,
}

/// [`Watched`] for each of `ids`, with one read of the store ([`KeyValue::get_many`]).
pub async fn watch(store: &dyn KeyValue, ids: &[SessionId]) -> Result<Vec<Watched>, StoreError> {
    let keys: Vec<String> = ids
        .iter()
        .flat_map(|id| {
            let prefix = keys::outbox(id);
            [format!("{prefix}head"), format!("{prefix}lease")]
        })
        .collect();
    let values = store.get_many(&keys).await?;
    Ok(values
        .chunks(2)
        .map(|pair| Watched {
            head: pair[0]
                .as_deref()
                .and_then(crate::host::decode_counter)
                .unwrap_or(0)
                .max(0) as u64,
            holder: pair
                .get(1)
                .and_then(|lease| lease.as_deref())
                .and_then(Lease::read)
                .map(|lease| lease.token),
        })
        .collect())
}

/// What is queued instead of a message too large for the store: for an answer, an error
/// answer to the same request saying why; for anything else, a log message saying what
/// was dropped.
fn too_large(message: &[u8]) -> Vec<u8> {
    let why = format!(
        "a message of {} bytes is over the {} a session's stream can carry",
        message.len(),
        super::MAX_VALUE_BYTES
    );
    let parsed: serde_json::Value = serde_json::from_slice(message).unwrap_or_default();
    let replacement = match parsed.get("id") {
        Some(id) if parsed.get("method").is_none() => serde_json::json!({
            "jsonrpc": "2.0", "id": id,
            "error": {"code": -32603, "message": format!(
                "{why}; call this without a session (Streamable HTTP answers in the response) or ask for less"
            )},
        }),
        _ => serde_json::json!({
            "jsonrpc": "2.0", "method": "notifications/message",
            "params": {"level": "error", "logger": "server", "data": format!("{why}; it was dropped")},
        }),
    };
    replacement.to_string().into_bytes()
}

/// An outbox's lease: the holding stream's token, when that stream's place lapses, and the
/// place's id (so that a stream taking the outbox over can take the place over too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub token: [u8; 16],
    pub until: u64,
    pub place: String,
}

impl Lease {
    fn record(&self) -> Vec<u8> {
        [
            &self.token[..],
            &self.until.to_le_bytes(),
            self.place.as_bytes(),
        ]
        .concat()
    }

    fn read(record: &[u8]) -> Option<Lease> {
        Some(Lease {
            token: record.get(..16)?.try_into().ok()?,
            until: u64::from_le_bytes(record.get(16..24)?.try_into().ok()?),
            place: String::from_utf8(record.get(24..)?.to_vec()).ok()?,
        })
    }
}
