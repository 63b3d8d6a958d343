//! The legacy HTTP+SSE transport over the shared store: the stream and the POSTs run in
//! different instances that share nothing but the store.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use remote_mcp_server::host::memory::{MemoryHost, MemoryStore};
use serde_json::{json, Value};

fn open(store: &Arc<MemoryStore>) -> (Stream, String) {
    let auth = bearer();
    let mut stream = sse_stream(&instance(store), &auth, None);
    assert_eq!(stream.status, 200);
    assert_eq!(
        stream.headers.get("content-type"),
        Some("text/event-stream")
    );
    assert_eq!(stream.headers.get("x-accel-buffering"), Some("no"));
    let endpoint = stream.next_event(WAIT).expect("the endpoint event");
    assert_eq!(endpoint.name, "endpoint");
    assert!(
        endpoint.data.starts_with("/sse/message?sessionId="),
        "{}",
        endpoint.data
    );
    (stream, endpoint.data)
}

fn post_to(store: &Arc<MemoryStore>, endpoint: &str, auth: &str, body: &Value) -> Reply {
    send(
        &instance(store),
        "POST",
        endpoint,
        &[
            ("authorization", auth),
            ("content-type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
}

#[test]
fn a_full_session_over_sse_across_instances() {
    let store = MemoryStore::new();
    let (mut stream, endpoint) = open(&store);
    let auth = bearer();
    let init = rpc(
        1,
        "initialize",
        json!({
            "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}
        }),
    );
    let reply = post_to(&store, &endpoint, &auth, &init);
    assert_eq!(reply.status, 202);
    assert!(reply.body.is_empty());

    let event = stream.next_event(WAIT).expect("the initialize result");
    assert_eq!(event.name, "message");
    // Ids name the session and sequence number, for an EventSource that reconnects.
    let session = endpoint.rsplit('=').next().unwrap();
    assert_eq!(event.id, Some(format!("{session}/1")));
    let message = event.json();
    assert_result("2024-11-05", "InitializeResult", &message);
    assert_eq!(message["result"]["protocolVersion"], "2024-11-05");

    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post_to(&store, &endpoint, &auth, &initialized).status, 202);
    post_to(&store, &endpoint, &auth, &rpc(2, "tools/list", json!({})));
    post_to(
        &store,
        &endpoint,
        &auth,
        &rpc(
            3,
            "tools/call",
            json!({"name": "add", "arguments": {"a": 2, "b": 3}}),
        ),
    );
    post_to(
        &store,
        &endpoint,
        &auth,
        &rpc(
            4,
            "tools/call",
            json!({"name": "getToken", "arguments": {}}),
        ),
    );

    let list = stream.next_event(WAIT).unwrap().json();
    assert_result("2024-11-05", "ListToolsResult", &list);
    assert_eq!(list["id"], 2);
    let sum = stream.next_event(WAIT).unwrap().json();
    assert_result("2024-11-05", "CallToolResult", &sum);
    assert_eq!(sum["result"]["content"][0]["text"], "5");
    let token = stream.next_event(WAIT).unwrap().json();
    assert_eq!(
        token["result"]["content"][0]["text"],
        format!("User's token: {auth}")
    );
    // The notification got no answer: nothing else is pending.
    stream.expect_silence(Duration::from_millis(200), "no answer to a notification");
    stream.hang_up();
}

#[test]
fn the_revision_initialize_negotiates_governs_the_session() {
    let store = MemoryStore::new();
    let (mut stream, endpoint) = open(&store);
    let auth = bearer();
    let init = rpc(
        1,
        "initialize",
        json!({
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "inspector", "version": "1"}
        }),
    );
    post_to(&store, &endpoint, &auth, &init);
    assert_eq!(
        stream.next_event(WAIT).unwrap().json()["result"]["protocolVersion"],
        "2025-06-18"
    );
    post_to(&store, &endpoint, &auth, &rpc(2, "tools/list", json!({})));
    let list = stream.next_event(WAIT).unwrap().json();
    assert_result("2025-06-18", "ListToolsResult", &list);
    assert!(
        list["result"]["tools"][0]["title"].is_string(),
        "titles exist in 2025-06-18"
    );
    stream.hang_up();
}

#[test]
fn fifty_concurrent_requests_are_each_answered_once() {
    let store = MemoryStore::new();
    let (mut stream, endpoint) = open(&store);
    let auth = bearer();
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let (store, endpoint, auth) = (store.clone(), endpoint.clone(), auth.clone());
            std::thread::spawn(move || {
                let call = rpc(
                    i,
                    "tools/call",
                    json!({"name": "add", "arguments": {"a": i, "b": 1000}}),
                );
                post_to(&store, &endpoint, &auth, &call).status
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(join_within(thread, WAIT, "a POST"), 202);
    }
    let mut seen = std::collections::BTreeMap::new();
    while seen.len() < 50 {
        let message = stream.next_event(WAIT).expect("all 50 answers").json();
        let id = message["id"].as_i64().unwrap();
        assert_eq!(
            message["result"]["content"][0]["text"],
            (id + 1000).to_string()
        );
        assert!(
            seen.insert(id, ()).is_none(),
            "answer to {id} delivered twice"
        );
    }
    stream.expect_silence(Duration::from_millis(200), "nothing extra");
    stream.hang_up();
}

#[test]
fn answers_arrive_in_the_order_they_were_produced() {
    let store = MemoryStore::new();
    let (mut stream, endpoint) = open(&store);
    let auth = bearer();
    for i in 0..20 {
        post_to(&store, &endpoint, &auth, &rpc(i, "ping", json!({})));
    }
    let ids: Vec<i64> = (0..20)
        .map(|_| {
            stream.next_event(WAIT).unwrap().json()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, (0..20).collect::<Vec<_>>());
    stream.hang_up();
}

#[test]
fn a_session_belongs_to_the_token_that_opened_it() {
    let store = MemoryStore::new();
    let (mut stream, endpoint) = open(&store);
    let reply = post_to(
        &store,
        &endpoint,
        "Bearer someone-else",
        &rpc(1, "ping", json!({})),
    );
    assert_eq!(reply.status, 404);
    let body = reply.json();
    assert_eq!(body["error"]["code"], -32001);
    assert_error("2025-11-25", &body);
    // The owner is unaffected.
    assert_eq!(
        post_to(&store, &endpoint, &bearer(), &rpc(2, "ping", json!({}))).status,
        202
    );
    assert_eq!(stream.next_event(WAIT).unwrap().json()["id"], 2);
    stream.hang_up();
}

#[test]
fn hanging_up_removes_every_record_of_the_session() {
    let store = MemoryStore::new();
    let (mut stream, endpoint) = open(&store);
    post_to(&store, &endpoint, &bearer(), &rpc(1, "ping", json!({})));
    stream.next_event(WAIT).unwrap();
    // Queued but never read: must go too.
    post_to(&store, &endpoint, &bearer(), &rpc(2, "ping", json!({})));
    assert!(!store.keys().is_empty());
    stream.hang_up();
    assert_eq!(
        leftovers(&store),
        Vec::<String>::new(),
        "records left behind"
    );
    assert_eq!(
        post_to(&store, &endpoint, &bearer(), &rpc(3, "ping", json!({}))).status,
        404
    );
}

#[test]
fn keepalive_comments_flow_while_idle() {
    let store = MemoryStore::new();
    let (mut stream, _) = open(&store);
    // keepalive_seconds is 0.05 in these tests.
    stream.expect_silence(Duration::from_millis(400), "an idle stream");
    assert!(
        stream.comments >= 3,
        "{} keep-alives in 400 ms",
        stream.comments
    );
    stream.hang_up();
}

#[test]
fn bad_posts_get_clear_errors_and_keep_the_session() {
    let store = MemoryStore::new();
    let (mut stream, endpoint) = open(&store);
    let auth = bearer();
    let host = instance(&store);
    let json_headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];

    let reply = send(&host, "POST", "/sse/message", &json_headers, b"{}");
    assert_eq!(reply.status, 400);
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("sessionId"));

    for unknown in [
        "/sse/message?sessionId=nope",
        "/sse/message?sessionId=0123456789abcdef0123456789abcdef01234567",
    ] {
        let reply = send(&host, "POST", unknown, &json_headers, b"{}");
        assert_eq!(reply.status, 404, "{unknown}");
        assert_eq!(reply.json()["error"]["code"], -32001);
    }

    let reply = send(&host, "POST", &endpoint, &json_headers, b"{oops");
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["code"], -32700);

    let reply = send(
        &host,
        "POST",
        &endpoint,
        &[("authorization", &auth), ("content-type", "text/plain")],
        b"{}",
    );
    assert_eq!(reply.status, 415);

    let big = host.clone().with_variable("max_body_bytes", "64");
    let padded = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":\"{}\"}}",
        "a".repeat(100)
    );
    assert_eq!(
        send(&big, "POST", &endpoint, &json_headers, padded.as_bytes()).status,
        413
    );

    // 2024-11-05 has no batches.
    let batch = json!([rpc(1, "ping", json!({}))]);
    assert_eq!(post_to(&store, &endpoint, &auth, &batch).status, 400);

    // The session survived all of that.
    assert_eq!(
        post_to(&store, &endpoint, &auth, &rpc(9, "ping", json!({}))).status,
        202
    );
    assert_eq!(stream.next_event(WAIT).unwrap().json()["id"], 9);
    stream.hang_up();
}

