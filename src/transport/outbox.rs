//! A session's outbox: messages for the client, waiting in the shared store for whichever
//! instance holds the session's event stream.
//!
//! Sequence numbers come from the store's atomic increment, so POSTs served at the same
//! moment by different instances (or nodes) never take the same slot. A writer takes a
//! number, then stores the message under it; the stream delivers in number order.

use super::session::SessionId;
use crate::host::{KeyValue, StoreError};

/// At most this many messages of a session stay in the store; older ones are dropped as
/// new ones arrive, so a session nobody reads cannot grow without bound.
pub const MAX_BACKLOG: u64 = 256;

/// How an outbox appears in the expiry index (`outbox:<session id>`): noted when its first
/// message is pushed, so that one started after its session ended (a POST racing the
/// session's end) is cleared by the sweep.
pub const NOTE_PREFIX: &str = "outbox:";
/// How long after an outbox starts the sweep checks that its session lives.
const CHECK_AFTER_MS: u64 = 60_000;

pub struct Outbox<'a> {
    store: &'a dyn KeyValue,
    prefix: String,
}

impl<'a> Outbox<'a> {
    pub fn new(store: &'a dyn KeyValue, id: &SessionId) -> Outbox<'a> {
        Outbox {
            store,
            prefix: format!("outbox:{id}:"),
        }
    }

    fn key(&self, name: impl std::fmt::Display) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Queues a message; returns its sequence number (1, 2, …). `now` dates the first.
    pub fn push(&self, message: &[u8], now: u64) -> Result<u64, StoreError> {
        let seq = self.store.increment(&self.key("head"), 1)? as u64;
        self.store.set(&self.key(seq), message)?;
        if seq == 1 {
            let id = self
                .prefix
                .trim_start_matches("outbox:")
                .trim_end_matches(':');
            super::expiry::note(
                self.store,
                &format!("{NOTE_PREFIX}{id}"),
                now + CHECK_AFTER_MS,
                now,
            )?;
        }
        if seq > MAX_BACKLOG {
            self.store.delete(&self.key(seq - MAX_BACKLOG))?;
        }
        Ok(seq)
    }

    /// The last sequence number handed out (0 before the first message).
    pub fn head(&self) -> Result<u64, StoreError> {
        Ok(self.store.counter(&self.key("head"))?.unwrap_or(0).max(0) as u64)
    }

    pub fn get(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get(&self.key(seq))
    }

    pub fn remove(&self, seq: u64) -> Result<(), StoreError> {
        self.store.delete(&self.key(seq))
    }

    /// What a stream of this session last delivered (for reconnects without Last-Event-ID).
    pub fn delivered(&self) -> Result<u64, StoreError> {
        Ok(self
            .store
            .get(&self.key("delivered"))?
            .and_then(|b| String::from_utf8(b).ok()?.parse().ok())
            .unwrap_or(0))
    }

    pub fn set_delivered(&self, seq: u64) -> Result<(), StoreError> {
        self.store
            .set(&self.key("delivered"), seq.to_string().as_bytes())
    }

    /// The stream holding this outbox: a new stream takes over from an older one.
    pub fn lease(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get(&self.key("lease"))
    }

    pub fn set_lease(&self, holder: &[u8]) -> Result<(), StoreError> {
        self.store.set(&self.key("lease"), holder)
    }

    pub fn clear_lease(&self) -> Result<(), StoreError> {
        self.store.delete(&self.key("lease"))
    }

    /// Deletes everything: the messages still held and the bookkeeping.
    pub fn clear(&self) -> Result<(), StoreError> {
        let head = self.head()?;
        for seq in head.saturating_sub(MAX_BACKLOG) + 1..=head {
            self.store.delete(&self.key(seq))?;
        }
        for name in ["head", "delivered", "lease"] {
            self.store.delete(&self.key(name))?;
        }
        Ok(())
    }
}
