//! Hostile and excessive input, per-principal caps, stream lifetime, garbage collection,
//! CORS and the health check.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use remote_mcp_server::host::memory::{MemoryHost, MemoryStore};
use remote_mcp_server::host::{Host, KeyValue};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(5);
const OTHER_TOKEN: &str = "another-token-9876543210";

fn stateful(store: &Arc<MemoryStore>) -> MemoryHost {
    host().with_store(store.clone())
}

fn initialize_as(host: &MemoryHost, token: &str) -> Reply {
    post_as(
        host,
        &format!("Bearer {token}"),
        &[],
        &json!({"jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}
        }}),
    )
}

fn sessions_in(store: &MemoryStore) -> usize {
    store
        .keys()
        .iter()
        .filter(|k| k.starts_with("session:"))
        .count()
}

// --- message limits ----------------------------------------------------------------------

#[test]
fn deep_nesting_is_refused_before_parsing() {
    let host = host();
    let nested = |depth: usize| {
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":{}{}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    let send_raw = |body: &str| {
        send(
            &host,
            "POST",
            "/mcp",
            &[
                ("authorization", &bearer()),
                ("content-type", "application/json"),
                ("accept", "application/json, text/event-stream"),
            ],
            body.as_bytes(),
        )
    };
    // 2 object levels + 62 arrays = 64: allowed.
    let ok = send_raw(&nested(62));
    assert_eq!(ok.status, 200, "{}", ok.text());
    let deep = send_raw(&nested(63));
    assert_eq!(deep.status, 400);
    assert_eq!(deep.json()["error"]["code"], -32600);
    assert!(deep.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("64 levels"));
    // Far deeper than any parser's stack would survive, and brackets inside strings do
    // not count.
    let hostile = send_raw(&nested(1_000_000));
    assert_eq!(hostile.status, 400);
    let in_string = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"s":"{}"}}}}"#,
        "[{".repeat(500)
    );
    assert_eq!(send_raw(&in_string).status, 200);
}

#[test]
fn long_ids_and_method_names_are_refused() {
    let host = host();
    let long = "x".repeat(257);
    let reply = post(
        &host,
        &[],
        &json!({"jsonrpc": "2.0", "id": long, "method": "ping"}),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["code"], -32600);
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("\"id\" is longer than 256"));
    assert!(
        reply.json().get("id").is_none(),
        "an unusable id is not echoed"
    );
    let reply = post(
        &host,
        &[],
        &json!({"jsonrpc": "2.0", "id": 1, "method": long}),
    );
    assert_eq!(reply.status, 400);
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("\"method\" is longer than 256"));
    let fits = post(
        &host,
        &[],
        &json!({"jsonrpc": "2.0", "id": "y".repeat(256), "method": "ping"}),
    );
    assert_eq!(fits.status, 200);
}

#[test]
fn too_many_or_too_large_headers_get_431() {
    let host = host();
    let names: Vec<String> = (0..101).map(|i| format!("x-filler-{i}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    let reply = send(&host, "GET", "/", &many, b"");
    assert_eq!(reply.status, 431);
    assert!(reply.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("at most 100 header fields"));
    let big = "b".repeat(65 * 1024);
    let reply = send(&host, "GET", "/", &[("x-big", &big)], b"");
    assert_eq!(reply.status, 431);
    assert_eq!(send(&host, "GET", "/", &many[..90], b"").status, 200);
}

#[test]
fn a_refused_body_leaves_the_session_whole() {
    let store = MemoryStore::new();
    let host = stateful(&store).with_variable("max_body_bytes", "1000");
    let session = open_session(&host, "2025-11-25", json!({}));
    let before = store.keys();
    let reply = post(
        &host,
        &[("mcp-session-id", &session)],
        &json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "p".repeat(2000)}}),
    );
    assert_eq!(reply.status, 413);
    assert_eq!(store.keys(), before);
    assert_eq!(in_session(&host, &session, "ping", json!({})).status, 200);
}

// --- per-principal caps --------------------------------------------------------------------

#[test]
fn sessions_beyond_the_cap_get_429_and_the_cap_heals() {
    let store = MemoryStore::new();
    let host = stateful(&store).with_variable("max_sessions_per_principal", "2");
    let first = initialize_as(&host, TOKEN);
    assert_eq!(first.status, 200);
    assert_eq!(initialize_as(&host, TOKEN).status, 200);
    let refused = initialize_as(&host, TOKEN);
    assert_eq!(refused.status, 429);
    // Places are counted in quarters of session_ttl_seconds (3600): one frees at the end
    // of the quarter its session lapses in.
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((3600..=4500).contains(&retry), "{retry}");
    let body = refused.json();
    assert_eq!(body["id"], 7);
    assert_eq!(body["error"]["code"], -32030);
    assert_eq!(body["error"]["data"]["limit"], 2);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_sessions_per_principal"));
    assert_schema("2025-11-25", "JSONRPCErrorResponse", &body);
    assert_eq!(sessions_in(&store), 2, "a refusal writes no session");

    // Other principals have their own count.
    assert_eq!(initialize_as(&host, OTHER_TOKEN).status, 200);

    // Ending a session frees its place.
    let id = first.header("mcp-session-id").unwrap();
    let ended = send(
        &host,
        "DELETE",
        "/mcp",
        &[("authorization", &bearer()), ("mcp-session-id", id)],
        b"",
    );
    assert_eq!(ended.status, 204);
    assert_eq!(initialize_as(&host, TOKEN).status, 200);
    assert_eq!(initialize_as(&host, TOKEN).status, 429);

    // So does expiry: nothing has to release a session that simply lapsed; its place
    // frees with the quarter it lapsed in, as the Retry-After said.
    host.advance_ms(retry * 1000 - 1_000);
    assert_eq!(initialize_as(&host, TOKEN).status, 429);
    host.advance_ms(1_000);
    assert_eq!(initialize_as(&host, TOKEN).status, 200);
}

