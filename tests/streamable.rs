//! Streamable HTTP at /mcp, through the in-memory host: both protocol eras, batches,
//! the HTTP-level checks, and every emitted message against the official schemas.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use serde_json::{json, Value};

fn names(list: &Value) -> Vec<String> {
    list["result"]["tools"]
        .as_array()
        .expect("tools array")
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

fn call(
    host: &remote_mcp_server::host::memory::MemoryHost,
    revision: &str,
    name: &str,
    arguments: Value,
) -> Value {
    let reply = legacy(
        host,
        revision,
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    reply.json()
}

#[test]
fn initialize_echoes_each_legacy_revision() {
    let host = host();
    for revision in LEGACY {
        let reply = post(
            &host,
            &[],
            &json!({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
                "protocolVersion": revision,
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"}
            }}),
        );
        assert_eq!(reply.status, 200);
        let body = reply.json();
        assert_result(revision, "InitializeResult", &body);
        assert_eq!(body["id"], "init");
        assert_eq!(body["result"]["protocolVersion"], revision);
        assert_eq!(body["result"]["serverInfo"]["name"], "remote-mcp-server");
        assert!(body["result"]["capabilities"]["tools"].is_object());
        // Titles exist from 2025-06-18 on.
        assert_eq!(
            body["result"]["serverInfo"]["title"].is_string(),
            revision >= "2025-06-18"
        );
    }
}

#[test]
fn initialize_with_an_unknown_or_modern_version_answers_the_latest_legacy_one() {
    let host = host();
    for asked in ["1999-01-01", "2026-07-28"] {
        let reply = post(
            &host,
            &[],
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": asked, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}
            }}),
        );
        assert_eq!(
            reply.json()["result"]["protocolVersion"],
            "2025-11-25",
            "asked {asked}"
        );
    }
    let reply = post(
        &host,
        &[],
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}),
    );
    let body = reply.json();
    assert_eq!(body["error"]["code"], -32602);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("protocolVersion"));
}

#[test]
fn notifications_and_client_responses_get_202_without_body() {
    let host = host();
    for message in [
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}),
        json!({"jsonrpc": "2.0", "id": 5, "result": {}}),
    ] {
        let reply = post(&host, &[("mcp-protocol-version", "2025-06-18")], &message);
        assert_eq!(reply.status, 202, "{message}");
        assert!(reply.body.is_empty());
    }
}

#[test]
fn ping_answers_an_empty_result() {
    let host = host();
    for revision in LEGACY {
        let body = legacy(&host, revision, "ping", json!({})).json();
        assert_result(revision, "EmptyResult", &body);
        assert_eq!(body["result"], json!({}));
    }
}

#[test]
fn tools_list_fits_each_revision() {
    let host = host();
    for revision in LEGACY {
        let body = legacy(&host, revision, "tools/list", json!({})).json();
        assert_result(revision, "ListToolsResult", &body);
        assert_eq!(names(&body), tool_names());
        let add = &body["result"]["tools"][0];
        assert_eq!(add["inputSchema"]["required"], json!(["a", "b"]));
        assert_eq!(
            add["annotations"].is_object(),
            revision >= "2025-03-26",
            "{revision}"
        );
        assert_eq!(
            add["title"].is_string(),
            revision >= "2025-06-18",
            "{revision}"
        );
        assert!(
            body["result"].get("resultType").is_none(),
            "legacy results carry no resultType"
        );
    }
}

#[test]
fn tools_list_pages_with_opaque_cursors() {
    let host = host().with_variable("page_size", "1");
    let mut seen = Vec::new();
    let mut params = json!({});
    loop {
        let body = legacy(&host, "2025-06-18", "tools/list", params).json();
        assert_result("2025-06-18", "ListToolsResult", &body);
        assert_eq!(body["result"]["tools"].as_array().unwrap().len(), 1);
        seen.extend(names(&body));
        match body["result"]["nextCursor"].as_str() {
            Some(cursor) => params = json!({"cursor": cursor}),
            None => break,
        }
    }
    assert_eq!(seen, tool_names());

    for bad in [json!("garbage"), json!(""), json!(3), json!("dG9vbHM6OTk")] {
        let body = legacy(&host, "2025-06-18", "tools/list", json!({"cursor": bad})).json();
        assert_error("2025-06-18", &body);
        assert_eq!(body["error"]["code"], -32602, "cursor {bad}");
    }
}

