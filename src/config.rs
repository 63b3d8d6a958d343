//! Configuration: one table of variables, read through the host.
//!
//! The Spin build reads Spin variables (declared in `spin.toml`, set with
//! `spin up --variable name=value` or `SPIN_VARIABLE_NAME`); the portable build reads
//! environment variables (`MCP_` + the upper-cased name, passed with
//! `wasmtime serve --env`). A wrong value fails each request that needs it with a 500 that
//! names the variable: a server that guesses its configuration could let the wrong people
//! in.
//!
//! Each variable is declared once, in [`variables!`] below: its name, its default, the
//! parser that checks it and the type it becomes. The constant, the entry of
//! [`VARIABLES`], the lazily read field of [`Settings`] and its accessor follow from that
//! line. Checks that need more than one variable (auth's policy) or the catalog (which
//! tools exist) are made by the layers that own them, from these values.

use std::cell::OnceCell;
use std::collections::BTreeMap;

use crate::host::Host;

/// A configuration variable.
pub struct Variable {
    /// The Spin variable name; the environment name is derived from it.
    pub name: &'static str,
    /// Used when the variable is unset or blank.
    pub default: &'static str,
    /// Holds credentials: declared `secret = true` in `spin.toml`, never echoed in errors.
    pub secret: bool,
}

impl Variable {
    /// The environment variable the portable build reads.
    pub fn env_name(&self) -> String {
        env_name(self.name)
    }

    /// A problem with this variable's value.
    pub fn problem(&'static self, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            variable: self,
            problem: problem.into(),
        }
    }
}

/// The environment variable that carries the Spin variable `name` in the portable build.
pub fn env_name(name: &str) -> String {
    format!("MCP_{}", name.to_ascii_uppercase())
}