#[test]
fn caps_hold_when_many_admissions_race() {
    // Sixty initialize requests of one principal at once, each on its own thread (its own
    // instance), against one store: exactly the cap gets in, never more.
    let store = MemoryStore::new();
    let host = stateful(&store).with_variable("max_sessions_per_principal", "8");
    let threads: Vec<_> = (0..60)
        .map(|_| {
            let host = host.clone();
            std::thread::spawn(move || initialize_as(&host, TOKEN).status)
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(admitted, 8, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert_eq!(sessions_in(&store), 8);
}

#[test]
fn server_wide_caps_bound_every_principal_together() {
    // In passthrough mode every new token is a new principal: per-principal caps alone
    // would not bound an anonymous client.
    let store = MemoryStore::new();
    let host = stateful(&store).with_variable("max_sessions_total", "3");
    for n in 0..3 {
        assert_eq!(
            initialize_as(&host, &format!("token-{n}-0123456789")).status,
            200
        );
    }
    let refused = initialize_as(&host, "token-9-0123456789");
    assert_eq!(refused.status, 503);
    assert!(refused.header("retry-after").is_some());
    let body = refused.json();
    assert_schema("2025-11-25", "JSONRPCErrorResponse", &body);
    assert_eq!(body["error"]["code"], -32030);
    assert_eq!(body["error"]["data"]["scope"], "server");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_sessions_total"));
    assert_eq!(sessions_in(&store), 3, "a refusal writes no session");
    // The principal's own count took nothing either: with room again it gets in.
    let store = MemoryStore::new();
    let host = instance(&store).with_variable("max_streams_total", "1");
    let auth = bearer();
    let other = "Bearer another-token-0123456789".to_string();
    let first = Stream::open(
        host.clone(),
        "/sse",
        &[("authorization", &auth), ("accept", "text/event-stream")],
    );
    assert_eq!(first.status, 200);
    let second = Stream::open(
        host.clone(),
        "/sse",
        &[("authorization", &other), ("accept", "text/event-stream")],
    );
    assert_eq!(second.status, 503);
    second.hang_up();
    first.hang_up();
    let third = Stream::open(
        host.clone(),
        "/sse",
        &[("authorization", &other), ("accept", "text/event-stream")],
    );
    assert_eq!(third.status, 200, "the place freed with the first stream");
    third.hang_up();
}

#[test]
fn a_stream_place_lapses_when_its_holder_dies() {
    use remote_mcp_server::transport::stream::StreamLimits;
    let store = MemoryStore::new();
    let host = instance(&store).with_variable("max_streams_per_principal", "1");
    // An instance takes a place and dies with it: nothing gives it back.
    let limits = StreamLimits {
        keepalive_ms: 50,
        max_ms: 3_600_000,
        per_principal: 1,
        total: 1000,
    };
    let principal = remote_mcp_server::auth::Principal {
        id: format!("token-sha256:{}", sha256_hex(TOKEN)),
        label: "dead".into(),
        authorization: remote_mcp_server::auth::Secret::new(""),
        grants: remote_mcp_server::auth::Grants::All,
    };
    use remote_mcp_server::host::Host;
    let claim = limits
        .take(&*store, &principal, "dead-holder", host.now_unix_ms())
        .unwrap()
        .unwrap();
    std::mem::forget(claim);
    let open = || {
        Stream::open(
            host.clone(),
            "/sse",
            &[
                ("authorization", &bearer()),
                ("accept", "text/event-stream"),
            ],
        )
    };
    let refused = open();
    assert_eq!(
        refused.status, 429,
        "the dead holder's place counts for now"
    );
    refused.hang_up();
    // A lease (four keep-alives, at least 2 s) and the quarter it lapses in later, the
    // place is free.
    host.advance_ms(limits.lease_ms() + limits.lease_ms() / 4 + 1_000);
    let admitted = open();
    assert_eq!(admitted.status, 200);
    admitted.hang_up();
}

#[test]
fn a_client_that_hangs_up_frees_its_stream_place_at_once() {
    // Keep-alives every 15 s, as by default: the hang-up is noticed between polls, not at
    // the next keep-alive write.
    let store = MemoryStore::new();
    let host = instance(&store)
        .with_variable("keepalive_seconds", "15")
        .with_variable("max_streams_per_principal", "2");
    for n in 0..6 {
        let stream = Stream::open(
            host.clone(),
            "/sse",
            &[
                ("authorization", &bearer()),
                ("accept", "text/event-stream"),
            ],
        );
        assert_eq!(stream.status, 200, "stream {n}");
        let started = std::time::Instant::now();
        stream.hang_up();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "noticed in {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn streams_beyond_the_cap_get_429_without_leaving_a_session() {
    let store = MemoryStore::new();
    let host = instance(&store).with_variable("max_streams_per_principal", "1");
    let auth = bearer();
    let headers = [
        ("authorization", auth.as_str()),
        ("accept", "text/event-stream"),
    ];
    let mut first = Stream::open(host.clone(), "/sse", &headers);
    assert_eq!(first.status, 200);
    first.next_event(WAIT).expect("endpoint");
    let refused = send(&host, "GET", "/sse", &headers, b"");
    assert_eq!(refused.status, 429);
    assert!(refused.header("retry-after").is_some());
    assert_eq!(refused.json()["error"]["code"], -32030);
    assert_eq!(
        sessions_in(&store),
        1,
        "the refused stream's session is gone"
    );

    // A Streamable HTTP GET stream counts too.
    let session = open_session(&host, "2025-11-25", json!({}));
    let get = send(
        &host,
        "GET",
        "/mcp",
        &[
            ("authorization", &auth),
            ("accept", "text/event-stream"),
            ("mcp-session-id", &session),
        ],
        b"",
    );
    assert_eq!(get.status, 429);

    first.hang_up();
    let mut again = Stream::open(host.clone(), "/sse", &headers);
    assert_eq!(again.status, 200);
    again.next_event(WAIT).expect("endpoint");
    again.hang_up();
}

// --- stream lifetime ------------------------------------------------------------------------

#[test]
fn streams_end_at_their_lifetime_with_a_retry_hint_and_resume() {
    let store = MemoryStore::new();
    let host = instance(&store).with_variable("stream_max_seconds", "0.4");
    let auth = bearer();
    let session = open_session(&host, "2025-11-25", json!({}));
    let stream_headers = |last: Option<&str>| {
        let mut h = vec![
            ("authorization".to_string(), auth.clone()),
            ("accept".to_string(), "text/event-stream".to_string()),
            ("mcp-session-id".to_string(), session.clone()),
        ];
        if let Some(last) = last {
            h.push(("last-event-id".to_string(), last.to_string()));
        }
        h
    };
    let open = |last: Option<&str>| {
        let h = stream_headers(last);
        let refs: Vec<(&str, &str)> = h.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        Stream::open(host.clone(), "/mcp", &refs)
    };
    let mut stream = open(None);
    assert_eq!(stream.status, 200);
    let started = std::time::Instant::now();
    let last = loop {
        let event = stream.next_event(WAIT).expect("the stream's closing hint");
        if event.retry.is_some() {
            break event;
        }
    };
    assert_eq!(last.retry.as_deref(), Some("1000"));
    stream.expect_end(WAIT, "after its retry hint");
    assert!(started.elapsed() < Duration::from_secs(3));
    stream.hang_up();
    // The session outlives its stream: the client reconnects and carries on.
    assert_eq!(in_session(&host, &session, "ping", json!({})).status, 200);
    let again = open(Some("0"));
    assert_eq!(again.status, 200);
    again.hang_up();
}

#[test]
fn an_sse_stream_ends_at_its_lifetime_and_the_reconnect_resumes_its_session() {
    let store = MemoryStore::new();
    let host = instance(&store).with_variable("stream_max_seconds", "0.3");
    let auth = bearer();
    let mut stream = Stream::open(
        host.clone(),
        "/sse",
        &[("authorization", &auth), ("accept", "text/event-stream")],
    );
    let endpoint = stream.next_event(WAIT).unwrap();
    assert_eq!(endpoint.name, "endpoint");
    let session = endpoint.data.rsplit('=').next().unwrap().to_string();
    assert_eq!(endpoint.id, Some(format!("{session}/0")));
    let hint = stream.next_event(WAIT).expect("retry hint");
    assert_eq!(hint.retry.as_deref(), Some("1000"));
    stream.expect_end(WAIT, "after its retry hint");
    stream.hang_up();

    // Between the streams the session waits (a little while) and a POST is queued.
    let record: Value =
        serde_json::from_slice(&store.get(&format!("session:{session}")).unwrap().unwrap())
            .unwrap();
    let now = host.now_unix_ms();
    assert!(record["expires_at"].as_u64().unwrap() <= now + 30_000);
    let queued = send(
        &host,
        "POST",
        &endpoint.data,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        json!({"jsonrpc": "2.0", "id": 9, "method": "ping"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(queued.status, 202);

    // The EventSource reconnects with Last-Event-ID: same session, the queued reply.
    let last = format!("{session}/0");
    let mut again = Stream::open(
        host.clone(),
        "/sse",
        &[
            ("authorization", &auth),
            ("accept", "text/event-stream"),
            ("last-event-id", &last),
        ],
    );
    let endpoint_again = again.next_event(WAIT).unwrap();
    assert_eq!(endpoint_again.data, endpoint.data);
    let reply = again.next_event(WAIT).unwrap();
    assert_eq!(reply.json()["id"], 9);
    assert_eq!(reply.id, Some(format!("{session}/1")));
    again.hang_up();
    // This stream ended with its client: so did the session, which cannot be resumed
    // any more; the reconnect gets a new one.
    assert!(leftovers(&store).iter().all(|k| !k.starts_with("session:")));
    let mut late = Stream::open(
        host.clone(),
        "/sse",
        &[
            ("authorization", &auth),
            ("accept", "text/event-stream"),
            ("last-event-id", &last),
        ],
    );
    let fresh = late.next_event(WAIT).expect("a new session's endpoint");
    assert_eq!(fresh.name, "endpoint");
    assert_ne!(fresh.data, endpoint.data);
    late.hang_up();
}

// --- sessions are their principal's ---------------------------------------------------------

/// The session id in an HTTP+SSE endpoint URL.
fn session_of(endpoint: &Event) -> String {
    assert_eq!(endpoint.name, "endpoint");
    endpoint
        .data
        .rsplit_once("sessionId=")
        .expect("the endpoint names its session")
        .1
        .to_string()
}

#[test]
fn another_principal_cannot_resume_a_live_sse_session() {
    let store = MemoryStore::new();
    let host = instance(&store);
    let owner = bearer();
    let intruder = format!("Bearer {OTHER_TOKEN}");
    let mut stream = Stream::open(
        host.clone(),
        "/sse",
        &[("authorization", &owner), ("accept", "text/event-stream")],
    );
    let endpoint = stream.next_event(WAIT).expect("the endpoint event");
    let session = session_of(&endpoint);
    // The owner pings over its session; the answer comes back on the session's stream.
    let ping = |id: i64| json!({"jsonrpc": "2.0", "id": id, "method": "ping"});
    let post_ping = |id: i64| {
        send(
            &host,
            "POST",
            &endpoint.data,
            &[
                ("authorization", &owner),
                ("content-type", "application/json"),
            ],
            ping(id).to_string().as_bytes(),
        )
        .status
    };

    // The owner's live session named in Last-Event-ID, and an id never issued: each
    // reconnect is a new session of its own (the documented answer to an unknown id).
    let made_up = "0123456789abcdef0123456789abcdef01234567";
    for last in [format!("{session}/0"), format!("{made_up}/0")] {
        let mut other = Stream::open(
            host.clone(),
            "/sse",
            &[
                ("authorization", &intruder),
                ("accept", "text/event-stream"),
                ("last-event-id", &last),
            ],
        );
        assert_eq!(other.status, 200, "{last}");
        let theirs = session_of(&other.next_event(WAIT).expect("an endpoint"));
        assert_ne!(theirs, session, "{last} resumed the owner's session");
        assert_ne!(theirs, made_up, "{last}");
        // The owner's answers still reach the owner's stream, and only it.
        assert_eq!(post_ping(1), 202);
        assert_eq!(
            stream.next_event(WAIT).expect("the owner's answer").json()["id"],
            1
        );
        other.expect_silence(Duration::from_millis(200), "the owner's answer");
        other.hang_up();
    }
    // The owner's stream kept its outbox: it outlives a session check (every second) and
    // still delivers.
    stream.expect_silence(Duration::from_millis(1500), "the owner's stream, idle");
    assert_eq!(post_ping(2), 202);
    assert_eq!(stream.next_event(WAIT).expect("the answer").json()["id"], 2);
    stream.hang_up();
    assert!(leftovers(&store).is_empty(), "{:?}", store.keys());
}

#[test]
fn another_principal_cannot_stream_or_end_a_live_streamable_session() {
    use remote_mcp_server::store::outbox::Outbox;
    use remote_mcp_server::store::session::SessionId;
    let store = MemoryStore::new();
    let host = instance(&store);
    let owner = bearer();
    let intruder = format!("Bearer {OTHER_TOKEN}");
    let session = open_session(&host, "2025-11-25", json!({}));
    let stream_headers = |auth: &str, id: &str| {
        vec![
            ("authorization".to_string(), auth.to_string()),
            ("accept".to_string(), "text/event-stream".to_string()),
            ("mcp-session-id".to_string(), id.to_string()),
            ("last-event-id".to_string(), "0".to_string()),
        ]
    };
    let open = |auth: &str, id: &str| {
        let h = stream_headers(auth, id);
        let refs: Vec<(&str, &str)> = h.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        Stream::open(host.clone(), "/mcp", &refs)
    };
    let outbox_id = SessionId::parse(&session).unwrap();
    let outbox = Outbox::new(&*store, &outbox_id);
    let note = |n: i64| {
        json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": n}})
            .to_string()
    };
    let mut stream = open(&owner, &session);
    assert_eq!(stream.status, 200);
    outbox.push(note(1).as_bytes(), 0).unwrap();
    assert_eq!(
        stream.next_event(WAIT).expect("a message").id.as_deref(),
        Some("1")
    );

    let made_up = "0123456789abcdef0123456789abcdef01234567";
    for id in [session.as_str(), made_up] {
        // GET: refused as unknown. (On a thread: a wrongly opened stream would not end.)
        let mut other = open(&intruder, id);
        assert_eq!(other.status, 404, "GET {id}");
        other.expect_end(WAIT, "a refused GET");
        let refusal: Value = serde_json::from_str(other.unparsed()).expect("a JSON body");
        assert_eq!(refusal["error"]["code"], -32001, "GET {id}");
        other.hang_up();
        // DELETE: refused as unknown too.
        let deleted = send(
            &host,
            "DELETE",
            "/mcp",
            &[("authorization", &intruder), ("mcp-session-id", id)],
            b"",
        );
        assert_eq!(deleted.status, 404, "DELETE {id}");
        assert_eq!(deleted.json()["error"]["code"], -32001, "DELETE {id}");
    }
    // Nor does the owner's made-up id exist.
    let deleted = send(
        &host,
        "DELETE",
        "/mcp",
        &[("authorization", &owner), ("mcp-session-id", made_up)],
        b"",
    );
    assert_eq!(deleted.status, 404);

    // The owner's session and stream carry on: past a session check (every second), the
    // stream is still its session's and delivers.
    stream.expect_silence(Duration::from_millis(1500), "the owner's stream, idle");
    outbox.push(note(2).as_bytes(), 0).unwrap();
    assert_eq!(
        stream.next_event(WAIT).expect("a message").id.as_deref(),
        Some("2")
    );
    assert_eq!(in_session(&host, &session, "ping", json!({})).status, 200);
    // Only its owner ends it.
    let deleted = send(
        &host,
        "DELETE",
        "/mcp",
        &[("authorization", &owner), ("mcp-session-id", &session)],
        b"",
    );
    assert_eq!(deleted.status, 204);
    stream.expect_end(WAIT, "the deleted session's stream");
    stream.hang_up();
    assert!(leftovers(&store).is_empty(), "{:?}", store.keys());
}

#[test]
fn a_listen_stream_ends_gracefully_at_its_lifetime() {
    let store = MemoryStore::new();
    let host = stateful(&store)
        .with_real_time()
        .with_variable("stream_max_seconds", "0.3")
        .with_variable("keepalive_seconds", "0.05");
    let reply = modern(
        &host,
        "subscriptions/listen",
        json!({"notifications": {"toolsListChanged": true}}),
    );
    assert_eq!(reply.status, 200);
    let messages = sse_messages(&reply.body);
    assert_eq!(
        messages[0]["method"],
        "notifications/subscriptions/acknowledged"
    );
    let last = messages.last().unwrap();
    assert_eq!(last["id"], 7);
    assert_eq!(last["result"]["resultType"], "complete");
    assert_eq!(
        last["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        7
    );
    assert_schema("2026-07-28", "JSONRPCResultResponse", last);
    assert!(
        leftovers(&store).iter().all(|k| !k.starts_with("quota:")),
        "the stream gave its place back: {:?}",
        store.keys()
    );
}

// --- garbage collection -------------------------------------------------------------------

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
    link.mark_running(&request, host.now_unix_ms() + 60_000, host.now_unix_ms())
        .unwrap();
    let cancelled = post(
        &host,
        &[
            ("mcp-session-id", &old),
            ("mcp-protocol-version", "2025-11-25"),
        ],
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}}),
    );
    assert_eq!(cancelled.status, 202);
    link.unmark_running(&request).unwrap();
    assert!(store.keys().iter().any(|k| k.starts_with("cancel:")));
    // What a gone session can leave behind: a message pushed into its outbox by a POST
    // that raced its end (the code such a POST runs).
    let ghost = SessionId::parse("0123456789abcdef0123456789abcdef01234567").unwrap();
    Outbox::new(&*store, &ghost)
        .push(b"late", host.now_unix_ms())
        .unwrap();

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

// --- CORS ----------------------------------------------------------------------------------

const INSPECTOR: &str = "http://localhost:6274";

#[test]
fn preflights_from_allowed_origins_get_the_mcp_headers() {
    let host = host().with_variable("allowed_origins", "https://app.example.com");
    for (path, methods) in [
        ("/mcp", "GET, POST, DELETE, OPTIONS"),
        ("/sse", "GET, POST, DELETE, OPTIONS"),
        ("/sse/message", "POST, OPTIONS"),
    ] {
        for origin in [INSPECTOR, "https://app.example.com"] {
            let reply = send(
                &host,
                "OPTIONS",
                path,
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "authorization, content-type, mcp-param-region",
                    ),
                ],
                b"",
            );
            assert_eq!(reply.status, 204, "{path} {origin}");
            assert_eq!(reply.header("access-control-allow-origin"), Some(origin));
            assert_eq!(reply.header("access-control-allow-methods"), Some(methods));
            let allowed = reply.header("access-control-allow-headers").unwrap();
            for name in [
                "authorization",
                "content-type",
                "mcp-session-id",
                "mcp-protocol-version",
                "last-event-id",
                "mcp-method",
                "mcp-name",
                "mcp-param-region",
            ] {
                assert!(
                    allowed.contains(name),
                    "{path}: {name} missing in {allowed}"
                );
            }
            assert_eq!(reply.header("vary"), Some("origin"));
        }
    }
    let refused = send(
        &host,
        "OPTIONS",
        "/mcp",
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
        ],
        b"",
    );
    assert_eq!(refused.status, 403);
    assert_eq!(refused.header("access-control-allow-origin"), None);
}

#[test]
fn responses_to_allowed_origins_expose_the_session_and_challenge_headers() {
    let store = MemoryStore::new();
    let host = stateful(&store);
    let reply = post(
        &host,
        &[("origin", INSPECTOR)],
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}
        }}),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-allow-origin"), Some(INSPECTOR));
    let exposed = reply.header("access-control-expose-headers").unwrap();
    assert!(exposed.contains("mcp-session-id") && exposed.contains("www-authenticate"));
    // A browser must be able to read the challenge to start authorization.
    let challenge = send(
        &host,
        "POST",
        "/mcp",
        &[("origin", INSPECTOR), ("content-type", "application/json")],
        b"{}",
    );
    assert_eq!(challenge.status, 401);
    assert_eq!(
        challenge.header("access-control-allow-origin"),
        Some(INSPECTOR)
    );
    // No Origin, no CORS headers; the metadata is readable from any page.
    let plain = post(
        &host,
        &[],
        &json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    );
    assert_eq!(plain.header("access-control-allow-origin"), None);
    let metadata = send(
        &host,
        "GET",
        "/.well-known/oauth-protected-resource",
        &[("origin", "https://anywhere.example")],
        b"",
    );
    assert_eq!(metadata.status, 200);
    assert_eq!(metadata.header("access-control-allow-origin"), Some("*"));
}

