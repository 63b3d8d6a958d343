//! Helpers for the native tests: a client that talks to the core through the in-memory
//! host (this file), validation of every message against the official MCP schemas
//! (`schema`), event streams read as a client reads them (`stream`), and what the shared
//! store holds (`store`). Each helper is defined here once; every test binary declares
//! `mod common;` and uses what it needs.

#![allow(dead_code)] // each test binary uses a different part of this module

mod schema;
mod store;
mod stream;

// What the submodules define is used through `common::*`, unused by some binaries.
#[allow(unused_imports)]
pub use {schema::*, store::*, stream::*};

#[allow(unused_imports)]
pub use remote_mcp_server::host::executor::block_on;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use remote_mcp_server::auth::{Grants, Principal, Secret};
use remote_mcp_server::host::memory::{MemoryHost, MemorySink, MemoryStore};
use remote_mcp_server::http::{BodyReader, Headers, Method, Request};
use remote_mcp_server::web::App;
use serde_json::{json, Value};

pub const TOKEN: &str = "test-token-0123456789";
/// A second principal's token (passthrough: every token is its own principal).
pub const OTHER_TOKEN: &str = "another-token-9876543210";
pub const ORIGIN: &str = "http://mcp.test";
/// The 2026-07-28 revision, the modern one.
pub const MODERN: &str = "2026-07-28";
/// How long a test waits for something that should come at once.
pub const WAIT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------
// Hosts

/// A host that answers to [`ORIGIN`]'s name (as a deployment would configure).
pub fn host() -> MemoryHost {
    MemoryHost::new().with_variable("allowed_hosts", "mcp.test")
}

/// [`host`] with `store` as its shared store: sessions, on the manual clock.
pub fn stateful(store: &Arc<MemoryStore>) -> MemoryHost {
    host().with_store(store.clone())
}

/// An instance of the component for the stream tests: real time, short keep-alives, the
/// given shared store.
pub fn instance(store: &Arc<MemoryStore>) -> MemoryHost {
    stateful(store)
        .with_real_time()
        .with_variable("keepalive_seconds", "0.05")
}

/// [`host`] with the conformance fixtures (the test tools, resources and prompts) on.
pub fn fixtures() -> MemoryHost {
    host().with_variable("conformance_fixtures", "on")
}

/// [`instance`] with the conformance fixtures on.
pub fn fixture_instance(store: &Arc<MemoryStore>) -> MemoryHost {
    instance(store).with_variable("conformance_fixtures", "on")
}

// ---------------------------------------------------------------------------------------
// Requests

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
}

/// Hands `request` to the component (an instance of its own, as WASIp2 gives each
/// request) and collects the whole response.
fn respond(host: &MemoryHost, request: Request<'static>) -> Reply {
    let mut sink = MemorySink::new();
    remote_mcp_server::host::executor::block_on(remote_mcp_server::handle(
        host, request, &mut sink,
    ));
    reply_of(sink)
}

/// Hands `request` to `app`: one instance that serves many requests, as WASIp3 does;
/// several such futures joined run interleaved at their awaits.
pub async fn serve_on(app: &App<'_>, request: Request<'_>) -> Reply {
    let mut sink = MemorySink::new();
    app.handle(request, &mut sink).await;
    reply_of(sink)
}

fn reply_of(sink: MemorySink) -> Reply {
    Reply {
        status: sink.status.expect("the server answered with a status"),
        headers: sink.headers.clone(),
        body: sink.body(),
    }
}

/// Sends one request with a body from any reader.
pub fn send_reader(
    host: &MemoryHost,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Box<dyn BodyReader>,
) -> Reply {
    let mut all = Headers::new();
    for (name, value) in headers {
        all.append(name, *value);
    }
    let request = Request::new(Method::parse(method), path, all, Some(ORIGIN.into()), body);
    respond(host, request)
}

pub fn send(
    host: &MemoryHost,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    send_reader(
        host,
        method,
        path,
        headers,
        Box::new(std::io::Cursor::new(body.to_vec())),
    )
}

/// `POST /mcp` with these headers and JSON body, as a host hands it to the component.
pub fn post_request(headers: Headers, body: &Value) -> Request<'static> {
    Request::new(
        Method::Post,
        "/mcp",
        headers,
        Some(ORIGIN.into()),
        Box::new(std::io::Cursor::new(body.to_string().into_bytes())),
    )
}

/// The `Authorization` value of the holder of `token`.
pub fn bearer_of(token: &str) -> String {
    format!("Bearer {token}")
}

/// The `Authorization` value of [`TOKEN`]'s holder, the tests' usual caller.
pub fn bearer() -> String {
    bearer_of(TOKEN)
}

/// The headers every client sends on `POST /mcp`, with `auth` as `Authorization`, plus
/// `extra`.
pub fn client_headers(auth: &str, extra: &[(&str, &str)]) -> Headers {
    let mut headers = Headers::from([
        ("authorization", auth),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ]);
    for (name, value) in extra {
        headers.append(name, *value);
    }
    headers
}

/// POSTs a JSON body to /mcp with a token and the headers every client sends, plus `extra`.
pub fn post(host: &MemoryHost, extra: &[(&str, &str)], body: &Value) -> Reply {
    post_as(host, &bearer(), extra, body)
}

/// [`post`] with the given `Authorization` value.
pub fn post_as(host: &MemoryHost, auth: &str, extra: &[(&str, &str)], body: &Value) -> Reply {
    respond(host, post_request(client_headers(auth, extra), body))
}

/// A JSON-RPC request.
pub fn rpc(id: impl Into<Value>, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id.into(), "method": method, "params": params})
}

