//! The full server surface through the in-memory host: resources, prompts, completion,
//! pagination, logging, streamed responses, cancellation, input from the client in both
//! eras, change subscriptions, and DNS-rebinding checks. Messages are validated against
//! the schema of their revision.

mod common;

use std::time::{Duration, Instant};

use common::*;
use remote_mcp_server::host::memory::{MemoryHost, MemorySink, MemoryStore};
use remote_mcp_server::http::Headers;
use serde_json::{json, Value};

const MODERN: &str = "2026-07-28";

fn fixtures() -> MemoryHost {
    host().with_variable("conformance_fixtures", "on")
}

// --- resources ----------------------------------------------------------------------------

#[test]
fn resources_list_read_and_templates_in_every_revision() {
    let host = host();
    for revision in LEGACY {
        let list = legacy(&host, revision, "resources/list", json!({})).json();
        assert_result(revision, "ListResourcesResult", &list);
        assert_eq!(list["result"]["resources"][0]["uri"], "info://server");
        let read = legacy(
            &host,
            revision,
            "resources/read",
            json!({"uri": "info://server"}),
        )
        .json();
        assert_result(revision, "ReadResourceResult", &read);
        let info: Value =
            serde_json::from_str(read["result"]["contents"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(info["authMode"], "passthrough");
        let templates = legacy(&host, revision, "resources/templates/list", json!({})).json();
        assert_result(revision, "ListResourceTemplatesResult", &templates);
        assert_eq!(
            templates["result"]["resourceTemplates"][0]["uriTemplate"],
            "tool://{name}/schema"
        );
        let schema = legacy(
            &host,
            revision,
            "resources/read",
            json!({"uri": "tool://add/schema"}),
        )
        .json();
        let text = schema["result"]["contents"][0]["text"].as_str().unwrap();
        let schema: Value = serde_json::from_str(text).unwrap();
        assert_eq!(schema["required"], json!(["a", "b"]), "{text}");
    }
    let modern_read = modern(&host, "resources/read", json!({"uri": "info://server"})).json();
    assert_schema(MODERN, "ReadResourceResultResponse", &modern_read);
    assert_eq!(modern_read["result"]["cacheScope"], "public");
}

#[test]
fn unknown_resources_name_their_uri_with_each_revisions_code() {
    let host = host();
    let old = legacy(
        &host,
        "2025-11-25",
        "resources/read",
        json!({"uri": "nope://x"}),
    )
    .json();
    assert_error("2025-11-25", &old);
    assert_eq!(old["error"]["code"], -32002);
    assert_eq!(old["error"]["data"]["uri"], "nope://x");
    let new = modern(&host, "resources/read", json!({"uri": "nope://x"}));
    assert_eq!(
        new.json()["error"]["code"],
        -32602,
        "2026-07-28 uses invalid params"
    );
    assert_eq!(new.json()["error"]["data"]["uri"], "nope://x");
    // A template match whose read fails is not found either.
    let missing = legacy(
        &host,
        "2025-06-18",
        "resources/read",
        json!({"uri": "tool://nosuch/schema"}),
    )
    .json();
    assert_eq!(missing["error"]["code"], -32002);
}

// --- prompts and completion ---------------------------------------------------------------

#[test]
fn prompts_list_and_get_with_argument_checks() {
    let host = host();
    for revision in LEGACY {
        let list = legacy(&host, revision, "prompts/list", json!({})).json();
        assert_result(revision, "ListPromptsResult", &list);
        assert_eq!(list["result"]["prompts"][0]["name"], "use_tool");
        let got = legacy(
            &host,
            revision,
            "prompts/get",
            json!({"name": "use_tool", "arguments": {"tool": "add", "task": "add 2 and 3"}}),
        )
        .json();
        assert_result(revision, "GetPromptResult", &got);
        let text = got["result"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap();
        assert!(
            text.contains("`add` tool") && text.contains("add 2 and 3"),
            "{text}"
        );
    }
    for (params, words) in [
        (json!({"name": "use_tool"}), "needs the argument \"tool\""),
        (
            json!({"name": "use_tool", "arguments": {"tool": 3}}),
            "must be a string",
        ),
        (json!({"name": "nope"}), "unknown prompt"),
        (
            json!({"name": "use_tool", "arguments": {"tool": "nope"}}),
            "no tool is called",
        ),
    ] {
        let body = legacy(&host, "2025-06-18", "prompts/get", params.clone()).json();
        assert_eq!(body["error"]["code"], -32602, "{params}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(words),
            "{body}"
        );
    }
}

#[test]
fn completion_suggests_prompt_arguments_and_template_variables() {
    let host = host();
    let ask = |reference: Value, name: &str, value: &str| {
        legacy(
            &host,
            "2025-06-18",
            "completion/complete",
            json!({"ref": reference, "argument": {"name": name, "value": value}}),
        )
        .json()
    };
    let prompt = ask(
        json!({"type": "ref/prompt", "name": "use_tool"}),
        "tool",
        "c",
    );
    assert_result("2025-06-18", "CompleteResult", &prompt);
    assert_eq!(
        prompt["result"]["completion"]["values"],
        json!(tool_names_starting_with("c"))
    );
    let template = ask(
        json!({"type": "ref/resource", "uri": "tool://{name}/schema"}),
        "name",
        "a",
    );
    assert_eq!(
        template["result"]["completion"]["values"],
        json!(tool_names_starting_with("a"))
    );
    assert_eq!(template["result"]["completion"]["hasMore"], false);
    assert_eq!(
        ask(json!({"type": "ref/prompt", "name": "nope"}), "x", "")["error"]["code"],
        -32602
    );
    assert_eq!(
        ask(json!({"type": "ref/tool"}), "x", "")["error"]["code"],
        -32602
    );
}

#[test]
fn every_list_pages_with_its_own_cursors() {
    let lists = [
        ("tools/list", "tools", "ListToolsResult", "name"),
        ("resources/list", "resources", "ListResourcesResult", "uri"),
        (
            "resources/templates/list",
            "resourceTemplates",
            "ListResourceTemplatesResult",
            "uriTemplate",
        ),
        ("prompts/list", "prompts", "ListPromptsResult", "name"),
    ];
    // The default page (50) holds each whole list: the reference the pages must add up to.
    let whole = fixtures();
    for size in [1, 2, 3] {
        let host = fixtures().with_variable("page_size", &size.to_string());
        for (method, key, definition, identity) in lists {
            let all = legacy(&whole, "2025-06-18", method, json!({})).json();
            assert!(all["result"].get("nextCursor").is_none(), "{method}: {all}");
            let all = all["result"][key].as_array().unwrap().clone();
            assert!(
                all.len() >= 2,
                "{method} has too few items to page: {all:?}"
            );
            let (mut listed, mut params, mut pages) = (Vec::new(), json!({}), 0);
            loop {
                let body = legacy(&host, "2025-06-18", method, params).json();
                assert_result("2025-06-18", definition, &body);
                let items = body["result"][key].as_array().unwrap();
                assert!(
                    (1..=size).contains(&items.len()),
                    "{method}, page size {size}: a page of {}",
                    items.len()
                );
                listed.extend(items.iter().cloned());
                pages += 1;
                assert!(
                    pages <= all.len(),
                    "{method}, page size {size}: endless cursors"
                );
                match body["result"]["nextCursor"].as_str() {
                    Some(cursor) => params = json!({"cursor": cursor}),
                    None => break,
                }
            }
            let names = |items: &[Value]| -> Vec<String> {
                items
                    .iter()
                    .map(|item| item[identity].as_str().unwrap().to_string())
                    .collect()
            };
            let (listed_names, all_names) = (names(&listed), names(&all));
            let distinct: std::collections::HashSet<&String> = listed_names.iter().collect();
            assert_eq!(
                distinct.len(),
                listed_names.len(),
                "{method}, page size {size}: an item listed twice: {listed_names:?}"
            );
            assert_eq!(
                listed_names, all_names,
                "{method}, page size {size}: the pages together are the whole list, in order"
            );
            assert_eq!(listed, all, "{method}, page size {size}");
            assert_eq!(
                pages,
                all.len().div_ceil(size),
                "{method}, page size {size}: pages (each full but the last)"
            );
        }
    }
    let host = fixtures().with_variable("page_size", "2");
    for (method, ..) in lists {
        let bad = legacy(&host, "2025-06-18", method, json!({"cursor": "bm9wZQ"})).json();
        assert_eq!(bad["error"]["code"], -32602, "{method}");
    }
    // A tools cursor is not a prompts cursor.
    let tools = legacy(&host, "2025-06-18", "tools/list", json!({})).json();
    let cursor = tools["result"]["nextCursor"].as_str().unwrap();
    let crossed = legacy(
        &host,
        "2025-06-18",
        "prompts/list",
        json!({"cursor": cursor}),
    )
    .json();
    assert_eq!(crossed["error"]["code"], -32602);
}

// --- streaming, logging, cancellation ------------------------------------------------------

/// tools/call countdown with a progress token, through the real-time host, recording when
/// each chunk arrived.
fn countdown(host: &MemoryHost, extra: &[(&str, &str)], meta: Value) -> (MemorySink, Duration) {
    let auth = bearer();
    let mut headers = Headers::from([
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ]);
    for (name, value) in extra {
        headers.append(name, *value);
    }
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
        "name": "countdown", "arguments": {"from": 3, "interval_ms": 100}, "_meta": meta
    }});
    let request = post_request(headers, &body);
    let mut sink = MemorySink::new();
    let started = Instant::now();
    remote_mcp_server::handle(host, request, &mut sink);
    (sink, started.elapsed())
}