#[test]
fn invalid_messages_are_answered_on_the_stream_with_their_id() {
    let store = MemoryStore::new();
    let (mut stream, endpoint) = open(&store);
    post_to(
        &store,
        &endpoint,
        &bearer(),
        &rpc(5, "no/such/method", json!({})),
    );
    let answer = stream.next_event(WAIT).unwrap().json();
    assert_eq!(answer["id"], 5);
    assert_eq!(answer["error"]["code"], -32601);
    stream.hang_up();
}

#[test]
fn stream_requests_are_checked() {
    let store = MemoryStore::new();
    let host = instance(&store);
    let auth = bearer();
    let reply = send(
        &host,
        "GET",
        "/sse",
        &[("authorization", &auth), ("accept", "application/json")],
        b"",
    );
    assert_eq!(reply.status, 406);
    let reply = send(&host, "PUT", "/sse", &[("authorization", &auth)], b"");
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, POST, DELETE"));
    assert_eq!(send(&host, "GET", "/sse", &[], b"").status, 401);
    assert_eq!(
        send(
            &host,
            "GET",
            "/sse/message",
            &[("authorization", &auth)],
            b""
        )
        .status,
        405
    );
    assert!(
        leftovers(&store).is_empty(),
        "refused requests leave nothing behind"
    );
}

