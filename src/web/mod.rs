//! The router: which path and method go where, who must be authenticated, and the one
//! log line every request leaves behind.

use std::cell::{Cell, OnceCell};

use crate::auth::{self, metadata, Policy, Verifier};
use crate::catalog::Catalog;
use crate::config::{ConfigError, Settings};
use crate::host::{Fetched, Host, KeyValue, Outbound, Pending};
use crate::http::{Disconnected, Headers, Method, Request, Response, ResponseSink};
use crate::store::guard::Guarded;
use crate::transport::feed::Feed;
use crate::transport::{self, sse, streamable, Trace as RpcTrace};

mod cors;
mod home;
mod origin;

/// Most header fields a request may carry, and most bytes all of them together.
pub const MAX_HEADERS: usize = 100;
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Serves one request on an app of its own: where an instance serves one request (the
/// WASIp2 builds, the tests). This is the whole server as the host sees it.
pub async fn handle(host: &dyn Host, request: Request<'_>, sink: &mut dyn ResponseSink) {
    App::new(host).await.handle(request, sink).await
}

/// The host as the requests of an instance see it: the same, but with its store under a
/// deadline ([`Guarded`]), so that no store call can hang a request.
struct Shielded<'h> {
    inner: &'h dyn Host,
    store: Option<Guarded<'h>>,
}

impl Host for Shielded<'_> {
    fn variables(&self) -> Pending<'_, Result<Vec<(String, String)>, String>> {
        self.inner.variables()
    }

    fn now_unix_ms(&self) -> u64 {
        self.inner.now_unix_ms()
    }

    fn sleep_ms(&self, millis: u64) -> Pending<'_, ()> {
        self.inner.sleep_ms(millis)
    }

    fn fill_random(&self, buf: &mut [u8]) {
        self.inner.fill_random(buf)
    }

    fn store(&self) -> Option<&dyn KeyValue> {
        self.store.as_ref().map(|store| store as &dyn KeyValue)
    }

    fn log(&self, line: &str) {
        self.inner.log(line)
    }

    fn send<'a>(&'a self, request: Outbound<'a>) -> Pending<'a, Result<Fetched, String>> {
        self.inner.send(request)
    }

    fn idle_instance_grace_ms(&self) -> Option<u64> {
        self.inner.idle_instance_grace_ms()
    }

    fn how_to_get_a_store(&self) -> &'static str {
        self.inner.how_to_get_a_store()
    }
}

/// What an instance keeps for every request it serves: the configuration (variables are
/// fixed for a running app; each is parsed once, when first needed) and the policy with
/// the issuer's keys in memory. Nothing of a request or a principal: that lives in the
/// request's own future, or in the store. The WASIp3 glue builds one per instance, and
/// its requests share it, several at a time, interleaved at their awaits.
pub struct App<'h> {
    host: Shielded<'h>,
    settings: Settings<'h>,
    verifier: OnceCell<Result<Verifier, ConfigError>>,
    /// The event streams this instance holds, and their one poller.
    feed: Feed,
    /// When `/healthz` last found the store answering (host clock, ms).
    store_seen_ok: Cell<Option<u64>>,
}

