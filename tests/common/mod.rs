//! Helpers for the native tests: a client that talks to the core through the in-memory
//! host, and validation of every message against the official MCP schemas.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use remote_mcp_server::host::memory::{MemoryHost, MemorySink};
use remote_mcp_server::http::{Headers, Method, Request};
use serde_json::{json, Value};

pub const TOKEN: &str = "test-token-0123456789";
pub const ORIGIN: &str = "http://mcp.test";

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

/// Sends one request with a body from any reader.
pub fn send_reader(
    host: &MemoryHost,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Box<dyn Read>,
) -> Reply {
    let mut all = Headers::new();
    for (name, value) in headers {
        all.append(name, *value);
    }
    let request = Request::new(Method::parse(method), path, all, Some(ORIGIN.into()), body);
    let mut sink = MemorySink::new();
    remote_mcp_server::handle(host, request, &mut sink);
    Reply {
        status: sink.status.expect("the server answered with a status"),
        headers: sink.headers.clone(),
        body: sink.body(),
    }
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

pub fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// POSTs a JSON body to /mcp with a token and the headers every client sends, plus `extra`.
pub fn post(host: &MemoryHost, extra: &[(&str, &str)], body: &Value) -> Reply {
    post_as(host, &bearer(), extra, body)
}

/// [`post`] with the given `Authorization` value.
pub fn post_as(host: &MemoryHost, auth: &str, extra: &[(&str, &str)], body: &Value) -> Reply {
    let mut headers = vec![
        ("authorization", auth),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    headers.extend_from_slice(extra);
    send(host, "POST", "/mcp", &headers, body.to_string().as_bytes())
}

/// A legacy request at `revision` (sent as MCP-Protocol-Version, as clients do after
/// the handshake).
pub fn legacy(host: &MemoryHost, revision: &str, method: &str, params: Value) -> Reply {
    post(
        host,
        &[("mcp-protocol-version", revision)],
        &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
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
pub fn modern_as(host: &MemoryHost, auth: &str, method: &str, mut params: Value) -> Reply {
    params["_meta"] = envelope();
    let name = params
        .get("name")
        .or_else(|| params.get("uri"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut extra = vec![
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", method),
    ];
    if let Some(name) = &name {
        extra.push(("mcp-name", name.as_str()));
    }
    post_as(
        host,
        auth,
        &extra,
        &json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}),
    )
}

/// A host that answers to [`ORIGIN`]'s name (as a deployment would configure).
pub fn host() -> MemoryHost {
    MemoryHost::new().with_variable("allowed_hosts", "mcp.test")
}

// ---------------------------------------------------------------------------------------
// Schema validation

/// Where the official MCP schemas are: `MCP_SCHEMA_DIR`, else `../shared/mcp-schema` beside
/// the project, else what `scripts/fetch-schemas.mjs` downloaded into `target/mcp-schema`.
/// `None` when none of them holds every revision.
fn schema_dir() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let candidates: Vec<PathBuf> = match std::env::var_os("MCP_SCHEMA_DIR") {
            // An explicit folder is the only one looked at: a wrong one must not go unnoticed.
            Some(dir) => vec![PathBuf::from(dir)],
            None => vec![
                root.join("../shared/mcp-schema"),
                root.join("target/mcp-schema"),
            ],
        };
        let complete = |dir: &PathBuf| {
            REVISIONS
                .iter()
                .all(|revision| dir.join(revision).join("schema.json").is_file())
        };
        let found = candidates.iter().find(|dir| complete(dir)).cloned();
        if found.is_none() {
            let looked: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
            let why = format!(
                "the official MCP schemas are not in {} (scripts/test downloads them; or set MCP_SCHEMA_DIR)",
                looked.join(" or ")
            );
            // Under CI nothing may be skipped.
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            // Straight to stderr, past the test harness's capture: one line per test
            // binary, unless scripts/test has said it already.
            if std::env::var_os("MCP_SCHEMA_SKIP_SAID").is_none() {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "schema checks skipped: {why}");
            }
        }
        found
    })
    .clone()
}

/// Every revision the server speaks, oldest first.
pub const REVISIONS: [&str; 5] = [
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];

/// Whether the schema checks run (see [`schema_dir`]).
pub fn schemas_available() -> bool {
    schema_dir().is_some()
}

type Cache = Mutex<HashMap<(String, String), Arc<jsonschema::Validator>>>;

