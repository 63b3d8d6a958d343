//! Streamable HTTP at `/mcp`: one JSON-RPC message per POST (or, in 2025-03-26, a batch).
//!
//! Which revision a POST speaks is decided here, per request. A request carrying the
//! 2026-07-28 `_meta` envelope (or that revision's `MCP-Protocol-Version` header) is
//! modern and stateless: its headers must mirror its body. Everything else is legacy.
//! With a shared store, legacy clients get a session from `initialize` (`Mcp-Session-Id`),
//! must present it afterwards, can open a server→client stream with `GET`, and end the
//! session with `DELETE`. Without a store (the portable build) legacy requests are
//! stateless too, at the revision their `MCP-Protocol-Version` header names.
//!
//! A request's answer is JSON, unless the call sends something before its result; then
//! the response becomes an event stream (see [`ResponseStream`]).

use super::feed::Feed;
use serde_json::{Map, Value};

use super::sse::session_not_found;
use super::stream::{self, Framing, Opening};
use super::{
    accepts, insufficient_scope, is_json, listen, read_body, refused, rpc_error, store_failure,
    ResponseStream, Trace,
};
use crate::auth::Principal;
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::host::Host;
use crate::http::{Request, Response, ResponseSink};
use crate::protocol::call::Discard;
use crate::protocol::exchange::{Deferred, Exchange};
use crate::protocol::jsonrpc::{
    self, Message, Payload, Rejected, RpcError, INSUFFICIENT_SCOPE, METHOD_NOT_FOUND,
    MISSING_REQUIRED_CLIENT_CAPABILITY, UNSUPPORTED_PROTOCOL_VERSION,
};
use crate::protocol::server;
use crate::protocol::{meta, Revision};
use crate::store::asks::SessionLink;
use crate::store::outbox::Outbox;
use crate::store::session::{Kind, Session, SessionId, Sessions};
use crate::store::sweep;

/// The methods `/mcp` answers, for `Allow`.
pub fn allowed(host: &dyn Host) -> &'static str {
    if host.store().is_some() {
        "GET, POST, DELETE"
    } else {
        "POST"
    }
}

/// Handles `POST /mcp` from an authenticated principal; `origin` is this server's.
pub async fn post(
    host: &dyn Host,
    settings: &Settings<'_>,
    principal: &Principal,
    origin: &str,
    request: &mut Request<'_>,
    sink: &mut dyn ResponseSink,
    trace: &mut Trace,
) -> Option<Response> {
    if !is_json(request) {
        return Some(rpc_error(
            415,
            None,
            &RpcError::invalid_request(
                "POST bodies must be JSON-RPC messages sent with Content-Type: application/json",
            ),
        ));
    }
    if !(accepts(request, "application/json") && accepts(request, "text/event-stream")) {
        return Some(rpc_error(
            406,
            None,
            &RpcError::invalid_request(
                "the Accept header must allow both application/json and text/event-stream",
            ),
        ));
    }
    let limit = match super::message_settings(settings) {
        Ok(limit) => limit,
        Err(refusal) => return Some(refusal),
    };
    let body = match read_body(request, limit).await {
        Ok(body) => body,
        Err(e) => return Some(e.response()),
    };
    let post = Post {
        host,
        settings,
        principal,
        origin,
        request,
        header_version: request.headers.get("mcp-protocol-version").map(str::trim),
    };
    match jsonrpc::parse(&body) {
        Err(rejected) | Ok(Payload::Single(Err(rejected))) => {
            Some(rpc_error(400, rejected.id.as_ref(), &rejected.error))
        }
        Ok(Payload::Single(Ok(message))) => {
            trace.rpc_method = method_of(&message).map(str::to_string);
            post.single(message, sink, &mut trace.deferred).await
        }
        Ok(Payload::Batch(items)) => {
            trace.rpc_method = Some("(batch)".into());
            Some(post.batch(items).await)
        }
    }
}

fn method_of(message: &Message) -> Option<&str> {
    match message {
        Message::Request(r) => Some(&r.method),
        Message::Notification(n) => Some(&n.method),
        Message::Response { .. } => None,
    }
}

/// How a message will be served.
enum Scope {
    /// 2026-07-28: stateless, envelope already checked.
    Modern(Revision),
    /// `initialize`: negotiates, and opens a session when there is a store.
    Initialize,
    /// Any other legacy message, at this revision, in this session if sessions exist.
    Legacy(Revision, Option<(SessionId, Session)>),
}

