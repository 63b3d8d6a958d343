//! Caps on sessions and long-lived streams, per principal and for the whole server, kept in
//! the shared store so that every instance on every node counts the same things.
//!
//! A place is counted in the epoch in which it lapses (its session's expiry, its stream's
//! lease): `quota:<kind>:<epoch width>:<whose>:<epoch>` is an atomic counter. The places in use are the
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

use super::{expiry, keys};
use crate::host::{KeyValue, StoreError};
use crate::protocol::jsonrpc::RpcError;

/// JSON-RPC code of "a limit is reached" (implementation-defined range).
pub const LIMIT_REACHED: i64 = -32030;

const EPOCHS_PER_HORIZON: u64 = 4;

/// What is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    Sessions,
    Streams,
    /// Requests still running after their first wait (a tool that sleeps, a call that asks
    /// the client): what a principal could pile up to keep instances busy.
    Calls,
    /// Tasks stored for a principal, running or kept for their result.
    Tasks,
}

/// Long-running requests one principal may have at once.
pub const MAX_RUNNING_CALLS: usize = 16;

impl Counted {
    fn name(self) -> &'static str {
        match self {
            Counted::Sessions => "sessions",
            Counted::Streams => "streams",
            Counted::Calls => "long-running requests",
            Counted::Tasks => "stored tasks",
        }
    }

    /// What sets the per-principal and the server-wide cap.
    fn limits(self) -> (&'static str, &'static str) {
        use crate::config::*;
        match self {
            Counted::Sessions => (MAX_SESSIONS_PER_PRINCIPAL.name, MAX_SESSIONS_TOTAL.name),
            Counted::Streams => (MAX_STREAMS_PER_PRINCIPAL.name, MAX_STREAMS_TOTAL.name),
            Counted::Calls | Counted::Tasks => ("a fixed limit", "a fixed limit"),
        }
    }

    fn key_part(self) -> &'static str {
        match self {
            Counted::Sessions => "sessions",
            Counted::Streams => "streams",
            Counted::Calls => "calls",
            Counted::Tasks => "tasks",
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
    /// The JSON-RPC error, which says what to do. Transports answer it with 429 for the
    /// principal's cap and 503 for the server's, with `Retry-After`.
    pub fn error(&self) -> RpcError {
        let what = self.counted.name();
        let (per_principal, total) = self.counted.limits();
        let message = if self.server_wide {
            format!(
                "this server holds {} open {what}, the most it allows ({total}); retry \
                     after {} s",
                self.cap, self.retry_after_s
            )
        } else {
            let hint = match self.counted {
                Counted::Sessions => {
                    "end sessions you no longer use (DELETE /mcp, or close the /sse stream)"
                }
                Counted::Streams => "close event streams you no longer read",
                Counted::Calls => "wait for one of them to finish, or cancel it",
                Counted::Tasks => "each is kept an hour from its creation",
            };
            format!(
                "this principal already holds {} open {what}, the most allowed \
                 ({per_principal}); {hint}, or retry after {} s",
                self.cap, self.retry_after_s
            )
        };
        RpcError::new(LIMIT_REACHED, message).with_data(serde_json::json!({
            "limit": self.cap,
            "counted": what,
            "scope": if self.server_wide { "server" } else { "principal" },
            "retryAfterSeconds": self.retry_after_s,
        }))
    }
}

/// The places of one kind: for a principal, and for the whole server.
pub struct Places<'a> {
    store: &'a dyn KeyValue,
    counted: Counted,
    /// Width of an epoch.
    epoch_ms: u64,
    /// The longest a place may lapse ahead of now (a session's time to live, a stream's
    /// lease).
    horizon_ms: u64,
}

/// A place taken by [`Places::admit`]: its id (what makes giving it back or moving it
/// happen once, whichever instances try), whose it is, and when it lapses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub id: String,
    principal: String,
    pub until: u64,
}

/// Whether this instance is the first to claim `key`, among all instances on all nodes
/// (the store's atomic increment decides). The claim is noted in the expiry index for
/// `lapse_at`, when the sweep removes it.
pub async fn claim_once(
    store: &dyn KeyValue,
    key: &str,
    lapse_at: u64,
    now: u64,
) -> Result<bool, StoreError> {
    let first = store.increment(key, 1).await? == 1;
    if first {
        expiry::note(store, key, lapse_at, now).await?;
    }
    Ok(first)
}

