//! What each MCP method does, for a request whose revision is already settled.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::call::{self, Call, Emitter, LogLevel, Rounds, SessionLink, Stop, REQUEST_BUDGET_MS};
use super::jsonrpc::{kind_of, Request, RpcError, INSUFFICIENT_SCOPE};
use super::meta;
use super::model::{
    CacheScope, Cacheable, DiscoverResult, Empty, Implementation, InitializeResult, ListCapability,
    Prompt, Resource, ResourceTemplate, ResourcesCapability, ServerCapabilities, Tool,
};
use super::{tasks, Revision};
use crate::auth::Principal;
use crate::catalog::Catalog;
use crate::config::{AuthMode, Settings};
use crate::host::Host;
use crate::tools::{schema, TaskSupport};
use crate::transport::events;
use crate::transport::quota::LIMIT_REACHED;
use crate::transport::session::{Session, Sessions};

/// How long clients may cache `server/discover` and list results (2026-07-28 caching).
/// What the server offers only changes with a deployment.
pub const LIST_TTL_MS: u64 = 5 * 60 * 1000;

/// This server's code for a request the client cancelled (as in LSP). Transports send
/// nothing for it where they can avoid it.
pub const REQUEST_CANCELLED: i64 = -32800;

const INSTRUCTIONS: &str = "Tools for exact arithmetic (`add`), a streamed countdown \
                            (`countdown`) and a demo that shows the caller's bearer token \
                            (`getToken`).";

/// One request's circumstances: the revision it speaks, who sent it, what the client can
/// do, and the legacy session it belongs to, if any.
pub struct Exchange<'a> {
    pub revision: Revision,
    pub principal: &'a Principal,
    pub settings: &'a Settings<'a>,
    pub host: &'a dyn Host,
    /// The legacy session the request belongs to, with its record.
    pub session: Option<(SessionLink<'a>, Session)>,
    /// Modern: this request's `_meta` clientCapabilities; legacy: what `initialize` declared.
    pub client_capabilities: Value,
    /// Modern: this request's `_meta` logLevel (absent: no log messages at all); legacy:
    /// the session's `logging/setLevel`, else `info`.
    pub log_level: Option<LogLevel>,
    /// When the HTTP request's time budget runs out, for every call it makes (a batch's
    /// calls share it).
    pub deadline: u64,
    /// A task this request created, to run once its response is complete.
    pub deferred: std::cell::RefCell<Option<super::tasks::TaskRun>>,
}