struct Post<'a> {
    host: &'a dyn Host,
    settings: &'a Settings<'a>,
    principal: &'a Principal,
    origin: &'a str,
    request: &'a Request<'a>,
    header_version: Option<&'a str>,
}

impl<'a> Post<'a> {
    fn link(&self, session: Option<(SessionId, Session)>) -> Option<(SessionLink<'a>, Session)> {
        let store = self.host.store()?;
        session.map(|(id, record)| (SessionLink { store, id }, record))
    }

    async fn single(
        &self,
        message: Message,
        sink: &mut dyn ResponseSink,
        deferred: &mut Option<Deferred>,
    ) -> Option<Response> {
        let id = match &message {
            Message::Request(r) => Some(r.id.clone()),
            _ => None,
        };
        let scope = match self.scope(&message).await {
            Ok(scope) => scope,
            Err(refusal) => return Some(refusal.response(id.as_ref())),
        };
        let request = match message {
            Message::Request(request) => request,
            // Notifications (initialized, cancelled, …) and responses get no answer; in a
            // session, answers and cancellations are recorded for whoever waits on them.
            other => {
                if let Scope::Legacy(_, session) = scope {
                    if let Some((link, _)) = self.link(session) {
                        if let Err(e) =
                            server::receive(&link, &other, self.host.now_unix_ms()).await
                        {
                            return Some(store_failure(self.host, &e));
                        }
                    }
                }
                return Some(Response::empty(202));
            }
        };
        let exchange = match scope {
            Scope::Initialize => return Some(self.initialize(&request).await),
            Scope::Modern(_) if request.method == "subscriptions/listen" => {
                return listen::run(self.host, self.settings, self.principal, &request, sink).await
            }
            Scope::Modern(revision) => Exchange::modern(
                self.host,
                self.settings,
                self.principal,
                revision,
                &request.params,
            ),
            Scope::Legacy(revision, session) => Exchange::legacy(
                self.host,
                self.settings,
                self.principal,
                revision,
                self.link(session),
            ),
        };
        let mut stream = ResponseStream::new(sink);
        let outcome = server::handle(&exchange, &request, &mut stream).await;
        *deferred = exchange.deferred.take();
        let (frame, response) = match outcome {
            Ok(result) => {
                let frame = jsonrpc::success(&request.id, result);
                let response = Response::json(200, &frame);
                (frame, response)
            }
            Err(error) => {
                let frame = jsonrpc::failure(Some(&request.id), &error);
                let response = if error.code == INSUFFICIENT_SCOPE {
                    insufficient_scope(self.origin, "/mcp", Some(&request.id), &error)
                } else {
                    rpc_error(
                        error_status(exchange.revision, &error),
                        Some(&request.id),
                        &error,
                    )
                };
                (frame, response)
            }
        };
        stream.finish(&frame, response).await
    }

    /// `initialize`: the negotiated revision, and a session when the host has a store.
    async fn initialize(&self, request: &jsonrpc::Request) -> Response {
        let revision = match server::negotiate(&request.params) {
            Ok(revision) => revision,
            Err(error) => return rpc_error(200, Some(&request.id), &error),
        };
        let exchange = Exchange::legacy(self.host, self.settings, self.principal, revision, None);
        let reply = Response::json(200, &server::reply(&exchange, request, &mut Discard).await);
        let Some(store) = self.host.store() else {
            return reply;
        };
        let sessions = match Sessions::new(self.host, store, self.settings) {
            Ok(sessions) => sessions,
            Err(e) => return e.response(),
        };
        let capabilities = request
            .params
            .get("capabilities")
            .cloned()
            .unwrap_or(Value::Null);
        match sessions
            .create(
                self.settings,
                Kind::StreamableHttp,
                &self.principal.id,
                revision,
                capabilities,
            )
            .await
        {
            Ok((id, _)) => {
                // New sessions are what leaves garbage behind (most clients never end
                // theirs), so their arrival is what paces the sweeping.
                sweep::when_due(self.host, store, self.settings).await;
                reply.with_header("mcp-session-id", id.as_str())
            }
            Err(why) => refused(self.host, &why, Some(&request.id)),
        }
    }

