//! Everything kept in the host's shared key-value store, where any instance on any node
//! finds what another left: legacy sessions and their outboxes, the change feed and
//! resource subscriptions, the places that cap sessions, streams and long calls, the
//! answers and cancellations a running call waits for, tasks, the issuer's keys, and the
//! expiry index with the sweep that removes what lapsed.
//!
//! This folder is the one place that knows the store's keys ([`keys`] is their table).
//! It returns its own errors and enums ([`StoreError`], [`places::Full`],
//! [`session::Refused`], [`tasks::Gone`]); the layers above turn them into JSON-RPC errors
//! and HTTP responses. It may use the protocol's wire types (request ids, revisions), the
//! configuration and the host, nothing above them.

pub mod asks;
pub mod events;
pub mod expiry;
pub mod guard;
pub mod jwks;
pub mod keys;
pub mod outbox;
pub mod places;
pub mod secret;
pub mod session;
pub mod sweep;
pub mod tasks;

/// The largest value the server writes: Fermyon's hosted key-value stores take at most
/// 1 MB. What a client sends at a larger size is refused or replaced by an error before
/// it reaches the store.
pub const MAX_VALUE_BYTES: usize = 1_000_000;

pub use crate::host::{KeyValue, StoreError};

/// Reads one key, to tell whether the store answers (`/healthz`).
pub async fn probe(store: &dyn KeyValue) -> Result<(), StoreError> {
    store.get(keys::SWEEP_NEXT).await.map(|_| ())
}

/// How often a waiter reads the store, by how long it has been quiet (since it started or
/// last found something): `(quiet for less than, poll every)` in milliseconds. Event
/// streams read their session's outbox at this pace, `subscriptions/listen` streams the
/// change feed, a task waiting for answers its input keys. Under `spin up` on 2 cores, 600
/// idle streams polling every 50 ms kept the trigger process at three quarters of a core;
/// with these tiers they take under a tenth, and an answer after a short pause still
/// arrives within a few milliseconds (bench/run). The price: the first message after a
/// minute of silence waits up to a second.
const POLL_TIERS_MS: [(u64, u64); 5] = [
    (300, 5),
    (2_000, 10),
    (10_000, 25),
    (60_000, 100),
    (u64::MAX, 1_000),
];

/// The poll interval of a waiter quiet for `quiet_ms`.
pub const fn poll_interval(quiet_ms: u64) -> u64 {
    let mut i = 0;
    while i < POLL_TIERS_MS.len() - 1 && quiet_ms >= POLL_TIERS_MS[i].0 {
        i += 1;
    }
    POLL_TIERS_MS[i].1
}
