//! The HTTP+SSE transport of revision 2024-11-05: `GET /sse` opens an event stream whose
//! first event names the URL to POST messages to; each POST is acknowledged with 202 and
//! its answer travels over the stream.
//!
//! The stream and the POSTs may run in different instances on different machines; they
//! meet only in the shared store (session record and outbox). Nothing about a session
//! lives in component memory.

use super::feed::Feed;
use super::stream::{self, Framing, Opening};
use super::{
    accepts, insufficient_scope, is_json, read_body, refused, rpc_error, store_failure,
    OutboxEmitter, Trace,
};
use crate::auth::Principal;
use crate::config::{ConfigError, Settings};
use crate::host::{Host, KeyValue};
use crate::http::{Request, Response, ResponseSink};
use crate::protocol::exchange::Exchange;
use crate::protocol::jsonrpc::REQUEST_CANCELLED;
use crate::protocol::jsonrpc::{self, Message, Payload, RpcError, INSUFFICIENT_SCOPE};
use crate::protocol::server;
use crate::protocol::Revision;
use crate::store::asks::SessionLink;
use crate::store::outbox::Outbox;
use crate::store::session::{Kind, SessionId, Sessions};
use crate::store::sweep;

/// JSON-RPC code of "no such session" (from the implementation-defined range).
pub const SESSION_NOT_FOUND: i64 = -32001;

/// `GET /sse`: opens a session and streams its outbox until the client goes away.
pub async fn open(
    host: &dyn Host,
    store: &dyn KeyValue,
    feed: &Feed,
    settings: &Settings<'_>,
    principal: &Principal,
    request: &Request<'_>,
    sink: &mut dyn ResponseSink,
) -> Option<Response> {
    if !accepts(request, "text/event-stream") {
        return Some(rpc_error(
            406,
            None,
            &RpcError::invalid_request(
                "GET /sse opens an event stream: Accept must allow text/event-stream",
            ),
        ));
    }
    // The endpoint is a path, so it is right whatever host name the client used; a proxy
    // that mounts this server under a prefix says so with X-Forwarded-Prefix.
    let prefix = match forwarded_prefix(request, settings) {
        Ok(prefix) => prefix,
        Err(e) => return Some(e.response()),
    };
    let sessions = match Sessions::new(host, store, settings) {
        Ok(sessions) => sessions,
        Err(e) => return Some(e.response()),
    };
    // An EventSource reconnecting (after the stream's lifetime ended it) names its session
    // in Last-Event-ID; if that session still lives, the stream picks up where it was.
    let resumed = match request
        .headers
        .get("last-event-id")
        .and_then(stream::resumed_session)
    {
        Some((id, seq)) => match sessions.find(&id, Kind::Sse, &principal.id).await {
            // Delivery goes on after `seq`, which cannot be beyond what was handed out.
            Ok(Some(_)) => match Outbox::new(store, &id).head().await {
                Ok(head) => Some((id, seq.min(head))),
                Err(e) => return Some(store_failure(host, &e)),
            },
            Ok(None) => None,
            Err(e) => return Some(store_failure(host, &e)),
        },
        None => None,
    };
    let created = resumed.is_none();
    let (id, delivered) = match resumed {
        Some(found) => found,
        None => match sessions
            .create(
                settings,
                Kind::Sse,
                &principal.id,
                Revision::V2024_11_05,
                serde_json::Value::Null,
            )
            .await
        {
            Ok((id, _)) => {
                // New sessions are what leaves garbage behind (most clients never end
                // theirs), so their arrival is what paces the sweeping.
                sweep::when_due(host, store, settings).await;
                (id, 0)
            }
            Err(why) => return Some(refused(host, &why, None)),
        },
    };
    let endpoint = format!("{prefix}/sse/message?sessionId={id}");
    let opening = Opening {
        kind: Kind::Sse,
        framing: Framing::Sse,
        first: Some(stream::event(
            Some(&stream::sse_event_id(&id, delivered)),
            "endpoint",
            endpoint.as_bytes(),
        )),
        next: delivered + 1,
    };
    let end = match stream::serve(&sessions, feed, settings, principal, &id, opening, sink).await {
        Ok(end) => end,
        Err(refusal) => {
            if created {
                let _ = sessions.end(&id).await;
            }
            return Some(refusal);
        }
    };
    match end {
        // The client was told to reconnect: the session waits for it a little while
        // (its next stream pushes the expiry back), and POSTs in between are queued.
        stream::End::Lifetime => {
            let grace = host.now_unix_ms() + RESUME_GRACE_MS;
            match sessions.read(&id).await {
                Ok(Some(mut session)) if session.expires_at > grace => {
                    session.expires_at = grace;
                    if sessions.save(&id, &session).await.is_ok() {
                        let _ = sessions.note_expiry(&id, grace).await;
                    }
                }
                Ok(_) => {}
                Err(e) => host.log(&format!("sse: could not read the session: {e}")),
            }
        }
        // A newer stream of the session carries on.
        stream::End::Superseded => {}
        // Otherwise the session lives exactly as long as its stream.
        stream::End::ClientGone | stream::End::SessionGone | stream::End::Store(_) => {
            if let stream::End::Store(e) = &end {
                host.log(&format!("sse: stream ended: {e}"));
            }
            if let Err(e) = sessions.end(&id).await {
                host.log(&format!("sse: could not remove session records: {e}"));
            }
        }
    }
    None
}

