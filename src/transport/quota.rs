//! Caps on sessions and long-lived streams, per principal and for the whole server, kept in
//! the shared store so that every instance on every node counts the same things.
//!
//! A place is counted in the epoch in which it lapses (its session's expiry, its stream's
//! lease): `quota:<kind>:<whose>:<epoch>` is an atomic counter. The places in use are the
//! sum of the counters of the epochs from now to the longest lapse ahead. So:
//!
//! * a cap cannot be exceeded, even by requests racing on several nodes: an admission
//!   increments its epoch's counter first and reads the others after, so of two racers
//!   each sees the other's increment, and one backs out;
//! * a place whose holder died without giving it back (a node killed mid-stream) drops out
//!   of the sum when its epoch passes, a few keep-alive intervals later for a stream;
//!   nobody has to notice the death;
//! * a live holder renews its place by moving it to a later epoch.
//!
//! Passed epochs' counters are deleted by the sweep, which finds them in the expiry index.

use sha2::{Digest, Sha256};

use super::expiry;
use super::rpc_error;
use crate::host::{KeyValue, StoreError};
use crate::http::Response;
use crate::protocol::jsonrpc::{RequestId, RpcError};

/// JSON-RPC code of "a limit is reached" (implementation-defined range).
pub const LIMIT_REACHED: i64 = -32030;

/// Prefix of every counter key.
pub const PREFIX: &str = "quota:";

const EPOCHS_PER_HORIZON: u64 = 4;

/// What is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    Sessions,
    Streams,
    /// Requests still running after their first wait (a tool that sleeps, a call that asks
    /// the client): what a principal could pile up to keep instances busy.
    Calls,
}

/// Long-running requests one principal may have at once.
pub const MAX_RUNNING_CALLS: usize = 16;

impl Counted {
    fn name(self) -> &'static str {
        match self {
            Counted::Sessions => "sessions",
            Counted::Streams => "streams",
            Counted::Calls => "long-running requests",
        }
    }

    /// What sets the per-principal and the server-wide cap.
    fn limits(self) -> (&'static str, &'static str) {
        use crate::config::*;
        match self {
            Counted::Sessions => (MAX_SESSIONS_PER_PRINCIPAL.name, MAX_SESSIONS_TOTAL.name),
            Counted::Streams => (MAX_STREAMS_PER_PRINCIPAL.name, MAX_STREAMS_TOTAL.name),
            Counted::Calls => ("a fixed limit", "a fixed limit"),
        }
    }

    fn key_part(self) -> &'static str {
        match self {
            Counted::Sessions => "sessions",
            Counted::Streams => "streams",
            Counted::Calls => "calls",
        }
    }
}

/// A refusal: which cap, and how long until a place may free up.
#[derive(Debug, PartialEq, Eq)]
pub struct Full {
    pub counted: Counted,
    /// The server-wide cap rather than the principal's.
    pub server_wide: bool,
    pub cap: usize,
    pub retry_after_s: u64,
}

impl Full {
    /// The HTTP status (429 for the principal's cap, 503 for the server's) and the JSON-RPC
    /// error, which says what to do.
    pub fn error(&self) -> (u16, RpcError) {
        let what = self.counted.name();
        let (per_principal, total) = self.counted.limits();
        let (status, message) = if self.server_wide {
            (
                503,
                format!(
                    "this server holds {} open {what}, the most it allows ({total}); retry \
                     after {} s",
                    self.cap, self.retry_after_s
                ),
            )
        } else {
            let hint = match self.counted {
                Counted::Sessions => {
                    "end sessions you no longer use (DELETE /mcp, or close the /sse stream)"
                }
                Counted::Streams => "close event streams you no longer read",
                Counted::Calls => "wait for one of them to finish, or cancel it",
            };
            (
                429,
                format!(
                    "this principal already holds {} open {what}, the most allowed \
                     ({per_principal}); {hint}, or retry after {} s",
                    self.cap, self.retry_after_s
                ),
            )
        };
        let error = RpcError::new(LIMIT_REACHED, message).with_data(serde_json::json!({
            "limit": self.cap,
            "counted": what,
            "scope": if self.server_wide { "server" } else { "principal" },
            "retryAfterSeconds": self.retry_after_s,
        }));
        (status, error)
    }

    /// 429 with `Retry-After` for the principal's cap, 503 for the server's, as a JSON-RPC
    /// error a client developer can act on.
    pub fn response(&self, id: Option<&RequestId>) -> Response {
        let (status, error) = self.error();
        rpc_error(status, id, &error).with_header("retry-after", self.retry_after_s.to_string())
    }
}

/// The places of one kind: for a principal, and for the whole server.
pub struct Places<'a> {
    store: &'a dyn KeyValue,
    counted: Counted,
    /// Whether a new counter notes itself in the expiry index (streams), or its holders'
    /// own index entries see to it (sessions: see [`Places::lapsed`]).
    notes_counters: bool,
    /// Width of an epoch.
    epoch_ms: u64,
    /// The longest a place may lapse ahead of now (a session's time to live, a stream's
    /// lease).
    horizon_ms: u64,
}

/// A place taken by [`Places::admit`]: whose it is and when it lapses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    principal: String,
    pub until: u64,
}