    /// Decides how a message is served, or refuses it.
    async fn scope(&self, message: &Message) -> Result<Scope, Refusal> {
        let meta_version = match message {
            Message::Request(r) => r.params.get("_meta"),
            Message::Notification(n) => n.params.get("_meta"),
            Message::Response { .. } => None,
        }
        .and_then(|m| m.get(meta::PROTOCOL_VERSION));
        let modern_header = self
            .header_version
            .and_then(Revision::parse)
            .is_some_and(Revision::is_modern);
        let modern_shaped = meta_version.is_some() || modern_header;
        if matches!(message, Message::Request(r) if r.method == "initialize") && !modern_shaped {
            // The handshake negotiates in its body; no header or session is expected yet.
            // (With the 2026-07-28 envelope it is an unknown method: 404 below.)
            return Ok(Scope::Initialize);
        }
        if modern_shaped {
            let revision = modern_envelope(
                self.request,
                self.settings,
                self.header_version,
                meta_version,
                message,
            )
            .map_err(|(status, error)| Refusal::Rpc(status, error))?;
            if revision.is_modern() {
                return Ok(Scope::Modern(revision));
            }
        }
        let (revision, session) = self.legacy_revision().await?;
        Ok(Scope::Legacy(revision, session))
    }

    /// The revision of a legacy message: its session's, when sessions exist, else the
    /// `MCP-Protocol-Version` header's.
    async fn legacy_revision(&self) -> Result<(Revision, Option<(SessionId, Session)>), Refusal> {
        let header = match self.header_version {
            None => None,
            Some(text) => Some(
                Revision::parse(text)
                    .ok_or_else(|| Refusal::Rpc(400, unsupported_version(text)))?,
            ),
        };
        let Some(store) = self.host.store() else {
            return Ok((header.unwrap_or(Revision::DEFAULT_LEGACY), None));
        };
        let sessions = Sessions::new(self.host, store, self.settings)
            .map_err(|e| Refusal::Store(e.response()))?;
        let (id, session) = find_session(&sessions, self.request, self.principal).await?;
        let negotiated = session.revision();
        // A different but supported revision in the header is tolerated: the spec refuses
        // only invalid or unsupported ones, and clients do send another (the official
        // conformance suite's sends 2025-03-26 in a 2025-11-25 session). The revision
        // the session negotiated governs the answer either way.
        if let Some(header) = header.filter(|h| *h != negotiated) {
            self.host.log(&format!(
                "session negotiated {negotiated} but the request says MCP-Protocol-Version {header}; answering as {negotiated}"
            ));
        }
        Ok((negotiated, Some((id, session))))
    }

    /// A JSON-RPC batch: only revision 2025-03-26 has them. Calls in a batch cannot
    /// stream, so what they would send before their results is dropped.
    async fn batch(&self, items: Vec<Result<Message, Rejected>>) -> Response {
        let (revision, session) = match self.legacy_revision().await {
            Ok((revision, session)) if revision.allows_batches() => (revision, session),
            Ok((revision, _)) => {
                return rpc_error(
                    400,
                    None,
                    &RpcError::invalid_request(format!(
                        "JSON-RPC batches are not allowed in protocol revision {revision}; \
                         send one message per POST (batches exist only in 2025-03-26)"
                    )),
                )
            }
            Err(refusal) => return refusal.response(None),
        };
        let link = self.link(session);
        let exchange = Exchange::legacy(
            self.host,
            self.settings,
            self.principal,
            revision,
            link.clone(),
        );
        let mut replies = Vec::new();
        for item in items {
            match item {
                Err(rejected) => {
                    replies.push(jsonrpc::failure(rejected.id.as_ref(), &rejected.error))
                }
                Ok(Message::Request(request)) if request.method == "initialize" => {
                    replies.push(jsonrpc::failure(
                        Some(&request.id),
                        &RpcError::invalid_request(
                            "initialize must not be part of a JSON-RPC batch",
                        ),
                    ))
                }
                Ok(Message::Request(request)) => {
                    replies.push(server::reply(&exchange, &request, &mut Discard).await)
                }
                Ok(other) => {
                    if let Some((link, _)) = &link {
                        let _ = server::receive(link, &other, self.host.now_unix_ms()).await;
                    }
                }
            }
        }
        if replies.is_empty() {
            Response::empty(202)
        } else {
            Response::json(200, &Value::Array(replies))
        }
    }
}