impl<'a> Exchange<'a> {
    /// A 2026-07-28 request, its client described by its own `_meta`.
    pub fn modern(
        host: &'a dyn Host,
        settings: &'a Settings<'a>,
        principal: &'a Principal,
        revision: Revision,
        params: &Map<String, Value>,
    ) -> Exchange<'a> {
        let meta = params.get("_meta");
        Exchange {
            revision,
            principal,
            settings,
            host,
            session: None,
            client_capabilities: meta
                .and_then(|m| m.get(meta::CLIENT_CAPABILITIES))
                .cloned()
                .unwrap_or_else(|| json!({})),
            log_level: meta
                .and_then(|m| m.get(meta::LOG_LEVEL))
                .and_then(Value::as_str)
                .and_then(LogLevel::parse),
            deadline: host.now_unix_ms() + REQUEST_BUDGET_MS,
            deferred: Default::default(),
        }
    }

    /// A legacy request, in a session when the host has a store.
    pub fn legacy(
        host: &'a dyn Host,
        settings: &'a Settings<'a>,
        principal: &'a Principal,
        revision: Revision,
        session: Option<(SessionLink<'a>, Session)>,
    ) -> Exchange<'a> {
        let (client_capabilities, log_level) = match &session {
            Some((_, record)) => (
                record.capabilities.clone(),
                record.log_level.as_deref().and_then(LogLevel::parse),
            ),
            None => (json!({}), None),
        };
        Exchange {
            revision,
            principal,
            settings,
            host,
            session,
            client_capabilities,
            log_level: Some(log_level.unwrap_or(LogLevel::Info)),
            deadline: host.now_unix_ms() + REQUEST_BUDGET_MS,
            deferred: Default::default(),
        }
    }

    fn catalog(&self) -> Result<Catalog, RpcError> {
        Ok(Catalog::new(self.settings.fixtures()?))
    }

    /// The scopes `tool` requires (none in passthrough and none modes).
    fn required_scopes(&self, tool: &str) -> Result<&[String], RpcError> {
        if matches!(
            self.settings.auth_mode()?,
            AuthMode::Passthrough | AuthMode::None
        ) {
            return Ok(&[]);
        }
        Ok(self
            .settings
            .tool_scopes()?
            .iter()
            .find(|(name, _)| name == tool)
            .map(|(_, scopes)| scopes.as_slice())
            .unwrap_or(&[]))
    }

    fn may_call(&self, tool: &str) -> Result<bool, RpcError> {
        Ok(self
            .principal
            .missing(self.required_scopes(tool)?)
            .is_empty())
    }

    /// Whether tool lists can differ between callers (and so must not be shared).
    fn lists_depend_on_caller(&self) -> Result<bool, RpcError> {
        Ok(!matches!(
            self.settings.auth_mode()?,
            AuthMode::Passthrough | AuthMode::None
        ) && self
            .settings
            .tool_scopes()?
            .iter()
            .any(|(_, s)| !s.is_empty()))
    }

    /// Caching hints for a list or read result of a modern request.
    fn cacheable(&self, scope: CacheScope) -> Option<Cacheable> {
        self.revision.is_modern().then_some(Cacheable {
            ttl_ms: LIST_TTL_MS,
            cache_scope: scope,
        })
    }
}

/// The server's identity as this revision describes it.
pub fn server_info(revision: Revision) -> Implementation {
    Implementation {
        name: crate::SERVER_NAME,
        title: revision.has_titles().then_some(crate::SERVER_TITLE),
        version: crate::SERVER_VERSION,
    }
}

/// What this server offers, as this request's revision and host allow.
pub fn capabilities(exchange: &Exchange) -> Result<ServerCapabilities, RpcError> {
    let shared = exchange.host.store().is_some();
    // List changes happen only through the conformance fixtures' triggers, and reach
    // clients only through 2026-07-28 subscriptions on a shared store.
    let announces = exchange.revision.is_modern() && shared && exchange.settings.fixtures()?;
    Ok(ServerCapabilities {
        tools: Some(ListCapability {
            list_changed: announces,
        }),
        resources: Some(ResourcesCapability {
            subscribe: shared,
            list_changed: false,
        }),
        prompts: Some(ListCapability {
            list_changed: announces,
        }),
        completions: (exchange.revision >= Revision::V2025_03_26).then_some(Empty {}),
        logging: Some(Empty {}),
        // Tasks live in the shared store; the extension exists from 2026-07-28 on.
        extensions: (exchange.revision.is_modern() && shared).then(|| {
            let mut extensions = Map::new();
            extensions.insert(tasks::EXTENSION.into(), json!({}));
            extensions
        }),
    })
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
    let missing = exchange.principal.missing(exchange.required_scopes(name)?);
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
    .with_data(json!({ "requiredScopes": missing })))
}

