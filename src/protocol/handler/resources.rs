//! `resources/list`, `resources/templates/list`, `resources/read`, and the legacy
//! `resources/subscribe` / `resources/unsubscribe`.

use serde_json::{json, Map, Value};

use super::{listed, page, run, string_param, to_value, Body, Ran};
use crate::protocol::call::Emitter;
use crate::protocol::exchange::Exchange;
use crate::protocol::jsonrpc::{Request, RpcError};
use crate::protocol::model::{CacheScope, Resource, ResourceTemplate};
use crate::protocol::Revision;
use crate::store::events;
use crate::store::places::LIMIT_REACHED;
use crate::store::session::Sessions;

pub fn list_resources(
    exchange: &Exchange<'_>,
    params: &Map<String, Value>,
) -> Result<Value, RpcError> {
    let all: Vec<_> = exchange.catalog()?.resources().collect();
    let (resources, next) = page(all, params, "resources", exchange.settings.page_size()?)?;
    let titles = exchange.revision.has_titles();
    let shown: Vec<Resource> = resources
        .iter()
        .map(|r| Resource {
            uri: r.uri,
            name: r.name,
            title: titles.then_some(r.title),
            description: r.description,
            mime_type: Some(r.mime_type),
        })
        .collect();
    Ok(listed(
        "resources",
        to_value(&shown),
        next,
        exchange.cacheable(CacheScope::Public),
    ))
}

pub fn list_templates(
    exchange: &Exchange<'_>,
    params: &Map<String, Value>,
) -> Result<Value, RpcError> {
    let all: Vec<_> = exchange.catalog()?.templates().collect();
    let (templates, next) = page(all, params, "templates", exchange.settings.page_size()?)?;
    let titles = exchange.revision.has_titles();
    let shown: Vec<ResourceTemplate> = templates
        .iter()
        .map(|t| ResourceTemplate {
            uri_template: t.uri_template,
            name: t.name,
            title: titles.then_some(t.title),
            description: t.description,
            mime_type: Some(t.mime_type),
        })
        .collect();
    Ok(listed(
        "resourceTemplates",
        to_value(&shown),
        next,
        exchange.cacheable(CacheScope::Public),
    ))
}

/// "No such resource": -32602 from 2026-07-28 on, -32002 before (that revision's
/// resources page), with the URI in `data` either way.
fn resource_not_found(revision: Revision, uri: &str) -> RpcError {
    let code = if revision.is_modern() {
        crate::protocol::jsonrpc::INVALID_PARAMS
    } else {
        -32002
    };
    RpcError::new(code, format!("Resource not found: {uri}")).with_data(json!({"uri": uri}))
}

pub async fn read_resource(
    exchange: &Exchange<'_>,
    request: &Request,
    emitter: &mut dyn Emitter,
) -> Result<Value, RpcError> {
    let uri = string_param(&request.params, "uri", "resources/read")?;
    let catalog = exchange.catalog()?;
    let ran = if let Some(resource) = catalog.resources().find(|r| r.uri == uri) {
        let read = resource.read;
        let body: Body<_> = Box::new(move |call| read.read(call));
        run(exchange, request, emitter, uri, body).await?
    } else if let Some((template, vars)) = catalog
        .templates()
        .find_map(|t| crate::resources::match_template(t.uri_template, uri).map(|v| (t, v)))
    {
        let (read, owned) = (template.read, uri.to_string());
        let body: Body<_> =
            Box::new(move |call| Box::pin(async move { read.read(call, &owned, &vars).await }));
        run(exchange, request, emitter, uri, body).await?
    } else {
        return Err(resource_not_found(exchange.revision, uri));
    };
    match ran {
        Ran::Done(contents) => Ok(listed(
            "contents",
            to_value(&contents),
            None,
            exchange.cacheable(CacheScope::Public),
        )),
        Ran::Input(result) => Ok(result),
        Ran::Task(_) => Err(RpcError::internal("only tool calls become tasks")),
        Ran::Failed(why) => Err(resource_not_found(exchange.revision, uri)
            .with_data(json!({"uri": uri, "reason": why}))),
    }
}

/// Resource subscriptions one legacy session may hold (each is kept in the session
/// record, which every request of the session reads).
pub const MAX_SUBSCRIPTIONS: usize = 64;
/// Longest resource URI a session may subscribe to.
pub const MAX_SUBSCRIPTION_URI_BYTES: usize = 2048;

/// `resources/subscribe` / `unsubscribe` (legacy): recorded for the session, whose
/// stream then carries `notifications/resources/updated`.
pub async fn subscribe(
    exchange: &Exchange<'_>,
    params: &Map<String, Value>,
    on: bool,
) -> Result<Value, RpcError> {
    let method = if on {
        "resources/subscribe"
    } else {
        "resources/unsubscribe"
    };
    let Some((link, record)) = &exchange.session else {
        return Err(RpcError::method_not_found(method));
    };
    let uri = string_param(params, "uri", method)?;
    let failed = |e: crate::host::StoreError| {
        RpcError::internal(format!("could not record the subscription: {e}"))
    };
    let held = record.subscriptions.iter().any(|u| u == uri);
    if on && !held {
        if uri.len() > MAX_SUBSCRIPTION_URI_BYTES {
            return Err(RpcError::invalid_params(format!(
                "{method}: the uri is longer than {MAX_SUBSCRIPTION_URI_BYTES} bytes, the most \
                 this server subscribes to"
            )));
        }
        if record.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return Err(RpcError::new(
                LIMIT_REACHED,
                format!(
                    "{method}: this session already holds {MAX_SUBSCRIPTIONS} subscriptions, the \
                     most allowed; unsubscribe from one first"
                ),
            )
            .with_data(json!({"limit": MAX_SUBSCRIPTIONS, "counted": "subscriptions"})));
        }
    }
    let mut record = record.clone();
    record.subscriptions.retain(|u| u != uri);
    if on {
        let now = exchange.host.now_unix_ms();
        events::subscribe(link.store, &link.id, uri, record.expires_at, now)
            .await
            .map_err(failed)?;
        record.subscriptions.push(uri.to_string());
    } else {
        events::unsubscribe(link.store, &link.id, uri)
            .await
            .map_err(failed)?;
    }
    Sessions::new(exchange.host, link.store, exchange.settings)?
        .save(&link.id, &record)
        .await
        .map_err(failed)?;
    Ok(json!({}))
}