impl<'a> Places<'a> {
    /// `horizon_ms`: how far ahead a place may lapse. Epochs are a quarter of it: a place
    /// whose holder died without giving it back frees within a quarter horizon after it
    /// lapsed, and an admission reads five counters per scope.
    pub fn new(store: &'a dyn KeyValue, counted: Counted, horizon_ms: u64) -> Places<'a> {
        Places {
            store,
            counted,
            notes_counters: counted != Counted::Sessions,
            epoch_ms: (horizon_ms / EPOCHS_PER_HORIZON).max(1_000),
            horizon_ms,
        }
    }

    /// When the counters a place lapsing at `until` is counted in stop counting anything:
    /// after that nobody adds to or takes from them, and they can go.
    pub fn epoch_end(&self, until: u64) -> u64 {
        (self.epoch(until) + 1) * self.epoch_ms
    }

    /// The counters a place of `principal_hash` lapsing at `until` is counted in: the
    /// principal's and the server's.
    pub fn counter_keys(&self, principal_hash: &str, until: u64) -> [String; 2] {
        let epoch = self.epoch(until);
        [self.key(principal_hash, epoch), self.key("all", epoch)]
    }

    fn key(&self, whose: &str, epoch: u64) -> String {
        format!("{PREFIX}{}:{whose}:{epoch}", self.counted.key_part())
    }

    fn epoch(&self, at: u64) -> u64 {
        at / self.epoch_ms
    }

    /// The principal's part of the counter keys (a hash: ids may be long or odd).
    pub fn whose(principal_id: &str) -> String {
        let digest = Sha256::digest(principal_id.as_bytes());
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// Takes a place lapsing at `until` (at most the horizon ahead of `now`) for
    /// `principal_id`, if it holds fewer than `cap` and the server fewer than `total_cap`.
    pub fn admit(
        &self,
        principal_id: &str,
        until: u64,
        cap: usize,
        total_cap: usize,
        now: u64,
    ) -> Result<Result<Place, Full>, StoreError> {
        let until = until.min(now + self.horizon_ms);
        let whose = Places::whose(principal_id);
        if let Some(retry_after_s) = self.take(&whose, until, cap, now)? {
            return Ok(Err(self.full(false, cap, retry_after_s)));
        }
        if self.counted == Counted::Calls {
            // Bounded per principal only: a server-wide count would be a write per call.
        } else if let Some(retry_after_s) = self.take("all", until, total_cap, now)? {
            self.give_back(&whose, until, now)?;
            return Ok(Err(self.full(true, total_cap, retry_after_s)));
        }
        Ok(Ok(Place {
            principal: principal_id.to_string(),
            until,
        }))
    }

    fn full(&self, server_wide: bool, cap: usize, retry_after_s: u64) -> Full {
        Full {
            counted: self.counted,
            server_wide,
            cap,
            retry_after_s,
        }
    }

    /// Counts one more place in `until`'s epoch unless that makes more than `cap`;
    /// `Some(seconds until a place may free up)` when it does.
    fn take(
        &self,
        whose: &str,
        until: u64,
        cap: usize,
        now: u64,
    ) -> Result<Option<u64>, StoreError> {
        let mine = self.epoch(until);
        let key = self.key(whose, mine);
        let count = self.store.increment(&key, 1)?;
        if count == 1 && self.notes_counters {
            // A new counter: the sweep deletes it once its epoch has passed.
            expiry::note(self.store, &key, self.epoch_end(until), now)?;
        }
        // A counter driven below zero (a place given back twice) counts as empty.
        let mut total = count.max(0);
        let mut soonest = (mine + 1) * self.epoch_ms;
        for epoch in self.epoch(now)..=self.epoch(now + self.horizon_ms) {
            if epoch == mine {
                continue;
            }
            let held = self.store.counter(&self.key(whose, epoch))?.unwrap_or(0);
            if held > 0 {
                total += held;
                soonest = soonest.min((epoch + 1) * self.epoch_ms);
            }
        }
        if total as usize <= cap {
            return Ok(None);
        }
        self.store.increment(&key, -1)?;
        Ok(Some(soonest.saturating_sub(now).div_ceil(1000).max(1)))
    }

    fn give_back(&self, whose: &str, until: u64, now: u64) -> Result<(), StoreError> {
        // A place lapsed already has left the sum with its epoch (and the sweep may have
        // deleted the counter): nothing to give back.
        if self.epoch(until) < self.epoch(now) {
            return Ok(());
        }
        self.store
            .increment(&self.key(whose, self.epoch(until)), -1)
            .map(|_| ())
    }

    /// The place of `principal_id` that lapses at `until`, as recorded elsewhere (a
    /// session record).
    pub fn place(&self, principal_id: &str, until: u64) -> Place {
        Place {
            principal: principal_id.to_string(),
            until,
        }
    }

    /// Gives a place back.
    pub fn release(&self, place: &Place, now: u64) -> Result<(), StoreError> {
        self.give_back(&Places::whose(&place.principal), place.until, now)?;
        if self.counted == Counted::Calls {
            return Ok(());
        }
        self.give_back("all", place.until, now)
    }

    /// Moves a place to lapse at `until` instead: its holder lives on. Writes only when the
    /// epoch changes.
    pub fn renew(&self, place: &mut Place, until: u64, now: u64) -> Result<(), StoreError> {
        let until = until.min(now + self.horizon_ms);
        if self.epoch(until) != self.epoch(place.until) {
            for whose in [Places::whose(&place.principal), "all".to_string()] {
                let key = self.key(&whose, self.epoch(until));
                if self.store.increment(&key, 1)? == 1 && self.notes_counters {
                    expiry::note(self.store, &key, self.epoch_end(until), now)?;
                }
                self.give_back(&whose, place.until, now)?;
            }
        }
        place.until = until;
        Ok(())
    }
}
