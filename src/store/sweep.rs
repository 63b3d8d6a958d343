//! Garbage collection without a separate service: now and then, a request that opens a
//! session also sweeps the store of what has lapsed (expired sessions with their outboxes
//! and subscriptions, counters of passed quota epochs, messages pushed for a session that
//! ended meanwhile).
//!
//! The sweep never lists the store: it walks the expiry index ([`super::expiry`]), so its
//! work is what lapsed since the last sweep, bounded per request by [`BUDGET`]; what is
//! left waits for the next one. "Now and then" is at most once per `gc_interval_seconds`
//! across all instances (the time of the next sweep is kept in the store), or sooner while
//! the last sweep left work behind. Two instances sweeping at once judge the same keys;
//! judging is idempotent, so that costs only time.

use super::expiry::{self, Judge};
use super::keys::{self, Key, SWEEP_NEXT as NEXT_KEY};
use super::outbox::Outbox;
use super::session::Sessions;
use crate::config::Settings;
use crate::host::{Host, KeyValue, Pending, StoreError};

/// Store reads one sweep may spend; a sweep that runs out is resumed a second later.
pub const BUDGET: usize = 2_000;

/// How soon the next sweep runs when this one left work behind.
const CATCH_UP_MS: u64 = 1_000;

/// [`if_due`] from anywhere that writes what the sweep will have to remove (a stream, a
/// long call): a deployment whose clients never open sessions is swept too. A
/// configuration error leaves it to the next request.
pub async fn when_due(host: &dyn Host, store: &dyn KeyValue, settings: &Settings<'_>) {
    if let (Ok(sessions), Ok(every_ms)) = (
        Sessions::new(host, store, settings),
        settings.gc_interval_ms(),
    ) {
        if_due(&sessions, every_ms).await;
    }
}

/// Sweeps if a sweep is due; failures are logged, never passed to the request.
pub async fn if_due(sessions: &Sessions<'_>, every_ms: u64) {
    let (host, store) = (sessions.host, sessions.store);
    let now = host.now_unix_ms();
    let due = match store.get(NEXT_KEY).await {
        Ok(next) => next
            .and_then(|b| String::from_utf8(b).ok()?.parse::<u64>().ok())
            .is_none_or(|next| next <= now),
        Err(_) => false,
    };
    if !due {
        return;
    }
    if store
        .set(NEXT_KEY, (now + every_ms).to_string().as_bytes())
        .await
        .is_err()
    {
        return;
    }
    match run(sessions, BUDGET).await {
        Ok(walked) => {
            if walked.more {
                let _ = store
                    .set(NEXT_KEY, (now + CATCH_UP_MS).to_string().as_bytes())
                    .await;
            }
            host.log(&format!(
                "sweep: judged {} lapsed entries in {} ms{}",
                walked.entries,
                host.now_unix_ms().saturating_sub(now),
                if walked.more { "; more next time" } else { "" }
            ))
        }
        Err(e) => host.log(&format!("sweep: stopped: {e}")),
    }
}

/// One sweep: judges what lapsed, spending at most `budget` store reads on the index.
pub async fn run(sessions: &Sessions<'_>, budget: usize) -> Result<expiry::Walked, StoreError> {
    expiry::sweep(
        sessions.store,
        &Lapsed(sessions),
        sessions.host.now_unix_ms(),
        budget,
    )
    .await
}

/// What each kind of indexed key means when its time comes.
struct Lapsed<'a>(&'a Sessions<'a>);

impl Judge for Lapsed<'_> {
    fn lapsed<'a>(
        &'a self,
        entry: &'a str,
        now: u64,
    ) -> Pending<'a, Result<Option<&'a str>, StoreError>> {
        Box::pin(self.judge(entry, now))
    }
}

impl Lapsed<'_> {
    /// `Ok(Some(key))`: the entry's key is to go (the sweep deletes it in a batch), and
    /// nothing else.
    async fn judge<'e>(&self, entry: &'e str, now: u64) -> Result<Option<&'e str>, StoreError> {
        let sessions = self.0;
        let store = sessions.store;
        // Entries of an earlier version carried more after a space.
        let key = entry.split(' ').next().unwrap_or_default();
        match Key::parse(key) {
            Key::Session(id) => match sessions.read(&id).await? {
                // Expired: ended as a DELETE would end it.
                Some(record) if record.expires_at <= now => sessions.end(&id).await.map(|_| None),
                // Renewed since: a later entry stands for it.
                Some(_) => Ok(None),
                // Ended already, or unreadable (an incompatible version's record).
                None => {
                    store.delete(key).await?;
                    store.delete(&keys::place(&id)).await?;
                    Outbox::new(store, &id).clear().await.map(|_| None)
                }
            },
            Key::Malformed => Ok(Some(key)),
            // A quota counter noted at its epoch's end counts nothing any more, nor does a
            // claim once what it guarded has lapsed; a cancellation or a running marker is
            // kept only while its request may still run; a task's answers, cancellation
            // and end go with it.
            Key::Lapsed => Ok(Some(key)),
            Key::Task(id) => {
                // A task past its time to live, and its cancellation; each answer it was
                // given has an index entry of its own.
                store.delete(key).await?;
                store.delete(&keys::task_final(id)).await?;
                store.delete(&keys::task_cancel(id)).await.map(|_| None)
            }
            Key::Ask(rest) => {
                // A wait whose instance died: the marker, and the answer if one came.
                store.delete(key).await?;
                store.delete(&keys::reply_for(rest)).await.map(|_| None)
            }
            // A subscription goes with its session; a renewed session keeps it to the next
            // look.
            Key::Subscription(id) => {
                let record = match id {
                    Some(id) => sessions.read(&id).await?,
                    None => None,
                };
                match record {
                    Some(record) if record.expires_at > now => {
                        expiry::note(store, key, record.expires_at, now)
                            .await
                            .map(|_| None)
                    }
                    _ => Ok(Some(key)),
                }
            }
            // An outbox started: it must not outlive its session.
            Key::OutboxStarted(id) => match sessions.read(&id).await? {
                None => Outbox::new(store, &id).clear().await.map(|_| None),
                Some(_) => Ok(None),
            },
            Key::Unknown => Ok(None),
        }
    }
}
