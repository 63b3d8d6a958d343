//! What each MCP method does, for a request whose revision is already settled.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value};

use super::jsonrpc::{kind_of, Request, RpcError, INSUFFICIENT_SCOPE};
use super::meta;
use super::model::{
    CacheScope, Cacheable, CallToolResult, Content, DiscoverResult, Implementation,
    InitializeResult, ListCapability, ListToolsResult, ServerCapabilities, Tool,
};
use super::Revision;
use crate::auth::Principal;
use crate::config::{AuthMode, Settings};
use crate::tools::{self, schema, Invocation};

/// How long clients may cache `server/discover` and list results (2026-07-28 caching).
/// The tool set only changes with a deployment.
pub const LIST_TTL_MS: u64 = 5 * 60 * 1000;

const INSTRUCTIONS: &str = "Tools for exact arithmetic (`add`) and a demo that shows the \
                            caller's bearer token (`getToken`).";

/// One request's circumstances: the revision it speaks and who sent it.
pub struct Exchange<'a> {
    pub revision: Revision,
    pub principal: &'a Principal,
    pub settings: &'a Settings,
}

/// The server's identity as this revision describes it.
pub fn server_info(revision: Revision) -> Implementation {
    Implementation {
        name: crate::SERVER_NAME,
        title: revision.has_titles().then_some(crate::SERVER_TITLE),
        version: crate::SERVER_VERSION,
    }
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        tools: Some(ListCapability {
            list_changed: false,
        }),
    }
}

impl Exchange<'_> {
    /// The scopes `tool` requires (none in passthrough mode).
    fn required_scopes(&self, tool: &str) -> &[String] {
        if self.settings.auth_mode == AuthMode::Passthrough {
            return &[];
        }
        self.settings
            .tool_scopes
            .iter()
            .find(|(name, _)| name == tool)
            .map(|(_, scopes)| scopes.as_slice())
            .unwrap_or(&[])
    }

    fn may_call(&self, tool: &str) -> bool {
        self.principal
            .missing(self.required_scopes(tool))
            .is_empty()
    }

    /// Whether tool lists can differ between callers (and so must not be shared).
    fn lists_depend_on_caller(&self) -> bool {
        self.settings.auth_mode != AuthMode::Passthrough
            && self.settings.tool_scopes.iter().any(|(_, s)| !s.is_empty())
    }
}

/// Refuses a request the principal lacks scopes for, before anything runs or is
/// acknowledged: transports answer it with 403 and `insufficient_scope`.
pub fn authorize(exchange: &Exchange, request: &Request) -> Result<(), RpcError> {
    if request.method != "tools/call" {
        return Ok(());
    }
    let Some(name) = request.params.get("name").and_then(Value::as_str) else {
        return Ok(());
    };
    let missing = exchange.principal.missing(exchange.required_scopes(name));
    if missing.is_empty() {
        return Ok(());
    }
    Err(RpcError::new(
        INSUFFICIENT_SCOPE,
        format!(
            "Insufficient scope: calling {name:?} needs the scope {}, which this access token \
             does not grant",
            missing.join(" ")
        ),
    )
    .with_data(serde_json::json!({ "requiredScopes": missing })))
}

/// Answers a request: the result object, or the JSON-RPC error.
pub fn handle(exchange: &Exchange, request: &Request) -> Result<Value, RpcError> {
    authorize(exchange, request)?;
    let revision = exchange.revision;
    let result = match (request.method.as_str(), revision.is_modern()) {
        ("initialize", false) => to_value(&initialize(&request.params)?),
        ("ping", false) => Value::Object(Map::new()),
        ("server/discover", true) => to_value(&DiscoverResult {
            supported_versions: Revision::supported(),
            capabilities: capabilities(),
            instructions: INSTRUCTIONS,
            cache: Cacheable {
                ttl_ms: LIST_TTL_MS,
                cache_scope: CacheScope::Public,
            },
        }),
        ("tools/list", _) => list_tools(exchange, &request.params)?,
        ("tools/call", _) => to_value(&call_tool(exchange, &request.params)?),
        (method, _) => return Err(RpcError::method_not_found(method)),
    };
    Ok(finish(revision, result))
}

/// The revision the server answers an `initialize` with: the client's, when supported
/// and legacy; otherwise the latest legacy revision (the client may then disconnect).
pub fn negotiate(params: &Map<String, Value>) -> Result<Revision, RpcError> {
    match params.get("protocolVersion") {
        Some(Value::String(requested)) => Ok(Revision::parse(requested)
            .filter(|r| !r.is_modern())
            .unwrap_or(Revision::LATEST_LEGACY)),
        Some(other) => Err(RpcError::invalid_params(format!(
            "initialize: \"protocolVersion\" must be a string, got {}",
            kind_of(other)
        ))),
        None => Err(RpcError::invalid_params(
            "initialize needs params.protocolVersion, the revision the client speaks",
        )),
    }
}

fn initialize(params: &Map<String, Value>) -> Result<InitializeResult, RpcError> {
    let revision = negotiate(params)?;
    Ok(InitializeResult {
        protocol_version: revision.as_str(),
        capabilities: capabilities(),
        server_info: server_info(revision),
        instructions: INSTRUCTIONS,
    })
}