/// Declares the variables: `CONSTANT "name" accessor: Type = parser("default")`, `secret` when it
/// holds credentials, its documentation above it.
macro_rules! variables {
    ($(
        $(#[doc = $doc:literal])+
        $konst:ident $name:literal $accessor:ident: $ty:ty = $parse:ident($default:literal) $($secret:ident)?;
    )+) => {
        $(
            $(#[doc = $doc])+
            pub const $konst: Variable = Variable {
                name: $name,
                default: $default,
                secret: variables!(@secret $($secret)?),
            };
        )+

        /// Every variable, in the order docs/configuration.md and `spin.toml` list them.
        pub const VARIABLES: &[&Variable] = &[$(&$konst),+];

        /// The configuration: every variable read from the host in one call (variables
        /// are fixed for a running app, so an instance reads them once), each checked the
        /// first time it is needed, and at most once. The first error of each value is
        /// logged in full; what a client sees is [`ConfigError::response`].
        pub struct Settings<'h> {
            host: &'h dyn Host,
            /// The variables that are set, or why none could be read.
            values: Result<BTreeMap<String, String>, String>,
            $($accessor: OnceCell<Result<$ty, ConfigError>>,)+
        }

        impl<'h> Settings<'h> {
            /// Reads the variables; none is checked yet.
            pub async fn load(host: &'h dyn Host) -> Settings<'h> {
                let values = host.variables().await.map(|all| all.into_iter().collect());
                Settings { host, values, $($accessor: OnceCell::new(),)+ }
            }

            /// Checks every variable; the first error found.
            pub fn validate(&self) -> Result<(), ConfigError> {
                $(self.$accessor()?;)+
                Ok(())
            }

            $(
                $(#[doc = $doc])+
                pub fn $accessor(&self) -> Result<<$ty as Value<'_>>::Out, ConfigError> {
                    self.memo(&self.$accessor, || $parse(&$konst, self.read(&$konst)?))
                        .map(Value::out)
                }
            )+
        }
    };
    (@secret secret) => { true };
    (@secret) => { false };
}

variables! {
    /// Who gets in. `passthrough`: any well-formed bearer token is accepted (the demo's
    /// behaviour; never for production). `static`: the tokens in `static_tokens`. `jwt`:
    /// JWTs signed by `jwt_issuer`. `introspection`: any token, as the authorization
    /// server's introspection endpoint judges it (opaque tokens). `none`: no
    /// authentication at all, for conformance test suites only.
    AUTH_MODE "auth_mode" auth_mode: AuthMode = auth_mode("passthrough");
    /// For `static` mode: comma-separated `label=sha256:<hex>` (the SHA-256 of the token)
    /// or `label=plain:<token>` entries, each optionally followed by space-separated
    /// scopes. A secret.
    STATIC_TOKENS "static_tokens" static_tokens: String = text("") secret;
    /// For `jwt` mode: the `iss` every token must carry, such as
    /// `https://login.example.com/`. In `introspection` mode, optional: the `iss` an
    /// introspection answer must carry when it names one.
    JWT_ISSUER "jwt_issuer" jwt_issuer: String = text("");
    /// For `jwt` mode: the issuer's JWKS URL. Its origin must also be in
    /// `jwt_jwks_origin` so Spin lets the component fetch it.
    JWT_JWKS_URL "jwt_jwks_url" jwt_jwks_url: String = text("");
    /// Spin only: the origin (`https://login.example.com`) the component may fetch keys
    /// from; `spin.toml` puts it in `allowed_outbound_hosts`. The default names a reserved
    /// host that reaches nothing.
    JWT_JWKS_ORIGIN "jwt_jwks_origin" jwt_jwks_origin: String = text("https://jwks.invalid");
    /// For `jwt` mode: a JWKS document given inline instead of a URL.
    JWT_JWKS "jwt_jwks" jwt_jwks: String = text("");
    /// For `jwt` and `introspection` modes: comma-separated accepted `aud` values. Empty:
    /// this server's resource URLs under `public_url` (the origin, and the origin with /mcp
    /// or /sse); these modes need one of the two.
    JWT_AUDIENCE "jwt_audience" jwt_audience: String = text("");
    /// For `jwt` mode: a shared secret that also accepts HS256 tokens. A secret; empty
    /// disables HS256.
    JWT_HS256_SECRET "jwt_hs256_secret" jwt_hs256_secret: String = text("") secret;
    /// For `introspection` mode: the authorization server's token introspection endpoint
    /// (RFC 7662), asked about each token this server has no fresh answer for. Its origin
    /// must also be in `introspection_origin` so Spin lets the component reach it.
    INTROSPECTION_URL "introspection_url" introspection_url: String = text("");
    /// Spin only: the origin (`https://login.example.com`) of `introspection_url`;
    /// `spin.toml` puts it in `allowed_outbound_hosts`. The default names a reserved host
    /// that reaches nothing.
    INTROSPECTION_ORIGIN "introspection_origin" introspection_origin: String = text("https://introspection.invalid");
    /// For `introspection` mode: the client id this server authenticates with at the
    /// introspection endpoint (HTTP Basic, RFC 6749 §2.3.1).
    INTROSPECTION_CLIENT_ID "introspection_client_id" introspection_client_id: String = text("");
    /// For `introspection` mode: that client's secret. A secret.
    INTROSPECTION_CLIENT_SECRET "introspection_client_secret" introspection_client_secret: String = text("") secret;
    /// For `introspection` mode: how long an answer is reused at most (in the shared
    /// store, never past the token's `exp`): a token the authorization server revokes is
    /// refused within this.
    INTROSPECTION_CACHE_SECONDS "introspection_cache_seconds" introspection_cache_seconds: String = text("60");
    /// Clock skew allowed when checking `exp` and `nbf`.
    JWT_LEEWAY_SECONDS "jwt_leeway_seconds" jwt_leeway_seconds: String = text("60");
    /// How long fetched keys are reused (in the shared store). A token with an unknown key
    /// id refetches at most every 30 seconds.
    JWKS_CACHE_SECONDS "jwks_cache_seconds" jwks_cache_seconds: String = text("300");
    /// Scopes each tool requires outside `passthrough` mode: comma-separated
    /// `tool=scope scope`; tools not listed need none. Empty: the scopes each tool's
    /// definition declares (`getToken` needs `token:read`).
    TOOL_SCOPES "tool_scopes" tool_scopes: Option<ToolScopes> = tool_scopes("");
    /// Scopes every token must carry to use this server at all, outside `passthrough`
    /// mode: space- or comma-separated, such as `mcp`. A token without them is refused
    /// with 403 `insufficient_scope`. A 401 names them in its challenge (`scope=`) and the
    /// protected resource metadata lists them as `scopes_supported`: what a client asks
    /// for first. Scopes a tool needs beyond them are asked for when it is called.
    REQUIRED_SCOPES "required_scopes" required_scopes: Vec<String> = scope_list("");
    /// A URL with documentation for people, published in the protected resource metadata.
    RESOURCE_DOCUMENTATION "resource_documentation" resource_documentation: Option<String> = optional_url("");
    /// Signs the requestState of 2026-07-28 input rounds. Empty: a random key kept in the
    /// shared store (the portable build then cannot sign). A secret.
    STATE_SECRET "state_secret" state_secret: Option<String> = optional_secret("") secret;
    /// `on` adds the tools, resources and prompts the official MCP conformance suite calls
    /// (test_simple_text, test://static-text, …). For testing only, and only in a component
    /// built with them (`--features conformance-fixtures`; scripts/test builds one).
    CONFORMANCE_FIXTURES "conformance_fixtures" fixtures: bool = fixtures_switch("off");
    /// The origin clients use to reach this server (`https://mcp.example.com`), when a
    /// proxy in front changes it. Empty: taken from each request.
    PUBLIC_URL "public_url" public_url: Option<String> = origin("");
    /// Host names (optionally host:port) the MCP endpoints answer to, comma-separated; `*`
    /// for any. Always allowed: localhost, 127.0.0.1, [::1] and public_url's host. Guards
    /// local servers against DNS rebinding, and every server against tokens meant for
    /// another host.
    ALLOWED_HOSTS "allowed_hosts" allowed_hosts: Vec<String> = lower_list("");
    /// Browser origins (`https://app.example.com`) allowed to call the MCP endpoints,
    /// comma-separated; `*` for any. Always allowed: localhost origins and public_url.
    ALLOWED_ORIGINS "allowed_origins" allowed_origins: Vec<String> = origins("");
    /// Comma-separated issuer URLs published as `authorization_servers` in the protected
    /// resource metadata. Empty: `jwt_issuer` in jwt mode, else none.
    AUTHORIZATION_SERVERS "authorization_servers" authorization_servers: Vec<String> = urls("");
    /// Largest request body accepted, in bytes; larger ones get 413.
    MAX_BODY_BYTES "max_body_bytes" max_body_bytes: usize = positive("4194304");
    /// Items per page of every list: tools, resources, resource templates, prompts.
    PAGE_SIZE "page_size" page_size: usize = positive("50");
    /// How long a session lives without activity (an open stream counts as activity).
    /// Expired sessions get 404 and clients start a new one.
    SESSION_TTL_SECONDS "session_ttl_seconds" session_ttl_ms: u64 = session_ttl("3600");
    /// Interval of the comment lines that keep idle event streams open through proxies;
    /// also how soon a vanished client is noticed. Decimals allowed.
    KEEPALIVE_SECONDS "keepalive_seconds" keepalive_ms: u64 = seconds("15");
    /// Sessions (Streamable HTTP and HTTP+SSE) one principal may hold at once; beyond it
    /// `initialize` and `GET /sse` get 429 with `Retry-After`.
    MAX_SESSIONS_PER_PRINCIPAL "max_sessions_per_principal" max_sessions: usize = positive("128");
    /// Long-lived event streams (`GET /sse`, `GET /mcp`, `subscriptions/listen`) one
    /// principal may hold open at once; beyond it 429 with `Retry-After`.
    MAX_STREAMS_PER_PRINCIPAL "max_streams_per_principal" max_streams: usize = positive("32");
    /// Live sessions the whole server holds at once, whoever opened them (every new token
    /// is a new principal in passthrough mode, so per-principal caps alone do not bound an
    /// anonymous client); beyond it 503 with `Retry-After`. Sized for one node; raise it
    /// with the store.
    MAX_SESSIONS_TOTAL "max_sessions_total" max_sessions_total: usize = positive("10000");
    /// Long-lived event streams the whole server holds open at once; beyond it 503 with
    /// `Retry-After`. Each idle stream costs the host memory (a few hundred KiB under
    /// Spin) and a little CPU.
    MAX_STREAMS_TOTAL "max_streams_total" max_streams_total: usize = positive("1000");
    /// Longest life of an event stream. It then ends cleanly with a `retry` hint;
    /// Streamable HTTP clients reconnect and resume with `Last-Event-ID`.
    STREAM_MAX_SECONDS "stream_max_seconds" stream_max_ms: u64 = seconds("3600");
    /// The longest a request may run on this host (Fermyon's hosted platforms cut every
    /// request at 30 s); 0 for no limit. Event streams (`GET /sse`, `GET /mcp`,
    /// `subscriptions/listen`) then end cleanly a little before it, saying when to
    /// reconnect, instead of being cut with a message half-sent.
    REQUEST_LIMIT_SECONDS "request_limit_seconds" request_limit_ms: u64 = request_limit("0");
    /// Longest wait for the shared store to answer one call. Past it the request gets 503
    /// with `Retry-After` (the session store is unavailable), and for a second the
    /// instance does not wait on the store again. Decimals allowed.
    STORE_TIMEOUT_SECONDS "store_timeout_seconds" store_timeout_ms: u64 = seconds("1");
    /// How often expired sessions and what they left in the store are swept. The sweep
    /// runs inside a request that opens a session; no separate service is needed.
    GC_INTERVAL_SECONDS "gc_interval_seconds" gc_interval_ms: u64 = seconds("300");
    /// `on` when a reverse proxy in front mounts this server under a path and says so in
    /// `X-Forwarded-Prefix`: the HTTP+SSE endpoint event then carries that prefix. Off,
    /// the header is ignored (a client could otherwise steer where its POSTs go).
    TRUST_FORWARDED_PREFIX "trust_forwarded_prefix" trust_forwarded_prefix: bool = switch("off");
}

/// How a variable's value is handed out: small values by copy, the rest by reference.
pub trait Value<'s> {
    type Out;
    fn out(&'s self) -> Self::Out;
}

macro_rules! by_copy {
    ($($ty:ty),+) => {$(
        impl Value<'_> for $ty {
            type Out = $ty;
            fn out(&self) -> $ty {
                *self
            }
        }
    )+};
}
by_copy!(bool, u64, usize, AuthMode);

impl<'s> Value<'s> for String {
    type Out = &'s str;
    fn out(&'s self) -> &'s str {
        self
    }
}

impl<'s> Value<'s> for Option<String> {
    type Out = Option<&'s str>;
    fn out(&'s self) -> Option<&'s str> {
        self.as_deref()
    }
}

impl<'s> Value<'s> for Vec<String> {
    type Out = &'s [String];
    fn out(&'s self) -> &'s [String] {
        self
    }
}

impl<'s> Value<'s> for Option<ToolScopes> {
    type Out = Option<&'s [(String, Vec<String>)]>;
    fn out(&'s self) -> Self::Out {
        self.as_deref()
    }
}

/// Which authentication policy runs (`auth_mode`). The policy itself, with its tokens or
/// issuer, is `auth`'s to build from the other variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// Any well-formed token is accepted and becomes the principal.
    Passthrough,
    /// Only the configured tokens, compared by hash in constant time.
    Static,
    /// JWTs signed by the configured issuer.
    Jwt,
    /// Any token, judged by the authorization server's introspection endpoint.
    Introspection,
    /// No authentication at all: for test suites that send no token. Never the default.
    None,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Passthrough => "passthrough",
            AuthMode::Static => "static",
            AuthMode::Jwt => "jwt",
            AuthMode::Introspection => "introspection",
            AuthMode::None => "none",
        }
    }

    /// Whether tools' scopes are checked: principals of `passthrough` and `none` may do
    /// everything, so lists and calls do not depend on who asks.
    pub fn enforces_scopes(self) -> bool {
        match self {
            AuthMode::Static | AuthMode::Jwt | AuthMode::Introspection => true,
            AuthMode::Passthrough | AuthMode::None => false,
        }
    }
}

/// Scopes each tool requires: `(tool, scopes)`, as `tool_scopes` lists them.
pub type ToolScopes = Vec<(String, Vec<String>)>;

/// A variable that could not be read or has a wrong value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static Variable,
    pub problem: String,
}

