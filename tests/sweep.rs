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
