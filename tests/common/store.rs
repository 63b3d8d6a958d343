//! What the shared store holds: what sessions, streams and requests leave in it.

use remote_mcp_server::host::memory::MemoryStore;

/// The store's keys that hold something live: not the sweeper's bookkeeping (its
/// schedule, the expiry index, the claims that made a place's changes happen once, all of
/// which lapse) and not quota counters at zero (a counter is deleted only
/// once its epoch has passed, since deleting a live one could lose a racing increment).
/// What sessions and streams left behind.
pub fn leftovers(store: &MemoryStore) -> Vec<String> {
    store
        .keys()
        .into_iter()
        .filter(|k| k != remote_mcp_server::store::keys::SWEEP_NEXT)
        // Claims lapse with their epoch, after what they guarded: not leftovers yet.
        .filter(|k| !k.starts_with("expiry:") && !k.starts_with("claim:"))
        .filter(|k| {
            !k.starts_with(remote_mcp_server::store::keys::QUOTA)
                || store.counter(k).ok().flatten().unwrap_or(0) != 0
        })
        .collect()
}

/// How many sessions the store holds.
pub fn sessions_in(store: &MemoryStore) -> usize {
    store
        .keys()
        .iter()
        .filter(|k| k.starts_with("session:"))
        .count()
}

/// The places counted for a principal's streams or sessions, over every epoch (what the
/// caps compare against).
pub fn counted(store: &MemoryStore, kind: &str) -> i64 {
    store
        .keys()
        .iter()
        .filter(|k| k.starts_with(&format!("quota:{kind}:")) && !k.contains(":all:"))
        .map(|k| store.counter(k).unwrap().unwrap_or(0))
        .sum()
}

/// Keys holding client answers to server→client requests, or the markers that admit them.
pub fn answer_keys(store: &MemoryStore) -> Vec<String> {
    store
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("reply:") || k.starts_with("ask:"))
        .collect()
}