impl ConfigError {
    /// What a client sees: 500 naming the variable but neither its value nor the problem
    /// (which may carry URLs or parts of secrets); the log has the whole story.
    pub fn response(&self) -> crate::http::Response {
        crate::http::Response::json(
            500,
            &serde_json::json!({
                "error": "server_misconfigured",
                "error_description": format!(
                    "The server's configuration variable `{}` (environment `{}`) is invalid; \
                     the server log says why.",
                    self.variable.name,
                    self.variable.env_name()
                ),
            }),
        )
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "configuration variable `{}` (environment `{}`): {}",
            self.variable.name,
            self.variable.env_name(),
            self.problem
        )
    }
}

impl PartialEq for Variable {
    fn eq(&self, other: &Variable) -> bool {
        self.name == other.name
    }
}
impl Eq for Variable {}
impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl Settings<'_> {
    fn memo<'s, T>(
        &'s self,
        cell: &'s OnceCell<Result<T, ConfigError>>,
        load: impl FnOnce() -> Result<T, ConfigError>,
    ) -> Result<&'s T, ConfigError> {
        cell.get_or_init(|| {
            let loaded = load();
            if let Err(e) = &loaded {
                self.log_refusal(e);
            }
            loaded
        })
        .as_ref()
        .map_err(Clone::clone)
    }

    /// Logs a configuration error that refuses requests (for checks made outside this
    /// module, such as auth's policy).
    pub fn log_refusal(&self, error: &ConfigError) {
        self.host.log(&format!("refusing requests: {error}"));
    }

    /// The variable's value, or its default when unset or blank.
    fn read(&self, variable: &'static Variable) -> Result<String, ConfigError> {
        let values = self
            .values
            .as_ref()
            .map_err(|reason| variable.problem(format!("could not be read: {reason}")))?;
        Ok(match values.get(variable.name).map(|v| v.trim()) {
            None | Some("") => variable.default.to_string(),
            Some(value) => value.to_string(),
        })
    }
}

