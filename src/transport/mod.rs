//! Transports: how JSON-RPC messages travel over HTTP. A transport never knows what a
//! tool does; it hands messages to the protocol layer and frames what comes back.

use serde_json::Value;

use crate::catalog::Catalog;
use crate::config::Settings;
use crate::host::{Host, Pending, StoreError};
use crate::http::{Request, Response, ResponseSink};
use crate::protocol::call::{Emitter, Stop};
use crate::protocol::jsonrpc::{self, RequestId, RpcError};
use crate::store::outbox;
use crate::store::places::Full;
use crate::store::session::Refused;

pub mod feed;
pub mod listen;
pub mod sse;
pub mod stream;
pub mod streamable;

/// What the log line says about an MCP exchange.
#[derive(Default)]
pub struct Trace {
    pub rpc_method: Option<String>,
    /// A task the request created, to run once its response is complete.
    pub deferred: Option<crate::protocol::exchange::Deferred>,
}

/// The settings every MCP message needs (the body limit, the catalog, the tools' scopes
/// where they are enforced), read before any message is handled so that a wrong one is
/// a 500 naming it rather than a failure halfway through. The rest (page size, stream
/// and session limits, the state secret) is read where it is used.
pub fn message_settings(settings: &Settings<'_>) -> Result<usize, Response> {
    let checked = || -> Result<usize, crate::config::ConfigError> {
        let limit = settings.max_body_bytes()?;
        settings.fixtures()?;
        if settings.auth_mode()?.enforces_scopes() {
            Catalog::tool_scopes(settings)?;
        }
        Ok(limit)
    };
    checked().map_err(|e| e.response())
}

/// A JSON-RPC error as a complete HTTP response.
pub fn rpc_error(status: u16, id: Option<&RequestId>, error: &RpcError) -> Response {
    Response::json(status, &jsonrpc::failure(id, error))
}

/// 503 when the shared store fails: the request may be retried.
pub fn store_failure(host: &dyn Host, error: &StoreError) -> Response {
    host.log(&format!("store failure: {error}"));
    rpc_error(
        503,
        None,
        &RpcError::internal("the session store is unavailable; retry shortly"),
    )
    .with_header("retry-after", "1")
}

/// 429 with `Retry-After` for a principal's full cap, 503 for the server's, with the
/// JSON-RPC error that says what to do.
pub fn full(full: &Full, id: Option<&RequestId>) -> Response {
    let status = if full.server_wide { 503 } else { 429 };
    rpc_error(status, id, &full.error()).with_header("retry-after", full.retry_after_s.to_string())
}

/// Why no session was created, as a response: 429/503 for a full cap, 503 for a store
/// failure, 500 for a configuration error.
pub fn refused(host: &dyn Host, refused: &Refused, id: Option<&RequestId>) -> Response {
    match refused {
        Refused::Full(cap) => full(cap, id),
        Refused::Store(e) => store_failure(host, e),
        Refused::Config(e) => e.response(),
    }
}

/// 403 for a call the token lacks scopes for: the JSON-RPC error says which, and so does
/// `WWW-Authenticate` (RFC 6750 `insufficient_scope`), for clients that step up.
/// `endpoint`: `/mcp` or `/sse`, whose metadata document the challenge names.
pub fn insufficient_scope(
    origin: &str,
    endpoint: &str,
    id: Option<&RequestId>,
    error: &RpcError,
) -> Response {
    let scopes: Vec<&str> = error
        .data
        .as_ref()
        .and_then(|d| d.get("requiredScopes"))
        .and_then(serde_json::Value::as_array)
        .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    rpc_error(403, id, error).with_header(
        "www-authenticate",
        crate::auth::insufficient_scope_header(origin, endpoint, &scopes),
    )
}