#[test]
fn add_prints_sums_like_javascript() {
    let host = host();
    let cases = [
        (json!(2), json!(3), "5"),
        (json!(0.1), json!(0.2), "0.30000000000000004"),
        (json!(-7.5), json!(2), "-5.5"),
        (json!(1e21), json!(0), "1e+21"),
        (json!(1e308), json!(1e308), "Infinity"),
    ];
    for revision in LEGACY {
        for (a, b, sum) in &cases {
            let body = call(&host, revision, "add", json!({"a": a, "b": b}));
            assert_result(revision, "CallToolResult", &body);
            assert_eq!(
                body["result"]["content"],
                json!([{"type": "text", "text": sum}]),
                "{a} + {b} at {revision}"
            );
            assert_eq!(body["result"]["isError"], false);
        }
    }
}

#[test]
fn get_token_returns_the_authorization_header() {
    let host = host();
    let body = call(&host, "2025-06-18", "getToken", json!({}));
    assert_result("2025-06-18", "CallToolResult", &body);
    assert_eq!(
        body["result"]["content"],
        json!([{"type": "text", "text": format!("User's token: Bearer {TOKEN}")}])
    );
    // Arguments may be left out entirely for a tool that takes none.
    let reply = legacy(
        &host,
        "2025-06-18",
        "tools/call",
        json!({"name": "getToken"}),
    );
    assert_eq!(reply.json()["result"]["isError"], false);
}

#[test]
fn unknown_tool_is_invalid_params() {
    let host = host();
    for revision in LEGACY {
        let body = call(&host, revision, "subtract", json!({}));
        assert_error(revision, &body);
        assert_eq!(body["error"]["code"], -32602);
        assert_eq!(body["id"], 1);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("subtract") && message.contains(&tool_names().join(", ")),
            "{message}"
        );
    }
}

#[test]
fn bad_arguments_are_protocol_errors_before_2025_11_25_and_tool_errors_after() {
    let host = host();
    let cases = [
        (
            json!({"a": "2", "b": 3}),
            "arguments.a: expected a number, got a string (\"2\")",
        ),
        (
            json!({"a": 2}),
            "arguments: missing required property \"b\"",
        ),
        (
            json!({"a": 1, "b": 2, "c": 3}),
            "arguments: unexpected property \"c\"; expected only a, b",
        ),
        (
            json!({"a": null, "b": 2}),
            "arguments.a: expected a number, got null",
        ),
    ];
    for (arguments, problem) in &cases {
        let old = call(&host, "2025-06-18", "add", arguments.clone());
        assert_error("2025-06-18", &old);
        assert_eq!(old["error"]["code"], -32602);
        let message = old["error"]["message"].as_str().unwrap();
        assert!(
            message.ends_with(problem),
            "{message:?} should end with {problem:?}"
        );

        let new = call(&host, "2025-11-25", "add", arguments.clone());
        assert_result("2025-11-25", "CallToolResult", &new);
        assert_eq!(new["result"]["isError"], true);
        let text = new["result"]["content"][0]["text"].as_str().unwrap();
        assert!(
            text.ends_with(problem),
            "{text:?} should end with {problem:?}"
        );
    }
    // Arguments that are not an object break the CallToolRequest schema: always -32602.
    for revision in ["2025-06-18", "2025-11-25"] {
        let body = call(&host, revision, "add", json!([1, 2]));
        assert_eq!(body["error"]["code"], -32602, "{revision}");
    }
}

#[test]
fn unknown_methods_are_method_not_found() {
    let host = host();
    let reply = legacy(&host, "2025-06-18", "no/such/method", json!({}));
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_error("2025-06-18", &body);
    assert_eq!(body["error"]["code"], -32601);
    // server/discover belongs to the modern era only.
    assert_eq!(
        legacy(&host, "2025-11-25", "server/discover", json!({})).json()["error"]["code"],
        -32601
    );
}

#[test]
fn a_legacy_request_with_an_unknown_version_header_is_refused() {
    let host = host();
    let reply = legacy(&host, "1999-01-01", "tools/list", json!({}));
    assert_eq!(reply.status, 400);
    let body = reply.json();
    assert_eq!(body["error"]["code"], -32022);
    assert_eq!(body["error"]["data"]["requested"], "1999-01-01");
    assert_eq!(body["error"]["data"]["supported"][0], "2026-07-28");
}

// --- 2026-07-28 -----------------------------------------------------------------------

