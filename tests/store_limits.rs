//! The hosted platforms' key-value limits (keys at most 255 bytes, values at most 1 MB),
//! which the in-memory store enforces for every native test (a write over either fails
//! the test that made it): here the one path that stores what a client declares at any
//! size (its capabilities, kept with the session), and the sizes a session writes.

mod common;

use common::*;
use remote_mcp_server::host::memory::{MemoryStore, MAX_KEY_BYTES, MAX_VALUE_BYTES};
use remote_mcp_server::protocol::server::MAX_CAPABILITIES_BYTES;
use serde_json::json;

#[test]
fn an_initialize_whose_capabilities_would_not_fit_the_store_is_refused() {
    let store = MemoryStore::new();
    let host = stateful(&store);
    let padding = "x".repeat(MAX_CAPABILITIES_BYTES);
    let reply = post(
        &host,
        &[],
        &initialize_request("2025-11-25", json!({"experimental": {"padding": padding}})),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.header("mcp-session-id").is_none(), "no session");
    assert_error("2025-11-25", &reply.json());
    assert_eq!(reply.json()["error"]["code"], -32602);
    let message = reply.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("\"capabilities\" take 65") && message.contains("at most 65536"),
        "{message}"
    );
    assert_eq!(sessions_in(&store), 0);
    // Just under the bound: a session.
    let fits = "x".repeat(MAX_CAPABILITIES_BYTES - 100);
    let session = open_session(
        &host,
        "2025-11-25",
        json!({"experimental": {"padding": fits}}),
    );
    assert_eq!(session.len(), 40);
    assert!(store.largest().value_bytes < MAX_VALUE_BYTES);
}

#[test]
fn the_largest_key_and_value_of_a_busy_session_fit() {
    let store = MemoryStore::new();
    let host = stateful(&store);
    let session = open_session(
        &host,
        "2025-11-25",
        json!({"sampling": {}, "elicitation": {}}),
    );
    for i in 0..5 {
        let reply = in_session(
            &host,
            &session,
            "tools/call",
            json!({"name": "add", "arguments": {"a": i, "b": 1}}),
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let largest = store.largest();
    println!(
        "longest key {} bytes ({}); largest value {} bytes ({})",
        largest.key.len(),
        largest.key,
        largest.value_bytes,
        largest.value_key
    );
    assert!(largest.key.len() <= MAX_KEY_BYTES);
    assert!(largest.value_bytes <= MAX_VALUE_BYTES);
    // The two above hold by construction (the store refuses more); what can fail: a
    // session's writes stay far below the limits, and there were some.
    assert!(largest.value_bytes > 0, "the session wrote");
    assert!(largest.key.len() <= 128, "{}", largest.key);
    assert!(
        largest.value_bytes <= 4096,
        "{} bytes at {}",
        largest.value_bytes,
        largest.value_key
    );
}

#[test]
fn the_test_store_refuses_what_a_hosted_store_would() {
    assert_eq!(MAX_VALUE_BYTES, remote_mcp_server::store::MAX_VALUE_BYTES);
    let store = MemoryStore::new();
    assert!(store.set(&"k".repeat(MAX_KEY_BYTES), b"v").is_ok());
    assert!(store.set(&"k".repeat(MAX_KEY_BYTES + 1), b"v").is_err());
    assert!(store.set("v", &vec![b'x'; MAX_VALUE_BYTES]).is_ok());
    assert!(store.set("v", &vec![b'x'; MAX_VALUE_BYTES + 1]).is_err());
    assert_eq!(store.largest().value_bytes, MAX_VALUE_BYTES);
}

#[test]
fn a_message_too_large_for_the_store_is_queued_as_an_error_answer() {
    use remote_mcp_server::host::executor::block_on;
    use remote_mcp_server::store::outbox::Outbox;
    use remote_mcp_server::store::session::SessionId;
    let store = MemoryStore::new();
    let id = SessionId::parse(&"cd".repeat(20)).expect("an id");
    let outbox = Outbox::new(&*store, &id);
    let big = json!({"jsonrpc": "2.0", "id": 42, "result": {"content": [{"type": "text", "text": "x".repeat(MAX_VALUE_BYTES)}]}});
    let seq = block_on(outbox.push(big.to_string().as_bytes(), 0)).expect("queued");
    let queued: serde_json::Value =
        serde_json::from_slice(&block_on(outbox.get(seq)).expect("read").expect("there"))
            .expect("json");
    assert_eq!(queued["id"], 42);
    assert_eq!(queued["error"]["code"], -32603);
    assert!(
        queued["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("over the 1000000"),
        "{queued}"
    );
    // A notification that large is dropped with a log message saying so.
    let note = json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"message": "x".repeat(MAX_VALUE_BYTES)}});
    let seq = block_on(outbox.push(note.to_string().as_bytes(), 0)).expect("queued");
    let queued: serde_json::Value =
        serde_json::from_slice(&block_on(outbox.get(seq)).expect("read").expect("there"))
            .expect("json");
    assert_eq!(queued["method"], "notifications/message");
    assert_schema("2025-06-18", "LoggingMessageNotification", &queued);
}

#[test]
fn a_task_result_too_large_for_the_store_ends_the_task_failed_saying_why() {
    use remote_mcp_server::host::executor::block_on;
    use remote_mcp_server::store::tasks::{self, Ending, Record, Status};
    let store = MemoryStore::new();
    let id = "ab".repeat(20);
    let record = Record::new("owner".into(), "slow_compute", 1_000);
    block_on(tasks::create(&*store, &id, &record, 1_000)).expect("created");
    let huge = json!({"content": [{"type": "text", "text": "x".repeat(MAX_VALUE_BYTES)}]});
    let ending = Ending {
        status: Status::Completed,
        message: None,
        result: Some(huge),
        error: None,
    };
    assert!(block_on(tasks::end(&*store, &id, 2_000, ending)).expect("ended"));
    let ended = block_on(tasks::read(&*store, &id))
        .expect("read")
        .expect("there");
    assert_eq!(ended.status, Status::Failed);
    assert!(ended.result.is_none());
    let message = ended
        .error
        .as_ref()
        .and_then(|e| e["message"].as_str())
        .unwrap_or_default();
    assert!(
        message.contains("result took 100") && message.contains("at most 1000000"),
        "{message}"
    );
}