impl<'h> App<'h> {
    /// Reads the variables (one host call); nothing is checked yet.
    pub async fn new(host: &'h dyn Host) -> App<'h> {
        let settings = Settings::load(host).await;
        // A wrong timeout is reported by every request that reads the variables; the
        // store meanwhile waits as long as the default allows.
        let timeout_ms = settings.store_timeout_ms().unwrap_or(1_000);
        App {
            host: Shielded {
                inner: host,
                store: host
                    .store()
                    .map(|store| Guarded::new(store, host, timeout_ms)),
            },
            settings,
            verifier: OnceCell::new(),
            feed: Feed::new(),
            store_seen_ok: Cell::new(None),
        }
    }

    /// The authentication policy, built from the variables when first needed.
    fn verifier(&self) -> Result<&Verifier, ConfigError> {
        self.verifier
            .get_or_init(|| Policy::load(&self.settings).map(Verifier::new))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Serves one request.
    pub async fn handle(&self, request: Request<'_>, sink: &mut dyn ResponseSink) {
        serve(self, request, sink).await
    }
}

async fn serve(app: &App<'_>, request: Request<'_>, sink: &mut dyn ResponseSink) {
    let _in_flight = app.feed.enter();
    let host: &dyn Host = &app.host;
    let started = host.now_unix_ms();
    let method = request.method.clone();
    let path = request.path.clone();
    let mut sink = StatusRecorder {
        inner: sink,
        status: 0,
        cors: None,
    };
    let mut trace = Trace::default();
    let response = route(app, request, &mut sink, &mut trace).await;
    // A task this request created runs once its client has the answer. Where the host
    // drops an instance soon after its responses are all sent (Spin's WASIp3 instances:
    // `Host::idle_instance_grace_ms`), the response stays open while the task runs, or
    // the task would go with the instance: a JSON answer goes out as one event of an
    // event stream (which a Streamable HTTP client accepts for any POST), ended when the
    // task is.
    let deferred = trace.rpc.deferred.take();
    let hold_open = deferred.is_some() && host.idle_instance_grace_ms().is_some();
    if let Some(response) = response {
        match hold_open && response.status == 200 && is_json(&response) {
            true => send_as_event(response, &mut sink).await,
            false => response.send(&mut sink).await,
        }
    }
    let line = AccessLine {
        auth: trace.auth_mode,
        method: method.as_str(),
        ms: host.now_unix_ms().saturating_sub(started),
        path: &path,
        principal: trace.principal.as_deref(),
        rpc: trace.rpc.rpc_method.as_deref(),
        status: sink.status,
        warning: (trace.auth_mode == Some("none")).then_some(
            "AUTHENTICATION IS OFF (auth_mode none): anyone who reaches this server can use it",
        ),
    };
    host.log(&serde_json::to_string(&line).unwrap_or_default());
    // The task runs now that its client has the handle and the log has the request (see
    // protocol::handler::tasks).
    if let Some(work) = deferred {
        if !hold_open {
            sink.finish().await;
            work(host).await;
        } else {
            // Keep-alive comments on the held-open answer while the task runs, as on any
            // event stream: proxies and clients that time out a silent response keep it.
            let every = app.settings.keepalive_ms().unwrap_or(15_000);
            let mut work = std::pin::pin!(work(host));
            let mut listening = true;
            while crate::host::race(work.as_mut(), host.sleep_ms(every))
                .await
                .is_none()
            {
                if listening {
                    // A client gone: the task runs on all the same.
                    listening = sink.body(transport::stream::KEEPALIVE).await.is_ok();
                }
            }
        }
        sink.finish().await;
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers
        .get("content-type")
        .is_some_and(|t| t.starts_with("application/json"))
}

/// `response` as an event stream whose one event carries its body; left open.
async fn send_as_event(response: Response, sink: &mut dyn ResponseSink) {
    // The headers every event stream sends (proxies told not to buffer it), then the
    // response's own but for its JSON framing.
    let mut headers = crate::transport::stream::headers();
    for (name, value) in response.headers.iter() {
        if !name.eq_ignore_ascii_case("content-type")
            && !name.eq_ignore_ascii_case("content-length")
        {
            headers.append(name, value);
        }
    }
    if sink.head(response.status, &headers).await.is_ok() {
        let frame = crate::transport::stream::event(None, "message", &response.body);
        let _ = sink.body(&frame).await;
    }
}

/// The line every request leaves in the log (fields in alphabetical order, as before this
/// was a struct; written without building a JSON tree first).
#[derive(serde::Serialize)]
struct AccessLine<'a> {
    auth: Option<&'static str>,
    method: &'a str,
    ms: u64,
    path: &'a str,
    principal: Option<&'a str>,
    rpc: Option<&'a str>,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<&'static str>,
}

#[derive(Default)]
struct Trace {
    principal: Option<String>,
    /// The auth mode, so a log reader sees at once when every token is accepted.
    auth_mode: Option<&'static str>,
    rpc: RpcTrace,
}

/// Remembers the status for the log line, and adds the CORS headers of an allowed origin
/// to whatever response the handlers send.
struct StatusRecorder<'a> {
    inner: &'a mut dyn ResponseSink,
    status: u16,
    /// The origin granted CORS access, if any.
    cors: Option<String>,
}

impl StatusRecorder<'_> {
    /// `headers` with the CORS grant added, if there is one.
    fn decorated<'h>(&self, headers: &'h Headers) -> std::borrow::Cow<'h, Headers> {
        match &self.cors {
            None => std::borrow::Cow::Borrowed(headers),
            Some(origin) => {
                let mut headers = headers.clone();
                cors::decorate(&mut headers, origin);
                std::borrow::Cow::Owned(headers)
            }
        }
    }
}