/// Answers a request: the result object, or the JSON-RPC error. `emitter` receives what
/// the request sends the client while it runs (progress, log messages, server→client
/// requests).
pub fn handle(
    exchange: &Exchange,
    request: &Request,
    emitter: &mut dyn Emitter,
) -> Result<Value, RpcError> {
    authorize(exchange, request)?;
    let params = &request.params;
    let result = match (request.method.as_str(), exchange.revision.is_modern()) {
        ("initialize", false) => to_value(&initialize(exchange, params)?),
        ("ping", false) => json!({}),
        ("logging/setLevel", false) => set_level(exchange, params)?,
        ("resources/subscribe", false) => subscribe(exchange, params, true)?,
        ("resources/unsubscribe", false) => subscribe(exchange, params, false)?,
        ("server/discover", true) => to_value(&DiscoverResult {
            supported_versions: Revision::supported(),
            capabilities: capabilities(exchange)?,
            instructions: INSTRUCTIONS,
            cache: Cacheable {
                ttl_ms: LIST_TTL_MS,
                cache_scope: CacheScope::Public,
            },
        }),
        ("tools/list", _) => list_tools(exchange, params)?,
        ("tools/call", _) => call_tool(exchange, request, emitter)?,
        ("resources/list", _) => list_resources(exchange, params)?,
        ("resources/templates/list", _) => list_templates(exchange, params)?,
        ("resources/read", _) => read_resource(exchange, request, emitter)?,
        ("prompts/list", _) => list_prompts(exchange, params)?,
        ("prompts/get", _) => get_prompt(exchange, request, emitter)?,
        ("completion/complete", _) => complete(exchange, params)?,
        ("tasks/get", true) => tasks::get(exchange, params)?,
        ("tasks/update", true) => tasks::update(exchange, params)?,
        ("tasks/cancel", true) => tasks::cancel(exchange, params)?,
        (method, _) => return Err(RpcError::method_not_found(method)),
    };
    Ok(finish(exchange.revision, result))
}