/// Modern results say they are complete and who answered (2026-07-28 `Result`).
fn finish(revision: Revision, mut result: Value) -> Value {
    if revision.is_modern() {
        if let Value::Object(object) = &mut result {
            object.insert("resultType".into(), "complete".into());
            let meta = object
                .entry("_meta")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(meta) = meta {
                meta.insert(meta::SERVER_INFO.into(), to_value(&server_info(revision)));
            }
        }
    }
    result
}

fn to_value(value: &impl Serialize) -> Value {
    // The model types serialize infallibly (no non-string map keys, no custom errors).
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Opaque list cursors: the offset of the next page, base64url-encoded with a tag so a
/// cursor from elsewhere is refused rather than misread.
fn encode_cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("tools:{offset}"))
}

fn decode_cursor(params: &Map<String, Value>, len: usize) -> Result<usize, RpcError> {
    let cursor = match params.get("cursor") {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::String(cursor)) => cursor,
        Some(other) => {
            return Err(RpcError::invalid_params(format!(
                "\"cursor\" must be a string, got {}",
                kind_of(other)
            )))
        }
    };
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("tools:")?.parse::<usize>().ok())
        .filter(|offset| *offset > 0 && *offset < len)
        .ok_or_else(|| {
            RpcError::invalid_params(
                "invalid cursor: pass back a nextCursor from an earlier tools/list, unchanged",
            )
        })
}

fn list_tools(exchange: &Exchange, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let revision = exchange.revision;
    // Only the tools this caller may call (2026-07-28 tools: the set MAY vary by the
    // authorization presented).
    let all: Vec<&tools::ToolDef> = tools::REGISTRY
        .iter()
        .copied()
        .filter(|tool| exchange.may_call(tool.name))
        .collect();
    let start = decode_cursor(params, all.len())?;
    let end = (start + exchange.settings.page_size).min(all.len());
    let mut page = Vec::with_capacity(end - start);
    for tool in &all[start..end] {
        let input_schema = serde_json::from_str(tool.input_schema).map_err(|e| {
            RpcError::internal(format!("the schema of tool {:?} is broken: {e}", tool.name))
        })?;
        page.push(Tool {
            name: tool.name,
            title: revision.has_titles().then_some(tool.title),
            description: tool.description,
            input_schema,
            annotations: revision.has_tool_annotations().then_some(&tool.annotations),
        });
    }
    Ok(to_value(&ListToolsResult {
        tools: page,
        next_cursor: (end < all.len()).then(|| encode_cursor(end)),
        cache: revision.is_modern().then_some(Cacheable {
            ttl_ms: LIST_TTL_MS,
            cache_scope: if exchange.lists_depend_on_caller() {
                CacheScope::Private
            } else {
                CacheScope::Public
            },
        }),
    }))
}

fn call_tool(exchange: &Exchange, params: &Map<String, Value>) -> Result<CallToolResult, RpcError> {
    let name = match params.get("name") {
        Some(Value::String(name)) => name,
        Some(other) => {
            return Err(RpcError::invalid_params(format!(
                "tools/call: \"name\" must be a string, got {}",
                kind_of(other)
            )))
        }
        None => {
            return Err(RpcError::invalid_params(
                "tools/call needs params.name, the tool to call",
            ))
        }
    };
    let tool = tools::find(name).ok_or_else(|| {
        let known: Vec<&str> = tools::REGISTRY.iter().map(|t| t.name).collect();
        RpcError::invalid_params(format!(
            "unknown tool {name:?}; this server has {}",
            known.join(", ")
        ))
    })?;
    let empty = Map::new();
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(arguments)) => arguments,
        Some(other) => {
            return Err(RpcError::invalid_params(format!(
                "tools/call: \"arguments\" must be an object, got {}",
                kind_of(other)
            )))
        }
    };
    let input_schema: Value = serde_json::from_str(tool.input_schema).map_err(|e| {
        RpcError::internal(format!("the schema of tool {:?} is broken: {e}", tool.name))
    })?;
    if let Err(problem) = schema::validate(
        &input_schema,
        &Value::Object(arguments.clone()),
        "arguments",
    ) {
        let message = format!("Invalid arguments for tool {:?}: {problem}", tool.name);
        return if exchange.revision.reports_argument_errors_as_results() {
            Ok(failed(message))
        } else {
            Err(RpcError::invalid_params(message))
        };
    }
    let outcome = (tool.run)(&Invocation {
        arguments,
        principal: exchange.principal,
    });
    Ok(match outcome {
        Ok(content) => CallToolResult {
            content,
            is_error: false,
            structured_content: None,
        },
        Err(message) => failed(message),
    })
}

fn failed(message: String) -> CallToolResult {
    CallToolResult {
        content: vec![Content::text(message)],
        is_error: true,
        structured_content: None,
    }
}

/// A request's answer as a JSON-RPC response frame (result or error).
pub fn reply(exchange: &Exchange, request: &Request) -> Value {
    match handle(exchange, request) {
        Ok(result) => super::jsonrpc::success(&request.id, &result),
        Err(error) => super::jsonrpc::failure(Some(&request.id), &error),
    }
}
