//! One request's circumstances ([`Exchange`]): the revision it speaks, who sent it, what
//! the client can do, the legacy session it belongs to, its time budget; what the
//! method handlers and the calls they make read of the request.

use std::cell::OnceCell;

use serde_json::{json, Map, Value};

use super::call::{request_deadline, Context, LogLevel};
use super::meta;
use super::model::{CacheScope, Cacheable};
use super::Revision;
use crate::auth::Principal;
use crate::catalog::{Catalog, Scopes};
use crate::config::{AuthMode, ConfigError, Settings};
use crate::host::{Host, Pending};
use crate::protocol::jsonrpc::RpcError;
use crate::store::asks::SessionLink;
use crate::store::session::Session;

/// How long clients may cache `server/discover` and list results (2026-07-28 caching).
/// What the server offers only changes with a deployment.
pub const LIST_TTL_MS: u64 = 5 * 60 * 1000;

/// Work a request leaves to run once its response is complete and logged: the task it
/// created (the instance goes on after its response: see `handler::tasks`).
pub type Deferred = Box<dyn for<'h> FnOnce(&'h dyn Host) -> Pending<'h, ()>>;

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
    pub deferred: std::cell::RefCell<Option<Deferred>>,
    /// The scopes each tool needs, resolved once per exchange.
    scopes: OnceCell<Result<Scopes, ConfigError>>,
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
            deadline: request_deadline(settings, host.now_unix_ms()),
            deferred: Default::default(),
            scopes: OnceCell::new(),
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
            deadline: request_deadline(settings, host.now_unix_ms()),
            deferred: Default::default(),
            scopes: OnceCell::new(),
        }
    }

    /// The exchange a task runs in once its request was answered: 2026-07-28, the
    /// request's client capabilities, no log messages (nobody listens), the task's budget.
    pub fn task(
        host: &'a dyn Host,
        settings: &'a Settings<'a>,
        principal: &'a Principal,
        client_capabilities: Value,
        deadline: u64,
    ) -> Exchange<'a> {
        Exchange {
            revision: Revision::V2026_07_28,
            principal,
            settings,
            host,
            session: None,
            client_capabilities,
            log_level: None,
            deadline,
            deferred: Default::default(),
            scopes: OnceCell::new(),
        }
    }

    /// What a call serving this request needs to know of it.
    pub fn context(&self) -> Context<'a> {
        Context {
            principal: self.principal,
            host: self.host,
            settings: self.settings,
            revision: self.revision,
            client_capabilities: self.client_capabilities.clone(),
            log_level: self.log_level,
            session: self.session.as_ref().map(|(link, _)| link.clone()),
            deadline: self.deadline,
        }
    }

    pub fn catalog(&self) -> Result<Catalog, RpcError> {
        Ok(Catalog::new(self.settings.fixtures()?))
    }

    /// The scopes each tool requires where scopes are enforced; `None` where they are not
    /// (passthrough and none modes).
    fn scopes(&self) -> Result<Option<&Scopes>, RpcError> {
        if !self.settings.auth_mode()?.enforces_scopes() {
            return Ok(None);
        }
        let scopes = self
            .scopes
            .get_or_init(|| Catalog::tool_scopes(self.settings));
        scopes.as_ref().map(Some).map_err(|e| e.clone().into())
    }

    /// The scopes `tool` requires (none where scopes are not enforced).
    pub fn required_scopes(&self, tool: &str) -> Result<&[String], RpcError> {
        Ok(self.scopes()?.map_or(&[], |scopes| scopes.of(tool)))
    }

    pub fn may_call(&self, tool: &str) -> Result<bool, RpcError> {
        Ok(self
            .principal
            .missing(self.required_scopes(tool)?)
            .is_empty())
    }

    /// Whether `tools/list` shows only the tools this caller may call (lists then differ
    /// between callers and must not be shared): in `static` mode, whose tokens can never
    /// gain a scope. In `jwt` mode every tool is listed: calling one without its scope is
    /// refused with 403 `insufficient_scope` naming it, and the client re-authorizes for it
    /// (the specification's step-up flow); a tool it was never shown it could never ask for.
    pub fn lists_only_callable(&self) -> Result<bool, RpcError> {
        Ok(self.settings.auth_mode()? == AuthMode::Static
            && self.scopes()?.is_some_and(Scopes::any))
    }

    /// Caching hints for a list or read result of a modern request.
    pub fn cacheable(&self, scope: CacheScope) -> Option<Cacheable> {
        self.revision.is_modern().then_some(Cacheable {
            ttl_ms: LIST_TTL_MS,
            cache_scope: scope,
        })
    }
}