// --- health --------------------------------------------------------------------------------

#[test]
fn healthz_needs_no_token_and_reports_the_store() {
    let reply = send(&host(), "GET", "/healthz", &[], b"");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body: Value = reply.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["store"], "none");
    let store = MemoryStore::new();
    let body = send(&stateful(&store), "GET", "/healthz", &[], b"").json();
    assert_eq!(body["store"], "ok");
    let broken = host().with_variable("auth_mode", "bogus");
    let reply = send(&broken, "GET", "/healthz", &[], b"");
    assert_eq!(reply.status, 500);
    assert!(reply.text().contains("auth_mode"));
}

// --- SSE framing ---------------------------------------------------------------------------

#[test]
fn every_line_break_in_event_data_starts_a_data_line() {
    use remote_mcp_server::transport::stream::event;
    // CR and CRLF end lines in SSE too: left raw, a CR would let data forge a field.
    let frame = event(Some("3"), "message", b"a\rid: 9\r\nb\nc");
    assert_eq!(
        String::from_utf8(frame).unwrap(),
        "id: 3\nevent: message\ndata: a\ndata: id: 9\ndata: b\ndata: c\n\n"
    );
    assert_eq!(
        String::from_utf8(event(None, "message", b"")).unwrap(),
        "event: message\ndata: \n\n"
    );
}