#[test]
fn progress_and_log_messages_stream_before_the_result() {
    let host = host().with_real_time();
    let (sink, _) = countdown(
        &host,
        &[("mcp-protocol-version", "2025-06-18")],
        json!({"progressToken": "t1"}),
    );
    assert_eq!(sink.status, Some(200));
    assert_eq!(sink.headers.get("content-type"), Some("text/event-stream"));
    let messages = sse_messages(&sink.body());
    let progress: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    let logs: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/message")
        .collect();
    assert_eq!(progress.len(), 4, "{messages:?}");
    assert_eq!(logs.len(), 4, "legacy sessions log at info by default");
    for notification in progress.iter().chain(&logs) {
        assert_schema("2025-06-18", "JSONRPCNotification", notification);
    }
    assert_schema("2025-06-18", "ProgressNotification", progress[1]);
    assert_eq!(
        progress[3]["params"],
        json!({"progressToken": "t1", "progress": 3.0, "total": 3.0, "message": "0 to go"})
    );
    let last = messages.last().unwrap();
    assert_result("2025-06-18", "CallToolResult", last);
    assert_eq!(last["result"]["structuredContent"], json!({"counted": 3}));
    // Each event arrived when it was produced: the first long before the result.
    let first_at = sink.chunks.first().unwrap().0;
    let last_at = sink.chunks.last().unwrap().0;
    assert!(
        last_at - first_at >= Duration::from_millis(250),
        "{:?}",
        last_at - first_at
    );
}

