//! Bearer authentication (RFC 6750), protected resource metadata (RFC 9728), and the
//! promise that tokens never reach the log.

mod common;

use common::*;
use serde_json::json;

const PING: &[u8] = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

fn mcp_with(
    host: &remote_mcp_server::host::memory::MemoryHost,
    path: &str,
    auth: &[&str],
) -> Reply {
    let mut headers: Vec<(&str, &str)> = auth.iter().map(|v| ("authorization", *v)).collect();
    headers.push(("content-type", "application/json"));
    headers.push(("accept", "application/json, text/event-stream"));
    send(host, "POST", path, &headers, PING)
}

/// The challenge of a refusal at `/mcp`: it names `/mcp`'s own metadata document.
const CHALLENGE: &str =
    "Bearer realm=\"mcp\", resource_metadata=\"http://mcp.test/.well-known/oauth-protected-resource/mcp\"";

/// The same for a path of the HTTP+SSE transport (`/sse`, `/sse/message`).
const SSE_CHALLENGE: &str =
    "Bearer realm=\"mcp\", resource_metadata=\"http://mcp.test/.well-known/oauth-protected-resource/sse\"";

#[test]
fn a_missing_token_gets_401_with_the_resource_metadata_challenge() {
    let host = host();
    for path in ["/mcp", "/sse", "/sse/message"] {
        let reply = mcp_with(&host, path, &[]);
        assert_eq!(reply.status, 401, "{path}");
        let expected = if path == "/mcp" {
            CHALLENGE
        } else {
            SSE_CHALLENGE
        };
        assert_eq!(reply.header("www-authenticate"), Some(expected), "{path}");
        let body = reply.json();
        assert!(body["error_description"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer"));
    }
}

#[test]
fn malformed_or_foreign_credentials_get_401() {
    let host = host();
    let cases = [
        ("Basic dXNlcjpwYXNz", None, "Basic scheme"),
        ("Bearer", Some("invalid_token"), "empty"),
        ("Bearer    ", Some("invalid_token"), "empty"),
        ("Bearer abc def", Some("invalid_token"), "malformed"),
        ("Bearer ab\"c", Some("invalid_token"), "malformed"),
        ("Bearer =abc", Some("invalid_token"), "malformed"),
        ("Token abc", None, "Token scheme"),
    ];
    for (value, code, words) in cases {
        let reply = mcp_with(&host, "/mcp", &[value]);
        assert_eq!(reply.status, 401, "{value:?}");
        let challenge = reply.header("www-authenticate").unwrap();
        assert!(challenge.starts_with(CHALLENGE), "{challenge}");
        match code {
            Some(code) => assert!(
                challenge.contains(&format!("error=\"{code}\"")),
                "{challenge}"
            ),
            None => assert!(!challenge.contains("error="), "{challenge}"),
        }
        let description = reply.json()["error_description"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            description.contains(words),
            "{description:?} should mention {words:?}"
        );
    }
}

#[test]
fn the_scheme_is_case_insensitive_and_padding_is_allowed() {
    let host = host();
    for value in [
        "bearer abc",
        "BEARER abc",
        "Bearer a-b.c_d~e+f/g==",
        "Bearer  twospaces",
    ] {
        assert_eq!(mcp_with(&host, "/mcp", &[value]).status, 200, "{value:?}");
    }
}

#[test]
fn repeated_oversized_and_query_tokens_are_bad_requests() {
    let host = host();
    let reply = mcp_with(&host, "/mcp", &["Bearer one", "Bearer two"]);
    assert_eq!(reply.status, 400);
    assert!(reply
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"invalid_request\""));

    let huge = format!("Bearer {}", "a".repeat(9000));
    let reply = mcp_with(&host, "/mcp", &[&huge]);
    assert_eq!(reply.status, 400);
    assert!(reply.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("8192 bytes"));

    let auth = bearer();
    let reply = send(
        &host,
        "POST",
        "/mcp?access_token=secret-in-url",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        PING,
    );
    assert_eq!(reply.status, 400);
    assert!(!reply.text().contains("secret-in-url"));
}

#[test]
fn public_paths_need_no_token() {
    let host = host();
    for path in [
        "/",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource/sse",
    ] {
        assert_eq!(send(&host, "GET", path, &[], b"").status, 200, "{path}");
    }
}

#[test]
fn protected_resource_metadata_describes_this_server() {
    let host = host();
    let root = send(
        &host,
        "GET",
        "/.well-known/oauth-protected-resource",
        &[],
        b"",
    )
    .json();
    assert_eq!(root["resource"], "http://mcp.test");
    assert_eq!(root["bearer_methods_supported"], json!(["header"]));
    assert!(
        root.get("authorization_servers").is_none(),
        "none configured"
    );

    let mcp = send(
        &host,
        "GET",
        "/.well-known/oauth-protected-resource/mcp",
        &[],
        b"",
    )
    .json();
    assert_eq!(mcp["resource"], "http://mcp.test/mcp");

    let configured = host
        .clone()
        .with_variable(
            "authorization_servers",
            "https://auth.example.com, https://login.example.org/tenant",
        )
        .with_variable("public_url", "https://mcp.example.com/");
    let doc = send(
        &configured,
        "GET",
        "/.well-known/oauth-protected-resource/mcp",
        &[],
        b"",
    )
    .json();
    assert_eq!(doc["resource"], "https://mcp.example.com/mcp");
    assert_eq!(
        doc["authorization_servers"],
        json!([
            "https://auth.example.com",
            "https://login.example.org/tenant"
        ])
    );
    let reply = mcp_with(&configured, "/mcp", &[]);
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"mcp\", resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\"")
    );
}

