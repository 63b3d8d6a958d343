//! The shared store stops answering (its server killed), then comes back: requests that
//! need it get 503 with `Retry-After` within one deadline, then at once; requests that do
//! not need it go on; nothing half-done is reported as done; when the store answers again
//! the same instance serves again.

mod common;

use common::*;
use remote_mcp_server::host::memory::MemoryStore;
use remote_mcp_server::host::Host;
use remote_mcp_server::store::guard::OPEN_MS;
use remote_mcp_server::web::App;
use serde_json::json;

const REVISION: &str = "2025-11-25";

fn in_session_request(session: &str, id: u64) -> remote_mcp_server::http::Request<'static> {
    post_request(
        client_headers(
            &bearer(),
            &[
                ("mcp-protocol-version", REVISION),
                ("mcp-session-id", session),
            ],
        ),
        &rpc(
            id,
            "tools/call",
            json!({"name": "add", "arguments": {"a": 2, "b": 3}}),
        ),
    )
}

fn healthz() -> remote_mcp_server::http::Request<'static> {
    use remote_mcp_server::http::{Headers, Method, Request};
    Request::new(
        Method::Get,
        "/healthz",
        Headers::new(),
        Some(ORIGIN.into()),
        Box::new(std::io::empty()),
    )
}

fn assert_unavailable(reply: &Reply) {
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert!(reply.header("retry-after").is_some(), "Retry-After");
}

#[test]
fn a_store_outage_costs_one_deadline_then_503s_at_once_and_the_instance_recovers() {
    let store = MemoryStore::new();
    let host = stateful(&store).with_variable("store_timeout_seconds", "0.5");
    let app = block_on(App::new(&host));
    let opened = block_on(serve_on(
        &app,
        post_request(
            client_headers(&bearer(), &[]),
            &initialize_request(REVISION, json!({})),
        ),
    ));
    let session = opened
        .header("mcp-session-id")
        .expect("a session")
        .to_string();
    assert_eq!(
        block_on(serve_on(&app, in_session_request(&session, 1))).status,
        200
    );

    store.set_down(true);
    // The first request that needs the store waits one deadline (the host's clock is
    // manual here: it moves by exactly what the server waited).
    let started = host.now_unix_ms();
    let reply = block_on(serve_on(&app, in_session_request(&session, 2)));
    assert_unavailable(&reply);
    assert_eq!(host.now_unix_ms() - started, 500);
    let error = &reply.json()["error"];
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("session store is unavailable"),
        "{error}"
    );
    assert_schema(REVISION, "JSONRPCErrorResponse", &reply.json());
    // Then the instance does not wait again: the next ones are refused at once, without
    // calling the store.
    let calls = store.unanswered();
    for request in [in_session_request(&session, 3), healthz()] {
        assert_unavailable(&block_on(serve_on(&app, request)));
    }
    let refused_session = block_on(serve_on(
        &app,
        post_request(
            client_headers(&bearer(), &[]),
            &initialize_request(REVISION, json!({})),
        ),
    ));
    assert_unavailable(&refused_session);
    assert_eq!(
        refused_session.header("mcp-session-id"),
        None,
        "no session is handed out that the store does not hold"
    );
    assert_eq!(host.now_unix_ms() - started, 500, "no second wait");
    assert_eq!(store.unanswered(), calls);
    // Calls that need no store go on.
    let stateless = block_on(serve_on(
        &app,
        modern_request(
            &bearer(),
            "tools/call",
            json!({"name": "add", "arguments": {"a": 2, "b": 3}}),
        ),
    ));
    assert_eq!(stateless.status, 200, "{}", stateless.text());

    // The store is back: once the open second is over, the same instance serves again.
    store.set_down(false);
    host.advance_ms(OPEN_MS);
    assert_eq!(
        block_on(serve_on(&app, in_session_request(&session, 4))).status,
        200
    );
    assert_eq!(block_on(serve_on(&app, healthz())).status, 200);
}