fn validator(revision: &str, definition: &str) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (revision.to_string(), definition.to_string());
    if let Some(v) = cache.lock().unwrap().get(&key) {
        return v.clone();
    }
    let dir = schema_dir().expect("callers check schemas_available() first");
    let path = dir.join(revision).join("schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the official MCP schemas; set MCP_SCHEMA_DIR to their folder)",
            path.display()
        )
    });
    let mut root: Value = serde_json::from_str(&text).expect("schema.json is JSON");
    let defs = if root.get("$defs").is_some() {
        "$defs"
    } else {
        "definitions"
    };
    assert!(
        root[defs].get(definition).is_some(),
        "revision {revision} defines no {definition}"
    );
    root["$ref"] = json!(format!("#/{defs}/{definition}"));
    let compiled = Arc::new(jsonschema::validator_for(&root).expect("the schema compiles"));
    cache.lock().unwrap().insert(key, compiled.clone());
    compiled
}

/// Panics, listing every violation, unless `value` is a valid `definition` of `revision`.
/// Does nothing when the schemas are unavailable outside CI (see [`schema_dir`]).
pub fn assert_schema(revision: &str, definition: &str, value: &Value) {
    if !schemas_available() {
        return;
    }
    let validator = validator(revision, definition);
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not a valid {definition} of MCP {revision}:\n  {}\nmessage: {value}",
        errors.join("\n  ")
    );
}

/// Whether `value` is valid, for tests that check the validation itself.
pub fn is_valid(revision: &str, definition: &str, value: &Value) -> bool {
    validator(revision, definition).is_valid(value)
}

/// Checks a JSON-RPC result response and its result against `result_definition`.
pub fn assert_result(revision: &str, result_definition: &str, response: &Value) {
    let envelope = if revision >= "2025-11-25" {
        "JSONRPCResultResponse"
    } else {
        "JSONRPCResponse"
    };
    assert_schema(revision, envelope, response);
    assert_schema(revision, result_definition, &response["result"]);
}

/// Checks a JSON-RPC error response.
pub fn assert_error(revision: &str, response: &Value) {
    let envelope = if revision >= "2025-11-25" {
        "JSONRPCErrorResponse"
    } else {
        "JSONRPCError"
    };
    assert_schema(revision, envelope, response);
}

pub const LEGACY: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

// ---------------------------------------------------------------------------------------
// Event streams

use remote_mcp_server::host::memory::{ChannelSink, MemoryStore, SinkEvent};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// A server-sent event as a client parses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: Option<String>,
    pub name: String,
    pub data: String,
    /// The `retry` field (reconnection delay), when the event carries one.
    pub retry: Option<String>,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {}", self.data))
    }
}

/// The client end of a streaming response running on another thread.
pub struct Stream {
    pub rx: Receiver<SinkEvent>,
    pub status: u16,
    pub headers: Headers,
    buffer: String,
    pub comments: usize,
    /// Whether the server finished the response (or its instance's thread is gone).
    ended: bool,
    pub thread: Option<std::thread::JoinHandle<()>>,
}

/// What a stream did within a wait.
enum Next {
    Event(Event),
    Silence,
    Ended,
}

/// How long [`Stream::hang_up`] gives the server to notice: many keep-alive intervals of
/// [`instance`]'s hosts.
const HANG_UP_WAIT: Duration = Duration::from_secs(10);

