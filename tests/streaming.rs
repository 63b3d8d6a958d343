//! A request's response as it runs: progress and log messages streamed before the
//! result, plain JSON when there is nothing to stream, and cancellation (a closed stream,
//! or `notifications/cancelled` from another instance).

mod common;

use std::time::{Duration, Instant};

use common::*;
use remote_mcp_server::host::memory::{MemoryHost, MemorySink, MemoryStore};
use serde_json::{json, Value};

/// tools/call countdown with a progress token, through the real-time host, recording when
/// each chunk arrived.
fn countdown(host: &MemoryHost, extra: &[(&str, &str)], meta: Value) -> (MemorySink, Duration) {
    let headers = client_headers(&bearer(), extra);
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
        "name": "countdown", "arguments": {"from": 3, "interval_ms": 100}, "_meta": meta
    }});
    let request = post_request(headers, &body);
    let mut sink = MemorySink::new();
    let started = Instant::now();
    remote_mcp_server::host::executor::block_on(remote_mcp_server::handle(
        host, request, &mut sink,
    ));
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
    let headers = client_headers(
        &bearer(),
        &[
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
            ("mcp-name", "countdown"),
        ],
    );
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "countdown", "arguments": {"from": 30, "interval_ms": 100}, "_meta": meta}});
    let request = post_request(headers, &body);
    let mut sink = MemorySink::new();
    sink.hang_up_after = Some(2);
    let started = Instant::now();
    remote_mcp_server::host::executor::block_on(remote_mcp_server::handle(
        &host, request, &mut sink,
    ));
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