/// The HTTP status of a JSON-RPC error. 2026-07-28 gives some errors their own status so
/// gateways can tell (an unimplemented method is 404, a missing client capability 400);
/// legacy revisions carry every JSON-RPC error in a 200.
fn error_status(revision: Revision, error: &RpcError) -> u16 {
    if error.is_configuration() {
        return 500;
    }
    match error.code {
        METHOD_NOT_FOUND if revision.is_modern() => 404,
        MISSING_REQUIRED_CLIENT_CAPABILITY if revision.is_modern() => 400,
        _ => 200,
    }
}

/// A request refused before any method ran.
enum Refusal {
    Rpc(u16, RpcError),
    /// Unknown, expired or foreign session: 404, so the client initializes again.
    NoSession,
    /// A store or configuration failure, already answered.
    Store(Response),
}

impl Refusal {
    fn response(self, id: Option<&jsonrpc::RequestId>) -> Response {
        match self {
            Refusal::Rpc(status, error) => rpc_error(status, id, &error),
            Refusal::NoSession => session_not_found("send initialize to start a new session"),
            Refusal::Store(response) => response,
        }
    }
}

/// The session named by `Mcp-Session-Id`, live and owned by `principal`.
async fn find_session(
    sessions: &Sessions<'_>,
    request: &Request<'_>,
    principal: &Principal,
) -> Result<(SessionId, Session), Refusal> {
    let Some(text) = request.headers.get("mcp-session-id") else {
        return Err(Refusal::Rpc(
            400,
            RpcError::invalid_request(
                "this server issues sessions: send the Mcp-Session-Id header that initialize returned",
            ),
        ));
    };
    let Some(id) = SessionId::parse(text.trim()) else {
        return Err(Refusal::NoSession);
    };
    match sessions
        .find(&id, Kind::StreamableHttp, &principal.id)
        .await
    {
        Ok(Some(session)) => Ok((id, session)),
        Ok(None) => Err(Refusal::NoSession),
        Err(e) => Err(Refusal::Store(store_failure(sessions.host, &e))),
    }
}

/// `GET /mcp` with a session: the server→client stream, resumable with `Last-Event-ID`.
pub async fn get(
    host: &dyn Host,
    feed: &Feed,
    settings: &Settings<'_>,
    principal: &Principal,
    request: &Request<'_>,
    sink: &mut dyn ResponseSink,
) -> Option<Response> {
    let Some(store) = host.store() else {
        return Some(not_allowed(host));
    };
    if request.headers.get("mcp-session-id").is_none() {
        // No session, no stream: 405 tells clients this server has none for them.
        return Some(not_allowed(host));
    }
    if !accepts(request, "text/event-stream") {
        return Some(rpc_error(
            406,
            None,
            &RpcError::invalid_request(
                "GET opens an event stream: Accept must allow text/event-stream",
            ),
        ));
    }
    let sessions = match Sessions::new(host, store, settings) {
        Ok(sessions) => sessions,
        Err(e) => return Some(e.response()),
    };
    let (id, _) = match find_session(&sessions, request, principal).await {
        Ok(found) => found,
        Err(refusal) => return Some(refusal.response(None)),
    };
    let outbox = Outbox::new(store, &id);
    let resume_after = match request.headers.get("last-event-id") {
        // An id beyond the outbox's head was never sent (and u64::MAX + 1 would wrap).
        Some(text) => match (text.trim().parse::<u64>(), outbox.head().await) {
            (_, Err(e)) => return Some(store_failure(host, &e)),
            (Ok(seq), Ok(head)) if seq <= head => seq,
            _ => {
                return Some(rpc_error(
                    400,
                    None,
                    &RpcError::invalid_request(
                        "Last-Event-ID must be an event id this server sent (a number)",
                    ),
                ))
            }
        },
        None => match outbox.delivered().await {
            Ok(seq) => seq,
            Err(e) => return Some(store_failure(host, &e)),
        },
    };
    let opening = Opening {
        kind: Kind::StreamableHttp,
        framing: Framing::Streamable,
        first: None,
        next: resume_after + 1,
    };
    match stream::serve(&sessions, feed, settings, principal, &id, opening, sink).await {
        Err(refusal) => return Some(refusal),
        // Its own last bookkeeping write may have landed after the session's records were
        // removed; clearing again leaves nothing behind.
        Ok(stream::End::SessionGone) => {
            if let Err(e) = outbox.clear().await {
                host.log(&format!(
                    "streamable: could not clear an ended session's outbox: {e}"
                ));
            }
        }
        Ok(stream::End::Store(e)) => host.log(&format!("streamable: stream ended: {e}")),
        Ok(stream::End::ClientGone | stream::End::Superseded | stream::End::Lifetime) => {}
    }
    None
}