#[test]
fn tokens_never_reach_the_log() {
    let host = host();
    let secret = "s3cr3t-t0ken-value";
    let auth = format!("Bearer {secret}");
    let ok = call_add(&host, &auth);
    assert_eq!(ok.status, 200);
    mcp_with(&host, "/mcp", &[&format!("Bearer {secret}\"")]);
    mcp_with(&host, "/mcp", &[&format!("Basic {secret}")]);
    mcp_with(&host, "/mcp", &[&auth, &auth]);
    send(
        &host,
        "POST",
        &format!("/mcp?access_token={secret}"),
        &[],
        PING,
    );

    let logs = host.logs();
    assert_eq!(logs.len(), 5, "one line per request: {logs:?}");
    for line in &logs {
        assert!(!line.contains(secret), "token in log line: {line}");
        let entry: serde_json::Value = serde_json::from_str(line).expect("log lines are JSON");
        assert!(entry["status"].as_u64().is_some());
    }
    let first: serde_json::Value = serde_json::from_str(&logs[0]).unwrap();
    assert_eq!(first["rpc"], "tools/call");
    assert!(first["principal"].as_str().unwrap().starts_with("token:"));
}

/// `tools/call add` with `auth` as `Authorization`.
fn call_add(host: &remote_mcp_server::host::memory::MemoryHost, auth: &str) -> Reply {
    post_as(
        host,
        auth,
        &[],
        &rpc(
            1,
            "tools/call",
            json!({"name": "add", "arguments": {"a": 1, "b": 2}}),
        ),
    )
}

#[test]
fn distinct_tokens_are_distinct_principals() {
    let host = host();
    call_add(&host, "Bearer first-token");
    call_add(&host, "Bearer second-token");
    call_add(&host, "bearer first-token");
    let principals: Vec<String> = host
        .logs()
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["principal"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_ne!(principals[0], principals[1]);
    assert_eq!(
        principals[0], principals[2],
        "the same token is the same principal"
    );
}

#[test]
fn an_unknown_scheme_is_never_echoed() {
    let host = host();
    // A bare token (no scheme) reads as a scheme: it must not come back in the refusal.
    for value in [
        "tok3nSecretValue42",
        "ghp-Secret42 more",
        "X-Api-Key-1234 abc",
    ] {
        let reply = mcp_with(&host, "/mcp", &[value]);
        assert_eq!(reply.status, 401, "{value:?}");
        let shown = format!(
            "{} {}",
            reply.header("www-authenticate").unwrap(),
            reply.text()
        );
        let scheme = value.split(' ').next().unwrap();
        assert!(!shown.contains(scheme), "{scheme:?} echoed: {shown}");
        assert!(shown.contains("another scheme"), "{shown}");
    }
    // Registered schemes are named, in their registered spelling.
    let reply = mcp_with(&host, "/mcp", &["digest username=\"x\""]);
    assert!(
        reply.text().contains("the Digest scheme"),
        "{}",
        reply.text()
    );
}
