//! `prompts/list` and `prompts/get`.

use serde_json::{json, Map, Value};

use super::{arguments, listed, page, run, string_param, to_value, Body, Ran};
use crate::protocol::call::Emitter;
use crate::protocol::exchange::Exchange;
use crate::protocol::jsonrpc::{kind_of, Request, RpcError};
use crate::protocol::model::{CacheScope, Prompt};

pub fn list_prompts(
    exchange: &Exchange<'_>,
    params: &Map<String, Value>,
) -> Result<Value, RpcError> {
    let all: Vec<_> = exchange.catalog()?.prompts().collect();
    let (prompts, next) = page(all, params, "prompts", exchange.settings.page_size()?)?;
    let titles = exchange.revision.has_titles();
    let shown: Vec<Prompt> = prompts
        .iter()
        .map(|p| Prompt {
            name: p.name,
            title: titles.then_some(p.title),
            description: p.description,
            arguments: p.arguments,
        })
        .collect();
    Ok(listed(
        "prompts",
        to_value(&shown),
        next,
        exchange.cacheable(CacheScope::Public),
    ))
}

pub async fn get_prompt(
    exchange: &Exchange<'_>,
    request: &Request,
    emitter: &mut dyn Emitter,
) -> Result<Value, RpcError> {
    let params = &request.params;
    let name = string_param(params, "name", "prompts/get")?;
    let prompt = exchange.catalog()?.prompt(name).ok_or_else(|| {
        RpcError::invalid_params(format!(
            "unknown prompt {name:?}; prompts/list shows the available ones"
        ))
    })?;
    let arguments = arguments(params, "prompts/get", "an object of strings")?;
    let arguments = arguments.as_ref();
    for (key, value) in arguments {
        if !value.is_string() {
            return Err(RpcError::invalid_params(format!(
                "prompts/get: argument {key:?} must be a string, got {}",
                kind_of(value)
            )));
        }
    }
    for argument in prompt.arguments.iter().filter(|a| a.required) {
        if !arguments.contains_key(argument.name) {
            return Err(RpcError::invalid_params(format!(
                "prompt {name:?} needs the argument {:?} ({})",
                argument.name, argument.description
            )));
        }
    }
    let owned = arguments.clone();
    let body: Body<_> =
        Box::new(move |call| Box::pin(async move { prompt.get.get(call, &owned).await }));
    match run(exchange, request, emitter, name, body).await? {
        Ran::Done(messages) => Ok(json!({"description": prompt.description, "messages": messages})),
        Ran::Input(result) => Ok(result),
        Ran::Failed(why) => Err(RpcError::invalid_params(format!("prompt {name:?}: {why}"))),
        Ran::Task(_) => Err(RpcError::internal("only tool calls become tasks")),
    }
}