// --- parsers: each takes its variable and the value (default applied) -----------------

fn text(_: &'static Variable, value: String) -> Result<String, ConfigError> {
    Ok(value)
}

fn auth_mode(variable: &'static Variable, value: String) -> Result<AuthMode, ConfigError> {
    Ok(match value.as_str() {
        "passthrough" => AuthMode::Passthrough,
        "static" => AuthMode::Static,
        "jwt" => AuthMode::Jwt,
        "introspection" => AuthMode::Introspection,
        "none" => AuthMode::None,
        other => {
            return Err(variable.problem(format!(
                "unknown mode {other:?}; expected `passthrough`, `static`, `jwt`, \
                 `introspection` or `none`"
            )))
        }
    })
}

pub fn positive(variable: &'static Variable, value: String) -> Result<usize, ConfigError> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(variable.problem(format!("expected a positive whole number, got {value:?}"))),
    }
}

/// A whole number of seconds, zero allowed.
pub fn whole(variable: &'static Variable, value: String) -> Result<u64, ConfigError> {
    value
        .parse::<u64>()
        .map_err(|_| variable.problem("expected a whole number of seconds"))
}

/// A positive whole number of seconds, as milliseconds.
pub fn positive_seconds(variable: &'static Variable, value: String) -> Result<u64, ConfigError> {
    Ok(positive(variable, value)? as u64 * 1000)
}