/// A legacy request at `revision` (sent as MCP-Protocol-Version, as clients do after
/// the handshake).
pub fn legacy(host: &MemoryHost, revision: &str, method: &str, params: Value) -> Reply {
    post(
        host,
        &[("mcp-protocol-version", revision)],
        &rpc(1, method, params),
    )
}

/// The 2026-07-28 `_meta` envelope.
pub fn envelope() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    })
}

/// A well-formed 2026-07-28 request: `_meta` in the body, mirrored headers.
pub fn modern(host: &MemoryHost, method: &str, params: Value) -> Reply {
    modern_as(host, &bearer(), method, params)
}

/// [`modern`] with the given `Authorization` value.
pub fn modern_as(host: &MemoryHost, auth: &str, method: &str, params: Value) -> Reply {
    respond(host, modern_request(auth, method, params))
}

/// `tools/call add` (1 + 2) as a 2026-07-28 request with `token` (stateless: no session in
/// the way): what the auth tests send to see whether a token gets in.
pub fn add_as(host: &MemoryHost, token: &str) -> Reply {
    modern_as(
        host,
        &bearer_of(token),
        "tools/call",
        json!({"name": "add", "arguments": {"a": 1, "b": 2}}),
    )
}

/// A 401 `invalid_token` whose challenge names the `/mcp` metadata document and whose
/// description says `words`.
pub fn assert_refused(reply: &Reply, words: &str) {
    assert_eq!(reply.status, 401, "{}", reply.text());
    let challenge = reply.header("www-authenticate").expect("a challenge");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(challenge.contains(
        "resource_metadata=\"http://mcp.test/.well-known/oauth-protected-resource/mcp\""
    ));
    let description = reply.json()["error_description"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        description.contains(words),
        "{description:?} should say {words:?}"
    );
}

/// The request [`modern_as`] sends.
pub fn modern_request(auth: &str, method: &str, mut params: Value) -> Request<'static> {
    params["_meta"] = envelope();
    let name = params
        .get("name")
        .or_else(|| params.get("uri"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut extra = vec![("mcp-protocol-version", MODERN), ("mcp-method", method)];
    if let Some(name) = &name {
        extra.push(("mcp-name", name.as_str()));
    }
    post_request(client_headers(auth, &extra), &rpc(7, method, params))
}

// ---------------------------------------------------------------------------------------
// Sessions

/// An `initialize` request at `revision` declaring `capabilities`.
pub fn initialize_request(revision: &str, capabilities: Value) -> Value {
    rpc(
        7,
        "initialize",
        json!({
            "protocolVersion": revision, "capabilities": capabilities,
            "clientInfo": {"name": "t", "version": "1"}
        }),
    )
}

/// `initialize` at 2025-11-25 as the holder of `token`: a new session, or its refusal.
pub fn initialize_as(host: &MemoryHost, token: &str) -> Reply {
    post_as(
        host,
        &bearer_of(token),
        &[],
        &initialize_request("2025-11-25", json!({})),
    )
}

/// A session on a Streamable HTTP host: initialize with `capabilities`, return the id.
pub fn open_session(host: &MemoryHost, revision: &str, capabilities: Value) -> String {
    let reply = post(host, &[], &initialize_request(revision, capabilities));
    reply
        .header("mcp-session-id")
        .expect("a session")
        .to_string()
}

/// A request in a session.
pub fn in_session(host: &MemoryHost, session: &str, method: &str, params: Value) -> Reply {
    post(
        host,
        &[("mcp-session-id", session)],
        &rpc(1, method, params),
    )
}

/// [`in_session`] naming `revision` in MCP-Protocol-Version, as clients do after the
/// handshake.
pub fn in_session_at(
    host: &MemoryHost,
    session: &str,
    revision: &str,
    method: &str,
    params: Value,
) -> Reply {
    post(
        host,
        &[
            ("mcp-session-id", session),
            ("mcp-protocol-version", revision),
        ],
        &rpc(1, method, params),
    )
}

/// `DELETE /mcp`: ends `session`, with `auth` as `Authorization`.
pub fn end_session(host: &MemoryHost, auth: &str, session: &str) -> Reply {
    send(
        host,
        "DELETE",
        "/mcp",
        &[("authorization", auth), ("mcp-session-id", session)],
        b"",
    )
}

// ---------------------------------------------------------------------------------------
// Races

/// Runs `n` copies of `work` at once, each on its own thread (as its own instance would),
/// released together; their results, in order.
pub fn at_once<T, F>(n: usize, work: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn() -> T + Send + Sync + 'static,
{
    let work = Arc::new(work);
    let start = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (work, start) = (work.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                work()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

// ---------------------------------------------------------------------------------------
// Principals and tools

/// A principal that may do everything, for the tests that drive the core's parts
/// directly.
pub fn principal(id: &str, label: &str) -> Principal {
    Principal {
        id: id.into(),
        label: label.into(),
        authorization: Secret::new(""),
        grants: Grants::All,
    }
}

/// SHA-256 of `text`, hex: how static tokens are configured and passthrough principals
/// are named.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The user-facing tools' names, in `tools/list` order, from the registry: tests that
/// check the list follow it, so adding a tool breaks none of them.
pub fn tool_names() -> Vec<&'static str> {
    remote_mcp_server::tools::REGISTRY
        .iter()
        .map(|t| t.name)
        .collect()
}

/// The tools a caller without `scope` sees, under `tool_scopes = "getToken=scope"`.
pub fn tool_names_without_get_token() -> Vec<&'static str> {
    tool_names()
        .into_iter()
        .filter(|name| *name != "getToken")
        .collect()
}

/// The tool names that start with `prefix`, as completion offers them.
pub fn tool_names_starting_with(prefix: &str) -> Vec<&'static str> {
    tool_names()
        .into_iter()
        .filter(|name| name.starts_with(prefix))
        .collect()
}