/// `DELETE /mcp`: ends the session.
pub async fn delete(
    host: &dyn Host,
    settings: &Settings<'_>,
    principal: &Principal,
    request: &Request<'_>,
) -> Response {
    let Some(store) = host.store() else {
        return not_allowed(host);
    };
    let sessions = match Sessions::new(host, store, settings) {
        Ok(sessions) => sessions,
        Err(e) => return e.response(),
    };
    match find_session(&sessions, request, principal).await {
        Ok((id, _)) => match sessions.end(&id).await {
            Ok(()) => Response::empty(204),
            Err(e) => store_failure(host, &e),
        },
        Err(refusal) => refusal.response(None),
    }
}

fn not_allowed(host: &dyn Host) -> Response {
    let allow = allowed(host);
    Response::json(
        405,
        &serde_json::json!({
            "error": "method_not_allowed",
            "error_description": format!(
                "This endpoint accepts {allow}; GET and DELETE need a session (Mcp-Session-Id)."
            ),
        }),
    )
    .with_header("allow", allow)
}

fn unsupported_version(requested: &str) -> RpcError {
    RpcError::new(
        UNSUPPORTED_PROTOCOL_VERSION,
        format!(
            "Unsupported protocol version {requested:?}; this server speaks {}",
            Revision::supported().join(", ")
        ),
    )
    .with_data(serde_json::json!({
        "supported": Revision::supported(),
        "requested": requested,
    }))
}

/// Checks a 2026-07-28 request's envelope: the version in `_meta` and the headers that
/// mirror the body (Streamable HTTP "Server Validation"). Returns the revision to use,
/// which is legacy if the envelope names a legacy revision.
fn modern_envelope(
    request: &Request<'_>,
    settings: &Settings<'_>,
    header_version: Option<&str>,
    meta_version: Option<&Value>,
    message: &Message,
) -> Result<Revision, (u16, RpcError)> {
    let bad_request = |error| Err((400, error));
    let meta_version = match meta_version {
        Some(Value::String(v)) => v.as_str(),
        Some(other) => {
            return bad_request(RpcError::invalid_params(format!(
                "_meta[{:?}] must be a string, got {}",
                meta::PROTOCOL_VERSION,
                jsonrpc::kind_of(other)
            )))
        }
        None => {
            return bad_request(RpcError::invalid_params(format!(
                "a request with MCP-Protocol-Version {} must carry params._meta[{:?}]",
                header_version.unwrap_or_default(),
                meta::PROTOCOL_VERSION
            )))
        }
    };
    match header_version {
        None => {
            return bad_request(RpcError::header_mismatch(format!(
                "the MCP-Protocol-Version header is required and must equal _meta's {meta_version:?}"
            )))
        }
        Some(header) if header != meta_version => {
            return bad_request(RpcError::header_mismatch(format!(
                "MCP-Protocol-Version header value {header:?} does not match body value {meta_version:?}"
            )))
        }
        Some(_) => {}
    }
    let revision =
        Revision::parse(meta_version).ok_or_else(|| (400, unsupported_version(meta_version)))?;
    if !revision.is_modern() {
        return Ok(revision);
    }
    let Message::Request(rpc) = message else {
        // The revision defines no header rules for notification POSTs.
        return Ok(revision);
    };
    match request.headers.get("mcp-method") {
        None => {
            return bad_request(RpcError::header_mismatch(format!(
                "the Mcp-Method header is required and must equal the body's method {:?}",
                rpc.method
            )))
        }
        Some(header) if header != rpc.method => {
            return bad_request(RpcError::header_mismatch(format!(
                "Mcp-Method header value {header:?} does not match body value {:?}",
                rpc.method
            )))
        }
        Some(_) => {}
    }
    let name_field = match rpc.method.as_str() {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        // SEP-2663: tasks requests name their task, so intermediaries can route them.
        "tasks/get" | "tasks/update" | "tasks/cancel" => Some("taskId"),
        _ => None,
    };
    if let Some(field) = name_field {
        check_mcp_name(request, &rpc.params, field).map_err(|e| (400, e))?;
    }
    if rpc.method == "tools/call" {
        check_mcp_params(request, settings, &rpc.params).map_err(|e| (400, e))?;
    }
    let meta = rpc.params.get("_meta").and_then(Value::as_object);
    if !meta.is_some_and(|m| {
        m.get(meta::CLIENT_CAPABILITIES)
            .is_some_and(Value::is_object)
    }) {
        return bad_request(RpcError::invalid_params(format!(
            "params._meta[{:?}] is required (an object; {{}} when the client has none)",
            meta::CLIENT_CAPABILITIES
        )));
    }
    Ok(revision)
}