/// How long a request may run where the host cuts requests at `request_limit_ms` (0: no
/// limit): `max_ms`, but ending a sixth of the limit (1 to 5 s) before the cut, so that an
/// event stream's last event and `retry` hint, or a call's error, reach the client whole.
pub fn within_request_limit(max_ms: u64, request_limit_ms: u64) -> u64 {
    if request_limit_ms == 0 {
        return max_ms;
    }
    let margin = (request_limit_ms / 6).clamp(1000, 5000);
    max_ms.min(request_limit_ms - margin)
}

/// `0` (no limit) or a number of seconds, at least 2 (a stream must live long enough to
/// deliver something before it ends).
fn request_limit(variable: &'static Variable, value: String) -> Result<u64, ConfigError> {
    if value.trim() == "0" {
        return Ok(0);
    }
    match seconds(variable, value)? {
        ms if ms >= 2000 => Ok(ms),
        ms => Err(variable.problem(format!(
            "{} s is too short: at least 2 seconds, or 0 for no limit",
            ms as f64 / 1000.0
        ))),
    }
}

fn session_ttl(variable: &'static Variable, value: String) -> Result<u64, ConfigError> {
    match positive(variable, value)? {
        // A month: beyond it, no session needs to live, and times stay far from
        // overflowing.
        seconds if seconds <= 2_592_000 => Ok(seconds as u64 * 1000),
        seconds => {
            Err(variable.problem(format!("{seconds} is more than a month (2592000 seconds)")))
        }
    }
}