impl<'a> Places<'a> {
    /// `horizon_ms`: how far ahead a place may lapse. Epochs are a quarter of it: a place
    /// whose holder died without giving it back frees within a quarter horizon after it
    /// lapsed, and an admission reads five counters per scope.
    pub fn new(store: &'a dyn KeyValue, counted: Counted, horizon_ms: u64) -> Places<'a> {
        Places {
            store,
            counted,
            epoch_ms: (horizon_ms / EPOCHS_PER_HORIZON).max(1_000),
            horizon_ms,
        }
    }

    /// The counter of `whose` for `epoch`. The epoch's width is part of the key, so nodes
    /// configured differently (a rolling change of `session_ttl_seconds`) count apart
    /// rather than in each other's epochs.
    fn key(&self, whose: &str, epoch: u64) -> String {
        format!(
            "{}{}:{}:{whose}:{epoch}",
            keys::QUOTA,
            self.counted.key_part(),
            self.epoch_ms
        )
    }

    fn epoch(&self, at: u64) -> u64 {
        at / self.epoch_ms
    }

    fn epoch_end(&self, at: u64) -> u64 {
        (self.epoch(at) + 1) * self.epoch_ms
    }

    /// The principal's part of the counter keys (a hash: ids may be long or odd).
    fn whose(principal_id: &str) -> String {
        crate::ids::sha256_hex(principal_id, 16)
    }

    /// Takes place `id`, lapsing at `until` (at most the horizon ahead of `now`), for
    /// `principal_id`, if it holds fewer than `cap` and the server fewer than `total_cap`.
    pub async fn admit(
        &self,
        principal_id: &str,
        id: &str,
        until: u64,
        cap: usize,
        total_cap: usize,
        now: u64,
    ) -> Result<Result<Place, Full>, StoreError> {
        let until = until.min(now + self.horizon_ms);
        let whose = Places::whose(principal_id);
        if let Some(retry_after_s) = self.take(&whose, until, cap, now).await? {
            return Ok(Err(self.full(false, cap, retry_after_s)));
        }
        if matches!(self.counted, Counted::Calls | Counted::Tasks) {
            // Bounded per principal only: a server-wide count would be a write per call.
        } else if let Some(retry_after_s) = self.take("all", until, total_cap, now).await? {
            self.count(&whose, until, -1, now).await?;
            return Ok(Err(self.full(true, total_cap, retry_after_s)));
        }
        Ok(Ok(self.place(principal_id, id, until)))
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
    async fn take(
        &self,
        whose: &str,
        until: u64,
        cap: usize,
        now: u64,
    ) -> Result<Option<u64>, StoreError> {
        let mine = self.epoch(until);
        let key = self.key(whose, mine);
        let count = self.count(whose, until, 1, now).await?;
        // A counter driven below zero counts as empty.
        let mut total = count.max(0);
        let mut soonest = (mine + 1) * self.epoch_ms;
        for epoch in self.epoch(now)..=self.epoch(now + self.horizon_ms) {
            if epoch == mine {
                continue;
            }
            let held = self
                .store
                .counter(&self.key(whose, epoch))
                .await?
                .unwrap_or(0);
            if held > 0 {
                total += held;
                soonest = soonest.min((epoch + 1) * self.epoch_ms);
            }
        }
        if total as usize <= cap {
            return Ok(None);
        }
        self.store.increment(&key, -1).await?;
        Ok(Some(soonest.saturating_sub(now).div_ceil(1000).max(1)))
    }

    /// Adds `delta` to the counter of `whose` for `until`'s epoch; a counter that comes
    /// into being is noted in the expiry index, and the sweep deletes it once its epoch
    /// has passed. A change to an epoch that has passed is skipped: its counter counts
    /// nothing any more, and may be gone.
    async fn count(
        &self,
        whose: &str,
        until: u64,
        delta: i64,
        now: u64,
    ) -> Result<i64, StoreError> {
        if self.epoch(until) < self.epoch(now) {
            return Ok(0);
        }
        let key = self.key(whose, self.epoch(until));
        let count = self.store.increment(&key, delta).await?;
        if delta > 0 && count == delta {
            expiry::note(self.store, &key, self.epoch_end(until), now).await?;
        }
        Ok(count)
    }

    /// Place `id` of `principal_id`, lapsing at `until`, as recorded elsewhere (a
    /// session's place record, a stream's lease).
    pub fn place(&self, principal_id: &str, id: &str, until: u64) -> Place {
        Place {
            id: id.to_string(),
            principal: principal_id.to_string(),
            until,
        }
    }

    /// The scopes a place is counted in.
    fn scopes(&self, place: &Place) -> Vec<String> {
        let mut scopes = vec![Places::whose(&place.principal)];
        if !matches!(self.counted, Counted::Calls | Counted::Tasks) {
            scopes.push("all".into());
        }
        scopes
    }

    /// Gives a place back, once: of the instances that try (a stream and its successor,
    /// a DELETE and the sweep), the first does.
    pub async fn release(&self, place: &Place, now: u64) -> Result<(), StoreError> {
        let claim = keys::claim(&format!("end:{}", place.id));
        if !claim_once(self.store, &claim, self.epoch_end(place.until), now).await? {
            return Ok(());
        }
        for whose in self.scopes(place) {
            self.count(&whose, place.until, -1, now).await?;
        }
        Ok(())
    }

    /// Moves a place to lapse at `until` instead: its holder lives on. Writes only when the
    /// epoch changes, and then once for the place however many instances renew it at the
    /// same moment. Returns whether this call moved it.
    pub async fn renew(&self, place: &mut Place, until: u64, now: u64) -> Result<bool, StoreError> {
        let until = until.min(now + self.horizon_ms);
        if self.epoch(until) == self.epoch(place.until) {
            place.until = until;
            return Ok(false);
        }
        let claim = keys::claim(&format!("move:{}:{}", place.id, self.epoch(place.until)));
        if !claim_once(self.store, &claim, self.epoch_end(until), now).await? {
            return Ok(false);
        }
        self.shift(place, until, now).await?;
        Ok(true)
    }

    /// Moves a place that one holder alone renews (a stream's, which its outbox's lease
    /// names) to lapse at `until`, without the claim that makes a move happen once: three
    /// writes fewer per renewal, and so a third of what an idle stream costs its store. A
    /// successor that takes the place over at the moment its predecessor moves it (between
    /// the predecessor's look at the lease and its move) may move it again: the place is
    /// then counted once too often in the later epoch until that epoch passes, and once too
    /// few in the earlier one while both are ahead, which the sum over the epochs cancels.
    /// A cap may refuse one place too soon for a while; it is never exceeded.
    pub async fn renew_held(
        &self,
        place: &mut Place,
        until: u64,
        now: u64,
    ) -> Result<(), StoreError> {
        let until = until.min(now + self.horizon_ms);
        if self.epoch(until) != self.epoch(place.until) {
            self.shift(place, until, now).await?;
        }
        place.until = until;
        Ok(())
    }

    /// Counts `place` in `until`'s epoch instead of its own.
    async fn shift(&self, place: &mut Place, until: u64, now: u64) -> Result<(), StoreError> {
        for whose in self.scopes(place) {
            self.count(&whose, until, 1, now).await?;
            self.count(&whose, place.until, -1, now).await?;
        }
        place.until = until;
        Ok(())
    }
}

/// A long-lived stream's place among the principal's and the server's open streams: a
/// lease the live stream renews, so that the place of a stream whose instance died lapses
/// a lease later.
pub struct Leased<'a> {
    places: Places<'a>,
    place: Place,
    lease_ms: u64,
}

impl<'a> Leased<'a> {
    /// Takes stream place `id` (random) for `principal_id`, lapsing a lease from `now`
    /// unless renewed, if the principal holds fewer than `cap` streams and the server fewer
    /// than `total_cap`; or says when one may free up.
    pub async fn take(
        store: &'a dyn KeyValue,
        principal_id: &str,
        id: &str,
        lease_ms: u64,
        (cap, total_cap): (usize, usize),
        now: u64,
    ) -> Result<Result<Leased<'a>, Full>, StoreError> {
        let places = Places::new(store, Counted::Streams, lease_ms);
        Ok(places
            .admit(principal_id, id, now + lease_ms, cap, total_cap, now)
            .await?
            .map(|place| Leased {
                places,
                place,
                lease_ms,
            }))
    }