// --- regressions from fuzzing ----------------------------------------------------------

/// Inputs `scripts/fuzz bearer` produced: a scheme this server does not know is never
/// named in the error (it may be a bare token), and what follows it never is.
#[test]
fn an_unknown_scheme_is_never_named() {
    let host = host();
    let refuse = |authorization: &str| {
        let reply = send(
            &host,
            "POST",
            "/mcp",
            &[
                ("authorization", authorization),
                ("content-type", "application/json"),
            ],
            b"{}",
        );
        assert_eq!(reply.status, 401, "{authorization}");
        reply.json()["error_description"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let named = refuse("nnnnnnnnnn secret-credential-1");
    assert!(named.contains("another scheme"), "{named}");
    assert!(
        !named.contains("nnnnnnnnnn") && !named.contains("secret-credential-1"),
        "{named}"
    );
    let long = format!("Bjarec{}arer {}", "V".repeat(75), "k".repeat(40));
    let unknown = refuse(&long);
    assert!(unknown.contains("another scheme"), "{unknown}");
    assert!(
        !unknown.contains("VVVV") && !unknown.contains("kkkk"),
        "{unknown}"
    );
}

#[test]
fn a_stream_taken_over_leaves_its_quota_place_to_the_new_one() {
    let store = MemoryStore::new();
    let host = instance(&store).with_variable("max_streams_per_principal", "1");
    let auth = bearer();
    let mut first = Stream::open(
        host.clone(),
        "/sse",
        &[("authorization", &auth), ("accept", "text/event-stream")],
    );
    let endpoint = first.next_event(WAIT).unwrap();
    let last = endpoint.id.clone().unwrap();
    // The same session's reconnect takes over (its place is the session's).
    let mut second = Stream::open(
        host.clone(),
        "/sse",
        &[
            ("authorization", &auth),
            ("accept", "text/event-stream"),
            ("last-event-id", &last),
        ],
    );
    assert_eq!(second.status, 200);
    assert_eq!(second.next_event(WAIT).unwrap().data, endpoint.data);
    // The first stream notices and ends; the place stays taken by the second.
    first.expect_end(WAIT, "the superseded stream");
    first.hang_up();
    // (On a thread, so that a wrongly admitted stream fails the test instead of hanging it.)
    let third = Stream::open(
        host.clone(),
        "/sse",
        &[("authorization", &auth), ("accept", "text/event-stream")],
    );
    let status = third.status;
    third.hang_up();
    second.hang_up();
    assert_eq!(status, 429);
}

#[test]
fn a_stream_whose_session_was_deleted_gives_its_quota_place_back() {
    let store = MemoryStore::new();
    let host = instance(&store);
    let auth = bearer();
    let session = open_session(&host, "2025-11-25", json!({}));
    let stream = Stream::open(
        host.clone(),
        "/mcp",
        &[
            ("authorization", &auth),
            ("accept", "text/event-stream"),
            ("mcp-session-id", &session),
        ],
    );
    assert_eq!(stream.status, 200);
    let deleted = send(
        &host,
        "DELETE",
        "/mcp",
        &[("authorization", &auth), ("mcp-session-id", &session)],
        b"",
    );
    assert_eq!(deleted.status, 204);
    // The client closes its stream right away, before the stream sees the session gone.
    stream.hang_up();
    assert!(
        leftovers(&store).is_empty(),
        "left behind: {:?}",
        store.keys()
    );
}

#[test]
fn last_event_ids_no_outbox_reached_are_refused() {
    // u64::MAX + 1 would wrap to 0 and replay from the start (or panic).
    let store = MemoryStore::new();
    let host = instance(&store);
    let session = open_session(&host, "2025-11-25", json!({}));
    let auth = bearer();
    for id in ["18446744073709551615", "99"] {
        let reply = send(
            &host,
            "GET",
            "/mcp",
            &[
                ("authorization", &auth),
                ("accept", "text/event-stream"),
                ("mcp-session-id", &session),
                ("last-event-id", id),
            ],
            b"",
        );
        assert_eq!(reply.status, 400, "Last-Event-ID {id}");
        assert_error("2025-11-25", &reply.json());
    }
    // HTTP+SSE: an id that cannot be resumed opens a new session instead.
    let mut stream = Stream::open(
        host.clone(),
        "/sse",
        &[
            ("authorization", &auth),
            ("accept", "text/event-stream"),
            ("last-event-id", &format!("{session}/18446744073709551615")),
        ],
    );
    assert_eq!(stream.status, 200);
    assert!(!stream.next_event(WAIT).unwrap().data.contains(&session));
    stream.hang_up();
}

#[test]
fn batches_are_bounded() {
    let host = host();
    let pings = |n: usize| {
        let batch: Vec<Value> = (0..n)
            .map(|id| json!({"jsonrpc": "2.0", "id": id, "method": "ping"}))
            .collect();
        post(
            &host,
            &[("mcp-protocol-version", "2025-03-26")],
            &Value::Array(batch),
        )
    };
    let reply = pings(33);
    assert_eq!(reply.status, 400);
    let body = reply.json();
    // No id can be named for a whole batch: the error omits it, as for a parse error
    // (the 2025-11-25 schema allows that; 2025-03-26's has no form for it).
    assert_error("2025-11-25", &body);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 32 messages"));
    let reply = pings(32);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json().as_array().unwrap().len(), 32);
}

#[test]
fn a_request_stops_at_its_time_budget() {
    use remote_mcp_server::config::Settings;
    use remote_mcp_server::protocol::call::{
        Call, Discard, Rounds, Stop, Target, REQUEST_BUDGET_MS,
    };
    use remote_mcp_server::protocol::exchange::Exchange;
    use remote_mcp_server::protocol::jsonrpc::{Request, RequestId};
    let host = host().with_store(MemoryStore::new());
    let settings = Settings::new(&host);
    let principal = remote_mcp_server::auth::Principal {
        id: "budget".into(),
        label: "budget".into(),
        authorization: remote_mcp_server::auth::Secret::new(""),
        grants: remote_mcp_server::auth::Grants::All,
    };
    let request = Request {
        id: RequestId::Number(1.into()),
        method: "tools/call".into(),
        params: Default::default(),
    };
    let mut emitter = Discard;
    let exchange = Exchange::legacy(
        &host,
        &settings,
        &principal,
        remote_mcp_server::protocol::Revision::V2025_11_25,
        None,
    );
    let target = Target {
        method: "tools/call".into(),
        name: "countdown".into(),
    };
    let mut call = Call::new(
        exchange.context(),
        &mut emitter,
        &request,
        target,
        Rounds::default(),
    );
    // Most of the budget may be spent waiting; a wait past its end is refused.
    assert!(call.sleep_ms(REQUEST_BUDGET_MS - 1_000).is_ok());
    match call.sleep_ms(2_000) {
        Err(Stop::Failed(why)) => assert!(why.contains("time budget"), "{why}"),
        _ => panic!("a wait past the budget must stop the request"),
    }
}

#[test]
fn a_principal_runs_a_bounded_number_of_long_requests_at_once() {
    use remote_mcp_server::store::places::MAX_RUNNING_CALLS;
    let store = MemoryStore::new();
    let host = instance(&store);
    let total = MAX_RUNNING_CALLS + 4;
    let start = std::sync::Arc::new(std::sync::Barrier::new(total));
    let threads: Vec<_> = (0..total)
        .map(|_| {
            let (host, start) = (host.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                modern(
                    &host,
                    "tools/call",
                    json!({"name": "countdown", "arguments": {"from": 2, "interval_ms": 300}}),
                )
                .json()
            })
        })
        .collect();
    let answers: Vec<Value> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let refused = answers
        .iter()
        .filter(|a| a["error"]["code"] == -32030)
        .count();
    let counted = answers
        .iter()
        .filter(|a| a["result"]["structuredContent"]["counted"] == 2)
        .count();
    assert_eq!(refused + counted, total, "{answers:?}");
    assert!(counted <= MAX_RUNNING_CALLS, "{counted} ran at once");
    assert!(refused >= total - MAX_RUNNING_CALLS, "{refused} refused");
    // Each gave its place back: the next one runs.
    let after = modern(
        &host,
        "tools/call",
        json!({"name": "countdown", "arguments": {"from": 1, "interval_ms": 10}}),
    );
    assert_eq!(after.json()["result"]["structuredContent"]["counted"], 1);
}

