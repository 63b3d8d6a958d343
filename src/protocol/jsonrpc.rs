//! JSON-RPC 2.0 as MCP uses it: requests with a string or integer id (never null),
//! notifications, responses, and — only where a revision allows them — batches.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A request id: a string or an integer, echoed back exactly as received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    Number(serde_json::Number),
    String(String),
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestId::Number(n) => write!(f, "{n}"),
            RequestId::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// A call that expects an answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub id: RequestId,
    pub method: String,
    pub params: Map<String, Value>,
}

/// A one-way message; it never gets a response.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub method: String,
    pub params: Map<String, Value>,
}

/// A message received from the client.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    Request(Request),
    Notification(Notification),
    /// The client's answer to a server→client request.
    Response {
        id: RequestId,
        outcome: Result<Value, RpcError>,
    },
}

/// What a POST body held.
#[derive(Debug, PartialEq)]
pub enum Payload {
    Single(Result<Message, Rejected>),
    /// A JSON array of messages (JSON-RPC 2.0 §6). Each element is judged on its own.
    Batch(Vec<Result<Message, Rejected>>),
}

/// A message that could not be accepted, with the id to answer under when one was readable.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    pub id: Option<RequestId>,
    pub error: RpcError,
}

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// MCP 2026-07-28: HTTP headers disagree with the body, or a required one is missing.
pub const HEADER_MISMATCH: i64 = -32020;
/// MCP 2026-07-28: the request needs a client capability the client did not declare.
pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i64 = -32021;
/// MCP 2026-07-28: the requested protocol version is not one this server speaks.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
/// This server's code (implementation-defined range) for a call the caller's token lacks
/// scopes for; `data.requiredScopes` lists every scope the call needs. Over HTTP it comes with a 403.
pub const INSUFFICIENT_SCOPE: i64 = -32010;

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> RpcError {
        self.data = Some(data);
        self
    }

    pub fn parse_error(detail: impl std::fmt::Display) -> RpcError {
        RpcError::new(
            PARSE_ERROR,
            format!("Parse error: the body is not valid JSON ({detail})"),
        )
    }

    pub fn invalid_request(detail: impl std::fmt::Display) -> RpcError {
        RpcError::new(INVALID_REQUEST, format!("Invalid request: {detail}"))
    }

    pub fn method_not_found(method: &str) -> RpcError {
        RpcError::new(
            METHOD_NOT_FOUND,
            format!("Method not found: this server does not implement {method:?}"),
        )
    }

    pub fn invalid_params(detail: impl std::fmt::Display) -> RpcError {
        RpcError::new(INVALID_PARAMS, format!("Invalid params: {detail}"))
    }

    pub fn internal(detail: impl std::fmt::Display) -> RpcError {
        RpcError::new(INTERNAL_ERROR, format!("Internal error: {detail}"))
    }

    pub fn header_mismatch(detail: impl std::fmt::Display) -> RpcError {
        RpcError::new(HEADER_MISMATCH, format!("Header mismatch: {detail}"))
    }
}

/// This server's code for a request the client cancelled (as in LSP). Transports send
/// nothing for it where they can avoid it.
pub const REQUEST_CANCELLED: i64 = -32800;

/// A configuration error met while answering (it was logged in full when read): the
/// client learns which variable, not its value.
impl From<crate::config::ConfigError> for RpcError {
    fn from(e: crate::config::ConfigError) -> RpcError {
        RpcError::internal(format!(
            "the server's configuration variable `{}` (environment `{}`) is invalid; the \
             server log says why",
            e.variable.name,
            e.variable.env_name()
        ))
        .with_data(serde_json::json!({ CONFIGURATION_VARIABLE: e.variable.name }))
    }
}

/// The `data` field naming the variable of a configuration error, which transports
/// answer with HTTP 500 where they still can.
pub const CONFIGURATION_VARIABLE: &str = "configurationVariable";

impl RpcError {
    /// Whether this error is a configuration error (see [`CONFIGURATION_VARIABLE`]).
    pub fn is_configuration(&self) -> bool {
        self.code == INTERNAL_ERROR
            && self
                .data
                .as_ref()
                .is_some_and(|d| d.get(CONFIGURATION_VARIABLE).is_some())
    }
}

impl Rejected {
    pub fn new(id: Option<RequestId>, error: RpcError) -> Rejected {
        Rejected { id, error }
    }
}

/// Deepest nesting of arrays and objects a message may have.
pub const MAX_DEPTH: usize = 64;
/// Longest string id and method name accepted.
pub const MAX_ID_LEN: usize = 256;
pub const MAX_METHOD_LEN: usize = 256;