impl ResponseSink for StatusRecorder<'_> {
    fn head<'a>(
        &'a mut self,
        status: u16,
        headers: &'a Headers,
    ) -> Pending<'a, Result<(), Disconnected>> {
        self.status = status;
        Box::pin(async move {
            let headers = self.decorated(headers);
            self.inner.head(status, &headers).await
        })
    }

    fn body<'a>(&'a mut self, chunk: &'a [u8]) -> Pending<'a, Result<(), Disconnected>> {
        self.inner.body(chunk)
    }

    fn finish(&mut self) -> Pending<'_, ()> {
        self.inner.finish()
    }

    fn closed(&mut self) -> Pending<'_, bool> {
        self.inner.closed()
    }

    fn complete<'a>(
        &'a mut self,
        status: u16,
        headers: &'a Headers,
        body: &'a [u8],
    ) -> Pending<'a, ()> {
        self.status = status;
        Box::pin(async move {
            let headers = self.decorated(headers);
            self.inner.complete(status, &headers, body).await
        })
    }
}

/// Answers a request: a complete response, or `None` when the handler wrote to the sink
/// itself (event streams, and acknowledgements sent before the work).
async fn route(
    app: &App<'_>,
    mut request: Request<'_>,
    sink: &mut StatusRecorder<'_>,
    trace: &mut Trace,
) -> Option<Response> {
    let (count, bytes) = request
        .headers
        .iter()
        .fold((0, 0), |(n, b), (name, value)| {
            (n + 1, b + name.len() + value.len())
        });
    if count > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Some(Response::json(
            431,
            &serde_json::json!({
                "error": "request_header_fields_too_large",
                "error_description": format!(
                    "Requests may carry at most {MAX_HEADERS} header fields and {MAX_HEADER_BYTES} bytes of them; this one has {count} and {bytes}."
                ),
            }),
        ));
    }
    let (host, settings): (&dyn Host, _) = (&app.host, &app.settings);
    let path = request.path.clone();
    if path == "/healthz" {
        return Some(match request.method {
            Method::Get | Method::Head => healthz(app).await,
            _ => not_allowed("GET, HEAD"),
        });
    }
    let origin = match settings.public_url() {
        Ok(public) => public
            .map(str::to_string)
            .or_else(|| request.origin.clone())
            .unwrap_or_else(|| "http://localhost".into()),
        Err(e) => return Some(e.response()),
    };
    let answered = |result: Result<Response, ConfigError>| match result {
        Ok(response) => response,
        Err(e) => e.response(),
    };
    let response = match path.as_str() {
        "/" => match request.method {
            Method::Get | Method::Head => answered(app.verifier().map(|verifier| {
                home::page(
                    verifier.policy.mode(),
                    &origin,
                    host.store().is_none().then(|| host.how_to_get_a_store()),
                )
            })),
            _ => not_allowed("GET, HEAD"),
        },
        metadata::WELL_KNOWN
        | "/.well-known/oauth-protected-resource/mcp"
        | "/.well-known/oauth-protected-resource/sse" => {
            // Public metadata: any page may read it (browser clients discover the
            // authorization server through it).
            if request.headers.get("origin").is_some() {
                sink.cors = Some("*".into());
            }
            let resource = path.trim_start_matches(metadata::WELL_KNOWN);
            match request.method {
                Method::Get | Method::Head => answered(metadata_document(app, &origin, resource)),
                Method::Options => cors::preflight(&request, "GET, HEAD, OPTIONS"),
                _ => not_allowed("GET, HEAD, OPTIONS"),
            }
        }
        "/mcp" | "/sse" | "/sse/message" => {
            if let Err(refusal) = origin::check(settings, &request) {
                return Some(refusal);
            }
            sink.cors = cors::granted(settings, &request);
            if request.method == Method::Options {
                let allow = if path == "/sse/message" {
                    "POST, OPTIONS"
                } else {
                    "GET, POST, DELETE, OPTIONS"
                };
                return Some(cors::preflight(&request, allow));
            }
            let verifier = match app.verifier() {
                Ok(verifier) => verifier,
                Err(e) => return Some(e.response()),
            };
            let required = match auth::required_scopes(&verifier.policy, settings) {
                Ok(required) => required,
                Err(e) => return Some(e.response()),
            };
            let authenticated = auth::authenticate(verifier, host, &request)
                .await
                .and_then(|principal| auth::require(&principal, required).map(|()| principal));
            let principal = match authenticated {
                Ok(principal) => principal,
                Err(error) => {
                    if let auth::AuthError::InvalidToken(why) | auth::AuthError::Unavailable(why) =
                        &error
                    {
                        host.log(&format!("refused a token: {why}"));
                    }
                    return Some(auth::challenge(
                        &error,
                        &origin,
                        metadata::endpoint_of(&path),
                        required,
                    ));
                }
            };
            trace.principal = Some(principal.label.clone());
            trace.auth_mode = Some(verifier.policy.mode().as_str());
            let rpc = &mut trace.rpc;
            let streamable_get =
                path == "/mcp" || is_streamable_get(&request, host.store().is_some());
            match (path.as_str(), &request.method) {
                // POST /sse is Streamable HTTP too: mcp-remote's default strategy posts to
                // the URL it was given (often …/sse) and stays on Streamable HTTP if that
                // works, which spares a long-lived stream per client.
                ("/mcp" | "/sse", Method::Post) => {
                    return streamable::post(
                        host,
                        settings,
                        &principal,
                        &origin,
                        &mut request,
                        sink,
                        rpc,
                    )
                    .await
                }
                ("/mcp" | "/sse", Method::Get) if streamable_get => {
                    return streamable::get(host, &app.feed, settings, &principal, &request, sink)
                        .await
                }
                ("/mcp" | "/sse", Method::Delete) => {
                    streamable::delete(host, settings, &principal, &request).await
                }
                ("/mcp", _) => not_allowed(streamable::allowed(host)),
                ("/sse", Method::Get) => match host.store() {
                    Some(store) => {
                        return sse::open(
                            host, store, &app.feed, settings, &principal, &request, sink,
                        )
                        .await
                    }
                    None => no_sse_store(host),
                },
                ("/sse", _) => not_allowed("GET, POST, DELETE"),
                (_, Method::Post) => match host.store() {
                    Some(store) => {
                        return sse::post(
                            host,
                            store,
                            &app.feed,
                            settings,
                            &principal,
                            &origin,
                            &mut request,
                            sink,
                            rpc,
                        )
                        .await
                    }
                    None => no_sse_store(host),
                },
                _ => not_allowed("POST"),
            }
        }
        _ => Response::json(
            404,
            &serde_json::json!({
                "error": "not_found",
                "error_description": format!(
                    "Nothing at {path}. The MCP endpoint is /mcp (Streamable HTTP); / describes this server."
                ),
            }),
        ),
    };
    Some(response)
}