/// How long an HTTP+SSE session whose stream reached its lifetime waits for the client to
/// reconnect.
const RESUME_GRACE_MS: u64 = 30_000;

/// `POST /sse/message?sessionId=…`: answers 202 at once, then handles the message and
/// queues the reply for the session's stream. A call the token lacks scopes for is
/// refused with 403 instead, before anything is queued.
#[allow(clippy::too_many_arguments)]
pub async fn post(
    host: &dyn Host,
    store: &dyn KeyValue,
    feed: &Feed,
    settings: &Settings<'_>,
    principal: &Principal,
    origin: &str,
    request: &mut Request<'_>,
    sink: &mut dyn ResponseSink,
    trace: &mut Trace,
) -> Option<Response> {
    let ids = request.query_param("sessionId");
    let Some(text) = ids.first() else {
        return Some(rpc_error(
            400,
            None,
            &RpcError::invalid_request(
                "missing the sessionId query parameter; POST to the URL the stream's endpoint event gave",
            ),
        ));
    };
    let sessions = match Sessions::new(host, store, settings) {
        Ok(sessions) => sessions,
        Err(e) => return Some(e.response()),
    };
    let found = match SessionId::parse(text) {
        None => None,
        Some(id) => match sessions.find(&id, Kind::Sse, &principal.id).await {
            Ok(session) => session.map(|s| (id, s)),
            Err(e) => return Some(store_failure(host, &e)),
        },
    };
    let Some((id, mut session)) = found else {
        return Some(session_not_found("open a new stream with GET /sse"));
    };
    if !is_json(request) {
        return Some(rpc_error(
            415,
            None,
            &RpcError::invalid_request("messages must be sent with Content-Type: application/json"),
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
    let revision = session.revision();
    let messages = match jsonrpc::parse(&body) {
        Err(rejected) | Ok(Payload::Single(Err(rejected))) => {
            return Some(rpc_error(400, rejected.id.as_ref(), &rejected.error))
        }
        Ok(Payload::Single(Ok(message))) => vec![Ok(message)],
        Ok(Payload::Batch(_)) if !revision.allows_batches() => {
            return Some(rpc_error(
                400,
                None,
                &RpcError::invalid_request(format!(
                    "JSON-RPC batches are not allowed in protocol revision {revision}"
                )),
            ))
        }
        Ok(Payload::Batch(items)) => items,
    };
    trace.rpc_method = match messages.as_slice() {
        [Ok(Message::Request(r))] => Some(r.method.clone()),
        [Ok(Message::Notification(n))] => Some(n.method.clone()),
        [_] => None,
        _ => Some("(batch)".into()),
    };
    let link = SessionLink {
        store,
        id: id.clone(),
    };
    let exchange = Exchange::legacy(
        host,
        settings,
        principal,
        revision,
        Some((link.clone(), session.clone())),
    );
    for message in &messages {
        if let Ok(Message::Request(request)) = message {
            match server::authorize(&exchange, request) {
                Ok(()) => {}
                Err(error) if error.code == INSUFFICIENT_SCOPE => {
                    return Some(insufficient_scope(
                        origin,
                        "/sse",
                        Some(&request.id),
                        &error,
                    ))
                }
                Err(error) => return Some(rpc_error(500, Some(&request.id), &error)),
            }
        }
    }
    // Acknowledge before working: the answer goes over the stream. The acknowledgement's
    // (empty) body stays open until the work is done: an instance lives while it has a
    // request in flight (a WASIp3 host may recycle one that has none), and clients do not
    // wait for this body, only for the status.
    let _ = sink.head(202, &crate::http::Headers::new()).await;

    let batched = messages.len() > 1;
    let deadline = crate::protocol::call::request_deadline(settings, host.now_unix_ms());
    let mut replies = Vec::new();
    for message in messages {
        let request = match message {
            Ok(Message::Request(request)) => request,
            Ok(other) => {
                if let Err(e) = server::receive(&link, &other, host.now_unix_ms()).await {
                    host.log(&format!("sse: could not record a client message: {e}"));
                }
                continue;
            }
            Err(rejected) => {
                replies.push(jsonrpc::failure(rejected.id.as_ref(), &rejected.error));
                continue;
            }
        };
        let mut exchange = Exchange::legacy(
            host,
            settings,
            principal,
            revision,
            Some((link.clone(), session.clone())),
        );
        // One budget for the whole POST: a batch's calls share it.
        exchange.deadline = deadline;
        if request.method == "initialize" {
            match server::negotiate(&request.params) {
                Ok(negotiated) => {
                    exchange.revision = negotiated;
                    session.revision = negotiated.as_str().to_string();
                    session.capabilities = request
                        .params
                        .get("capabilities")
                        .cloned()
                        .unwrap_or_default();
                    if let Err(e) = sessions.save(&id, &session).await {
                        host.log(&format!(
                            "sse: could not record the negotiated revision: {e}"
                        ));
                    }
                }
                Err(error) => {
                    replies.push(jsonrpc::failure(Some(&request.id), &error));
                    continue;
                }
            }
        }
        // Progress, log messages and server→client requests go out on the stream as the
        // call runs; the answer follows them.
        let mut emitter = OutboxEmitter {
            outbox: Outbox::new(store, &id),
            started: host.now_unix_ms(),
            feed,
        };
        match server::handle(&exchange, &request, &mut emitter).await {
            Err(error) if error.code == REQUEST_CANCELLED => {}
            Ok(result) => replies.push(jsonrpc::success(&request.id, result)),
            Err(error) => replies.push(jsonrpc::failure(Some(&request.id), &error)),
        }
    }
    let outgoing = match (batched, replies.len()) {
        (_, 0) => return None,
        (false, _) => replies.swap_remove(0),
        (true, _) => serde_json::Value::Array(replies),
    };
    match Outbox::new(store, &id)
        .push(outgoing.to_string().as_bytes(), host.now_unix_ms())
        .await
    {
        Ok(_) => feed.notify(&id),
        Err(e) => host.log(&format!("sse: could not queue a reply: {e}")),
    }
    None
}

/// 404 for an id that is unknown, expired, or another principal's.
pub fn session_not_found(what_to_do: &str) -> Response {
    rpc_error(
        404,
        None,
        &RpcError::new(
            SESSION_NOT_FOUND,
            format!(
                "Session not found: it expired, ended, or was never issued to you; {what_to_do}"
            ),
        ),
    )
}

/// The path prefix a reverse proxy mounted this server under (`X-Forwarded-Prefix`): only
/// when `trust_forwarded_prefix` says a proxy sets it (otherwise any client could steer
/// where its session's POSTs go), and only a plain absolute path. Never one that starts
/// with `//`, which a client would read as another host (a protocol-relative URL).
fn forwarded_prefix(request: &Request<'_>, settings: &Settings<'_>) -> Result<String, ConfigError> {
    if !settings.trust_forwarded_prefix()? {
        return Ok(String::new());
    }
    let Some(prefix) = request.headers.get("x-forwarded-prefix") else {
        return Ok(String::new());
    };
    let prefix = prefix.trim().trim_end_matches('/');
    let plain = prefix.starts_with('/')
        && !prefix.starts_with("//")
        && prefix.len() <= 256
        && !prefix.contains("..")
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b));
    Ok(if plain {
        prefix.to_string()
    } else {
        String::new()
    })
}