/// A request's answer as a JSON-RPC response frame (result or error).
pub fn reply(exchange: &Exchange, request: &Request, emitter: &mut dyn Emitter) -> Value {
    match handle(exchange, request, emitter) {
        Ok(result) => super::jsonrpc::success(&request.id, &result),
        Err(error) => super::jsonrpc::failure(Some(&request.id), &error),
    }
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

fn initialize(
    exchange: &Exchange,
    params: &Map<String, Value>,
) -> Result<InitializeResult, RpcError> {
    let revision = negotiate(params)?;
    let negotiated = Exchange {
        revision,
        ..Exchange::legacy(
            exchange.host,
            exchange.settings,
            exchange.principal,
            revision,
            None,
        )
    };
    Ok(InitializeResult {
        protocol_version: revision.as_str(),
        capabilities: capabilities(&negotiated)?,
        server_info: server_info(revision),
        instructions: INSTRUCTIONS,
    })
}

/// Modern results say they are complete (unless they already say otherwise) and who
/// answered (2026-07-28 `Result`).
pub fn finish(revision: Revision, mut result: Value) -> Value {
    if revision.is_modern() {
        if let Value::Object(object) = &mut result {
            object
                .entry("resultType")
                .or_insert_with(|| "complete".into());
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

fn string_param<'p>(
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

// --- pagination -----------------------------------------------------------------------

/// One page of `items`, from the request's cursor; the cursor is the offset of the next
/// page, base64url-encoded with the list's name so a cursor from elsewhere is refused
/// rather than misread.
fn page<T>(
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

fn listed(key: &str, items: Value, next: Option<String>, cache: Option<Cacheable>) -> Value {
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

// --- tools --------------------------------------------------------------------------------

fn list_tools(exchange: &Exchange, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let revision = exchange.revision;
    // Only the tools this caller may call (2026-07-28 tools: the set MAY vary by the
    // authorization presented).
    let mut all = Vec::new();
    for tool in exchange.catalog()?.tools() {
        if exchange.may_call(tool.name)? {
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
    let scope = if exchange.lists_depend_on_caller()? {
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

/// What running a tool, prompt or resource came to.
enum Ran<T> {
    Done(T),
    /// 2026-07-28: the `input_required` result to answer with.
    Input(Value),
    /// Failed in a way the caller should see (a tool's `isError`).
    Failed(String),
    /// Goes on as a task, with what its input rounds gathered.
    Task(Rounds),
}

/// Runs `body` with a [`Call`] for this request; `target` names the tool, prompt or URI
/// (what a `requestState` is bound to).
fn run<T>(
    exchange: &Exchange,
    request: &Request,
    emitter: &mut dyn Emitter,
    target: &str,
    body: impl FnOnce(&mut Call) -> Result<T, Stop>,
) -> Result<Ran<T>, RpcError> {
    let rounds = if exchange.revision.is_modern() {
        call::rounds(
            exchange.host,
            exchange.settings,
            exchange.principal,
            &request.params,
            &request.method,
            target,
        )?
    } else {
        Rounds::default()
    };
    let session = exchange.session.as_ref().map(|(link, _)| link.clone());
    let mut call = Call::new(
        exchange.principal,
        exchange.host,
        exchange.settings,
        exchange.revision,
        exchange.client_capabilities.clone(),
        exchange.log_level,
        emitter,
        session,
        request,
        target,
        rounds,
        exchange.deadline,
    );
    match body(&mut call) {
        Ok(value) => Ok(Ran::Done(value)),
        Err(Stop::InputRequired) => Ok(Ran::Input(call.input_required()?)),
        Err(Stop::StartTask) => Ok(Ran::Task(call.take_rounds())),
        Err(Stop::Failed(why)) => Ok(Ran::Failed(why)),
        Err(Stop::Error(error)) => Err(error),
        Err(Stop::Cancelled) => {
            if let Some((link, _)) = &exchange.session {
                let _ = link.store.delete(&link.cancel_key(&request.id));
            }
            Err(RpcError::new(REQUEST_CANCELLED, "Request cancelled"))
        }
    }
}

fn call_tool(
    exchange: &Exchange,
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
            && tasks::declared(&exchange.client_capabilities))
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
    let body = move |call: &mut Call| {
        call.allow_tasks(may_become_task);
        body(call)
    };
    Ok(match run(exchange, request, emitter, tool.name, body)? {
        Ran::Done(output) => tool_result(exchange.revision, output),
        Ran::Input(result) => result,
        Ran::Failed(why) => tool_result(exchange.revision, crate::tools::ToolOutput::error(why)),
        Ran::Task(rounds) => {
            let (created, run) = tasks::create(exchange, tool, arguments, rounds)?;
            *exchange.deferred.borrow_mut() = Some(run);
            created
        }
    })
}

pub fn tool_result(revision: Revision, output: crate::tools::ToolOutput) -> Value {
    let mut result = json!({"content": output.content, "isError": output.is_error});
    if let Some(structured) = output.structured.filter(|_| revision.has_titles()) {
        result["structuredContent"] = structured;
    }
    result
}

// --- resources ----------------------------------------------------------------------------

fn list_resources(exchange: &Exchange, params: &Map<String, Value>) -> Result<Value, RpcError> {
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

fn list_templates(exchange: &Exchange, params: &Map<String, Value>) -> Result<Value, RpcError> {
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
        super::jsonrpc::INVALID_PARAMS
    } else {
        -32002
    };
    RpcError::new(code, format!("Resource not found: {uri}")).with_data(json!({"uri": uri}))
}

fn read_resource(
    exchange: &Exchange,
    request: &Request,
    emitter: &mut dyn Emitter,
) -> Result<Value, RpcError> {
    let uri = string_param(&request.params, "uri", "resources/read")?;
    let catalog = exchange.catalog()?;
    let ran = if let Some(resource) = catalog.resources().find(|r| r.uri == uri) {
        run(exchange, request, emitter, uri, resource.read)?
    } else if let Some((template, vars)) = catalog
        .templates()
        .find_map(|t| crate::resources::match_template(t.uri_template, uri).map(|v| (t, v)))
    {
        run(exchange, request, emitter, uri, |call| {
            (template.read)(call, uri, &vars)
        })?
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
fn subscribe(
    exchange: &Exchange,
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
        events::subscribe(link.store, &link.id, uri, record.expires_at, now).map_err(failed)?;
        record.subscriptions.push(uri.to_string());
    } else {
        events::unsubscribe(link.store, &link.id, uri).map_err(failed)?;
    }
    Sessions::new(exchange.host, link.store, exchange.settings)?
        .save(&link.id, &record)
        .map_err(failed)?;
    Ok(json!({}))
}

// --- prompts ------------------------------------------------------------------------------

fn list_prompts(exchange: &Exchange, params: &Map<String, Value>) -> Result<Value, RpcError> {
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

fn get_prompt(
    exchange: &Exchange,
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
    let empty = Map::new();
    let arguments = match params.get("arguments") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(arguments)) => arguments,
        Some(other) => {
            return Err(RpcError::invalid_params(format!(
                "prompts/get: \"arguments\" must be an object of strings, got {}",
                kind_of(other)
            )))
        }
    };
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
    match run(exchange, request, emitter, name, |call| {
        (prompt.get)(call, arguments)
    })? {
        Ran::Done(messages) => Ok(json!({"description": prompt.description, "messages": messages})),
        Ran::Input(result) => Ok(result),
        Ran::Failed(why) => Err(RpcError::invalid_params(format!("prompt {name:?}: {why}"))),
        Ran::Task(_) => Err(RpcError::internal("only tool calls become tasks")),
    }
}

// --- completion, logging ------------------------------------------------------------------

/// At most this many completion values are returned.
const MAX_COMPLETIONS: usize = 100;

fn complete(exchange: &Exchange, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let reference = params
        .get("ref")
        .and_then(Value::as_object)
        .ok_or_else(|| RpcError::invalid_params("completion/complete needs params.ref"))?;
    let argument = params
        .get("argument")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            RpcError::invalid_params("completion/complete needs params.argument {name, value}")
        })?;
    let argument_name = string_param(argument, "name", "completion/complete argument")?;
    let prefix = string_param(argument, "value", "completion/complete argument")?;
    let catalog = exchange.catalog()?;
    let values = match reference.get("type").and_then(Value::as_str) {
        Some("ref/prompt") => {
            let name = string_param(reference, "name", "completion/complete ref")?;
            let prompt = catalog
                .prompt(name)
                .ok_or_else(|| RpcError::invalid_params(format!("unknown prompt {name:?}")))?;
            (prompt.complete)(argument_name, prefix)
        }
        Some("ref/resource") => {
            let uri = string_param(reference, "uri", "completion/complete ref")?;
            let template = catalog
                .templates()
                .find(|t| t.uri_template == uri)
                .ok_or_else(|| {
                    RpcError::invalid_params(format!("no resource template is {uri:?}"))
                })?;
            (template.complete)(argument_name, prefix)
        }
        _ => {
            return Err(RpcError::invalid_params(
                "completion/complete: ref.type must be ref/prompt or ref/resource",
            ))
        }
    };
    let total = values.len();
    let shown: Vec<String> = values.into_iter().take(MAX_COMPLETIONS).collect();
    Ok(json!({"completion": {"values": shown, "total": total, "hasMore": total > MAX_COMPLETIONS}}))
}

/// `logging/setLevel` (legacy): remembered for the session.
fn set_level(exchange: &Exchange, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let level = string_param(params, "level", "logging/setLevel")?;
    if LogLevel::parse(level).is_none() {
        let names: Vec<&str> = LogLevel::ALL.iter().map(|l| l.as_str()).collect();
        return Err(RpcError::invalid_params(format!(
            "unknown log level {level:?}; expected one of {}",
            names.join(", ")
        )));
    }
    if let Some((link, record)) = &exchange.session {
        let mut record = record.clone();
        record.log_level = Some(level.to_string());
        Sessions::new(exchange.host, link.store, exchange.settings)?
            .save(&link.id, &record)
            .map_err(|e| RpcError::internal(format!("could not record the log level: {e}")))?;
    }
    Ok(json!({}))
}