/// The places counted for a principal's streams or sessions, over every epoch (what the
/// caps compare against).
fn counted(store: &MemoryStore, kind: &str) -> i64 {
    use remote_mcp_server::host::KeyValue;
    store
        .keys()
        .iter()
        .filter(|k| k.starts_with(&format!("quota:{kind}:")) && !k.contains(":all:"))
        .map(|k| store.counter(k).unwrap().unwrap_or(0))
        .sum()
}

#[test]
fn a_stream_that_took_another_ones_place_over_gives_it_back_once() {
    // A's place passes to B (the same session's newer stream); B hangs up, and A, which
    // then finds the lease gone, must neither give the place back again nor end the
    // session: over three rounds the count stays exact.
    let store = MemoryStore::new();
    let host = instance(&store);
    let session = open_session(&host, "2025-11-25", json!({}));
    let auth = bearer();
    let get = || {
        Stream::open(
            host.clone(),
            "/mcp",
            &[
                ("authorization", &auth),
                ("accept", "text/event-stream"),
                ("mcp-session-id", &session),
            ],
        )
    };
    for round in 0..3 {
        let a = get();
        assert_eq!(a.status, 200);
        let b = get();
        assert_eq!(b.status, 200);
        b.hang_up();
        std::thread::sleep(Duration::from_millis(1_200));
        a.hang_up();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(counted(&store, "streams"), 0, "round {round}");
    }
    assert_eq!(
        in_session(&host, &session, "ping", json!({})).status,
        200,
        "the session lives on"
    );
}