#[test]
fn server_discover_advertises_versions_capabilities_and_identity() {
    let host = host();
    let reply = modern(&host, "server/discover", json!({}));
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_schema(MODERN, "DiscoverResultResponse", &body);
    let result = &body["result"];
    assert_eq!(result["resultType"], "complete");
    assert_eq!(
        result["supportedVersions"],
        json!([
            "2026-07-28",
            "2025-11-25",
            "2025-06-18",
            "2025-03-26",
            "2024-11-05"
        ])
    );
    assert!(result["capabilities"]["tools"].is_object());
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "remote-mcp-server"
    );
    assert!(result["ttlMs"].as_u64().is_some());
    assert_eq!(result["cacheScope"], "public");
}

#[test]
fn modern_tools_list_is_cacheable_and_deterministic() {
    let host = host();
    let first = modern(&host, "tools/list", json!({})).json();
    assert_schema(MODERN, "ListToolsResultResponse", &first);
    assert_eq!(first["result"]["resultType"], "complete");
    assert_eq!(first["result"]["cacheScope"], "public");
    assert!(first["result"]["ttlMs"].as_u64().unwrap() > 0);
    assert_eq!(
        first["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    let second = modern(&host, "tools/list", json!({})).json();
    assert_eq!(first, second);
}

#[test]
fn modern_tools_call_completes() {
    let host = host();
    let body = modern(
        &host,
        "tools/call",
        json!({"name": "add", "arguments": {"a": 2, "b": 3}}),
    )
    .json();
    assert_schema(MODERN, "CallToolResultResponse", &body);
    assert_eq!(body["id"], 7);
    assert_eq!(body["result"]["resultType"], "complete");
    assert_eq!(body["result"]["content"][0]["text"], "5");

    let bad = modern(
        &host,
        "tools/call",
        json!({"name": "add", "arguments": {"a": "x", "b": 3}}),
    )
    .json();
    assert_schema(MODERN, "CallToolResultResponse", &bad);
    assert_eq!(bad["result"]["isError"], true);
}

fn modern_raw(
    host: &remote_mcp_server::host::memory::MemoryHost,
    headers: &[(&str, &str)],
    method: &str,
    params: Value,
) -> Reply {
    post(
        host,
        headers,
        &json!({"jsonrpc": "2.0", "id": 9, "method": method, "params": params}),
    )
}

fn with_meta(mut params: Value) -> Value {
    params["_meta"] = envelope();
    params
}

#[test]
fn headers_must_mirror_the_body() {
    let host = host();
    let call = with_meta(json!({"name": "add", "arguments": {"a": 1, "b": 2}}));
    let version = ("mcp-protocol-version", "2026-07-28");
    let method = ("mcp-method", "tools/call");
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![method, ("mcp-name", "add")],
            "MCP-Protocol-Version header is required",
        ),
        (
            vec![
                ("mcp-protocol-version", "2025-11-25"),
                method,
                ("mcp-name", "add"),
            ],
            "does not match body value \"2026-07-28\"",
        ),
        (
            vec![version, ("mcp-name", "add")],
            "Mcp-Method header is required",
        ),
        (
            vec![version, ("mcp-method", "tools/list"), ("mcp-name", "add")],
            "Mcp-Method header value \"tools/list\"",
        ),
        (vec![version, method], "Mcp-Name header is required"),
        (
            vec![version, method, ("mcp-name", "getToken")],
            "Mcp-Name header value \"getToken\" does not match body value \"add\"",
        ),
        (
            vec![version, method, ("mcp-name", "=?base64?!!!?=")],
            "invalid Base64",
        ),
    ];
    for (headers, expected) in cases {
        let reply = modern_raw(&host, &headers, "tools/call", call.clone());
        assert_eq!(reply.status, 400, "{headers:?}");
        let body = reply.json();
        assert_schema(MODERN, "HeaderMismatchError", &body);
        assert_eq!(body["id"], 9);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(expected),
            "{message:?} should contain {expected:?}"
        );
    }
    // The Base64 sentinel form is decoded before comparing ("add" = YWRk).
    let reply = modern_raw(
        &host,
        &[version, method, ("mcp-name", "=?base64?YWRk?=")],
        "tools/call",
        call,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[test]
fn unsupported_versions_list_what_is_supported() {
    let host = host();
    let mut params = json!({});
    params["_meta"] = envelope();
    params["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let reply = modern_raw(
        &host,
        &[
            ("mcp-protocol-version", "2099-01-01"),
            ("mcp-method", "tools/list"),
        ],
        "tools/list",
        params,
    );
    assert_eq!(reply.status, 400);
    let body = reply.json();
    assert_schema(MODERN, "UnsupportedProtocolVersionError", &body);
    assert_eq!(body["error"]["data"]["requested"], "2099-01-01");
    assert_eq!(body["error"]["data"]["supported"][0], "2026-07-28");
}

#[test]
fn the_envelope_needs_version_and_capabilities() {
    let host = host();
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/list"),
    ];
    // A modern header without the body's _meta version.
    let reply = modern_raw(&host, &headers, "tools/list", json!({}));
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["code"], -32602);
    // Version without client capabilities.
    let reply = modern_raw(
        &host,
        &headers,
        "tools/list",
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
    );
    assert_eq!(reply.status, 400);
    let body = reply.json();
    assert_error(MODERN, &body);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("clientCapabilities"));
}

