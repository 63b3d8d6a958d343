//! Where requests may come from: foreign Host and Origin headers refused (DNS rebinding),
//! and CORS for allowed origins (preflights, exposed headers).

mod common;

use common::*;
use remote_mcp_server::host::memory::{MemoryHost, MemoryStore};
use serde_json::json;

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
