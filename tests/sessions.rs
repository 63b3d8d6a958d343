//! Streamable HTTP sessions on the shared store (legacy revisions): issued by initialize,
//! bound to the principal, expiring, ended by DELETE, with a resumable GET stream; and
//! the modern revision staying stateless beside them.

mod common;

use std::time::Duration;

use common::*;
use remote_mcp_server::host::memory::{MemoryHost, MemoryStore};
use remote_mcp_server::store::outbox::Outbox;
use remote_mcp_server::store::session::SessionId;
use serde_json::json;

/// Opens a session at `revision`, checking the answer and the id it issues.
fn initialize(host: &MemoryHost, revision: &str) -> String {
    let reply = post(host, &[], &initialize_request(revision, json!({})));
    assert_eq!(reply.status, 200);
    assert_result(revision, "InitializeResult", &reply.json());
    let id = reply
        .header("mcp-session-id")
        .expect("a session id")
        .to_string();
    assert_eq!(id.len(), 40, "{id}");
    assert!(
        id.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "visible ASCII"
    );
    id
}

#[test]
fn initialize_issues_a_session_that_later_requests_must_carry() {
    let host = stateful(&MemoryStore::new());
    let session = initialize(&host, "2025-06-18");
    let reply = in_session_at(
        &host,
        &session,
        "2025-06-18",
        "tools/call",
        json!({"name": "add", "arguments": {"a": 1, "b": 2}}),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["result"]["content"][0]["text"], "3");

    let reply = legacy(&host, "2025-06-18", "tools/list", json!({}));
    assert_eq!(reply.status, 400, "no Mcp-Session-Id");
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Mcp-Session-Id"));

    for unknown in ["garbage", "0123456789abcdef0123456789abcdef01234567"] {
        let reply = in_session(&host, unknown, "tools/list", json!({}));
        assert_eq!(reply.status, 404, "{unknown}");
        assert_eq!(reply.json()["error"]["code"], -32001);
    }
}

#[test]
fn the_session_remembers_its_revision() {
    let host = stateful(&MemoryStore::new());
    let session = initialize(&host, "2024-11-05");
    // No header: the negotiated revision applies (2024-11-05 tools have no annotations).
    let list = in_session(&host, &session, "tools/list", json!({})).json();
    assert_result("2024-11-05", "ListToolsResult", &list);
    assert!(list["result"]["tools"][0].get("annotations").is_none());
    // A header naming another supported revision is tolerated; the session's governs.
    let list = in_session_at(&host, &session, "2025-06-18", "tools/list", json!({}));
    assert_eq!(list.status, 200);
    assert!(list.json()["result"]["tools"][0]
        .get("annotations")
        .is_none());
    assert!(host
        .logs()
        .iter()
        .any(|l| l.contains("answering as 2024-11-05")));
    // An unknown one is refused.
    let reply = in_session_at(&host, &session, "1999-01-01", "tools/list", json!({}));
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["code"], -32022);
    // Batches follow the session's revision too.
    let session = initialize(&host, "2025-03-26");
    let batch = json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": 2, "method": "ping"}]);
    let reply = post(&host, &[("mcp-session-id", &session)], &batch);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json().as_array().unwrap().len(), 2);
    let newer = initialize(&host, "2025-06-18");
    assert_eq!(
        post(&host, &[("mcp-session-id", &newer)], &batch).status,
        400
    );
}

#[test]
fn a_session_is_bound_to_its_principal() {
    let host = stateful(&MemoryStore::new());
    let session = initialize(&host, "2025-06-18");
    let reply = send(
        &host,
        "POST",
        "/mcp",
        &[
            ("authorization", "Bearer another-token"),
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-session-id", &session),
        ],
        br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
    );
    assert_eq!(reply.status, 404);
    assert_eq!(in_session(&host, &session, "ping", json!({})).status, 200);
}

#[test]
fn sessions_expire_unless_used() {
    let host = stateful(&MemoryStore::new());
    let host = host.with_variable("session_ttl_seconds", "100");
    let session = initialize(&host, "2025-06-18");
    // Used every 60 s (more than half the TTL), it stays alive past its first expiry.
    for _ in 0..3 {
        host.advance_ms(60_000);
        assert_eq!(in_session(&host, &session, "ping", json!({})).status, 200);
    }
    host.advance_ms(100_001);
    assert_eq!(in_session(&host, &session, "ping", json!({})).status, 404);
}

#[test]
fn a_busy_session_costs_one_read_and_no_write_per_request() {
    let store = MemoryStore::new();
    let host = stateful(&store);
    let session = initialize(&host, "2025-06-18");
    let before = store.operations();
    for _ in 0..10 {
        assert_eq!(
            in_session(&host, &session, "tools/list", json!({})).status,
            200
        );
    }
    let after = store.operations();
    assert_eq!(after.0 - before.0, 10, "reads");
    assert_eq!(after.1 - before.1, 0, "writes");
}

#[test]
fn modern_requests_never_touch_the_store() {
    let store = MemoryStore::new();
    let host = stateful(&store);
    for method in ["server/discover", "tools/list"] {
        let reply = modern(&host, method, json!({}));
        assert_eq!(reply.status, 200);
        assert!(reply.header("mcp-session-id").is_none());
    }
    let reply = modern(
        &host,
        "tools/call",
        json!({"name": "add", "arguments": {"a": 1, "b": 1}}),
    );
    assert_eq!(reply.json()["result"]["content"][0]["text"], "2");
    // Even a stray Mcp-Session-Id is ignored, as the revision asks.
    let mut params = json!({"name": "add", "arguments": {"a": 1, "b": 1}});
    params["_meta"] = envelope();
    let reply = post(
        &host,
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "add"),
            ("mcp-session-id", "whatever"),
        ],
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(store.operations(), (0, 0));
}

