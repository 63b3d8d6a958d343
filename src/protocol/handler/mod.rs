//! What each MCP method does, grouped by kind as the specification groups them: tools,
//! resources, prompts, utilities (completion, logging), tasks. [`super::server`]
//! dispatches to them; this module holds what they share: running a tool, prompt or
//! resource with a [`Call`], and paging lists.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::call::{state, Call, Emitter, Rounds, Stop, Target};
use super::exchange::Exchange;
use super::jsonrpc::REQUEST_CANCELLED;
use super::jsonrpc::{kind_of, Request, RpcError};
use super::model::Cacheable;
use super::Revision;
use crate::host::Pending;

pub mod prompts;
pub mod resources;
pub mod tasks;
pub mod tools;
pub mod utilities;

/// `params.arguments` of `method`: an object, or nothing at all (no arguments); `expected`
/// says what it must be in the error.
pub(super) fn arguments<'p>(
    params: &'p Map<String, Value>,
    method: &str,
    expected: &str,
) -> Result<std::borrow::Cow<'p, Map<String, Value>>, RpcError> {
    match params.get("arguments") {
        None | Some(Value::Null) => Ok(std::borrow::Cow::Owned(Map::new())),
        Some(Value::Object(arguments)) => Ok(std::borrow::Cow::Borrowed(arguments)),
        Some(other) => Err(RpcError::invalid_params(format!(
            "{method}: \"arguments\" must be {expected}, got {}",
            kind_of(other)
        ))),
    }
}

pub(super) fn to_value(value: &impl Serialize) -> Value {
    // The model types serialize infallibly (no non-string map keys, no custom errors).
    serde_json::to_value(value).unwrap_or(Value::Null)
}

pub(super) fn string_param<'p>(
    params: &'p Map<String, Value>,
    name: &str,
    method: &str,
) -> Result<&'p str, RpcError> {
    match params.get(name) {
        Some(Value::String(value)) => Ok(value),
        Some(other) => Err(RpcError::invalid_params(format!(
            "{method}: \"{name}\" must be a string, got {}",
            kind_of(other)
        ))),
        None => Err(RpcError::invalid_params(format!(
            "{method} needs params.{name}"
        ))),
    }
}

/// One page of `items`, from the request's cursor; the cursor is the offset of the next
/// page, base64url-encoded with the list's name so a cursor from elsewhere is refused
/// rather than misread.
pub(super) fn page<T>(
    mut items: Vec<T>,
    params: &Map<String, Value>,
    list: &str,
    size: usize,
) -> Result<(Vec<T>, Option<String>), RpcError> {
    let invalid = || {
        RpcError::invalid_params(format!(
            "invalid cursor: pass back a nextCursor from an earlier {list}, unchanged"
        ))
    };
    let start = match params.get("cursor") {
        None | Some(Value::Null) => 0,
        Some(Value::String(cursor)) => URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| {
                text.strip_prefix(&format!("{list}:"))?
                    .parse::<usize>()
                    .ok()
            })
            .filter(|offset| *offset > 0 && *offset < items.len())
            .ok_or_else(invalid)?,
        Some(other) => {
            return Err(RpcError::invalid_params(format!(
                "\"cursor\" must be a string, got {}",
                kind_of(other)
            )))
        }
    };
    let end = (start + size).min(items.len());
    let next = (end < items.len()).then(|| URL_SAFE_NO_PAD.encode(format!("{list}:{end}")));
    items.truncate(end);
    Ok((items.split_off(start), next))
}

pub(super) fn listed(
    key: &str,
    items: Value,
    next: Option<String>,
    cache: Option<Cacheable>,
) -> Value {
    let mut result = json!({ key: items });
    if let Some(next) = next {
        result["nextCursor"] = json!(next);
    }
    if let Some(cache) = cache {
        result["ttlMs"] = json!(cache.ttl_ms);
        result["cacheScope"] = to_value(&cache.cache_scope);
    }
    result
}

/// What running a tool, prompt or resource came to.
pub(super) enum Ran<T> {
    Done(T),
    /// 2026-07-28: the `input_required` result to answer with.
    Input(Value),
    /// Failed in a way the caller should see (a tool's `isError`).
    Failed(String),
    /// Goes on as a task, with what its input rounds gathered.
    Task(Rounds),
}

/// What runs with a [`Call`]: a tool, prompt or resource, its inputs owned by the future.
pub(super) type Body<T> =
    Box<dyn for<'c, 'd> FnOnce(&'c mut Call<'d>) -> Pending<'c, Result<T, Stop>>>;

/// Runs `body` with a [`Call`] for this request; `target` names the tool, prompt or URI
/// (what a `requestState` is bound to).
pub(super) async fn run<T>(
    exchange: &Exchange<'_>,
    request: &Request,
    emitter: &mut dyn Emitter,
    target: &str,
    body: Body<T>,
) -> Result<Ran<T>, RpcError> {
    let target = Target {
        method: request.method.clone(),
        name: target.to_string(),
    };
    let rounds = if exchange.revision.is_modern() {
        state::rounds(
            exchange.host,
            exchange.settings,
            exchange.principal,
            &request.params,
            &target,
        )
        .await?
    } else {
        Rounds::default()
    };
    let mut call = Call::new(exchange.context(), emitter, request, target, rounds);
    let ran = match body(&mut call).await {
        Ok(value) => Ok(Ran::Done(value)),
        Err(Stop::InputRequired) => call.input_required().await.map(Ran::Input),
        Err(Stop::StartTask) => Ok(Ran::Task(call.take_rounds())),
        Err(Stop::Failed(why)) => Ok(Ran::Failed(why)),
        Err(Stop::Error(error)) => Err(error),
        Err(Stop::Cancelled) => {
            if let Some((link, _)) = &exchange.session {
                let _ = link.forget_cancellation(&request.id).await;
            }
            Err(RpcError::new(REQUEST_CANCELLED, "Request cancelled"))
        }
    };
    call.end().await;
    ran
}

/// A tool's output as the `CallToolResult` of `revision` (structured content from
/// 2025-06-18 on).
pub fn tool_result(revision: Revision, output: crate::tools::ToolOutput) -> Value {
    let mut result = json!({"content": output.content, "isError": output.is_error});
    if let Some(structured) = output.structured.filter(|_| revision.has_titles()) {
        result["structuredContent"] = structured;
    }
    result
}