/// A `GET /sse` from a Streamable HTTP client (opening its server→client stream after
/// `initialize` on the same URL) rather than an HTTP+SSE client opening a session. With a
/// store, Streamable HTTP clients have a session and send `Mcp-Session-Id`, which HTTP+SSE
/// never does. `MCP-Protocol-Version` alone does not tell: the SDK's SSE client sends it
/// when its EventSource reconnects. Without a store there are no sessions; there the
/// version header marks a Streamable HTTP client, which gets 405 (no stream) rather than
/// the 501 of the HTTP+SSE transport.
fn is_streamable_get(request: &Request<'_>, has_store: bool) -> bool {
    request.headers.get("mcp-session-id").is_some()
        || (!has_store && request.headers.get("mcp-protocol-version").is_some())
}

/// The protected resource metadata for `resource` ("", "/mcp", "/sse").
fn metadata_document(app: &App<'_>, origin: &str, resource: &str) -> Result<Response, ConfigError> {
    let policy = &app.verifier()?.policy;
    metadata::document(&app.settings, policy, origin, resource)
}

/// How long a store that answered `/healthz` counts as answering, in one instance: under
/// frequent probes an instance reads the store at most once a second. A failure is never
/// remembered: the next probe reads again.
const STORE_SEEN_OK_MS: u64 = 1_000;