/// A header value as sent, or decoded from the `=?base64?…?=` form clients use for values
/// that are not plain visible ASCII.
fn header_value(name: &str, header: &str) -> Result<String, RpcError> {
    match header
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    {
        Some(encoded) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    RpcError::header_mismatch(format!(
                        "{name} holds =?base64?…?= with invalid Base64 or UTF-8"
                    ))
                })
        }
        None => {
            if header
                .bytes()
                .any(|b| !(0x20..=0x7e).contains(&b) && b != b'\t')
            {
                return Err(RpcError::header_mismatch(format!(
                    "{name} contains characters outside visible ASCII; Base64-encode it as =?base64?…?="
                )));
            }
            Ok(header.to_string())
        }
    }
}

/// `Mcp-Name` must be present and equal `params.<field>`.
fn check_mcp_name(
    request: &Request<'_>,
    params: &Map<String, Value>,
    field: &str,
) -> Result<(), RpcError> {
    let body_value = params
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(header) = request.headers.get("mcp-name") else {
        return Err(RpcError::header_mismatch(format!(
            "the Mcp-Name header is required and must equal params.{field} {body_value:?}"
        )));
    };
    let decoded = header_value("Mcp-Name", header)?;
    if decoded != body_value {
        return Err(RpcError::header_mismatch(format!(
            "Mcp-Name header value {decoded:?} does not match body value {body_value:?}"
        )));
    }
    Ok(())
}

/// For a tool whose arguments declare `x-mcp-header`, each argument present in the body
/// must be mirrored in its `Mcp-Param-{name}` header (Streamable HTTP "Custom Headers from
/// Tool Parameters"): strings exactly, integers numerically, booleans as true/false.
fn check_mcp_params(
    request: &Request<'_>,
    settings: &Settings<'_>,
    params: &Map<String, Value>,
) -> Result<(), RpcError> {
    let catalog = Catalog::new(settings.fixtures()?);
    let Some(tool) = params
        .get("name")
        .and_then(Value::as_str)
        .and_then(|name| catalog.tool(name))
    else {
        return Ok(());
    };
    let Ok(schema) = crate::tools::schema::parsed(tool.input_schema) else {
        return Ok(());
    };
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Ok(());
    };
    let arguments = params.get("arguments").and_then(Value::as_object);
    for (property, definition) in properties {
        let Some(header_name) = definition.get("x-mcp-header").and_then(Value::as_str) else {
            continue;
        };
        let full = format!("Mcp-Param-{header_name}");
        let body = arguments
            .and_then(|a| a.get(property))
            .filter(|v| !v.is_null());
        let header = request.headers.get(&full);
        let Some(body) = body else {
            continue;
        };
        let Some(header) = header else {
            return Err(RpcError::header_mismatch(format!(
                "the {full} header is required: argument {property:?} is in the body"
            )));
        };
        let decoded = header_value(&full, header)?;
        let matches = match body {
            Value::String(s) => *s == decoded,
            Value::Bool(b) => decoded == b.to_string(),
            Value::Number(n) => decoded
                .trim()
                .parse::<f64>()
                .ok()
                .zip(n.as_f64())
                .is_some_and(|(h, b)| h == b),
            _ => false,
        };
        if !matches {
            return Err(RpcError::header_mismatch(format!(
                "{full} header value {decoded:?} does not match body value {body}"
            )));
        }
    }
    Ok(())
}
