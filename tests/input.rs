//! Input from the client in both eras: legacy elicitation through the store across
//! instances (and the answers kept only while the server waits on them), and modern input
//! rounds whose state travels in a signed `requestState`.

mod common;

use std::sync::mpsc::Receiver;
use std::time::Duration;

use common::*;
use remote_mcp_server::host::memory::{MemoryHost, MemoryStore, SinkEvent};
use serde_json::{json, Value};

/// A `test_elicitation` call with request id `id` running in `session` on its own thread
/// (an instance); returns the thread, the call's response as it streams, and the
/// server→client request it sent.
fn elicitation_under_way(
    caller: &MemoryHost,
    session: &str,
    id: u64,
    message: &str,
) -> (std::thread::JoinHandle<()>, Receiver<SinkEvent>, Value) {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "test_elicitation", "arguments": {"message": message}}});
    let headers = client_headers(&bearer(), &[("mcp-session-id", session)]);
    let (worker, rx) = post_on_thread(caller, headers, &body);
    // The server→client request arrives on the POST's stream.
    let mut buffer = String::new();
    let ask = loop {
        if let SinkEvent::Body(bytes) = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the elicitation request")
        {
            buffer.push_str(&String::from_utf8_lossy(&bytes));
            if let Some(m) = sse_messages(buffer.as_bytes())
                .into_iter()
                .find(|m| m["method"] == "elicitation/create")
            {
                break m;
            }
        }
    };
    (worker, rx, ask)
}

