//! `tools/list` and `tools/call`.

use serde_json::{Map, Value};

use super::tasks;
use super::{arguments, listed, page, run, string_param, to_value, tool_result, Body, Ran};
use crate::protocol::call::Emitter;
use crate::protocol::exchange::Exchange;
use crate::protocol::jsonrpc::{Request, RpcError};
use crate::protocol::model::{CacheScope, Tool};
use crate::tools::{schema, TaskSupport};

pub fn list_tools(exchange: &Exchange<'_>, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let revision = exchange.revision;
    // In static mode only the tools this caller may call (2026-07-28 tools: the set MAY
    // vary by the authorization presented); see `lists_only_callable`.
    let only_callable = exchange.lists_only_callable()?;
    let mut all = Vec::new();
    for tool in exchange.catalog()?.tools() {
        if !only_callable || exchange.may_call(tool.name)? {
            all.push(tool);
        }
    }
    let (tools, next) = page(all, params, "tools", exchange.settings.page_size()?)?;
    let broken = |name: &str, e: serde_json::Error| {
        RpcError::internal(format!("the schema of tool {name:?} is broken: {e}"))
    };
    let mut shown = Vec::with_capacity(tools.len());
    for tool in tools {
        shown.push(Tool {
            name: tool.name,
            title: revision.has_titles().then_some(tool.title),
            description: tool.description,
            input_schema: serde_json::from_str(tool.input_schema)
                .map_err(|e| broken(tool.name, e))?,
            output_schema: match tool.output_schema.filter(|_| revision.has_titles()) {
                Some(text) => Some(serde_json::from_str(text).map_err(|e| broken(tool.name, e))?),
                None => None,
            },
            annotations: revision.has_tool_annotations().then_some(&tool.annotations),
        });
    }
    let scope = if only_callable {
        CacheScope::Private
    } else {
        CacheScope::Public
    };
    Ok(listed(
        "tools",
        to_value(&shown),
        next,
        exchange.cacheable(scope),
    ))
}

pub async fn call_tool(
    exchange: &Exchange<'_>,
    request: &Request,
    emitter: &mut dyn Emitter,
) -> Result<Value, RpcError> {
    let params = &request.params;
    let name = string_param(params, "name", "tools/call")?;
    let catalog = exchange.catalog()?;
    let tool = catalog.tool(name).ok_or_else(|| {
        let known: Vec<&str> = catalog.tools().map(|t| t.name).collect();
        RpcError::invalid_params(format!(
            "unknown tool {name:?}; this server has {}",
            known.join(", ")
        ))
    })?;
    if tool.task_support == TaskSupport::Required
        && !(exchange.revision.is_modern()
            && exchange.host.store().is_some()
            && crate::protocol::model::declares_tasks(&exchange.client_capabilities))
    {
        return Err(
            if exchange.revision.is_modern() && exchange.host.store().is_some() {
                tasks::missing_extension(&format!("tool {name:?}"))
            } else if exchange.revision.is_modern() {
                RpcError::invalid_params(format!(
                    "tool {name:?} runs only as a task, and tasks need a host with a shared store"
                ))
            } else {
                RpcError::invalid_params(format!(
                    "tool {name:?} runs only as a task (the 2026-07-28 tasks extension)"
                ))
            },
        );
    }
    let arguments = arguments(params, "tools/call", "an object")?;
    let arguments = arguments.as_ref();
    let input_schema = schema::parsed(tool.input_schema).map_err(|e| {
        RpcError::internal(format!("the schema of tool {:?} is broken: {e}", tool.name))
    })?;
    let prepared =
        schema::validate_root(&input_schema, arguments).and_then(|()| tool.prepare(arguments));
    let body = match prepared {
        Ok(body) => body,
        Err(problem) => {
            let message = format!("Invalid arguments for tool {:?}: {problem}", tool.name);
            return if exchange.revision.reports_argument_errors_as_results() {
                Ok(tool_result(
                    exchange.revision,
                    crate::tools::ToolOutput::error(message),
                ))
            } else {
                Err(RpcError::invalid_params(message))
            };
        }
    };
    let may_become_task = tool.task_support != TaskSupport::Forbidden;
    let body: Body<_> = Box::new(move |call| {
        call.allow_tasks(may_become_task);
        body(call)
    });
    Ok(
        match run(exchange, request, emitter, tool.name, body).await? {
            Ran::Done(output) => tool_result(exchange.revision, output),
            Ran::Input(result) => result,
            Ran::Failed(why) => {
                tool_result(exchange.revision, crate::tools::ToolOutput::error(why))
            }
            Ran::Task(rounds) => {
                let (created, run) = tasks::create(exchange, tool, arguments, rounds).await?;
                *exchange.deferred.borrow_mut() =
                    Some(Box::new(move |host| Box::pin(run.run(host))));
                created
            }
        },
    )
}
