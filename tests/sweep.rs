//! The sweep: expired sessions and what gone sessions left behind are removed by later
//! requests, reading what lapsed rather than listing the store.

mod common;

use common::*;
use remote_mcp_server::host::memory::MemoryStore;
use serde_json::json;

#[test]
fn expired_sessions_and_leftovers_are_swept_by_later_sessions() {
    use remote_mcp_server::host::Host;
    use remote_mcp_server::store::outbox::Outbox;
    use remote_mcp_server::store::session::SessionId;
    let store = MemoryStore::new();
    let host = stateful(&store)
        .with_variable("session_ttl_seconds", "10")
        .with_variable("gc_interval_seconds", "60");
    // Many live sessions of a long life (another deployment's setting on the same store):
    // the sweep must not have to look at them.
    let long_lived = stateful(&store)
        .with_variable("session_ttl_seconds", "3600")
        .with_variable("gc_interval_seconds", "60");
    for n in 0..200 {
        initialize_as(&long_lived, &format!("user-{n}-0123456789"));
    }
    let old = open_session(&host, "2025-11-25", json!({}));
    // A cancellation recorded for a running request (the marker such a request sets),
    // which then ended without collecting it: kept a while, then swept.
    let link = remote_mcp_server::store::asks::SessionLink {
        store: &*store,
        id: SessionId::parse(&old).unwrap(),
    };
    let request = remote_mcp_server::protocol::jsonrpc::RequestId::Number(5.into());
    block_on(link.mark_running(&request, host.now_unix_ms() + 60_000, host.now_unix_ms())).unwrap();
    let cancelled = post(
        &host,
        &[
            ("mcp-session-id", &old),
            ("mcp-protocol-version", "2025-11-25"),
        ],
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}}),
    );
    assert_eq!(cancelled.status, 202);
    block_on(link.unmark_running(&request)).unwrap();
    assert!(store.keys().iter().any(|k| k.starts_with("cancel:")));
    // What a gone session can leave behind: a message pushed into its outbox by a POST
    // that raced its end (the code such a POST runs).
    let ghost = SessionId::parse("0123456789abcdef0123456789abcdef01234567").unwrap();
    block_on(Outbox::new(&*store, &ghost).push(b"late", host.now_unix_ms())).unwrap();

    // Within the interval nothing is swept.
    host.advance_ms(5_000);
    open_session(&host, "2025-11-25", json!({}));
    assert!(store.keys().iter().any(|k| k.contains(ghost.as_str())));

    // Past it, the next new session sweeps: the expired sessions and the ghost's outbox
    // go, the live ones stay; the sweep reads what lapsed, not the store.
    host.advance_ms(75_000);
    long_lived.advance_ms(80_000);
    let (reads_before, _) = store.operations();
    let fresh = open_session(&host, "2025-11-25", json!({}));
    let (reads_after, _) = store.operations();
    let keys = store.keys();
    let ghostly: Vec<&String> = keys.iter().filter(|k| k.contains(ghost.as_str())).collect();
    assert!(ghostly.is_empty(), "ghost keys remain: {ghostly:?}");
    assert!(!keys.contains(&format!("session:{old}")));
    assert!(keys.contains(&format!("session:{fresh}")));
    assert_eq!(sessions_in(&store), 201);
    assert_eq!(store.listings(), 0, "the store is never listed");
    assert!(
        reads_after - reads_before < 100,
        "{} reads for one initialize with a sweep among 200 live sessions",
        reads_after - reads_before
    );
    assert!(
        host.logs()
            .iter()
            .any(|l| l.starts_with("sweep: judged ") && !l.contains("more next time")),
        "{:?}",
        host.logs()
    );
    assert_eq!(
        in_session(&host, &old, "ping", json!({})).status,
        404,
        "the swept session is gone"
    );
    // Once a recorded cancellation can matter no more, the sweep takes it too; then
    // everything but the live sessions and their places is gone, bookkeeping aside.
    assert!(store.keys().iter().any(|k| k.starts_with("cancel:")));
    host.advance_ms(remote_mcp_server::store::asks::CANCEL_KEEP_MS);
    long_lived.advance_ms(remote_mcp_server::store::asks::CANCEL_KEEP_MS);
    open_session(&host, "2025-11-25", json!({}));
    let live: Vec<String> = leftovers(&store)
        .into_iter()
        .filter(|k| {
            ["session:", "place:", "quota:"]
                .iter()
                .all(|p| !k.starts_with(p))
        })
        .collect();
    assert!(live.is_empty(), "{live:?}");
}

/// A judge that says of every key that it lapsed and is to go, as the sweep's judge says
/// of a passed quota counter.
struct Gone;

impl remote_mcp_server::store::expiry::Judge for Gone {
    fn lapsed<'a>(
        &'a self,
        key: &'a str,
        _: u64,
    ) -> remote_mcp_server::host::Pending<
        'a,
        Result<Option<&'a str>, remote_mcp_server::host::StoreError>,
    > {
        Box::pin(std::future::ready(Ok(Some(key))))
    }
}

#[test]
fn a_sweep_deletes_what_lapsed_in_batches_not_key_by_key() {
    use remote_mcp_server::store::expiry;
    let store = MemoryStore::new();
    let start = 1_767_225_600_000u64;
    // 450 counters lapsing over a minute and a half (renewals of 1,000 idle streams leave
    // a few a second), each noted in the index.
    for n in 0..450u64 {
        let key = format!("quota:streams:60000:p{n}:1");
        store.increment(&key, 1).unwrap();
        block_on(expiry::note(&*store, &key, start + n * 200, start)).unwrap();
    }
    let keys = store.keys().len();
    assert!(keys > 900, "{keys} keys: the counters and their entries");
    let (_, writes_before) = store.operations();
    let walked = block_on(expiry::sweep(&*store, &Gone, start + 200_000, 2_000)).unwrap();
    let (_, writes_after) = store.operations();
    assert_eq!(walked.entries, 450);
    assert!(!walked.more);
    // Only the cursor is left.
    assert_eq!(
        store.keys(),
        vec!["expiry:cursor".to_string()],
        "{:?}",
        store.keys()
    );
    // 450 counters, 450 entries and the counters of the 19 buckets walked, deleted about
    // 200 at a time in at most three calls (counters, then entries, then buckets), and
    // the cursor: a few writes, not one per key.
    let writes = writes_after - writes_before;
    assert!(writes <= 16, "{writes} writes for {keys} keys");
}

#[test]
fn a_batch_deletion_that_fails_half_done_leaves_nothing_for_good() {
    use remote_mcp_server::store::expiry;
    // A store whose batch deletions each delete every other key and then fail, until
    // healed.
    let store = MemoryStore::new();
    store.fail_batch_deletes_half_done(true);
    let start = 1_767_225_600_000u64;
    for n in 0..300u64 {
        let key = format!("quota:streams:60000:p{n}:1");
        store.increment(&key, 1).unwrap();
        block_on(expiry::note(&*store, &key, start + n * 100, start)).unwrap();
    }
    let later = start + 200_000;
    assert!(block_on(expiry::sweep(&*store, &Gone, later, 2_000)).is_err());
    // Whatever the failed call took, the next sweeps find the rest: nothing is left for
    // good (an index entry gone while the counter it names stays would be).
    store.fail_batch_deletes_half_done(false);
    block_on(expiry::sweep(&*store, &Gone, later, 2_000)).unwrap();
    assert_eq!(
        store.keys(),
        vec!["expiry:cursor".to_string()],
        "{:?}",
        store.keys()
    );
}