/// What is left of a streamed response once its call has ended.
fn rest_of(rx: &Receiver<SinkEvent>) -> String {
    let mut rest = String::new();
    while let Ok(event) = rx.recv_timeout(Duration::from_millis(200)) {
        if let SinkEvent::Body(bytes) = event {
            rest.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    rest
}

#[test]
fn legacy_elicitation_round_trips_through_the_store_across_instances() {
    let store = MemoryStore::new();
    let caller = fixture_instance(&store);
    let session = open_session(&caller, "2025-06-18", json!({"elicitation": {}}));
    let (worker, rx, ask) = elicitation_under_way(&caller, &session, 9, "Who are you?");
    assert_schema("2025-06-18", "ElicitRequest", &ask);
    assert_eq!(ask["params"]["message"], "Who are you?");
    // The answer comes in a separate POST, to another instance.
    let answer = json!({"jsonrpc": "2.0", "id": ask["id"], "result": {"action": "accept", "content": {"username": "ada", "email": "ada@example.com"}}});
    assert_eq!(
        post(&instance(&store), &[("mcp-session-id", &session)], &answer).status,
        202
    );
    join_within(worker, Duration::from_secs(10), "the elicitation call");
    let rest = rest_of(&rx);
    let result = sse_messages(rest.as_bytes())
        .pop()
        .expect("the tool result");
    assert_result("2025-06-18", "CallToolResult", &result);
    assert_eq!(result["result"]["content"][0]["text"], "User response: action=accept, content={\"email\":\"ada@example.com\",\"username\":\"ada\"}");
}

#[test]
fn an_answer_too_large_for_the_store_fails_the_call_with_a_reason() {
    let store = MemoryStore::new();
    let caller = fixture_instance(&store);
    let session = open_session(&caller, "2025-06-18", json!({"elicitation": {}}));
    let (worker, rx, ask) = elicitation_under_way(&caller, &session, 9, "Who are you?");
    let huge = "x".repeat(remote_mcp_server::store::MAX_VALUE_BYTES);
    let answer = json!({"jsonrpc": "2.0", "id": ask["id"], "result": {"action": "accept", "content": {"username": huge}}});
    assert_eq!(
        post(&instance(&store), &[("mcp-session-id", &session)], &answer).status,
        202
    );
    join_within(worker, Duration::from_secs(10), "the elicitation call");
    let result = sse_messages(rest_of(&rx).as_bytes())
        .pop()
        .expect("the tool result");
    assert_eq!(result["result"]["isError"], true, "{result}");
    let text = result["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.contains("the client's answer took 1000") && text.contains("at most 1000000"),
        "{text}"
    );
}

#[test]
fn legacy_input_fails_cleanly_without_capability_or_answer() {
    let store = MemoryStore::new();
    // Manual clock: the 60 s wait passes in the sleeps' simulated time.
    let host = host()
        .with_store(store)
        .with_variable("conformance_fixtures", "on");
    let none = open_session(&host, "2025-06-18", json!({}));
    let reply = in_session(
        &host,
        &none,
        "tools/call",
        json!({"name": "test_elicitation", "arguments": {"message": "hi"}}),
    )
    .json();
    assert_eq!(reply["result"]["isError"], true);
    assert!(reply["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("did not declare"));

    let silent = open_session(&host, "2025-06-18", json!({"elicitation": {}}));
    let reply = in_session(
        &host,
        &silent,
        "tools/call",
        json!({"name": "test_elicitation", "arguments": {"message": "hi"}}),
    );
    let result = sse_messages(&reply.body).pop().unwrap();
    assert_eq!(result["result"]["isError"], true);
    assert!(result["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("did not answer elicitation/create within 60 seconds"));
}

fn answer(id: &Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": {"action": "decline"}})
}

#[test]
fn client_responses_are_kept_only_for_requests_the_server_is_waiting_on() {
    let store = MemoryStore::new();
    // Manual clock: the 60 s wait passes in the sleeps' simulated time.
    let host = host()
        .with_store(store.clone())
        .with_variable("conformance_fixtures", "on");
    let session = open_session(&host, "2025-06-18", json!({"elicitation": {}}));
    let respond = |body: &Value| post(&host, &[("mcp-session-id", &session)], body).status;
    // Answers to requests never made: acknowledged as responses are, and dropped.
    for id in [
        json!("s-0123456789abcdef01234567"),
        json!(format!("s-{}", "f".repeat(200))),
        json!(7),
    ] {
        assert_eq!(respond(&answer(&id)), 202);
    }
    assert_eq!(answer_keys(&store), Vec::<String>::new());

    // A request that times out leaves nothing, and its late answer is dropped too.
    let reply = in_session(
        &host,
        &session,
        "tools/call",
        json!({"name": "test_elicitation", "arguments": {"message": "hi"}}),
    );
    let messages = sse_messages(&reply.body);
    let ask = messages
        .iter()
        .find(|m| m["method"] == "elicitation/create")
        .expect("the elicitation request");
    assert_schema("2025-06-18", "ElicitRequest", ask);
    assert_result("2025-06-18", "CallToolResult", messages.last().unwrap());
    assert_eq!(messages.last().unwrap()["result"]["isError"], true);
    assert_eq!(answer_keys(&store), Vec::<String>::new());
    assert_eq!(respond(&answer(&ask["id"])), 202);
    assert_eq!(
        answer_keys(&store),
        Vec::<String>::new(),
        "an answer after the wait ended is not kept"
    );
}

#[test]
fn an_answered_request_leaves_nothing_and_a_repeated_answer_is_dropped() {
    let store = MemoryStore::new();
    let caller = fixture_instance(&store);
    let session = open_session(&caller, "2025-06-18", json!({"elicitation": {}}));
    let (worker, rx, ask) = elicitation_under_way(&caller, &session, 3, "Who?");
    assert_schema("2025-06-18", "ElicitRequest", &ask);
    assert_eq!(
        answer_keys(&store).len(),
        1,
        "the marker that admits the answer: {:?}",
        answer_keys(&store)
    );
    let other = instance(&store);
    let respond = || post(&other, &[("mcp-session-id", &session)], &answer(&ask["id"])).status;
    assert_eq!(respond(), 202);
    join_within(worker, Duration::from_secs(10), "the elicitation call");
    let rest = rest_of(&rx);
    let result = sse_messages(rest.as_bytes()).pop().expect("the result");
    assert_result("2025-06-18", "CallToolResult", &result);
    assert!(result["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("action=decline"));
    assert_eq!(answer_keys(&store), Vec::<String>::new());
    assert_eq!(respond(), 202, "the same answer again");
    assert_eq!(answer_keys(&store), Vec::<String>::new());
}

fn modern_call(host: &MemoryHost, tool: &str, capabilities: Value, extra: Value) -> Value {
    let mut params = json!({"name": tool, "arguments": {}});
    params["_meta"] = envelope();
    params["_meta"]["io.modelcontextprotocol/clientCapabilities"] = capabilities;
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            params[k] = v;
        }
    }
    post(
        host,
        &[
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
            ("mcp-name", tool),
        ],
        &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params}),
    )
    .json()
}

#[test]
fn modern_input_rounds_carry_signed_state_and_nothing_else() {
    // The rounds' answers travel in requestState alone: with a state_secret the store is
    // never touched; without one it holds only the signing key, never a request's state.
    let store = MemoryStore::new();
    let host = fixtures()
        .with_store(store.clone())
        .with_variable("state_secret", "a-secret-for-the-tests-0123456789");
    input_rounds(&host);
    assert_eq!(store.keys(), Vec::<String>::new());
    assert_eq!(store.operations(), (0, 0), "(reads, writes) of the store");

    let store = MemoryStore::new();
    input_rounds(&fixtures().with_store(store.clone()));
    assert_eq!(store.keys(), ["server:state-key"]);
}

/// Three rounds of a multi-round tool, then requestState tampered with, reused for another
/// tool, and expired: each refused.
fn input_rounds(host: &MemoryHost) {
    let caps = json!({"elicitation": {}});
    let tool = "test_input_required_result_multi_round";
    let first = modern_call(host, tool, caps.clone(), json!({}));
    assert_schema(MODERN, "JSONRPCResultResponse", &first);
    assert_schema(MODERN, "InputRequiredResult", &first["result"]);
    assert_eq!(first["result"]["resultType"], "input_required");
    assert_schema(
        MODERN,
        "ElicitRequest",
        &json!({"jsonrpc": "2.0", "id": 1, "method": "elicitation/create", "params": first["result"]["inputRequests"]["step1"]["params"]}),
    );
    let state = first["result"]["requestState"]
        .as_str()
        .unwrap()
        .to_string();

    let answer = |key: &str, field: &str, value: &str| json!({key: {"action": "accept", "content": {field: value}}});
    let second = modern_call(
        host,
        tool,
        caps.clone(),
        json!({"inputResponses": answer("step1", "name", "Ada"), "requestState": state}),
    );
    assert_eq!(second["result"]["resultType"], "input_required");
    assert!(
        second["result"]["inputRequests"].get("step2").is_some()
            && second["result"]["inputRequests"].get("step1").is_none()
    );
    let state2 = second["result"]["requestState"]
        .as_str()
        .unwrap()
        .to_string();
    let third = modern_call(
        host,
        tool,
        caps.clone(),
        json!({"inputResponses": answer("step2", "color", "teal"), "requestState": state2.clone()}),
    );
    assert_schema(MODERN, "CallToolResultResponse", &third);
    assert_eq!(third["result"]["content"][0]["text"], "Ada likes teal");

    // Tampered, used for another tool, or expired: refused.
    let mut tampered = state2.clone();
    tampered.replace_range(5..6, if &tampered[5..6] == "A" { "B" } else { "A" });
    let refused = modern_call(host, tool, caps.clone(), json!({"requestState": tampered}));
    assert_eq!(refused["error"]["code"], -32602);
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("integrity"));
    let other = modern_call(
        host,
        "test_input_required_result_elicitation",
        caps.clone(),
        json!({"requestState": state2.clone()}),
    );
    assert!(other["error"]["message"]
        .as_str()
        .unwrap()
        .contains("another request"));
    host.advance_ms(16 * 60 * 1000);
    let expired = modern_call(host, tool, caps, json!({"requestState": state2}));
    assert!(expired["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[test]
fn modern_input_needs_the_declared_capability() {
    let host = fixtures().with_store(MemoryStore::new());
    let mut params = json!({"name": "test_missing_capability", "arguments": {}});
    params["_meta"] = envelope();
    let reply = post(
        &host,
        &[
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
            ("mcp-name", "test_missing_capability"),
        ],
        &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params}),
    );
    assert_eq!(reply.status, 400);
    let body = reply.json();
    assert_schema(MODERN, "MissingRequiredClientCapabilityError", &body);
    assert_eq!(
        body["error"]["data"]["requiredCapabilities"],
        json!({"sampling": {}})
    );
}