#[test]
fn the_endpoint_honours_a_proxy_prefix() {
    // Only where the operator said a proxy in front sets it (trust_forwarded_prefix).
    let store = MemoryStore::new();
    let auth = bearer();
    let trusting = || instance(&store).with_variable("trust_forwarded_prefix", "on");
    let mut stream = Stream::open(
        trusting(),
        "/sse",
        &[
            ("authorization", &auth),
            ("x-forwarded-prefix", "/team/mcp/"),
        ],
    );
    let endpoint = stream.next_event(WAIT).unwrap();
    assert!(
        endpoint
            .data
            .starts_with("/team/mcp/sse/message?sessionId="),
        "{}",
        endpoint.data
    );
    stream.hang_up();

    let mut stream = Stream::open(
        trusting(),
        "/sse",
        &[
            ("authorization", &auth),
            ("x-forwarded-prefix", "javascript:alert(1)"),
        ],
    );
    assert!(stream
        .next_event(WAIT)
        .unwrap()
        .data
        .starts_with("/sse/message?sessionId="));
    stream.hang_up();
}

#[test]
fn the_sse_endpoint_takes_a_forwarded_prefix_only_when_trusted_and_never_a_host() {
    let store = MemoryStore::new();
    let auth = bearer();
    let endpoint = |host: MemoryHost, prefix: &str| {
        let mut stream = Stream::open(
            host,
            "/sse",
            &[("authorization", &auth), ("x-forwarded-prefix", prefix)],
        );
        let event = stream
            .next_event(Duration::from_secs(5))
            .expect("the endpoint event");
        stream.hang_up();
        assert_eq!(event.name, "endpoint");
        event.data
    };
    // Not trusted (the default): any client could otherwise steer where its POSTs go.
    assert!(endpoint(instance(&store), "/team/mcp").starts_with("/sse/message?sessionId="));
    let trusted = || instance(&store).with_variable("trust_forwarded_prefix", "on");
    assert!(endpoint(trusted(), "/team/mcp/").starts_with("/team/mcp/sse/message?sessionId="));
    for hostile in [
        "//evil.example",
        "///evil.example/x",
        "https://evil.example",
    ] {
        let data = endpoint(trusted(), hostile);
        assert!(
            data.starts_with("/sse/message?sessionId="),
            "{hostile}: {data}"
        );
    }
}