impl Stream {
    /// Runs `GET path` on its own thread, as one instance of the component.
    pub fn open(host: MemoryHost, path: &str, headers: &[(&str, &str)]) -> Stream {
        let (mut sink, rx) = ChannelSink::new();
        let mut all = Headers::new();
        for (name, value) in headers {
            all.append(name, *value);
        }
        let path = path.to_string();
        let thread = std::thread::spawn(move || {
            let request = Request::new(
                Method::Get,
                &path,
                all,
                Some(ORIGIN.into()),
                Box::new(std::io::empty()),
            );
            remote_mcp_server::handle(&host, request, &mut sink);
            use remote_mcp_server::http::ResponseSink;
            sink.finish();
        });
        let (status, headers) = match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(SinkEvent::Head(status, headers)) => (status, headers),
            other => panic!("expected response headers within 5 s, got {other:?}"),
        };
        Stream {
            rx,
            status,
            headers,
            buffer: String::new(),
            comments: 0,
            ended: false,
            thread: Some(thread),
        }
    }

    /// The next event, skipping comments; `None` if none arrives within `timeout` (the
    /// stream is still open). Panics if the response ends instead: a stream that is
    /// meant to end is checked with [`Stream::expect_end`].
    pub fn next_event(&mut self, timeout: Duration) -> Option<Event> {
        match self.poll(timeout) {
            Next::Event(event) => Some(event),
            Next::Silence => None,
            Next::Ended => panic!(
                "the stream ended while an event (or silence) was expected within {timeout:?}"
            ),
        }
    }

    /// Asserts that nothing but comments arrives within `timeout` and the stream stays open.
    pub fn expect_silence(&mut self, timeout: Duration, why: &str) {
        match self.poll(timeout) {
            Next::Silence => {}
            Next::Event(event) => panic!("{why}: expected silence, got {event:?}"),
            Next::Ended => panic!("{why}: expected silence on an open stream, but it ended"),
        }
    }

    /// Asserts that the server finishes the response within `timeout`, sending no further
    /// event before it does (comments are fine).
    pub fn expect_end(&mut self, timeout: Duration, why: &str) {
        match self.poll(timeout) {
            Next::Ended => {}
            Next::Event(event) => panic!("{why}: expected the stream to end, got {event:?}"),
            Next::Silence => panic!("{why}: the stream is still open after {timeout:?}"),
        }
    }

    /// What arrived but is not (yet) a whole event: the body of a response that is not an
    /// event stream, once [`Stream::expect_end`] has seen it end.
    pub fn unparsed(&self) -> &str {
        &self.buffer
    }

    fn poll(&mut self, timeout: Duration) -> Next {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Event {
                    id: None,
                    name: "message".into(),
                    data: String::new(),
                    retry: None,
                };
                let mut data = Vec::new();
                let mut comment = true;
                for line in block.lines() {
                    if line.starts_with(':') || line.is_empty() {
                        continue;
                    }
                    comment = false;
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "id" => event.id = Some(value.to_string()),
                        "event" => event.name = value.to_string(),
                        "data" => data.push(value.to_string()),
                        "retry" => event.retry = Some(value.to_string()),
                        _ => {}
                    }
                }
                if comment {
                    self.comments += 1;
                    continue;
                }
                event.data = data.join("\n");
                return Next::Event(event);
            }
            if self.ended {
                return Next::Ended;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(SinkEvent::Body(bytes)) => {
                    self.buffer.push_str(&String::from_utf8_lossy(&bytes))
                }
                Ok(SinkEvent::Head(..)) => panic!("second response head"),
                // A thread that died without finishing (a panic) ends the stream too.
                Ok(SinkEvent::Finished) | Err(RecvTimeoutError::Disconnected) => self.ended = true,
                Err(RecvTimeoutError::Timeout) => return Next::Silence,
            }
        }
    }

    /// Hangs up like a client closing the connection, and waits for the server side to
    /// notice and finish; panics if it does not within [`HANG_UP_WAIT`].
    pub fn hang_up(mut self) {
        let thread = self.thread.take();
        drop(self);
        if let Some(thread) = thread {
            join_within(
                thread,
                HANG_UP_WAIT,
                "the stream's instance, after the hang-up",
            );
        }
    }
}

/// Joins `thread`, failing the test (instead of hanging it) if it runs past `timeout`.
pub fn join_within<T>(thread: std::thread::JoinHandle<T>, timeout: Duration, what: &str) -> T {
    let deadline = std::time::Instant::now() + timeout;
    while !thread.is_finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} is still running after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    thread.join().unwrap_or_else(|_| panic!("{what} panicked"))
}

/// An instance of the component for the stream tests: real time, short keep-alives, the
/// given shared store.
pub fn instance(store: &Arc<MemoryStore>) -> MemoryHost {
    host()
        .with_store(store.clone())
        .with_real_time()
        .with_variable("keepalive_seconds", "0.05")
}

/// The JSON messages of an event-stream body, in order.
pub fn sse_messages(body: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter_map(|block| {
            let data: Vec<&str> = block
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            (!data.is_empty()).then(|| serde_json::from_str(&data.join("\n")).expect("JSON data"))
        })
        .collect()
}

/// A session on a Streamable HTTP host: initialize with `capabilities`, return the id.
pub fn open_session(host: &MemoryHost, revision: &str, capabilities: Value) -> String {
    let reply = post(
        host,
        &[],
        &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": revision, "capabilities": capabilities,
            "clientInfo": {"name": "t", "version": "1"}
        }}),
    );
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
        &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    )
}

/// The store's keys that hold something live: not the sweeper's bookkeeping (its
/// schedule, the expiry index, the claims that made a place's changes happen once, all of
/// which lapse) and not quota counters at zero (a counter is deleted only
/// once its epoch has passed, since deleting a live one could lose a racing increment).
/// What sessions and streams left behind.
pub fn leftovers(store: &MemoryStore) -> Vec<String> {
    use remote_mcp_server::host::KeyValue;
    store
        .keys()
        .into_iter()
        .filter(|k| k != remote_mcp_server::store::keys::SWEEP_NEXT)
        // Claims lapse with their epoch, after what they guarded: not leftovers yet.
        .filter(|k| !k.starts_with("expiry:") && !k.starts_with("claim:"))
        .filter(|k| {
            !k.starts_with(remote_mcp_server::store::keys::QUOTA)
                || store.counter(k).ok().flatten().unwrap_or(0) != 0
        })
        .collect()
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