#[test]
fn without_anything_to_stream_the_answer_is_plain_json() {
    let host = host();
    let reply = modern(
        &host,
        "tools/call",
        json!({"name": "countdown", "arguments": {"from": 1, "interval_ms": 10}}),
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "no progress token, no logLevel"
    );
    assert_schema(MODERN, "CallToolResultResponse", &reply.json());
}

#[test]
fn modern_requests_get_log_messages_only_at_the_level_they_set() {
    let host = host().with_real_time();
    let mut meta = envelope();
    meta["io.modelcontextprotocol/logLevel"] = json!("info");
    let headers = [
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/call"),
        ("mcp-name", "countdown"),
    ];
    let (sink, _) = countdown(&host, &headers, meta.clone());
    let logs = sse_messages(&sink.body())
        .into_iter()
        .filter(|m| m["method"] == "notifications/message")
        .count();
    assert_eq!(logs, 4);
    meta["io.modelcontextprotocol/logLevel"] = json!("warning");
    let (sink, _) = countdown(&host, &headers, meta);
    assert_eq!(
        sink.headers.get("content-type"),
        Some("application/json"),
        "nothing above warning"
    );
}

#[test]
fn closing_the_stream_cancels_a_modern_request() {
    let host = host().with_real_time();
    let mut meta = envelope();
    meta["progressToken"] = json!(1);
    let auth = bearer();
    let headers = Headers::from([
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/call"),
        ("mcp-name", "countdown"),
    ]);
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "countdown", "arguments": {"from": 30, "interval_ms": 100}, "_meta": meta}});
    let request = post_request(headers, &body);
    let mut sink = MemorySink::new();
    sink.hang_up_after = Some(2);
    let started = Instant::now();
    remote_mcp_server::handle(&host, request, &mut sink);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "stopped early: {:?}",
        started.elapsed()
    );
    assert_eq!(sink.chunks.len(), 2);
}