#[test]
fn a_session_ended_by_many_at_once_gives_its_place_back_once() {
    let store = MemoryStore::new();
    let host = stateful(&store).with_variable("max_sessions_per_principal", "2");
    for round in 0..3 {
        let session = initialize_as(&host, TOKEN);
        let id = session.header("mcp-session-id").unwrap().to_string();
        let start = std::sync::Arc::new(std::sync::Barrier::new(16));
        let deletes: Vec<_> = (0..16)
            .map(|_| {
                let (host, start, id) = (host.clone(), start.clone(), id.clone());
                std::thread::spawn(move || {
                    start.wait();
                    send(
                        &host,
                        "DELETE",
                        "/mcp",
                        &[("authorization", &bearer()), ("mcp-session-id", &id)],
                        b"",
                    )
                    .status
                })
            })
            .collect();
        for delete in deletes {
            delete.join().unwrap();
        }
        assert_eq!(counted(&store, "sessions"), 0, "round {round}");
    }
    assert_eq!(initialize_as(&host, TOKEN).status, 200);
    assert_eq!(initialize_as(&host, TOKEN).status, 200);
    assert_eq!(initialize_as(&host, TOKEN).status, 429, "the cap holds");
}

#[test]
fn many_requests_renewing_a_session_at_once_move_its_place_once() {
    let store = MemoryStore::new();
    let host = stateful(&store).with_variable("session_ttl_seconds", "100");
    let session = open_session(&host, "2025-11-25", json!({}));
    host.advance_ms(60_000); // past half the time to live: the next requests renew
    let start = std::sync::Arc::new(std::sync::Barrier::new(12));
    let pings: Vec<_> = (0..12)
        .map(|_| {
            let (host, start, session) = (host.clone(), start.clone(), session.clone());
            std::thread::spawn(move || {
                start.wait();
                in_session(&host, &session, "ping", json!({})).status
            })
        })
        .collect();
    for ping in pings {
        assert_eq!(ping.join().unwrap(), 200);
    }
    assert_eq!(counted(&store, "sessions"), 1);
}

