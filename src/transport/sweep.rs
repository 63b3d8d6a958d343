//! Garbage collection without a separate service: now and then, a request that opens a
//! session also sweeps the store of expired sessions and of whatever a gone session left
//! behind (outbox messages pushed after its stream ended, unanswered replies, recorded
//! cancellations, resource subscriptions, lapsed quota entries).
//!
//! "Now and then" is at most once per `gc_interval_seconds` across all instances: the
//! time of the next sweep is kept in the store. Two instances that look at the same
//! moment may both sweep; sweeping is idempotent, so that costs only time.

use std::collections::BTreeMap;

use super::outbox::Outbox;
use super::quota::{self, Counted, Ledger};
use super::session::{self, SessionId, Sessions};
use crate::host::StoreError;

/// When the next sweep is due (unix milliseconds, decimal).
pub const NEXT_KEY: &str = "sweep:next";

/// Key prefixes that carry a session id as their second `:`-separated part.
const PER_SESSION: &[&str] = &["outbox:", "reply:", "cancel:"];

/// What one sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Expired sessions ended.
    pub sessions: usize,
    /// Keys of sessions that no longer exist, deleted.
    pub orphans: usize,
}

/// Sweeps if a sweep is due; failures are logged, never passed to the request.
pub fn if_due(sessions: &Sessions, every_ms: u64) {
    let (host, store) = (sessions.host, sessions.store);
    let now = host.now_unix_ms();
    let due = match store.get(NEXT_KEY) {
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
        .is_err()
    {
        return;
    }
    match run(sessions) {
        Ok(swept) => host.log(&format!(
            "sweep: ended {} expired sessions, removed {} leftover keys in {} ms",
            swept.sessions,
            swept.orphans,
            host.now_unix_ms().saturating_sub(now)
        )),
        Err(e) => host.log(&format!("sweep: stopped: {e}")),
    }
}

/// One sweep of the whole store.
pub fn run(sessions: &Sessions) -> Result<Swept, StoreError> {
    let store = sessions.store;
    let now = sessions.host.now_unix_ms();
    let mut swept = Swept::default();
    // Keys that belong to a session, by session id.
    let mut owned: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in store.keys_with_prefix("")? {
        if let Some(id) = key.strip_prefix(session::PREFIX) {
            let Some(id) = SessionId::parse(id) else {
                store.delete(&key)?;
                continue;
            };
            match sessions.read(&id)? {
                Some(record) if record.expires_at > now => {}
                Some(_) => {
                    sessions.end(&id)?;
                    swept.sessions += 1;
                }
                // Unreadable: a record from an incompatible version, or gone meanwhile.
                None => {
                    store.delete(&key)?;
                    Outbox::new(store, &id).clear()?;
                }
            }
        } else if key.starts_with(quota::PREFIX) {
            if let Some(ledger) = Ledger::at(store, &key) {
                match ledger.counted() {
                    Counted::Sessions => ledger.sweep(now, &|id| sessions.lives_until(id))?,
                    Counted::Streams => ledger.sweep(now, &|_| Ok(None))?,
                }
            }
        } else if let Some(id) = session_of(&key) {
            owned.entry(id.to_string()).or_default().push(key);
        }
    }
    for (id, keys) in owned {
        if sessions.lives_until(&id)?.is_none() {
            for key in keys {
                store.delete(&key)?;
                swept.orphans += 1;
            }
        }
    }
    Ok(swept)
}

/// The session a key belongs to, for keys that belong to one.
fn session_of(key: &str) -> Option<&str> {
    if let Some(rest) = key.strip_prefix("rsub:") {
        // rsub:<uri hash>:<session id>
        return rest.rsplit(':').next();
    }
    PER_SESSION
        .iter()
        .find_map(|prefix| key.strip_prefix(prefix))
        .and_then(|rest| rest.split(':').next())
}