#[test]
fn session_ids_are_long_random_and_distinct() {
    let store = MemoryStore::new();
    let ids: std::collections::HashSet<String> = (0..20)
        .map(|_| {
            let (stream, endpoint) = open(&store);
            stream.hang_up();
            endpoint.rsplit('=').next().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 20);
    for id in &ids {
        assert_eq!(id.len(), 40);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}

#[test]
fn a_reconnecting_sdk_client_that_sends_the_protocol_version_gets_an_sse_stream() {
    // The SDK's SSE client adds MCP-Protocol-Version to its EventSource's reconnects.
    let store = MemoryStore::new();
    let auth = bearer();
    let mut stream = Stream::open(
        instance(&store),
        "/sse",
        &[
            ("authorization", &auth),
            ("accept", "text/event-stream"),
            ("mcp-protocol-version", "2024-11-05"),
        ],
    );
    assert_eq!(stream.status, 200);
    assert_eq!(stream.next_event(WAIT).unwrap().name, "endpoint");
    stream.hang_up();
    // Without a store there are no HTTP+SSE sessions: a Streamable HTTP client's GET is
    // told there is no stream for it (405), as on /mcp.
    let reply = send(
        &host(),
        "GET",
        "/sse",
        &[
            ("authorization", &auth),
            ("accept", "text/event-stream"),
            ("mcp-protocol-version", "2025-06-18"),
        ],
        b"",
    );
    assert_eq!(reply.status, 405);
}

#[test]
fn an_open_stream_keeps_a_short_lived_session_alive() {
    // An open stream is activity: its session checks renew the session past half its time
    // to live, so under a `session_ttl_seconds` shorter than six minutes they come more
    // often than the usual every two minutes (at least every third of the time to live).
    let store = MemoryStore::new();
    let host = instance(&store).with_variable("session_ttl_seconds", "50");
    let auth = bearer();
    let mut stream = sse_stream(&host, &auth, None);
    assert_eq!(stream.status, 200);
    let endpoint = stream.next_event(WAIT).expect("the endpoint event").data;
    // Three times the time to live, in steps the stream's housekeeping keeps up with.
    for _ in 0..30 {
        host.advance_ms(5_000);
        std::thread::sleep(Duration::from_millis(100));
    }
    let ping = rpc(1, "ping", json!({}));
    let reply = send(
        &host,
        "POST",
        &endpoint,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        ping.to_string().as_bytes(),
    );
    assert_eq!(reply.status, 202, "{}", reply.text());
    let answer = stream.next_event(WAIT).expect("the answer");
    assert_eq!(answer.json()["id"], 1);
}