    /// Place `id` of a stream that this one takes over (its session's outbox), lapsing at
    /// `until`: it is not counted again.
    pub fn inherit(
        store: &'a dyn KeyValue,
        principal_id: &str,
        id: &str,
        until: u64,
        lease_ms: u64,
    ) -> Leased<'a> {
        let places = Places::new(store, Counted::Streams, lease_ms);
        Leased {
            place: places.place(principal_id, id, until),
            places,
            lease_ms,
        }
    }

    /// The place's id.
    pub fn id(&self) -> &str {
        &self.place.id
    }

    /// When the place lapses unless renewed.
    pub fn until(&self) -> u64 {
        self.place.until
    }

    /// Whether the renewal is due.
    pub fn due(&self, now: u64) -> bool {
        now >= self.due_at()
    }

    /// When seven eighths of the lease will have passed: the renewal is due, half an epoch
    /// (30 s at the default lease) before the place lapses. The place counts until its
    /// epoch ends, so a renewal that comes that much late still finds it counted; one that
    /// comes later, or fails, leaves it uncounted until the next one.
    pub fn due_at(&self) -> u64 {
        self.place.until.saturating_sub(self.lease_ms / 8) + 1
    }

    /// Renews the lease once it is due: moves the place three or four epochs on (a counter
    /// up and one down for the principal and for the server, the principal's new counter
    /// noted for the sweep). Only the stream that holds the place renews it
    /// ([`Places::renew_held`]).
    pub async fn renew(&mut self, now: u64) -> Result<(), StoreError> {
        if self.due(now) {
            self.places
                .renew_held(&mut self.place, now + self.lease_ms, now)
                .await?;
        }
        Ok(())
    }

    /// Gives the place back; a failure only delays that until the lease lapses.
    pub async fn release(self, now: u64) {
        let _ = self.places.release(&self.place, now).await;
    }
}
