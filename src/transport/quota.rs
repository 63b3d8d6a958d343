//! Per-principal caps on sessions and long-lived streams, kept in the shared store so
//! that every instance counts the same things.
//!
//! Each principal has one ledger per kind: a record mapping session ids to the moment the
//! entry lapses. Entries lapse on their own, so a ledger heals itself after an instance
//! dies without releasing what it held. Updates are read-modify-write (the store offers
//! no compare-and-swap), so two instances admitting at the same instant can both get in:
//! the cap is exact for one client and may be exceeded by the few requests that race.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::rpc_error;
use super::session::SessionId;
use crate::host::{KeyValue, StoreError};
use crate::http::Response;
use crate::protocol::jsonrpc::{RequestId, RpcError};

/// JSON-RPC code of "a per-principal limit is reached" (implementation-defined range).
pub const LIMIT_REACHED: i64 = -32030;

/// Prefix of every ledger key.
pub const PREFIX: &str = "quota:";

/// What a ledger counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    Sessions,
    Streams,
}

impl Counted {
    fn name(self) -> &'static str {
        match self {
            Counted::Sessions => "sessions",
            Counted::Streams => "streams",
        }
    }

    fn variable(self) -> &'static str {
        match self {
            Counted::Sessions => crate::config::MAX_SESSIONS_PER_PRINCIPAL.name,
            Counted::Streams => crate::config::MAX_STREAMS_PER_PRINCIPAL.name,
        }
    }
}

/// The ledger of one principal's sessions or streams.
pub struct Ledger<'a> {
    store: &'a dyn KeyValue,
    counted: Counted,
    key: String,
}

/// Session id → unix milliseconds at which the entry lapses.
type Entries = BTreeMap<String, u64>;

/// A refusal: the cap, and how long until the oldest entry lapses.
#[derive(Debug, PartialEq, Eq)]
pub struct Full {
    pub counted: Counted,
    pub cap: usize,
    pub retry_after_s: u64,
}

impl Full {
    /// 429 with `Retry-After`, as a JSON-RPC error a client developer can act on.
    pub fn response(&self, id: Option<&RequestId>) -> Response {
        let what = self.counted.name();
        let hint = match self.counted {
            Counted::Sessions => {
                "end sessions you no longer use (DELETE /mcp, or close the /sse stream)"
            }
            Counted::Streams => "close event streams you no longer read",
        };
        let error = RpcError::new(
            LIMIT_REACHED,
            format!(
                "this principal already holds {} open {what}, the most allowed ({}); {hint}, \
                 or retry after {} s",
                self.cap,
                self.counted.variable(),
                self.retry_after_s
            ),
        )
        .with_data(serde_json::json!({
            "limit": self.cap,
            "counted": what,
            "retryAfterSeconds": self.retry_after_s,
        }));
        rpc_error(429, id, &error).with_header("retry-after", self.retry_after_s.to_string())
    }
}

impl<'a> Ledger<'a> {
    pub fn new(store: &'a dyn KeyValue, counted: Counted, principal_id: &str) -> Ledger<'a> {
        let digest = Sha256::digest(principal_id.as_bytes());
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        Ledger {
            store,
            counted,
            key: format!("{PREFIX}{}:{hex}", counted.name()),
        }
    }

    /// The ledger stored under `key` (for the sweeper, which finds ledgers by listing).
    pub fn at(store: &'a dyn KeyValue, key: &str) -> Option<Ledger<'a>> {
        let rest = key.strip_prefix(PREFIX)?;
        let counted = match rest.split(':').next()? {
            "sessions" => Counted::Sessions,
            "streams" => Counted::Streams,
            _ => return None,
        };
        Some(Ledger {
            store,
            counted,
            key: key.to_string(),
        })
    }

    fn read(&self) -> Result<Entries, StoreError> {
        Ok(self
            .store
            .get(&self.key)?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default())
    }

    fn write(&self, entries: &Entries) -> Result<(), StoreError> {
        if entries.is_empty() {
            return self.store.delete(&self.key);
        }
        let bytes = serde_json::to_vec(entries).map_err(|e| StoreError(e.to_string()))?;
        self.store.set(&self.key, &bytes)
    }

    /// Drops lapsed entries. `renew` is asked about each: `Some(until)` keeps the entry
    /// (its thing lives on, till `until`), `None` lets it go. Returns whether anything
    /// changed.
    fn prune(
        &self,
        entries: &mut Entries,
        now: u64,
        renew: &dyn Fn(&str) -> Result<Option<u64>, StoreError>,
    ) -> Result<bool, StoreError> {
        let mut changed = false;
        let lapsed: Vec<String> = entries
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in lapsed {
            changed = true;
            match renew(&id)?.filter(|until| *until > now) {
                Some(until) => entries.insert(id, until),
                None => entries.remove(&id),
            };
        }
        Ok(changed)
    }

    /// Records `id` until `until` if the principal holds fewer than `cap` entries.
    pub fn admit(
        &self,
        id: &SessionId,
        until: u64,
        cap: usize,
        now: u64,
        renew: &dyn Fn(&str) -> Result<Option<u64>, StoreError>,
    ) -> Result<Result<(), Full>, StoreError> {
        let mut entries = self.read()?;
        let changed = self.prune(&mut entries, now, renew)?;
        if !entries.contains_key(id.as_str()) && entries.len() >= cap {
            if changed {
                self.write(&entries)?;
            }
            let soonest = entries.values().min().copied().unwrap_or(now);
            return Ok(Err(Full {
                counted: self.counted,
                cap,
                retry_after_s: soonest.saturating_sub(now).div_ceil(1000).max(1),
            }));
        }
        entries.insert(id.as_str().to_string(), until);
        self.write(&entries)?;
        Ok(Ok(()))
    }

    /// Forgets `id`.
    pub fn release(&self, id: &SessionId) -> Result<(), StoreError> {
        let mut entries = self.read()?;
        if entries.remove(id.as_str()).is_some() {
            self.write(&entries)?;
        }
        Ok(())
    }

    /// Drops lapsed entries (deleting the ledger once empty).
    pub fn sweep(
        &self,
        now: u64,
        renew: &dyn Fn(&str) -> Result<Option<u64>, StoreError>,
    ) -> Result<(), StoreError> {
        let mut entries = self.read()?;
        if self.prune(&mut entries, now, renew)? || entries.is_empty() {
            self.write(&entries)?;
        }
        Ok(())
    }

    pub fn counted(&self) -> Counted {
        self.counted
    }
}