#[test]
fn delete_ends_the_session() {
    let store = MemoryStore::new();
    let host = stateful(&store);
    let session = initialize(&host, "2025-11-25");
    let auth = bearer();
    let delete = |session: &str| end_session(&host, &auth, session);
    assert_eq!(delete(&session).status, 204);
    assert_eq!(in_session(&host, &session, "ping", json!({})).status, 404);
    assert_eq!(delete(&session).status, 404);
    assert!(leftovers(&store).is_empty(), "{:?}", store.keys());
    let reply = send(&host, "DELETE", "/mcp", &[("authorization", &auth)], b"");
    assert_eq!(reply.status, 400);
}

#[test]
fn get_needs_a_session_and_only_stateful_hosts_offer_it() {
    let auth = bearer();
    let stateless = host();
    let reply = send(
        &stateless,
        "GET",
        "/mcp",
        &[("authorization", &auth), ("mcp-session-id", "x")],
        b"",
    );
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("POST"));

    let host = stateful(&MemoryStore::new());
    let reply = send(
        &host,
        "GET",
        "/mcp",
        &[("authorization", &auth), ("accept", "text/event-stream")],
        b"",
    );
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, POST, DELETE"));
    let reply = send(
        &host,
        "GET",
        "/mcp",
        &[
            ("authorization", &auth),
            ("mcp-session-id", "0123456789abcdef0123456789abcdef01234567"),
        ],
        b"",
    );
    assert_eq!(reply.status, 404);
}

#[test]
fn the_get_stream_delivers_resumes_and_hands_over() {
    let store = MemoryStore::new();
    let host = instance(&store);
    let session = initialize(&host, "2025-11-25");
    let auth = bearer();
    let headers = [
        ("authorization", auth.as_str()),
        ("accept", "text/event-stream"),
        ("mcp-session-id", &session),
    ];
    let outbox_id = SessionId::parse(&session).unwrap();
    let outbox = Outbox::new(&*store, &outbox_id);
    let note = |n: i64| json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": n}});

    let mut first = Stream::open(instance(&store), "/mcp", &headers);
    assert_eq!(first.status, 200);
    for n in 1..=3 {
        block_on(outbox.push(note(n).to_string().as_bytes(), 0)).unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        let event = first
            .next_event(Duration::from_secs(5))
            .expect("a queued message");
        assert_schema("2025-11-25", "JSONRPCNotification", &event.json());
        got.push((
            event.id.clone().unwrap(),
            event.json()["params"]["data"].as_i64().unwrap(),
        ));
    }
    assert_eq!(got, [("1".into(), 1), ("2".into(), 2), ("3".into(), 3)]);

    // A reconnect with Last-Event-ID replays what came after it, and takes over.
    let mut resume = headers.to_vec();
    resume.push(("last-event-id", "1"));
    let mut second = Stream::open(instance(&store), "/mcp", &resume);
    let replayed: Vec<String> = (0..2)
        .map(|_| {
            second
                .next_event(Duration::from_secs(5))
                .unwrap()
                .id
                .unwrap()
        })
        .collect();
    assert_eq!(replayed, ["2", "3"]);
    // The first stream notices it was superseded and ends.
    first.expect_end(Duration::from_secs(3), "the superseded stream");
    first.hang_up();

    // A reconnect without Last-Event-ID starts after what was delivered.
    block_on(outbox.push(note(4).to_string().as_bytes(), 0)).unwrap();
    assert_eq!(
        second
            .next_event(Duration::from_secs(5))
            .unwrap()
            .id
            .as_deref(),
        Some("4")
    );
    second.hang_up();
    let mut third = Stream::open(instance(&store), "/mcp", &headers);
    block_on(outbox.push(note(5).to_string().as_bytes(), 0)).unwrap();
    assert_eq!(
        third
            .next_event(Duration::from_secs(5))
            .unwrap()
            .id
            .as_deref(),
        Some("5")
    );

    // DELETE ends the session, and with it the stream.
    end_session(&host, &auth, &session);
    third.expect_end(Duration::from_secs(3), "the deleted session's stream");
    third.hang_up();
    assert!(leftovers(&store).is_empty(), "{:?}", store.keys());
}

#[test]
fn post_sse_is_streamable_http_and_get_sse_with_a_session_is_its_stream() {
    // mcp-remote's default strategy posts Streamable HTTP to the URL it was given.
    let store = MemoryStore::new();
    let host = instance(&store);
    let auth = bearer();
    let reply = send(
        &host,
        "POST",
        "/sse",
        &[("authorization", &auth), ("content-type", "application/json"), ("accept", "application/json, text/event-stream")],
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "mcp-remote", "version": "0"}}}).to_string().as_bytes(),
    );
    assert_eq!(reply.status, 200);
    let session = reply.header("mcp-session-id").unwrap().to_string();
    let mut stream = Stream::open(
        instance(&store),
        "/sse",
        &[
            ("authorization", &auth),
            ("accept", "text/event-stream"),
            ("mcp-session-id", &session),
            ("mcp-protocol-version", "2025-06-18"),
        ],
    );
    assert_eq!(stream.status, 200);
    // Not an HTTP+SSE session: no endpoint event, only keep-alives.
    stream.expect_silence(Duration::from_millis(300), "no endpoint event");
    assert!(stream.comments > 0);
    stream.hang_up();
}