/// A positive number of seconds, decimals allowed (`0.5`), as milliseconds.
fn seconds(variable: &'static Variable, value: String) -> Result<u64, ConfigError> {
    match value.parse::<f64>() {
        Ok(seconds) if (0.001..=86_400.0).contains(&seconds) => {
            Ok((seconds * 1000.0).round() as u64)
        }
        _ => Err(variable.problem(format!(
            "expected a number of seconds between 0.001 and 86400, got {value:?}"
        ))),
    }
}

/// `on`/`off` (also `true`/`false`, `1`/`0`, `yes`/`no`).
fn switch(variable: &'static Variable, value: String) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        other => Err(variable.problem(format!("expected on or off, got {other:?}"))),
    }
}

/// [`switch`], refusing `on` in a component built without the fixtures.
fn fixtures_switch(variable: &'static Variable, value: String) -> Result<bool, ConfigError> {
    let on = switch(variable, value)?;
    if on && !cfg!(fixtures) {
        return Err(variable.problem(
            "this component was built without the conformance fixtures; build one with \
             `cargo build --target wasm32-wasip2 --release --features conformance-fixtures`",
        ));
    }
    Ok(on)
}

/// A secret, which is at least 32 characters when set (shorter ones can be guessed).
pub fn optional_secret(
    variable: &'static Variable,
    value: String,
) -> Result<Option<String>, ConfigError> {
    match value {
        secret if secret.is_empty() => Ok(None),
        secret if secret.len() < 32 => {
            Err(variable.problem("must be at least 32 characters; shorter secrets can be guessed"))
        }
        secret => Ok(Some(secret)),
    }
}

pub fn optional_url(
    variable: &'static Variable,
    value: String,
) -> Result<Option<String>, ConfigError> {
    match value.as_str() {
        "" => Ok(None),
        url => Ok(Some(http_url(variable, url)?)),
    }
}