/// `/healthz`: 200 when every configuration variable is valid and the shared store, where
/// there is one, answers; 500 naming a wrong variable, 503 when the store fails. No auth,
/// no secrets: load balancers and orchestrators probe it, and a rollout with a wrong
/// variable never becomes ready. The variables are read once per instance (one host call
/// where the host allows); the store with one read, unless it answered this instance less
/// than [`STORE_SEEN_OK_MS`] ago.
async fn healthz(app: &App<'_>) -> Response {
    let (host, settings): (&dyn Host, _) = (&app.host, &app.settings);
    let checked = settings
        .validate()
        .and_then(|()| app.verifier().map(|_| ()))
        .and_then(|()| Catalog::tool_scopes(settings));
    if let Err(e) = checked {
        return e.response();
    }
    let store = match host.store() {
        None => "none",
        Some(_)
            if app
                .store_seen_ok
                .get()
                .is_some_and(|at| host.now_unix_ms().saturating_sub(at) < STORE_SEEN_OK_MS) =>
        {
            "ok"
        }
        Some(store) => match crate::store::probe(store).await {
            Ok(_) => {
                app.store_seen_ok.set(Some(host.now_unix_ms()));
                "ok"
            }
            Err(e) => {
                host.log(&format!("healthz: store unavailable: {e}"));
                "unavailable"
            }
        },
    };
    let status = if store == "unavailable" { 503 } else { 200 };
    let response = Response::json(
        status,
        &serde_json::json!({
            "status": if status == 200 { "ok" } else { "unavailable" },
            "server": crate::SERVER_NAME,
            "version": crate::SERVER_VERSION,
            "store": store,
        }),
    )
    .with_header("cache-control", "no-store");
    match status {
        503 => response.with_header("retry-after", "1"),
        _ => response,
    }
}

/// 405 with the methods the path does allow (RFC 9110 §15.5.6).
fn not_allowed(allow: &str) -> Response {
    Response::json(
        405,
        &serde_json::json!({
            "error": "method_not_allowed",
            "error_description": format!("This path accepts {allow}."),
        }),
    )
    .with_header("allow", allow)
}

fn no_sse_store(host: &dyn Host) -> Response {
    transport::rpc_error(
        501,
        None,
        &crate::protocol::jsonrpc::RpcError::internal(format!(
            "the HTTP+SSE transport (/sse) needs {}; use Streamable HTTP at /mcp instead",
            host.how_to_get_a_store()
        )),
    )
}
