//! Streamable HTTP at `/mcp`: one JSON-RPC message per POST (or, in 2025-03-26, a batch).
//!
//! Which revision a POST speaks is decided here, per request. A request carrying the
//! 2026-07-28 `_meta` envelope (or that revision's `MCP-Protocol-Version` header) is
//! modern: its headers must mirror its body. Everything else is legacy, at the revision
//! the `MCP-Protocol-Version` header names, or 2025-03-26 when it names none.

use serde_json::{Map, Value};

use super::{accepts, is_json, read_body, rpc_error};
use crate::auth::Principal;
use crate::config::Settings;
use crate::http::{Request, Response};
use crate::protocol::jsonrpc::{
    self, Message, Payload, Rejected, RpcError, METHOD_NOT_FOUND, UNSUPPORTED_PROTOCOL_VERSION,
};
use crate::protocol::server::{self, Exchange};
use crate::protocol::{meta, Revision};

/// What the log line says about an MCP exchange.
#[derive(Default)]
pub struct Trace {
    pub rpc_method: Option<String>,
}

/// Handles `POST /mcp` from an authenticated principal.
pub fn post(
    settings: &Settings,
    principal: &Principal,
    request: &mut Request,
    trace: &mut Trace,
) -> Response {
    if !is_json(request) {
        return rpc_error(
            415,
            None,
            &RpcError::invalid_request(
                "POST bodies must be JSON-RPC messages sent with Content-Type: application/json",
            ),
        );
    }
    if !(accepts(request, "application/json") && accepts(request, "text/event-stream")) {
        return rpc_error(
            406,
            None,
            &RpcError::invalid_request(
                "the Accept header must allow both application/json and text/event-stream",
            ),
        );
    }
    let body = match read_body(request, settings.max_body_bytes) {
        Ok(body) => body,
        Err(e) => return e.response(),
    };
    let header_version = request.headers.get("mcp-protocol-version").map(str::trim);
    match jsonrpc::parse(&body) {
        Err(rejected) => rejection(&rejected),
        Ok(Payload::Single(Err(rejected))) => rejection(&rejected),
        Ok(Payload::Single(Ok(message))) => {
            trace.rpc_method = method_of(&message).map(str::to_string);
            single(settings, principal, request, header_version, message)
        }
        Ok(Payload::Batch(items)) => {
            trace.rpc_method = Some("(batch)".into());
            batch(settings, principal, header_version, items)
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

fn rejection(rejected: &Rejected) -> Response {
    rpc_error(400, rejected.id.as_ref(), &rejected.error)
}

fn single(
    settings: &Settings,
    principal: &Principal,
    request: &Request,
    header_version: Option<&str>,
    message: Message,
) -> Response {
    let revision = match revision_of(request, header_version, &message) {
        Ok(revision) => revision,
        Err((status, error)) => {
            let id = match &message {
                Message::Request(r) => Some(&r.id),
                _ => None,
            };
            return rpc_error(status, id, &error);
        }
    };
    match message {
        // Notifications (initialized, cancelled, …) and responses need no answer.
        Message::Notification(_) | Message::Response { .. } => Response::empty(202),
        Message::Request(request) => {
            let exchange = Exchange {
                revision,
                principal,
                settings,
            };
            match server::handle(&exchange, &request) {
                Ok(result) => Response::json(200, &jsonrpc::success(&request.id, &result)),
                Err(error) => {
                    // 2026-07-28: an unimplemented method is a 404 so gateways can tell;
                    // legacy revisions carry every JSON-RPC error in a 200.
                    let status = if revision.is_modern() && error.code == METHOD_NOT_FOUND {
                        404
                    } else {
                        200
                    };
                    rpc_error(status, Some(&request.id), &error)
                }
            }
        }
    }
}

/// The revision one message speaks, or the status and error that refuse it.
fn revision_of(
    request: &Request,
    header_version: Option<&str>,
    message: &Message,
) -> Result<Revision, (u16, RpcError)> {
    if matches!(message, Message::Request(r) if r.method == "initialize") {
        // The handshake negotiates its revision in the body; no header is expected yet.
        return Ok(Revision::DEFAULT_LEGACY);
    }
    let meta_version = match message {
        Message::Request(r) => r.params.get("_meta"),
        Message::Notification(n) => n.params.get("_meta"),
        Message::Response { .. } => None,
    }
    .and_then(|m| m.get(meta::PROTOCOL_VERSION));
    let modern_header = header_version
        .and_then(Revision::parse)
        .is_some_and(Revision::is_modern);
    if meta_version.is_some() || modern_header {
        modern_envelope(request, header_version, meta_version, message)
    } else {
        legacy_revision(header_version).map_err(|error| (400, error))
    }
}

/// The revision of a legacy request, from its `MCP-Protocol-Version` header.
fn legacy_revision(header_version: Option<&str>) -> Result<Revision, RpcError> {
    match header_version {
        None => Ok(Revision::DEFAULT_LEGACY),
        Some(text) => Revision::parse(text).ok_or_else(|| unsupported_version(text)),
    }
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
    request: &Request,
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
        _ => None,
    };
    if let Some(field) = name_field {
        check_mcp_name(request, &rpc.params, field).map_err(|e| (400, e))?;
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

/// `Mcp-Name` must be present and equal `params.<field>`, after decoding the
/// `=?base64?…?=` form clients use for values that are not plain ASCII.
fn check_mcp_name(
    request: &Request,
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
    let decoded = match header
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
                    RpcError::header_mismatch(
                        "Mcp-Name holds =?base64?…?= with invalid Base64 or UTF-8",
                    )
                })?
        }
        None => {
            if header
                .bytes()
                .any(|b| !(0x20..=0x7e).contains(&b) && b != b'\t')
            {
                return Err(RpcError::header_mismatch(
                    "Mcp-Name contains characters outside visible ASCII; Base64-encode it as =?base64?…?=",
                ));
            }
            header.to_string()
        }
    };
    if decoded != body_value {
        return Err(RpcError::header_mismatch(format!(
            "Mcp-Name header value {decoded:?} does not match body value {body_value:?}"
        )));
    }
    Ok(())
}