#[test]
fn notifications_cancelled_stops_a_legacy_request_from_another_instance() {
    let store = MemoryStore::new();
    let runner = instance(&store);
    let session = open_session(&runner, "2025-06-18", json!({}));
    let canceller = instance(&store);
    let started = Instant::now();
    let call = std::thread::spawn({
        let (runner, session) = (runner.clone(), session.clone());
        move || {
            post(
                &runner,
                &[("mcp-session-id", &session)],
                &json!({"jsonrpc": "2.0", "id": "long", "method": "tools/call", "params": {
                    "name": "countdown", "arguments": {"from": 30, "interval_ms": 100}
                }}),
            )
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let cancel = post(
        &canceller,
        &[("mcp-session-id", &session)],
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "long", "reason": "user"}}),
    );
    assert_eq!(cancel.status, 202);
    let reply = join_within(call, Duration::from_secs(10), "the cancelled call");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let last = sse_messages(&reply.body).pop().unwrap();
    assert_eq!(last["error"]["code"], -32800);
    assert!(
        store.keys().iter().all(|k| !k.starts_with("cancel:")),
        "the cancellation record is cleaned up"
    );
}

// --- input from the client ----------------------------------------------------------------

/// A `test_elicitation` call with request id `id` running in `session` on its own thread
/// (an instance); returns the thread, the call's response as it streams, and the
/// server→client request it sent.
fn elicitation_under_way(
    caller: &MemoryHost,
    session: &str,
    id: u64,
    message: &str,
) -> (
    std::thread::JoinHandle<()>,
    std::sync::mpsc::Receiver<remote_mcp_server::host::memory::SinkEvent>,
    Value,
) {
    let (mut sink, rx) = remote_mcp_server::host::memory::ChannelSink::new();
    let worker = std::thread::spawn({
        let (caller, session) = (caller.clone(), session.to_string());
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "test_elicitation", "arguments": {"message": message}}});
        move || {
            let auth = bearer();
            let headers = Headers::from([
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
                ("accept", "application/json, text/event-stream"),
                ("mcp-session-id", session.as_str()),
            ]);
            let request = post_request(headers, &body);
            remote_mcp_server::handle(&caller, request, &mut sink);
        }
    });
    // The server→client request arrives on the POST's stream.
    let mut buffer = String::new();
    let ask = loop {
        if let remote_mcp_server::host::memory::SinkEvent::Body(bytes) = rx
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
fn rest_of(rx: &std::sync::mpsc::Receiver<remote_mcp_server::host::memory::SinkEvent>) -> String {
    let mut rest = String::new();
    while let Ok(event) = rx.recv_timeout(Duration::from_millis(200)) {
        if let remote_mcp_server::host::memory::SinkEvent::Body(bytes) = event {
            rest.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    rest
}

#[test]
fn legacy_elicitation_round_trips_through_the_store_across_instances() {
    let store = MemoryStore::new();
    let caller = instance(&store).with_variable("conformance_fixtures", "on");
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

// --- subscriptions --------------------------------------------------------------------------

#[test]
fn listen_streams_acknowledge_then_carry_the_changes_they_asked_for() {
    let store = MemoryStore::new();
    let listener = instance(&store).with_variable("conformance_fixtures", "on");
    let auth = bearer();
    let body = json!({"jsonrpc": "2.0", "id": "sub-1", "method": "subscriptions/listen", "params": {
        "_meta": envelope(), "notifications": {"toolsListChanged": true, "resourceSubscriptions": ["test://watched-resource"]}
    }});
    let (mut sink, rx) = remote_mcp_server::host::memory::ChannelSink::new();
    std::thread::spawn({
        let listener = listener.clone();
        let auth = auth.clone();
        move || {
            let headers = Headers::from([
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
                ("accept", "application/json, text/event-stream"),
                ("mcp-protocol-version", MODERN),
                ("mcp-method", "subscriptions/listen"),
            ]);
            let request = post_request(headers, &body);
            remote_mcp_server::handle(&listener, request, &mut sink);
        }
    });
    let mut buffer = String::new();
    let next = |buffer: &mut String, count: usize| -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let messages = sse_messages(buffer.as_bytes());
            if messages.len() >= count || Instant::now() > deadline {
                return messages;
            }
            if let Ok(remote_mcp_server::host::memory::SinkEvent::Body(bytes)) =
                rx.recv_timeout(Duration::from_millis(100))
            {
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
    let trigger = instance(&store).with_variable("conformance_fixtures", "on");
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
    use remote_mcp_server::http::{Disconnected, ResponseSink};
    struct Client {
        trigger: MemoryHost,
        received: Vec<u8>,
        bodies: usize,
    }
    impl ResponseSink for Client {
        fn head(&mut self, _: u16, _: &Headers) -> Result<(), Disconnected> {
            Ok(())
        }
        fn body(&mut self, chunk: &[u8]) -> Result<(), Disconnected> {
            self.received.extend_from_slice(chunk);
            self.bodies += 1;
            match self.bodies {
                // The ack: change the prompt list before the stream gets to go on.
                1 => {
                    let call = json!({"name": "test_trigger_prompt_change", "arguments": {}});
                    assert_eq!(modern(&self.trigger, "tools/call", call).status, 200);
                    Ok(())
                }
                // The change, or whatever came instead: enough, hang up.
                _ => Err(Disconnected),
            }
        }
        fn closed(&mut self) -> bool {
            self.bodies > 1
        }
        fn finish(&mut self) {}
    }
    let store = MemoryStore::new();
    let listener = instance(&store)
        .with_variable("conformance_fixtures", "on")
        .with_variable("keepalive_seconds", "1")
        .with_real_time();
    let mut client = Client {
        trigger: instance(&store).with_variable("conformance_fixtures", "on"),
        received: Vec::new(),
        bodies: 0,
    };
    let body = json!({"jsonrpc": "2.0", "id": "sub-1", "method": "subscriptions/listen", "params": {
        "_meta": envelope(), "notifications": {"promptsListChanged": true}
    }});
    let headers = Headers::from([
        ("authorization", bearer().as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "subscriptions/listen"),
    ]);
    let request = post_request(headers, &body);
    remote_mcp_server::handle(&listener, request, &mut client);
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
fn legacy_resource_subscriptions_reach_the_sessions_stream() {
    let store = MemoryStore::new();
    let host = instance(&store).with_variable("conformance_fixtures", "on");
    let session = open_session(&host, "2025-06-18", json!({}));
    let subscribed = in_session(
        &host,
        &session,
        "resources/subscribe",
        json!({"uri": "test://watched-resource"}),
    );
    assert_result("2025-06-18", "EmptyResult", &subscribed.json());
    let auth = bearer();
    let mut stream = Stream::open(
        host.clone(),
        "/mcp",
        &[
            ("authorization", &auth),
            ("accept", "text/event-stream"),
            ("mcp-session-id", &session),
        ],
    );
    in_session(
        &instance(&store).with_variable("conformance_fixtures", "on"),
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
fn capabilities_match_what_each_host_can_do() {
    let stateless = modern(&host(), "server/discover", json!({})).json();
    let caps = &stateless["result"]["capabilities"];
    assert_eq!(caps["resources"]["subscribe"], false);
    assert_eq!(caps["tools"]["listChanged"], false);
    assert!(
        caps["completions"].is_object()
            && caps["logging"].is_object()
            && caps["prompts"].is_object()
    );
    let testing = modern(
        &fixtures().with_store(MemoryStore::new()),
        "server/discover",
        json!({}),
    )
    .json();
    assert_eq!(
        testing["result"]["capabilities"]["tools"]["listChanged"],
        true
    );
    assert_eq!(
        testing["result"]["capabilities"]["resources"]["subscribe"],
        true
    );
    let old = legacy(
        &host(),
        "2024-11-05",
        "initialize",
        json!({"protocolVersion": "2024-11-05"}),
    )
    .json();
    assert_result("2024-11-05", "InitializeResult", &old);
    assert!(
        old["result"]["capabilities"].get("completions").is_none(),
        "completions came in 2025-03-26"
    );
}

#[test]
fn initialize_is_not_a_modern_method() {
    let reply = modern(&host(), "initialize", json!({"protocolVersion": MODERN}));
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"]["code"], -32601);
}

// --- DNS rebinding ------------------------------------------------------------------------

fn ping_with(host: &MemoryHost, headers: &[(&str, &str)]) -> u16 {
    let auth = bearer();
    let mut all = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    all.extend_from_slice(headers);
    send(
        host,
        "POST",
        "/mcp",
        &all,
        br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
    )
    .status
}

#[test]
fn foreign_hosts_and_origins_are_refused() {
    let local = MemoryHost::new(); // no allowed_hosts: only loopback names
    assert_eq!(ping_with(&local, &[("host", "localhost:3000")]), 200);
    assert_eq!(
        ping_with(
            &local,
            &[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://localhost:6274")
            ]
        ),
        200
    );
    assert_eq!(ping_with(&local, &[("host", "[::1]:3000")]), 200);
    assert_eq!(ping_with(&local, &[("host", "evil.example")]), 403);
    assert_eq!(
        ping_with(
            &local,
            &[
                ("host", "localhost:3000"),
                ("origin", "https://evil.example")
            ]
        ),
        403
    );
    let configured = local
        .clone()
        .with_variable("public_url", "https://mcp.example.com")
        .with_variable("allowed_origins", "https://app.example.com");
    assert_eq!(ping_with(&configured, &[("host", "mcp.example.com")]), 200);
    assert_eq!(
        ping_with(
            &configured,
            &[
                ("host", "mcp.example.com"),
                ("origin", "https://app.example.com")
            ]
        ),
        200
    );
    assert_eq!(
        ping_with(
            &configured,
            &[
                ("host", "mcp.example.com"),
                ("origin", "https://mcp.example.com")
            ]
        ),
        200
    );
    assert_eq!(
        ping_with(
            &configured,
            &[
                ("host", "mcp.example.com"),
                ("origin", "https://other.example")
            ]
        ),
        403
    );
    // With real authentication too: a host name this server was not told it answers to
    // is refused (a token minted for another resource must not pass here), one listed in
    // allowed_hosts is served; the Origin is checked as ever.
    let static_mode = local
        .with_variable("auth_mode", "static")
        .with_variable("static_tokens", &format!("t=plain:{TOKEN}"));
    assert_eq!(
        ping_with(&static_mode, &[("host", "anything.example")]),
        403
    );
    let static_mode = static_mode.with_variable("allowed_hosts", "anything.example");
    assert_eq!(
        ping_with(&static_mode, &[("host", "anything.example")]),
        200
    );
    assert_eq!(
        ping_with(
            &static_mode,
            &[
                ("host", "anything.example"),
                ("origin", "https://evil.example")
            ]
        ),
        403
    );
    // The home page and metadata answer to any host.
    assert_eq!(
        send(
            &MemoryHost::new(),
            "GET",
            "/",
            &[("host", "evil.example")],
            b""
        )
        .status,
        200
    );
}

// --- what a client can make the server store ------------------------------------------

/// Keys holding client answers to server→client requests, or the markers that admit them.
fn answer_keys(store: &MemoryStore) -> Vec<String> {
    store
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("reply:") || k.starts_with("ask:"))
        .collect()
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
    let caller = instance(&store).with_variable("conformance_fixtures", "on");
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

#[test]
fn cancellations_are_recorded_only_for_running_requests_under_a_digest_of_their_id() {
    let store = MemoryStore::new();
    let host = instance(&store);
    let session = open_session(&host, "2025-06-18", json!({}));
    let cancel = |id: &Value| {
        let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": id}});
        post(&host, &[("mcp-session-id", &session)], &cancel).status
    };
    let cancels = || -> Vec<String> {
        store
            .keys()
            .into_iter()
            .filter(|k| k.starts_with("cancel:"))
            .collect()
    };
    // Nothing runs under these ids: acknowledged, and nothing is written.
    for id in [
        json!("x".repeat(64 * 1024)),
        json!(12345678901234567890u64),
        json!("s"),
    ] {
        assert_eq!(cancel(&id), 202);
    }
    assert_eq!(cancels(), Vec::<String>::new());
    // A running request's cancellation is recorded under a digest of its id.
    let id = "r".repeat(200);
    let call = std::thread::spawn({
        let (host, session, id) = (host.clone(), session.clone(), id.clone());
        move || {
            post(
                &host,
                &[("mcp-session-id", &session)],
                &json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
                    "name": "countdown", "arguments": {"from": 30, "interval_ms": 100}
                }}),
            )
        }
    });
    let mut recorded = Vec::new();
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(cancel(&json!(id)), 202);
        recorded = cancels();
        if !recorded.is_empty() {
            break;
        }
    }
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert!(
        recorded[0].len() <= 100 && !recorded[0].contains("rrrr"),
        "{}",
        recorded[0]
    );
    let reply = join_within(call, Duration::from_secs(10), "the cancelled call");
    assert_eq!(
        sse_messages(&reply.body).pop().unwrap()["error"]["code"],
        -32800
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