/// The deepest nesting of `[`/`{` in JSON text, strings skipped; a linear scan that runs
/// before parsing, so a hostile document cannot exhaust the parser's stack.
fn nesting(body: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &byte in body {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Most messages in one batch (2025-03-26): a batch is answered by one instance, message
/// after message, so its size bounds the work one request can ask for.
pub const MAX_BATCH: usize = 32;

/// Reads a POST body.
///
/// `Err` is the single error to answer with when nothing in the body is usable: bytes
/// that are not JSON (-32700), nesting deeper than [`MAX_DEPTH`], or an empty or
/// oversized batch (-32600).
pub fn parse(body: &[u8]) -> Result<Payload, Rejected> {
    if nesting(body) > MAX_DEPTH {
        return Err(Rejected::new(
            None,
            RpcError::invalid_request(format!(
                "the message nests arrays and objects deeper than {MAX_DEPTH} levels"
            )),
        ));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| Rejected::new(None, RpcError::parse_error(e)))?;
    match value {
        Value::Array(items) if items.is_empty() => Err(Rejected::new(
            None,
            RpcError::invalid_request("an empty batch holds no message"),
        )),
        Value::Array(items) if items.len() > MAX_BATCH => Err(Rejected::new(
            None,
            RpcError::invalid_request(format!(
                "a batch may hold at most {MAX_BATCH} messages; this one holds {}: send the \
                 rest in further requests",
                items.len()
            )),
        )),
        Value::Array(items) => Ok(Payload::Batch(items.into_iter().map(message).collect())),
        value => Ok(Payload::Single(message(value))),
    }
}

/// Classifies one JSON value as a request, notification or response (JSON-RPC 2.0 §4, §5),
/// with MCP's stricter rules: ids are strings or integers, never null; params are objects.
pub fn message(value: Value) -> Result<Message, Rejected> {
    let Value::Object(mut object) = value else {
        return Err(Rejected::new(
            None,
            RpcError::invalid_request(format!(
                "expected a JSON-RPC 2.0 object, got {}",
                kind_of(&value)
            )),
        ));
    };
    // Read the id first so later errors can be answered under it.
    let id = match object.remove("id") {
        None => None,
        Some(raw) => match request_id(raw) {
            Ok(id) => Some(id),
            Err(error) => return Err(Rejected::new(None, error)),
        },
    };
    let reject = |error: RpcError| Rejected::new(id.clone(), error);
    match object.get("jsonrpc") {
        Some(Value::String(v)) if v == "2.0" => {}
        Some(other) => {
            return Err(reject(RpcError::invalid_request(format!(
                "\"jsonrpc\" must be \"2.0\", got {other}"
            ))))
        }
        None => {
            return Err(reject(RpcError::invalid_request(
                "missing \"jsonrpc\": \"2.0\"",
            )))
        }
    }
    match object.remove("method") {
        Some(Value::String(method)) if method.len() > MAX_METHOD_LEN => Err(reject(
            RpcError::invalid_request(format!("\"method\" is longer than {MAX_METHOD_LEN} bytes")),
        )),
        Some(Value::String(method)) => {
            let params = match object.remove("params") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(params)) => params,
                Some(other) => {
                    return Err(reject(RpcError::invalid_params(format!(
                        "\"params\" must be an object, got {}",
                        kind_of(&other)
                    ))))
                }
            };
            Ok(match id {
                Some(id) => Message::Request(Request { id, method, params }),
                None => Message::Notification(Notification { method, params }),
            })
        }
        Some(other) => Err(reject(RpcError::invalid_request(format!(
            "\"method\" must be a string, got {}",
            kind_of(&other)
        )))),
        None => {
            let Some(id) = id.clone() else {
                return Err(Rejected::new(
                    None,
                    RpcError::invalid_request(
                        "a message needs \"method\" (request or notification) or \"id\" with \
                         \"result\"/\"error\" (response)",
                    ),
                ));
            };
            let outcome = match (object.remove("result"), object.remove("error")) {
                (Some(result), None) => Ok(result),
                (None, Some(error)) => {
                    Err(serde_json::from_value::<RpcError>(error).map_err(|e| {
                        reject(RpcError::invalid_request(format!("bad \"error\": {e}")))
                    })?)
                }
                _ => {
                    return Err(reject(RpcError::invalid_request(
                        "a response needs exactly one of \"result\" and \"error\"",
                    )))
                }
            };
            Ok(Message::Response { id, outcome })
        }
    }
}

fn request_id(raw: Value) -> Result<RequestId, RpcError> {
    match raw {
        Value::String(s) if s.len() > MAX_ID_LEN => Err(RpcError::invalid_request(format!(
            "\"id\" is longer than {MAX_ID_LEN} bytes"
        ))),
        Value::String(s) => Ok(RequestId::String(s)),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(RequestId::Number(n)),
        Value::Null => Err(RpcError::invalid_request(
            "\"id\" must not be null in MCP; use a string or an integer",
        )),
        other => Err(RpcError::invalid_request(format!(
            "\"id\" must be a string or an integer, got {other}"
        ))),
    }
}

/// "a string", "an array", … for error messages.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[derive(Serialize)]
struct ErrorFrame<'a> {
    jsonrpc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a RequestId>,
    error: &'a RpcError,
}

#[derive(Serialize)]
struct NotificationFrame<'a, T: Serialize> {
    jsonrpc: &'static str,
    method: &'a str,
    params: T,
}

/// A result response, serialized.
pub fn success(id: &RequestId, result: Value) -> Value {
    let mut frame = serde_json::Map::new();
    frame.insert("jsonrpc".into(), "2.0".into());
    frame.insert("id".into(), serde_json::to_value(id).unwrap_or(Value::Null));
    frame.insert("result".into(), result);
    Value::Object(frame)
}

/// An error response. When the request's id was unreadable the `id` member is left out:
/// the MCP schemas (2025-11-25 on) and the Streamable HTTP prose of every revision describe
/// such errors as having no id, where bare JSON-RPC 2.0 would send `null`.
pub fn failure(id: Option<&RequestId>, error: &RpcError) -> Value {
    serde_json::to_value(ErrorFrame {
        jsonrpc: "2.0",
        id,
        error,
    })
    .unwrap_or(Value::Null)
}

/// A server→client notification, serialized.
pub fn notification(method: &str, params: &impl Serialize) -> Value {
    serde_json::to_value(NotificationFrame {
        jsonrpc: "2.0",
        method,
        params,
    })
    .unwrap_or(Value::Null)
}
