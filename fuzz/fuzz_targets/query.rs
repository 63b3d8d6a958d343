//! Query strings and session ids: any path and query reaching `/sse/message` (where the
//! session id travels in the URL) is parsed without panicking, and only ids this server
//! could have issued are accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remote_mcp_server::host::executor::block_on;
use remote_mcp_server::host::memory::{MemoryHost, MemorySink, MemoryStore};
use remote_mcp_server::http::{Headers, Method, Request};
use remote_mcp_server::store::session::SessionId;

fuzz_target!(|query: &str| {
    let target = format!("/sse/message?{query}");
    let parsed = Request::new(
        Method::Post,
        &target,
        Headers::new(),
        None,
        Box::new(std::io::empty()),
    );
    for value in parsed.query_param("sessionId") {
        if let Some(id) = SessionId::parse(&value) {
            assert_eq!(id.as_str().len(), 40);
            assert!(id.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
    let host = MemoryHost::new().with_store(MemoryStore::new());
    let headers = Headers::from([
        ("authorization", "Bearer fuzz-token-0123456789"),
        ("content-type", "application/json"),
        ("host", "localhost"),
    ]);
    let body: &[u8] = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let request = Request::new(Method::Post, &target, headers, None, Box::new(body));
    let mut sink = MemorySink::new();
    block_on(remote_mcp_server::handle(&host, request, &mut sink));
    let status = sink.status.expect("answered");
    // No session exists, so nothing can be accepted.
    assert!(
        matches!(status, 400 | 404),
        "status {status}: {}",
        sink.text()
    );
});