/// A JSON-RPC batch: only revision 2025-03-26 has them (the default when no
/// `MCP-Protocol-Version` header is sent).
fn batch(
    settings: &Settings,
    principal: &Principal,
    header_version: Option<&str>,
    items: Vec<Result<Message, Rejected>>,
) -> Response {
    let revision = match legacy_revision(header_version) {
        Ok(revision) if revision.allows_batches() => revision,
        Ok(revision) => {
            return rpc_error(
                400,
                None,
                &RpcError::invalid_request(format!(
                    "JSON-RPC batches are not allowed in protocol revision {revision}; \
                     send one message per POST (batches exist only in 2025-03-26)"
                )),
            )
        }
        Err(error) => return rpc_error(400, None, &error),
    };
    let exchange = Exchange {
        revision,
        principal,
        settings,
    };
    let mut replies = Vec::new();
    for item in items {
        match item {
            Err(rejected) => replies.push(jsonrpc::failure(rejected.id.as_ref(), &rejected.error)),
            Ok(Message::Request(request)) if request.method == "initialize" => {
                replies.push(jsonrpc::failure(
                    Some(&request.id),
                    &RpcError::invalid_request("initialize must not be part of a JSON-RPC batch"),
                ))
            }
            Ok(Message::Request(request)) => {
                replies.push(match server::handle(&exchange, &request) {
                    Ok(result) => jsonrpc::success(&request.id, &result),
                    Err(error) => jsonrpc::failure(Some(&request.id), &error),
                })
            }
            Ok(Message::Notification(_)) | Ok(Message::Response { .. }) => {}
        }
    }
    if replies.is_empty() {
        Response::empty(202)
    } else {
        Response::json(200, &Value::Array(replies))
    }
}
