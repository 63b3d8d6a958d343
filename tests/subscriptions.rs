//! Change subscriptions: `subscriptions/listen` streams (what they carry, their lifetime)
//! and legacy resource subscriptions on the session's stream, and their bounds.

mod common;

use std::time::{Duration, Instant};

use common::*;
use remote_mcp_server::host::memory::{MemoryHost, MemoryStore, SinkEvent};
use remote_mcp_server::http::Headers;
use serde_json::{json, Value};

#[test]
fn listen_streams_acknowledge_then_carry_the_changes_they_asked_for() {
    let store = MemoryStore::new();
    let listener = fixture_instance(&store);
    let auth = bearer();
    let body = json!({"jsonrpc": "2.0", "id": "sub-1", "method": "subscriptions/listen", "params": {
        "_meta": envelope(), "notifications": {"toolsListChanged": true, "resourceSubscriptions": ["test://watched-resource"]}
    }});
    let headers = listen_headers(&auth);
    let (_listening, rx) = post_on_thread(&listener, headers, &body);
    let mut buffer = String::new();
    let next = |buffer: &mut String, count: usize| -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let messages = sse_messages(buffer.as_bytes());
            if messages.len() >= count || Instant::now() > deadline {
                return messages;
            }
            if let Ok(SinkEvent::Body(bytes)) = rx.recv_timeout(Duration::from_millis(100)) {
                buffer.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    };
    let ack = next(&mut buffer, 1)[0].clone();
    assert_schema(MODERN, "SubscriptionsAcknowledgedNotification", &ack);
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "sub-1"
    );
    assert_eq!(
        ack["params"]["notifications"],
        json!({"toolsListChanged": true, "resourceSubscriptions": ["test://watched-resource"]})
    );
    // Changes published by other instances: one not asked for, two asked for.
    let trigger = fixture_instance(&store);
    for tool in [
        "test_trigger_prompt_change",
        "test_trigger_tool_change",
        "test_trigger_resource_update",
    ] {
        assert_eq!(
            modern(
                &trigger,
                "tools/call",
                json!({"name": tool, "arguments": {}})
            )
            .status,
            200
        );
    }
    let messages = next(&mut buffer, 3);
    let methods: Vec<&str> = messages
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        [
            "notifications/subscriptions/acknowledged",
            "notifications/tools/list_changed",
            "notifications/resources/updated"
        ]
    );
    for message in &messages[1..] {
        assert_eq!(
            message["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
            "sub-1"
        );
    }
    assert_schema(MODERN, "ResourceUpdatedNotification", &messages[2]);
}

