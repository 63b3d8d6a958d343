//! The dispatch of a request whose revision is already settled to what its method does
//! (`super::handler`), and what belongs to the session as a whole: the capabilities and
//! the `initialize` handshake, scope checks before anything runs, and what a legacy
//! client's responses and notifications mean.

use serde_json::{json, Map, Value};

use super::call::Emitter;
use super::exchange::{Exchange, LIST_TTL_MS};
use super::handler::{prompts, resources, tasks, to_value, tools, utilities};
use super::jsonrpc::{kind_of, Message, Request, RequestId, RpcError, INSUFFICIENT_SCOPE};
use super::model::{
    finish, server_info, CacheScope, Cacheable, DiscoverResult, Empty, InitializeResult,
    ListCapability, ResourcesCapability, ServerCapabilities, TASKS_EXTENSION,
};
use super::Revision;
use crate::host::StoreError;
use crate::store::asks::SessionLink;

/// Guidance a client may hand to its model: what the tools are for, from the registry.
fn instructions() -> String {
    let tools: Vec<String> = crate::tools::REGISTRY
        .iter()
        .map(|tool| format!("`{}` ({})", tool.name, tool.title))
        .collect();
    format!("This server's tools: {}.", tools.join(", "))
}

/// What this server offers, as this request's revision and host allow.
pub fn capabilities(exchange: &Exchange<'_>) -> Result<ServerCapabilities, RpcError> {
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
            extensions.insert(TASKS_EXTENSION.into(), json!({}));
            extensions
        }),
    })
}

/// Refuses a request the principal lacks scopes for, before anything runs or is
/// acknowledged: transports answer it with 403 and `insufficient_scope`.
pub fn authorize(exchange: &Exchange<'_>, request: &Request) -> Result<(), RpcError> {
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
    // `requiredScopes` (and the challenge's `scope`) is everything this call needs, the
    // scopes every request needs included: the spec asks for all of them in one challenge,
    // and the TypeScript SDK re-authorizes for exactly the challenge's scopes (no union
    // with what it held), so a challenge naming only the missing one would cost the client
    // the others.
    let mut needed: Vec<&str> = exchange
        .settings
        .required_scopes()
        .map_err(RpcError::from)?
        .iter()
        .map(String::as_str)
        .collect();
    for scope in exchange.required_scopes(name)? {
        if !needed.contains(&scope.as_str()) {
            needed.push(scope);
        }
    }
    Err(RpcError::new(
        INSUFFICIENT_SCOPE,
        format!(
            "Insufficient scope: calling {name:?} needs the scope {}, which this access token \
             does not grant",
            missing.join(" ")
        ),
    )
    .with_data(json!({ "requiredScopes": needed })))
}

/// Answers a request: the result object, or the JSON-RPC error. `emitter` receives what
/// the request sends the client while it runs (progress, log messages, server→client
/// requests).
pub async fn handle(
    exchange: &Exchange<'_>,
    request: &Request,
    emitter: &mut dyn Emitter,
) -> Result<Value, RpcError> {
    authorize(exchange, request)?;
    let params = &request.params;
    let result = match (request.method.as_str(), exchange.revision.is_modern()) {
        ("initialize", false) => to_value(&initialize(exchange, params)?),
        ("ping", false) => json!({}),
        ("logging/setLevel", false) => utilities::set_level(exchange, params).await?,
        ("resources/subscribe", false) => resources::subscribe(exchange, params, true).await?,
        ("resources/unsubscribe", false) => resources::subscribe(exchange, params, false).await?,
        ("server/discover", true) => to_value(&DiscoverResult {
            supported_versions: Revision::supported(),
            capabilities: capabilities(exchange)?,
            instructions: instructions(),
            cache: Cacheable {
                ttl_ms: LIST_TTL_MS,
                cache_scope: CacheScope::Public,
            },
        }),
        ("tools/list", _) => tools::list_tools(exchange, params)?,
        ("tools/call", _) => tools::call_tool(exchange, request, emitter).await?,
        ("resources/list", _) => resources::list_resources(exchange, params)?,
        ("resources/templates/list", _) => resources::list_templates(exchange, params)?,
        ("resources/read", _) => resources::read_resource(exchange, request, emitter).await?,
        ("prompts/list", _) => prompts::list_prompts(exchange, params)?,
        ("prompts/get", _) => prompts::get_prompt(exchange, request, emitter).await?,
        ("completion/complete", _) => utilities::complete(exchange, params)?,
        ("tasks/get", true) => tasks::get(exchange, params).await?,
        ("tasks/update", true) => tasks::update(exchange, params).await?,
        ("tasks/cancel", true) => tasks::cancel(exchange, params).await?,
        (method, _) => return Err(RpcError::method_not_found(method)),
    };
    Ok(finish(exchange.revision, result))
}

/// A request's answer as a JSON-RPC response frame (result or error).
pub async fn reply(exchange: &Exchange<'_>, request: &Request, emitter: &mut dyn Emitter) -> Value {
    match handle(exchange, request, emitter).await {
        Ok(result) => super::jsonrpc::success(&request.id, result),
        Err(error) => super::jsonrpc::failure(Some(&request.id), &error),
    }
}

/// The revision the server answers an `initialize` with: the client's, when supported
/// and legacy; otherwise the latest legacy revision (the client may then disconnect).
pub fn negotiate(params: &Map<String, Value>) -> Result<Revision, RpcError> {
    if let Some(capabilities) = params.get("capabilities") {
        let mut size = ByteCount(0);
        // Serializing a `Value` into a counter cannot fail.
        let _ = serde_json::to_writer(&mut size, capabilities);
        if size.0 > MAX_CAPABILITIES_BYTES {
            return Err(RpcError::invalid_params(format!(
                "initialize: \"capabilities\" take {} bytes; a session keeps at most {MAX_CAPABILITIES_BYTES} \
                 (declare the capabilities the client has, and nothing else)",
                size.0
            )));
        }
    }
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

/// The most a client's `capabilities` may take, serialized: a session keeps them in the
/// store, whose hosted versions take values of at most 1 MB (clients send well under 1 KiB).
pub const MAX_CAPABILITIES_BYTES: usize = 64 * 1024;

/// Counts the bytes written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn initialize(
    exchange: &Exchange<'_>,
    params: &Map<String, Value>,
) -> Result<InitializeResult, RpcError> {
    let revision = negotiate(params)?;
    let negotiated = Exchange::legacy(
        exchange.host,
        exchange.settings,
        exchange.principal,
        revision,
        None,
    );
    Ok(InitializeResult {
        protocol_version: revision.as_str(),
        capabilities: capabilities(&negotiated)?,
        server_info: server_info(revision),
        instructions: instructions(),
    })
}

/// What a legacy client's message other than a request means for its session: an answer
/// to a server→client request is left where the waiting call will find it (if one waits);
/// a cancellation is recorded where the running call will notice it (if it runs).
pub async fn receive(
    link: &SessionLink<'_>,
    message: &Message,
    now: u64,
) -> Result<(), StoreError> {
    match message {
        Message::Response {
            id: RequestId::String(id),
            outcome,
        } => {
            let reply = match outcome {
                Ok(result) => json!({"result": result}),
                Err(error) => json!({"error": error}),
            };
            link.answer(id, &reply).await
        }
        Message::Notification(n) if n.method == "notifications/cancelled" => {
            match n
                .params
                .get("requestId")
                .cloned()
                .and_then(|id| serde_json::from_value::<RequestId>(id).ok())
            {
                Some(id) => link.cancel(&id, now).await,
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}