#[test]
fn refused_admissions_leave_nothing_behind_once_swept() {
    let store = MemoryStore::new();
    let host = stateful(&store)
        .with_variable("max_sessions_total", "1")
        .with_variable("session_ttl_seconds", "20")
        .with_variable("gc_interval_seconds", "1");
    assert_eq!(initialize_as(&host, TOKEN).status, 200);
    for n in 0..20 {
        assert_eq!(
            initialize_as(&host, &format!("new-token-{n}-0123456789")).status,
            503
        );
    }
    // Past the sessions' time and their counters' epochs, sweeps take what is left.
    for _ in 0..4 {
        host.advance_ms(30_000);
        let _ = initialize_as(&host, "sweeper-0123456789");
    }
    let quota: Vec<String> = store
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("quota:") && !k.contains("all"))
        .collect();
    assert!(quota.len() <= 2, "{} counters left: {quota:?}", quota.len());
}

#[test]
fn a_batchs_calls_share_one_time_budget() {
    // Two 5-minute countdowns in one 2025-03-26 batch: the second runs out of the budget
    // the POST had (the sleeps run on the host's manual clock).
    let host = host().with_store(MemoryStore::new());
    let session = open_session(&host, "2025-03-26", json!({}));
    let countdown = |id: u64| json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "countdown", "arguments": {"from": 60, "interval_ms": 5000}}});
    let reply = post(
        &host,
        &[
            ("mcp-protocol-version", "2025-03-26"),
            ("mcp-session-id", &session),
        ],
        &json!([countdown(1), countdown(2)]),
    );
    assert_eq!(reply.status, 200);
    let replies = reply.json();
    assert_eq!(replies[0]["result"]["isError"], false, "{replies}");
    assert_eq!(replies[1]["result"]["isError"], true, "{}", replies[1]);
    assert!(replies[1]["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("time budget"));
}