/// A client may change something the moment it reads the acknowledgement (the conformance
/// suite does): the stream's place in the change feed is taken before the ack goes out.
#[test]
fn a_change_made_as_soon_as_the_ack_arrives_is_delivered() {
    use remote_mcp_server::http::{Disconnected, Pending, ResponseSink};
    struct Client {
        trigger: MemoryHost,
        received: Vec<u8>,
        bodies: usize,
    }
    impl ResponseSink for Client {
        fn head<'a>(&'a mut self, _: u16, _: &'a Headers) -> Pending<'a, Result<(), Disconnected>> {
            Box::pin(std::future::ready(Ok(())))
        }
        fn body<'a>(&'a mut self, chunk: &'a [u8]) -> Pending<'a, Result<(), Disconnected>> {
            self.received.extend_from_slice(chunk);
            self.bodies += 1;
            let written = match self.bodies {
                // The ack: change the prompt list before the stream gets to go on.
                1 => {
                    let call = json!({"name": "test_trigger_prompt_change", "arguments": {}});
                    assert_eq!(modern(&self.trigger, "tools/call", call).status, 200);
                    Ok(())
                }
                // The change, or whatever came instead: enough, hang up.
                _ => Err(Disconnected),
            };
            Box::pin(std::future::ready(written))
        }
        fn closed(&mut self) -> Pending<'_, bool> {
            Box::pin(std::future::ready(self.bodies > 1))
        }
        fn finish(&mut self) -> Pending<'_, ()> {
            Box::pin(std::future::ready(()))
        }
    }
    let store = MemoryStore::new();
    let listener = fixture_instance(&store)
        .with_variable("keepalive_seconds", "1")
        .with_real_time();
    let mut client = Client {
        trigger: fixture_instance(&store),
        received: Vec::new(),
        bodies: 0,
    };
    let body = json!({"jsonrpc": "2.0", "id": "sub-1", "method": "subscriptions/listen", "params": {
        "_meta": envelope(), "notifications": {"promptsListChanged": true}
    }});
    let headers = listen_headers(&bearer());
    let request = post_request(headers, &body);
    remote_mcp_server::host::executor::block_on(remote_mcp_server::handle(
        &listener,
        request,
        &mut client,
    ));
    let methods: Vec<String> = sse_messages(&client.received)
        .iter()
        .map(|m| m["method"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        methods,
        [
            "notifications/subscriptions/acknowledged",
            "notifications/prompts/list_changed"
        ],
        "the change made right after the ack must come next (not a keep-alive, not nothing)"
    );
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

#[test]
fn legacy_resource_subscriptions_reach_the_sessions_stream() {
    let store = MemoryStore::new();
    let host = fixture_instance(&store);
    let session = open_session(&host, "2025-06-18", json!({}));
    let subscribed = in_session(
        &host,
        &session,
        "resources/subscribe",
        json!({"uri": "test://watched-resource"}),
    );
    assert_result("2025-06-18", "EmptyResult", &subscribed.json());
    let auth = bearer();
    let mut stream = session_stream(&host, &auth, &session, None);
    in_session(
        &fixture_instance(&store),
        &session,
        "tools/call",
        json!({"name": "test_trigger_resource_update", "arguments": {}}),
    );
    let update = stream
        .next_event(Duration::from_secs(5))
        .expect("the update")
        .json();
    assert_schema("2025-06-18", "ResourceUpdatedNotification", &update);
    in_session(
        &host,
        &session,
        "resources/unsubscribe",
        json!({"uri": "test://watched-resource"}),
    );
    in_session(
        &host,
        &session,
        "tools/call",
        json!({"name": "test_trigger_resource_update", "arguments": {}}),
    );
    stream.expect_silence(Duration::from_millis(400), "unsubscribed");
    stream.hang_up();
    // Without a store there are no sessions to subscribe in.
    assert_eq!(
        legacy(
            &common::host(),
            "2025-06-18",
            "resources/subscribe",
            json!({"uri": "x"})
        )
        .json()["error"]["code"],
        -32601
    );
}

#[test]
fn a_session_holds_a_bounded_number_of_subscriptions() {
    const REVISION: &str = "2025-06-18";
    let store = MemoryStore::new();
    let host = host().with_store(store.clone());
    let session = open_session(&host, REVISION, json!({}));
    let subscribe =
        |uri: &str| in_session(&host, &session, "resources/subscribe", json!({"uri": uri})).json();
    for n in 0..64 {
        assert_result(
            REVISION,
            "EmptyResult",
            &subscribe(&format!("test://r/{n}")),
        );
    }
    let refused = subscribe("test://r/64");
    assert_error(REVISION, &refused);
    assert_eq!(refused["error"]["code"], -32030);
    assert!(
        refused["error"]["message"].as_str().unwrap().contains("64"),
        "{refused}"
    );
    // Subscribing again to what is held does not count twice.
    assert_result(REVISION, "EmptyResult", &subscribe("test://r/0"));
    assert_result(
        REVISION,
        "EmptyResult",
        &in_session(
            &host,
            &session,
            "resources/unsubscribe",
            json!({"uri": "test://r/1"}),
        )
        .json(),
    );
    assert_result(REVISION, "EmptyResult", &subscribe("test://r/64"));
    assert_error(REVISION, &subscribe("test://r/65"));
    let held = store
        .keys()
        .iter()
        .filter(|k| k.starts_with("rsub:"))
        .count();
    assert_eq!(held, 64);
    // A URI longer than the limit is refused before anything is written.
    let unsubscribed = in_session(
        &host,
        &session,
        "resources/unsubscribe",
        json!({"uri": "test://r/2"}),
    );
    assert_result(REVISION, "EmptyResult", &unsubscribed.json());
    let huge = subscribe(&format!("test://{}", "u".repeat(4096)));
    assert_error(REVISION, &huge);
    assert_eq!(huge["error"]["code"], -32602);
    assert_eq!(
        store
            .keys()
            .iter()
            .filter(|k| k.starts_with("rsub:"))
            .count(),
        63
    );
}

/// A change's number is taken (the feed's head incremented) before its record is written:
/// a stream that reads the head in between waits for the record instead of moving past
/// it (under WASIp3 the publisher's two writes interleave with other requests).
#[test]
fn a_change_whose_record_comes_after_its_number_is_still_delivered() {
    let store = MemoryStore::new();
    let listener = fixture_instance(&store);
    let body = json!({"jsonrpc": "2.0", "id": "sub-2", "method": "subscriptions/listen", "params": {
        "_meta": envelope(), "notifications": {"promptsListChanged": true}
    }});
    let headers = listen_headers(&bearer());
    let (_listening, rx) = post_on_thread(&listener, headers, &body);
    let mut buffer = String::new();
    let read_until = |buffer: &mut String, count: usize, within: Duration| -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let messages = sse_messages(buffer.as_bytes());
            if messages.len() >= count || Instant::now() > deadline {
                return messages;
            }
            if let Ok(SinkEvent::Body(bytes)) = rx.recv_timeout(Duration::from_millis(50)) {
                buffer.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    };
    assert_eq!(
        read_until(&mut buffer, 1, Duration::from_secs(5)).len(),
        1,
        "the ack"
    );
    // The publisher, half way: the number taken, the record not written yet.
    let seq = store.increment("events:head", 1).expect("a number");
    std::thread::sleep(Duration::from_millis(300));
    let record = serde_json::to_vec(&remote_mcp_server::store::events::Change::PromptsList)
        .expect("a record");
    store
        .set(&format!("events:{seq}"), &record)
        .expect("written");
    let messages = read_until(&mut buffer, 2, Duration::from_secs(5));
    assert_eq!(
        messages.get(1).map(|m| m["method"].clone()),
        Some(json!("notifications/prompts/list_changed")),
        "{messages:?}"
    );
}

/// The headers of a 2026-07-28 `subscriptions/listen` request.
fn listen_headers(auth: &str) -> Headers {
    client_headers(
        auth,
        &[
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "subscriptions/listen"),
        ],
    )
}