#[test]
fn modern_unknown_methods_are_404() {
    let host = host();
    for method in [
        "ping",
        "no/such/method",
        "logging/setLevel",
        "resources/subscribe",
    ] {
        let reply = modern(&host, method, json!({}));
        assert_eq!(reply.status, 404, "{method}");
        let body = reply.json();
        assert_error(MODERN, &body);
        assert_eq!(body["error"]["code"], -32601);
    }
}

#[test]
fn initialize_is_not_a_modern_method() {
    let reply = modern(&host(), "initialize", json!({"protocolVersion": MODERN}));
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"]["code"], -32601);
}

// --- batches ------------------------------------------------------------------------------

#[test]
fn batches_work_in_2025_03_26_only() {
    let host = host();
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 1}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "ping"},
        {"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": {"protocolVersion": "2025-03-26"}},
        {"jsonrpc": "1.0", "id": 4, "method": "ping"}
    ]);
    // No MCP-Protocol-Version header means 2025-03-26, which has batches.
    for headers in [vec![], vec![("mcp-protocol-version", "2025-03-26")]] {
        let reply = post(&host, &headers, &batch);
        assert_eq!(reply.status, 200);
        let replies = reply.json();
        let replies = replies.as_array().expect("an array of responses");
        assert_eq!(
            replies.len(),
            4,
            "one per request, none for the notification"
        );
        assert_schema(
            "2025-03-26",
            "JSONRPCBatchResponse",
            &Value::Array(replies.clone()),
        );
        assert_eq!(replies[0]["result"]["content"][0]["text"], "2");
        assert_eq!(replies[1]["result"], json!({}));
        assert_eq!(
            replies[2]["error"]["code"], -32600,
            "initialize must not be batched"
        );
        assert_eq!(replies[3]["error"]["code"], -32600);
        assert_eq!(replies[3]["id"], 4);
    }
    for revision in ["2024-11-05", "2025-06-18", "2025-11-25", "2026-07-28"] {
        let reply = post(&host, &[("mcp-protocol-version", revision)], &batch);
        assert_eq!(reply.status, 400, "{revision}");
        let body = reply.json();
        assert_eq!(body["error"]["code"], -32600);
        assert!(body.get("id").is_none());
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(revision));
    }
    let notifications = json!([{"jsonrpc": "2.0", "method": "notifications/initialized"}]);
    let reply = post(&host, &[], &notifications);
    assert_eq!(reply.status, 202);
    assert!(reply.body.is_empty());
}

// --- malformed messages and HTTP checks ---------------------------------------------------

#[test]
fn malformed_messages_are_rejected_with_precise_errors() {
    let host = host();
    let auth = bearer();
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    let cases: [(&[u8], i64, &str); 8] = [
        (b"{not json", -32700, "not valid JSON"),
        (b"", -32700, "not valid JSON"),
        (b"[]", -32600, "empty batch"),
        (
            b"42",
            -32600,
            "expected a JSON-RPC 2.0 object, got a number",
        ),
        (
            br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            -32600,
            "must not be null",
        ),
        (
            br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
            -32600,
            "string or an integer",
        ),
        (
            br#"{"id":1,"method":"ping"}"#,
            -32600,
            "missing \"jsonrpc\"",
        ),
        (
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}"#,
            -32602,
            "must be an object",
        ),
    ];
    for (body, code, words) in cases {
        let reply = send(&host, "POST", "/mcp", &headers, body);
        assert_eq!(reply.status, 400, "{}", String::from_utf8_lossy(body));
        let json = reply.json();
        assert_eq!(
            json["error"]["code"],
            code,
            "{}",
            String::from_utf8_lossy(body)
        );
        let message = json["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{message:?} should say {words:?}");
        assert_error("2025-11-25", &json);
    }
}

