//! Whole MCP requests: any body POSTed to /mcp, in every protocol era, through the real
//! router, auth and protocol layers (in-memory host with a store). The server must answer
//! every one with a status it documents, never panic, never 500.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remote_mcp_server::host::executor::block_on;
use remote_mcp_server::host::memory::{MemoryHost, MemorySink, MemoryStore};
use remote_mcp_server::http::{Headers, Method, Request};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let host = MemoryHost::new()
        .with_store(MemoryStore::new())
        .with_variable("conformance_fixtures", "on");
    // The one fixture that panics on purpose (trap_instance) is left out.
    if calls_trap_instance(body) {
        return;
    }
    let mut headers = Headers::from([
        ("authorization", "Bearer fuzz-token-0123456789"),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("host", "localhost"),
    ]);
    match selector % 3 {
        0 => {}
        1 => headers.append("mcp-protocol-version", "2025-06-18"),
        _ => {
            headers.append("mcp-protocol-version", "2026-07-28");
            // The method header, as a client would derive it from the body.
            if let Some(method) = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("method")?.as_str().map(str::to_string))
            {
                headers.append("mcp-method", &method);
            }
        }
    }
    let request = Request::new(
        Method::Post,
        "/mcp",
        headers,
        Some("http://localhost".into()),
        Box::new(body),
    );
    let mut sink = MemorySink::new();
    block_on(remote_mcp_server::handle(&host, request, &mut sink));
    let status = sink.status.expect("every request is answered");
    assert!(
        matches!(
            status,
            200 | 202 | 400 | 403 | 404 | 405 | 406 | 413 | 415 | 429
        ),
        "status {status}: {}",
        sink.text()
    );
});

/// Whether the body (one message or a batch) calls the fixture tool that panics.
fn calls_trap_instance(body: &[u8]) -> bool {
    let calls = |message: &serde_json::Value| {
        message.pointer("/params/name").and_then(|v| v.as_str()) == Some("trap_instance")
    };
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Array(messages)) => messages.iter().any(calls),
        Ok(message) => calls(&message),
        Err(_) => false,
    }
}