fn urls(variable: &'static Variable, value: String) -> Result<Vec<String>, ConfigError> {
    split_list(&value)
        .map(|url| http_url(variable, url))
        .collect()
}

/// A comma-separated list, lower-cased, trailing slashes dropped.
fn lower_list(_: &'static Variable, value: String) -> Result<Vec<String>, ConfigError> {
    Ok(split_list(&value)
        .map(|s| s.trim_end_matches('/').to_ascii_lowercase())
        .collect())
}

/// Browser origins (or `*`), lower-cased.
fn origins(variable: &'static Variable, value: String) -> Result<Vec<String>, ConfigError> {
    let origins = lower_list(variable, value)?;
    if let Some(bad) = origins
        .iter()
        .find(|o| *o != "*" && !(o.starts_with("http://") || o.starts_with("https://")))
    {
        return Err(variable.problem(format!(
            "{bad:?} is not an origin such as https://app.example.com"
        )));
    }
    Ok(origins)
}

/// `tool=scope scope, tool2=scope`; `None` when blank. Whether the tools exist is the
/// catalog's to check.
fn tool_scopes(
    variable: &'static Variable,
    value: String,
) -> Result<Option<ToolScopes>, ConfigError> {
    if value.is_empty() {
        return Ok(None);
    }
    split_list(&value)
        .map(|entry| {
            let (tool, scopes) = entry
                .split_once('=')
                .ok_or_else(|| variable.problem(format!("{entry:?} must look like tool=scope")))?;
            Ok((
                tool.trim().to_string(),
                scopes.split_whitespace().map(str::to_string).collect(),
            ))
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

/// OAuth scope tokens (RFC 6749 §3.3: printable ASCII but `"` and `\`), separated by
/// spaces or commas, once each, in the order given.
fn scope_list(variable: &'static Variable, value: String) -> Result<Vec<String>, ConfigError> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in value
        .split([' ', ',', '\t', '\n'])
        .filter(|s| !s.is_empty())
    {
        if !scope
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            return Err(variable.problem(format!(
                "{scope:?} is not a scope: printable ASCII without quotes or backslashes"
            )));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_string());
        }
    }
    Ok(scopes)
}

/// `scheme://host[:port]` with an optional trailing slash, kept without it.
fn origin(variable: &'static Variable, value: String) -> Result<Option<String>, ConfigError> {
    if value.is_empty() {
        return Ok(None);
    }
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| {
            variable.problem(format!("{value:?} must start with https:// or http://"))
        })?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', ' ']) {
        return Err(variable.problem(format!(
            "{value:?} must be an origin such as https://mcp.example.com, without a path"
        )));
    }
    Ok(Some(value.strip_suffix('/').unwrap_or(&value).to_string()))
}

/// A comma-separated list (also `;` or newlines), entries trimmed, blanks dropped.
pub fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split([',', ';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// An `http(s)://` URL with a host.
pub fn http_url(variable: &'static Variable, url: &str) -> Result<String, ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| variable.problem(format!("{url:?} is not an http(s) URL")))?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
        return Err(variable.problem(format!("{url:?} is not an http(s) URL")));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::within_request_limit;

    #[test]
    fn requests_end_before_the_hosts_request_limit() {
        // No limit: the given maximum alone.
        assert_eq!(within_request_limit(3_600_000, 0), 3_600_000);
        // Fermyon's 30 s: 5 s before it.
        assert_eq!(within_request_limit(3_600_000, 30_000), 25_000);
        // A short limit keeps at least a second of margin; a longer one at most 5 s.
        assert_eq!(within_request_limit(3_600_000, 4_000), 3_000);
        assert_eq!(within_request_limit(3_600_000, 600_000), 595_000);
        // A maximum shorter than the limit wins.
        assert_eq!(within_request_limit(10_000, 30_000), 10_000);
    }
}
