//! The home page, routing, the health check, and configuration errors.

mod common;

use common::*;
use remote_mcp_server::config::VARIABLES;
use remote_mcp_server::host::memory::MemoryStore;
use serde_json::{json, Value};

#[test]
fn the_home_page_tells_a_newcomer_how_to_connect() {
    let host = host();
    let reply = send(&host, "GET", "/", &[], b"");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = reply.text();
    for expected in [
        "remote-mcp-server",
        env!("CARGO_PKG_VERSION"),
        "http://mcp.test/mcp",
        "http://mcp.test/sse",
        "passthrough",
        "Every well-formed bearer token is accepted",
        "npx @modelcontextprotocol/inspector",
        "\"mcp-remote\"",
        "Authorization: Bearer ${AUTH_TOKEN}",
    ] {
        assert!(page.contains(expected), "home page lacks {expected:?}");
    }
    assert!(!page.contains("{{"), "unfilled placeholder");
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http://cdn"),
        "no external assets"
    );
    // Without a shared store, clients are pointed at /mcp, and /sse is marked unavailable.
    assert!(page.contains("\"http://mcp.test/mcp\",\n        \"--header\""));
}

#[test]
fn the_home_page_escapes_the_host_it_was_reached_by() {
    let host = host();
    let request = remote_mcp_server::http::Request::new(
        remote_mcp_server::http::Method::Get,
        "/",
        Default::default(),
        Some("http://evil<script>alert(1)</script>".into()),
        Box::new(std::io::empty()),
    );
    let mut sink = remote_mcp_server::host::memory::MemorySink::new();
    remote_mcp_server::host::executor::block_on(remote_mcp_server::handle(
        &host, request, &mut sink,
    ));
    let page = sink.text();
    assert!(!page.contains("<script>"));
    assert!(page.contains("&lt;script&gt;"));
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405() {
    let host = host();
    let reply = send(&host, "GET", "/nope", &[], b"");
    assert_eq!(reply.status, 404);
    assert!(reply.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("/mcp"));
    for (path, allow) in [
        ("/", "GET, HEAD"),
        (
            "/.well-known/oauth-protected-resource",
            "GET, HEAD, OPTIONS",
        ),
        ("/healthz", "GET, HEAD"),
    ] {
        let reply = send(&host, "POST", path, &[], b"");
        assert_eq!(reply.status, 405, "{path}");
        assert_eq!(reply.header("allow"), Some(allow));
    }
}

#[test]
fn healthz_needs_no_token_and_reports_the_store() {
    let reply = send(&host(), "GET", "/healthz", &[], b"");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body: Value = reply.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["store"], "none");
    let store = MemoryStore::new();
    let body = send(&stateful(&store), "GET", "/healthz", &[], b"").json();
    assert_eq!(body["store"], "ok");
    let broken = host().with_variable("auth_mode", "bogus");
    let reply = send(&broken, "GET", "/healthz", &[], b"");
    assert_eq!(reply.status, 500);
    assert!(reply.text().contains("auth_mode"));
}

#[test]
fn the_portable_build_explains_that_sse_needs_a_store() {
    let host = host();
    let auth = bearer();
    let reply = send(&host, "GET", "/sse", &[("authorization", &auth)], b"");
    assert_eq!(reply.status, 501);
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("shared key-value store"));
}

#[test]
fn a_wrong_variable_fails_the_requests_that_need_it_with_a_500_naming_it() {
    // Each variable is read when a request needs it (under Spin every read is a host
    // call), so a wrong one fails the requests that use it, and /healthz, which reads them
    // all so that a rollout with a wrong variable never becomes ready. The client learns
    // which variable; the log says what is wrong with it.
    let mcp = |method: &str| -> (&'static str, Vec<u8>) {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": {}});
        ("/mcp", body.to_string().into_bytes())
    };
    // (variable, wrong value, what the log says, the request that needs it)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        (&'static str, Vec<u8>),
    );
    let cases: [Case; 8] = [
        (
            "auth_mode",
            "open-sesame",
            "unknown mode",
            ("/", Vec::new()),
        ),
        ("auth_mode", "open-sesame", "unknown mode", mcp("ping")),
        (
            "max_body_bytes",
            "lots",
            "positive whole number",
            mcp("ping"),
        ),
        ("max_body_bytes", "0", "positive whole number", mcp("ping")),
        (
            "page_size",
            "-1",
            "positive whole number",
            mcp("tools/list"),
        ),
        (
            "public_url",
            "mcp.example.com",
            "must start with https://",
            ("/", Vec::new()),
        ),
        (
            "public_url",
            "https://mcp.example.com/base",
            "without a path",
            mcp("ping"),
        ),
        (
            "authorization_servers",
            "auth.example.com",
            "not an http(s) URL",
            (remote_mcp_server::auth::metadata::WELL_KNOWN, Vec::new()),
        ),
    ];
    for (name, value, words, (path, body)) in cases {
        let host = host().with_variable(name, value);
        let (method, headers): (&str, Vec<(&str, String)>) = if body.is_empty() {
            ("GET", vec![])
        } else {
            (
                "POST",
                vec![
                    ("authorization", bearer()),
                    ("content-type", "application/json".into()),
                    ("accept", "application/json, text/event-stream".into()),
                    ("mcp-protocol-version", "2025-06-18".into()),
                ],
            )
        };
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        for (path, method, body) in [(path, method, &body[..]), ("/healthz", "GET", &b""[..])] {
            let reply = send(&host, method, path, &headers, body);
            let what = format!("{name}={value} at {method} {path}");
            assert_eq!(reply.status, 500, "{what}: {}", reply.text());
            // An HTTP error body, or a JSON-RPC error once the request is being answered.
            let body = reply.json();
            let description = body["error_description"]
                .as_str()
                .or(body["error"]["message"].as_str())
                .unwrap_or_else(|| panic!("{what}: {}", reply.text()))
                .to_string();
            assert!(description.contains(&format!("`{name}`")), "{description}");
            assert!(
                description.contains(&format!("MCP_{}", name.to_uppercase())),
                "{description}"
            );
            assert!(
                !description.contains(value),
                "{what}: the value is not echoed"
            );
            let logs = host.logs().join("\n");
            assert!(
                logs.contains(&format!("`{name}`")) && logs.contains(words),
                "{what}: the log should say {words:?}: {logs}"
            );
        }
    }
    // A request that does not need the variable is served.
    let host = host().with_variable("page_size", "-1");
    let reply = post(
        &host,
        &[],
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
    );
    assert_eq!(reply.status, 200);
}