/// Whether the `Content-Type` header names `application/json` (parameters such as
/// `charset` allowed).
pub fn is_json(request: &Request<'_>) -> bool {
    request
        .headers
        .get("content-type")
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether the `Accept` header admits `media` ("type/subtype"), honouring wildcards and
/// `q=0` exclusions. No `Accept` header admits everything (RFC 9110 §12.5.1).
pub fn accepts(request: &Request<'_>, media: &str) -> bool {
    let values: Vec<&str> = request.headers.get_all("accept").collect();
    if values.is_empty() {
        return true;
    }
    let (kind, _) = media.split_once('/').unwrap_or((media, ""));
    let covers = |name: &str| {
        name.eq_ignore_ascii_case(media)
            || name == "*/*"
            || name
                .split_once('/')
                .is_some_and(|(k, rest)| rest == "*" && k.eq_ignore_ascii_case(kind))
    };
    values
        .iter()
        .flat_map(|v| v.split(','))
        .filter_map(|range| {
            let mut parts = range.split(';');
            let name = parts.next()?.trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (!refused).then_some(name)
        })
        .any(covers)
}

/// Why a body could not be taken.
pub enum BodyError {
    TooLarge(usize),
    Unreadable,
}

impl BodyError {
    pub fn response(&self) -> Response {
        match self {
            BodyError::TooLarge(limit) => rpc_error(
                413,
                None,
                &RpcError::invalid_request(format!(
                    "the request body is larger than this server's limit of {limit} bytes"
                )),
            ),
            BodyError::Unreadable => rpc_error(
                400,
                None,
                &RpcError::invalid_request("the request body could not be read to its end"),
            ),
        }
    }
}

/// The most bytes one read of a request body asks for.
const READ_CHUNK: usize = 64 * 1024;

/// Reads the body, refusing one over `limit` bytes: by its `Content-Length` before
/// reading anything, or as soon as more than `limit` bytes have arrived.
pub async fn read_body(request: &mut Request<'_>, limit: usize) -> Result<Vec<u8>, BodyError> {
    let declared = request
        .headers
        .get("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    // Reads of at most READ_CHUNK bytes: a read's buffer is allocated at its full size.
    while let Some(chunk) = request
        .body
        .read((limit + 1 - body.len()).min(READ_CHUNK))
        .await
        .map_err(|_| BodyError::Unreadable)?
    {
        body.extend_from_slice(&chunk);
        if body.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        if declared == Some(body.len() as u64) {
            // All the declared bytes are in: no read to learn the body ended (every read
            // is a host round trip). The host checks the length itself.
            break;
        }
    }
    Ok(body)
}

/// A request's response that turns into an event stream the moment the request sends the
/// client something before its result (progress, a log message, a server→client
/// request). Until then nothing is sent, so a quick answer stays a plain JSON response.
pub struct ResponseStream<'s> {
    sink: &'s mut dyn ResponseSink,
    streaming: bool,
}

impl<'s> ResponseStream<'s> {
    pub fn new(sink: &'s mut dyn ResponseSink) -> ResponseStream<'s> {
        ResponseStream {
            sink,
            streaming: false,
        }
    }

    /// Sends the final message: as the stream's last event, or as `response` when no
    /// stream was opened.
    pub async fn finish(self, frame: &Value, response: Response) -> Option<Response> {
        if self.streaming {
            let event = stream::event(None, "message", frame.to_string().as_bytes());
            let _ = self.sink.body(&event).await;
            None
        } else {
            Some(response)
        }
    }

    async fn send_now(&mut self, message: &Value) -> Result<(), Stop> {
        if !self.streaming {
            self.sink
                .head(200, &stream::headers())
                .await
                .map_err(|_| Stop::Cancelled)?;
            self.streaming = true;
        }
        // A write that fails means the client closed the stream: in 2026-07-28 that is
        // the cancellation of the request.
        let event = stream::event(None, "message", message.to_string().as_bytes());
        self.sink.body(&event).await.map_err(|_| Stop::Cancelled)
    }
}

impl Emitter for ResponseStream<'_> {
    fn send<'a>(&'a mut self, message: &'a Value) -> Pending<'a, Result<(), Stop>> {
        Box::pin(self.send_now(message))
    }
}

/// Sends a call's messages through a session's outbox (the HTTP+SSE transport); the time
/// the call started dates a new outbox. The session's stream, when this instance holds
/// it, looks at once.
pub struct OutboxEmitter<'a> {
    pub outbox: outbox::Outbox<'a>,
    pub started: u64,
    pub feed: &'a feed::Feed,
}

impl Emitter for OutboxEmitter<'_> {
    fn send<'a>(&'a mut self, message: &'a Value) -> Pending<'a, Result<(), Stop>> {
        Box::pin(async move {
            self.outbox
                .push(message.to_string().as_bytes(), self.started)
                .await
                .map_err(|e| Stop::Failed(e.to_string()))?;
            self.feed.notify(self.outbox.session());
            Ok(())
        })
    }
}