#[test]
fn content_type_and_accept_are_checked() {
    let host = host();
    let auth = bearer();
    let ping = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let with = |content_type: &str, accept: Option<&str>| {
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("content-type", content_type),
        ];
        if let Some(accept) = accept {
            headers.push(("accept", accept));
        }
        send(&host, "POST", "/mcp", &headers, ping).status
    };
    assert_eq!(
        with("text/plain", Some("application/json, text/event-stream")),
        415
    );
    assert_eq!(
        with(
            "application/json; charset=utf-8",
            Some("application/json, text/event-stream")
        ),
        200
    );
    assert_eq!(with("Application/JSON", Some("*/*")), 200);
    assert_eq!(with("application/json", Some("application/json")), 406);
    assert_eq!(with("application/json", Some("text/event-stream")), 406);
    assert_eq!(
        with(
            "application/json",
            Some("application/json, text/event-stream;q=0")
        ),
        406
    );
    assert_eq!(with("application/json", Some("application/*, text/*")), 200);
    assert_eq!(
        with("application/json", None),
        200,
        "no Accept header accepts anything"
    );
}

/// A body of spaces that goes on far past any limit, counting what the server reads. It
/// fails the read at [`Endless::MAX`], so a server that reads it whole gets an error
/// (and the test a wrong count) rather than hanging the test.
struct Endless(Arc<AtomicU64>);

impl Endless {
    const MAX: u64 = 16 * 1024 * 1024;
}

impl std::io::Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.load(Ordering::SeqCst) >= Endless::MAX {
            return Err(std::io::Error::other(
                "the server read 16 MiB past a 1 KiB limit",
            ));
        }
        buf.fill(b' ');
        self.0.fetch_add(buf.len() as u64, Ordering::SeqCst);
        Ok(buf.len())
    }
}

#[test]
fn oversized_bodies_are_refused_without_reading_them_whole() {
    let host = host().with_variable("max_body_bytes", "1024");
    let auth = bearer();
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    // Declared too large: refused before reading a byte.
    let mut declared = headers.to_vec();
    declared.push(("content-length", "1025"));
    let read = Arc::new(AtomicU64::new(0));
    let reply = send_reader(
        &host,
        "POST",
        "/mcp",
        &declared,
        Box::new(Endless(read.clone())),
    );
    assert_eq!(
        read.load(Ordering::SeqCst),
        0,
        "bytes read of a declared-too-large body"
    );
    assert_eq!(reply.status, 413);
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("1024 bytes"));
    // Undeclared and endless: refused once past the limit, having read little more.
    let read = Arc::new(AtomicU64::new(0));
    let reply = send_reader(
        &host,
        "POST",
        "/mcp",
        &headers,
        Box::new(Endless(read.clone())),
    );
    let read = read.load(Ordering::SeqCst);
    assert!(
        (1025..=1024 + 64 * 1024).contains(&read),
        "read {read} bytes of an endless body with a 1024-byte limit"
    );
    assert_eq!(reply.status, 413);
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("1024 bytes"));
    // Exactly at the limit is fine.
    let mut body = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec();
    body.resize(1024, b' ');
    assert_eq!(send(&host, "POST", "/mcp", &headers, &body).status, 200);
}

#[test]
fn other_methods_on_mcp_are_405_with_allow() {
    let host = host();
    let auth = bearer();
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let reply = send(
            &host,
            method,
            "/mcp",
            &[("authorization", auth.as_str())],
            b"",
        );
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("POST"));
    }
}

#[test]
fn the_schemas_do_catch_mistakes() {
    // Guards the guard: a malformed message must fail validation.
    if !schemas_available() {
        return;
    }
    assert!(!is_valid(
        "2025-06-18",
        "CallToolResult",
        &json!({"content": [{"type": "text"}]})
    ));
    assert!(!is_valid(
        MODERN,
        "ListToolsResult",
        &json!({"tools": [], "resultType": "complete"})
    ));
    assert!(is_valid(
        MODERN,
        "ListToolsResult",
        &json!({"tools": [], "resultType": "complete", "ttlMs": 0, "cacheScope": "public"})
    ));
}