/// spin.toml must declare every variable with the same default, and map each into the
/// component; a variable missing there would make Spin refuse to start or the server
/// fall back silently.
#[test]
fn spin_toml_declares_every_variable() {
    let component = manifest_declares("spin.toml", &[]);
    assert_eq!(
        component["source"].as_str(),
        Some("target/wasm32-wasip2/release/remote_mcp_server.wasm")
    );
    // Outbound requests go only to the JWKS and introspection origins, through their
    // variables.
    assert_eq!(
        outbound_hosts(&component),
        ["{{ jwt_jwks_origin }}", "{{ introspection_origin }}"]
    );
    assert_eq!(
        component["key_value_stores"].as_array().unwrap()[0].as_str(),
        Some("default")
    );
}

/// spin-hosted.toml is spin.toml for the hosted build: the same variables plus the
/// Redis its shared state lives in, no key-value store (the platforms have no atomics).
#[test]
fn spin_hosted_toml_is_spin_toml_for_the_hosted_build() {
    let component = manifest_declares(
        "spin-hosted.toml",
        &[
            ("request_limit_seconds", "30"),
            ("redis_address", ""),
            ("redis_origin", "redis://redis.invalid:6379"),
        ],
    );
    assert_eq!(
        component["source"].as_str(),
        Some("target/wasm32-wasip2/hosted/remote_mcp_server.wasm")
    );
    assert_eq!(
        outbound_hosts(&component),
        [
            "{{ jwt_jwks_origin }}",
            "{{ introspection_origin }}",
            "{{ redis_origin }}"
        ]
    );
    assert!(component.get("key_value_stores").is_none());
    let command = component["build"]["command"].as_str().unwrap();
    assert!(
        command.contains("--profile hosted --features hosted"),
        "{command}"
    );
    let plain: toml::Table =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/spin.toml"))
            .unwrap()
            .parse()
            .unwrap();
    assert_eq!(
        component["build"]["watch"],
        plain["component"]["remote-mcp-server"]["build"]["watch"]
    );
}

/// Checks that the manifest `file` declares every variable the code reads, plus `extra`
/// (name, default; one the code reads gets that default instead), with its default, and
/// passes each to the component; returns the component's table.
fn manifest_declares(file: &str, extra: &[(&str, &str)]) -> toml::Table {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let manifest: toml::Table = text.parse().expect("a manifest is TOML");
    let declared = manifest["variables"].as_table().expect("[variables]");
    let component = manifest["component"]["remote-mcp-server"]
        .as_table()
        .expect("the component")
        .clone();
    let mapped = component["variables"]
        .as_table()
        .expect("component variables");
    let overrides = |name: &str| extra.iter().find(|(n, _)| *n == name).map(|(_, d)| *d);
    let added: Vec<_> = extra
        .iter()
        .filter(|(name, _)| !VARIABLES.iter().any(|v| v.name == *name))
        .copied()
        .collect();
    let all = VARIABLES
        .iter()
        .map(|variable| {
            let default = overrides(variable.name).unwrap_or(variable.default);
            (variable.name, default)
        })
        .chain(added.iter().copied());
    for (name, default) in all {
        assert_eq!(
            declared[name]["default"].as_str(),
            Some(default),
            "{file}: default of {name}"
        );
        assert_eq!(
            mapped[name].as_str(),
            Some(format!("{{{{ {name} }}}}").as_str()),
            "{file}: {name} is not passed to the component"
        );
    }
    assert_eq!(
        declared.len(),
        VARIABLES.len() + added.len(),
        "{file} declares variables the code does not read"
    );
    component
}

fn outbound_hosts(component: &toml::Table) -> Vec<&str> {
    component["allowed_outbound_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h.as_str())
        .collect()
}

#[test]
fn the_runtime_config_example_points_the_default_store_at_redis() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/runtime-config.example.toml"
    ))
    .unwrap();
    let config: toml::Table = text.parse().expect("runtime-config.example.toml is TOML");
    let store = &config["key_value_store"]["default"];
    assert_eq!(store["type"].as_str(), Some("redis"));
    assert!(store["url"].as_str().unwrap().starts_with("redis://"));
}

#[test]
fn with_a_shared_store_the_home_page_offers_sse() {
    let host = host().with_store(MemoryStore::new());
    let page = send(&host, "GET", "/", &[], b"").text();
    assert!(
        page.contains("Transport Type: SSE\nURL:            http://mcp.test/sse"),
        "{page}"
    );
    assert!(page.contains("\"http://mcp.test/sse\",\n        \"--header\""));
    assert!(!page.contains("not available here"));
}
