//! Configuration: one table of variables, read through the host.
//!
//! The Spin build reads Spin variables (declared in `spin.toml`, set with
//! `spin up --variable name=value` or `SPIN_VARIABLE_NAME`); the portable build reads
//! environment variables (`MCP_` + the upper-cased name, passed with
//! `wasmtime serve --env`). A wrong value fails each request with a 500 that names the
//! variable: a server that guesses its configuration could let the wrong people in.

use std::cell::OnceCell;

use crate::host::Host;

/// A configuration variable.
pub struct Variable {
    /// The Spin variable name; the environment name is derived from it.
    pub name: &'static str,
    /// Used when the variable is unset or empty.
    pub default: &'static str,
    pub description: &'static str,
    /// Holds credentials: declared `secret = true` in `spin.toml`, never echoed in errors.
    pub secret: bool,
}

pub const AUTH_MODE: Variable = Variable {
    name: "auth_mode",
    default: "passthrough",
    description: "Who gets in. `passthrough`: any well-formed bearer token is accepted \
                  (the demo's behaviour; never for production). `static`: the tokens in \
                  `static_tokens`. `jwt`: JWTs signed by `jwt_issuer`. `none`: no \
                  authentication at all, for conformance test suites only.",
    secret: false,
};
pub const STATIC_TOKENS: Variable = Variable {
    name: "static_tokens",
    default: "",
    description: "For `static` mode: comma-separated `label=sha256:<hex>` (the SHA-256 of \
                  the token) or `label=plain:<token>` entries, each optionally followed by \
                  space-separated scopes. A secret.",
    secret: true,
};
pub const JWT_ISSUER: Variable = Variable {
    name: "jwt_issuer",
    default: "",
    description: "For `jwt` mode: the `iss` every token must carry, such as \
                  `https://login.example.com/`.",
    secret: false,
};
pub const JWT_JWKS_URL: Variable = Variable {
    name: "jwt_jwks_url",
    default: "",
    description: "For `jwt` mode: the issuer's JWKS URL. Its origin must also be in \
                  `jwt_jwks_origin` so Spin lets the component fetch it.",
    secret: false,
};
pub const JWT_JWKS_ORIGIN: Variable = Variable {
    name: "jwt_jwks_origin",
    default: "https://jwks.invalid",
    description: "Spin only: the origin (`https://login.example.com`) the component may \
                  fetch keys from; `spin.toml` puts it in `allowed_outbound_hosts`. The \
                  default names a reserved host that reaches nothing.",
    secret: false,
};
pub const JWT_JWKS: Variable = Variable {
    name: "jwt_jwks",
    default: "",
    description: "For `jwt` mode: a JWKS document given inline instead of a URL.",
    secret: false,
};
pub const JWT_AUDIENCE: Variable = Variable {
    name: "jwt_audience",
    default: "",
    description: "For `jwt` mode: comma-separated accepted `aud` values. Empty: this \
                  server's resource URLs under `public_url` (the origin, and the origin with \
                  /mcp or /sse); jwt mode needs one of the two.",
    secret: false,
};
pub const JWT_HS256_SECRET: Variable = Variable {
    name: "jwt_hs256_secret",
    default: "",
    description: "For `jwt` mode: a shared secret that also accepts HS256 tokens. A secret; \
                  empty disables HS256.",
    secret: true,
};
pub const JWT_LEEWAY_SECONDS: Variable = Variable {
    name: "jwt_leeway_seconds",
    default: "60",
    description: "Clock skew allowed when checking `exp` and `nbf`.",
    secret: false,
};
pub const JWKS_CACHE_SECONDS: Variable = Variable {
    name: "jwks_cache_seconds",
    default: "300",
    description: "How long fetched keys are reused (in the shared store). A token with an \
                  unknown key id refetches at most every 30 seconds.",
    secret: false,
};
pub const TOOL_SCOPES: Variable = Variable {
    name: "tool_scopes",
    default: "getToken=token:read",
    description: "Scopes each tool requires outside `passthrough` mode: comma-separated \
                  `tool=scope scope`. Tools not listed need none.",
    secret: false,
};
pub const RESOURCE_DOCUMENTATION: Variable = Variable {
    name: "resource_documentation",
    default: "",
    description: "A URL with documentation for people, published in the protected \
                  resource metadata.",
    secret: false,
};
pub const STATE_SECRET: Variable = Variable {
    name: "state_secret",
    default: "",
    description: "Signs the requestState of 2026-07-28 input rounds. Empty: a random key \
                  kept in the shared store (the portable build then cannot sign). A secret.",
    secret: true,
};
pub const CONFORMANCE_FIXTURES: Variable = Variable {
    name: "conformance_fixtures",
    default: "off",
    description: "`on` adds the tools, resources and prompts the official MCP conformance \
                  suite calls (test_simple_text, test://static-text, …). For testing only.",
    secret: false,
};
pub const PUBLIC_URL: Variable = Variable {
    name: "public_url",
    default: "",
    description: "The origin clients use to reach this server (`https://mcp.example.com`), \
                  when a proxy in front changes it. Empty: taken from each request.",
    secret: false,
};
pub const ALLOWED_HOSTS: Variable = Variable {
    name: "allowed_hosts",
    default: "",
    description: "Host names (optionally host:port) the MCP endpoints answer to, \
                  comma-separated; `*` for any. Always allowed: localhost, 127.0.0.1, [::1] \
                  and public_url's host. Guards local servers against DNS rebinding, and \
                  every server against tokens meant for another host.",
    secret: false,
};
pub const ALLOWED_ORIGINS: Variable = Variable {
    name: "allowed_origins",
    default: "",
    description: "Browser origins (`https://app.example.com`) allowed to call the MCP \
                  endpoints, comma-separated; `*` for any. Always allowed: localhost origins \
                  and public_url.",
    secret: false,
};
pub const AUTHORIZATION_SERVERS: Variable = Variable {
    name: "authorization_servers",
    default: "",
    description: "Comma-separated issuer URLs published as `authorization_servers` in the \
                  protected resource metadata. Empty: `jwt_issuer` in jwt mode, else none.",
    secret: false,
};
pub const MAX_BODY_BYTES: Variable = Variable {
    name: "max_body_bytes",
    default: "4194304",
    description: "Largest request body accepted, in bytes; larger ones get 413.",
    secret: false,
};
pub const PAGE_SIZE: Variable = Variable {
    name: "page_size",
    default: "50",
    description: "Items per page of every list: tools, resources, resource templates, \
                  prompts.",
    secret: false,
};
pub const SESSION_TTL_SECONDS: Variable = Variable {
    name: "session_ttl_seconds",
    default: "3600",
    description: "How long a session lives without activity (an open stream counts as \
                  activity). Expired sessions get 404 and clients start a new one.",
    secret: false,
};
pub const KEEPALIVE_SECONDS: Variable = Variable {
    name: "keepalive_seconds",
    default: "15",
    description: "Interval of the comment lines that keep idle event streams open through \
                  proxies; also how soon a vanished client is noticed. Decimals allowed.",
    secret: false,
};
pub const MAX_SESSIONS_PER_PRINCIPAL: Variable = Variable {
    name: "max_sessions_per_principal",
    default: "128",
    description: "Sessions (Streamable HTTP and HTTP+SSE) one principal may hold at once; \
                  beyond it `initialize` and `GET /sse` get 429 with `Retry-After`.",
    secret: false,
};
pub const MAX_STREAMS_PER_PRINCIPAL: Variable = Variable {
    name: "max_streams_per_principal",
    default: "32",
    description: "Long-lived event streams (`GET /sse`, `GET /mcp`, \
                  `subscriptions/listen`) one principal may hold open at once; beyond it 429 \
                  with `Retry-After`.",
    secret: false,
};
pub const STREAM_MAX_SECONDS: Variable = Variable {
    name: "stream_max_seconds",
    default: "3600",
    description: "Longest life of an event stream. It then ends cleanly with a `retry` \
                  hint; Streamable HTTP clients reconnect and resume with `Last-Event-ID`.",
    secret: false,
};
pub const GC_INTERVAL_SECONDS: Variable = Variable {
    name: "gc_interval_seconds",
    default: "300",
    description: "How often expired sessions and what they left in the store are swept. \
                  The sweep runs inside a request that opens a session; no separate \
                  service is needed.",
    secret: false,
};

pub const MAX_SESSIONS_TOTAL: Variable = Variable {
    name: "max_sessions_total",
    default: "10000",
    description: "Live sessions the whole server holds at once, whoever opened them (every \
                  new token is a new principal in passthrough mode, so per-principal caps \
                  alone do not bound an anonymous client); beyond it 503 with `Retry-After`. \
                  Sized for one node; raise it with the store.",
    secret: false,
};
pub const MAX_STREAMS_TOTAL: Variable = Variable {
    name: "max_streams_total",
    default: "1000",
    description: "Long-lived event streams the whole server holds open at once; beyond it \
                  503 with `Retry-After`. Each idle stream costs the host memory (a few \
                  hundred KiB under Spin) and a little CPU.",
    secret: false,
};
pub const TRUST_FORWARDED_PREFIX: Variable = Variable {
    name: "trust_forwarded_prefix",
    default: "off",
    description: "`on` when a reverse proxy in front mounts this server under a path and \
                  says so in `X-Forwarded-Prefix`: the HTTP+SSE endpoint event then carries \
                  that prefix. Off, the header is ignored (a client could otherwise steer \
                  where its POSTs go).",
    secret: false,
};

/// Every variable, in the order docs/configuration.md and `spin.toml` list them.
pub const VARIABLES: &[&Variable] = &[
    &AUTH_MODE,
    &STATIC_TOKENS,
    &JWT_ISSUER,
    &JWT_JWKS_URL,
    &JWT_JWKS_ORIGIN,
    &JWT_JWKS,
    &JWT_AUDIENCE,
    &JWT_HS256_SECRET,
    &JWT_LEEWAY_SECONDS,
    &JWKS_CACHE_SECONDS,
    &TOOL_SCOPES,
    &RESOURCE_DOCUMENTATION,
    &STATE_SECRET,
    &CONFORMANCE_FIXTURES,
    &PUBLIC_URL,
    &ALLOWED_HOSTS,
    &ALLOWED_ORIGINS,
    &AUTHORIZATION_SERVERS,
    &MAX_BODY_BYTES,
    &PAGE_SIZE,
    &SESSION_TTL_SECONDS,
    &KEEPALIVE_SECONDS,
    &MAX_SESSIONS_PER_PRINCIPAL,
    &MAX_STREAMS_PER_PRINCIPAL,
    &MAX_SESSIONS_TOTAL,
    &MAX_STREAMS_TOTAL,
    &STREAM_MAX_SECONDS,
    &GC_INTERVAL_SECONDS,
    &TRUST_FORWARDED_PREFIX,
];

impl Variable {
    /// The environment variable the portable build reads.
    pub fn env_name(&self) -> String {
        env_name(self.name)
    }
}

/// The environment variable that carries the Spin variable `name` in the portable build.
pub fn env_name(name: &str) -> String {
    format!("MCP_{}", name.to_ascii_uppercase())
}

/// How bearer tokens are judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// Any well-formed token is accepted and becomes the principal.
    Passthrough,
    /// Only the configured tokens, compared by hash in constant time.
    Static(Vec<StaticToken>),
    /// JWTs signed by the configured issuer.
    Jwt(JwtSettings),
    /// No authentication at all: for test suites that send no token. Never the default.
    None,
}

impl AuthMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            AuthMode::Passthrough => "passthrough",
            AuthMode::Static(_) => "static",
            AuthMode::Jwt(_) => "jwt",
            AuthMode::None => "none",
        }
    }
}

/// One accepted token of `static` mode.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticToken {
    /// Names the caller in logs and sessions.
    pub label: String,
    /// SHA-256 of the token; the token itself is never kept.
    pub sha256: [u8; 32],
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StaticToken({}, {:?})", self.label, self.scopes)
    }
}

/// Where `jwt` mode finds the issuer's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// Fetched over HTTP and cached.
    Url(String),
    /// A JWKS document from the configuration.
    Inline(String),
    /// Only the HS256 secret.
    None,
}

/// The `jwt` mode's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtSettings {
    pub issuer: String,
    pub keys: KeySource,
    /// Accepted `aud` values: `jwt_audience`, or this server's resource URLs under
    /// `public_url`. Never empty.
    pub audiences: Vec<String>,
    pub hs256_secret: Option<Vec<u8>>,
    pub leeway_s: u64,
    pub cache_ms: u64,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("issuer", &self.issuer)
            .field("keys", &self.keys)
            .field("audiences", &self.audiences)
            .field("hs256", &self.hs256_secret.is_some())
            .finish()
    }
}

/// Scopes each tool requires: `(tool, scopes)`.
pub type ToolScopes = Vec<(String, Vec<String>)>;

/// The configuration of one request, read lazily: a variable is read from the host (one
/// host call, which under Spin costs microseconds) and validated the first time the
/// request needs it, and at most once. A request that never needs the stream settings
/// never reads them. The first error of each value is logged in full; what a client sees
/// is [`ConfigError::response`].
pub struct Settings<'h> {
    host: &'h dyn Host,
    auth_mode: OnceCell<Result<AuthMode, ConfigError>>,
    public_url: OnceCell<Result<Option<String>, ConfigError>>,
    allowed_hosts: OnceCell<Result<Vec<String>, ConfigError>>,
    allowed_origins: OnceCell<Result<Vec<String>, ConfigError>>,
    authorization_servers: OnceCell<Result<Vec<String>, ConfigError>>,
    max_body_bytes: OnceCell<Result<usize, ConfigError>>,
    page_size: OnceCell<Result<usize, ConfigError>>,
    session_ttl_ms: OnceCell<Result<u64, ConfigError>>,
    keepalive_ms: OnceCell<Result<u64, ConfigError>>,
    max_sessions: OnceCell<Result<usize, ConfigError>>,
    max_streams: OnceCell<Result<usize, ConfigError>>,
    max_sessions_total: OnceCell<Result<usize, ConfigError>>,
    max_streams_total: OnceCell<Result<usize, ConfigError>>,
    trust_forwarded_prefix: OnceCell<Result<bool, ConfigError>>,
    stream_max_ms: OnceCell<Result<u64, ConfigError>>,
    gc_interval_ms: OnceCell<Result<u64, ConfigError>>,
    tool_scopes: OnceCell<Result<ToolScopes, ConfigError>>,
    resource_documentation: OnceCell<Result<Option<String>, ConfigError>>,
    state_secret: OnceCell<Result<Option<Vec<u8>>, ConfigError>>,
    fixtures: OnceCell<Result<bool, ConfigError>>,
}

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

impl<'h> Settings<'h> {
    /// Nothing is read yet.
    pub fn new(host: &'h dyn Host) -> Settings<'h> {
        Settings {
            host,
            auth_mode: OnceCell::new(),
            public_url: OnceCell::new(),
            allowed_hosts: OnceCell::new(),
            allowed_origins: OnceCell::new(),
            authorization_servers: OnceCell::new(),
            max_body_bytes: OnceCell::new(),
            page_size: OnceCell::new(),
            session_ttl_ms: OnceCell::new(),
            keepalive_ms: OnceCell::new(),
            max_sessions: OnceCell::new(),
            max_streams: OnceCell::new(),
            max_sessions_total: OnceCell::new(),
            max_streams_total: OnceCell::new(),
            trust_forwarded_prefix: OnceCell::new(),
            stream_max_ms: OnceCell::new(),
            gc_interval_ms: OnceCell::new(),
            tool_scopes: OnceCell::new(),
            resource_documentation: OnceCell::new(),
            state_secret: OnceCell::new(),
            fixtures: OnceCell::new(),
        }
    }

    /// Reads and checks every variable; the first error found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.host.prefetch_variables();
        self.auth_mode()?;
        self.public_url()?;
        self.allowed_hosts()?;
        self.allowed_origins()?;
        self.authorization_servers()?;
        self.max_body_bytes()?;
        self.page_size()?;
        self.session_ttl_ms()?;
        self.keepalive_ms()?;
        self.max_sessions()?;
        self.max_streams()?;
        self.max_sessions_total()?;
        self.max_streams_total()?;
        self.trust_forwarded_prefix()?;
        self.stream_max_ms()?;
        self.gc_interval_ms()?;
        self.tool_scopes()?;
        self.resource_documentation()?;
        self.state_secret()?;
        self.fixtures()?;
        Ok(())
    }

    fn memo<'s, T>(
        &'s self,
        cell: &'s OnceCell<Result<T, ConfigError>>,
        load: impl FnOnce() -> Result<T, ConfigError>,
    ) -> Result<&'s T, ConfigError> {
        cell.get_or_init(|| {
            let loaded = load();
            if let Err(e) = &loaded {
                self.host.log(&format!("refusing requests: {e}"));
            }
            loaded
        })
        .as_ref()
        .map_err(Clone::clone)
    }

    pub fn auth_mode(&self) -> Result<&AuthMode, ConfigError> {
        self.memo(&self.auth_mode, || {
            Ok(match read(self.host, &AUTH_MODE)?.as_str() {
                "passthrough" => AuthMode::Passthrough,
                "static" => AuthMode::Static(static_tokens(&read(self.host, &STATIC_TOKENS)?)?),
                "jwt" => AuthMode::Jwt(jwt_settings(self.host, self.public_url()?)?),
                "none" => AuthMode::None,
                other => {
                    let expected = "`passthrough`, `static`, `jwt` or `none`";
                    let why = format!("unknown mode {other:?}; expected {expected}");
                    return Err(problem(&AUTH_MODE, why));
                }
            })
        })
    }

    /// `scheme://host[:port]` without a trailing slash.
    pub fn public_url(&self) -> Result<Option<&str>, ConfigError> {
        self.memo(&self.public_url, || {
            match read(self.host, &PUBLIC_URL)?.as_str() {
                "" => Ok(None),
                url => Ok(Some(
                    parse_origin(url).map_err(|p| problem(&PUBLIC_URL, p))?,
                )),
            }
        })
        .map(Option::as_deref)
    }

    /// Extra `Host` values the MCP endpoints accept (`*`: any), lower-cased.
    pub fn allowed_hosts(&self) -> Result<&[String], ConfigError> {
        self.memo(&self.allowed_hosts, || {
            lower_list(self.host, &ALLOWED_HOSTS)
        })
        .map(Vec::as_slice)
    }

    /// Extra `Origin` values the MCP endpoints accept (`*`: any), lower-cased.
    pub fn allowed_origins(&self) -> Result<&[String], ConfigError> {
        self.memo(&self.allowed_origins, || {
            let origins = lower_list(self.host, &ALLOWED_ORIGINS)?;
            if let Some(bad) = origins
                .iter()
                .find(|o| *o != "*" && !(o.starts_with("http://") || o.starts_with("https://")))
            {
                return Err(problem(
                    &ALLOWED_ORIGINS,
                    format!("{bad:?} is not an origin such as https://app.example.com"),
                ));
            }
            Ok(origins)
        })
        .map(Vec::as_slice)
    }

    pub fn authorization_servers(&self) -> Result<&[String], ConfigError> {
        self.memo(&self.authorization_servers, || {
            split_list(&read(self.host, &AUTHORIZATION_SERVERS)?)
                .map(|url| http_url(&AUTHORIZATION_SERVERS, url))
                .collect()
        })
        .map(Vec::as_slice)
    }

    pub fn max_body_bytes(&self) -> Result<usize, ConfigError> {
        self.memo(&self.max_body_bytes, || {
            positive(self.host, &MAX_BODY_BYTES)
        })
        .copied()
    }

    pub fn page_size(&self) -> Result<usize, ConfigError> {
        self.memo(&self.page_size, || positive(self.host, &PAGE_SIZE))
            .copied()
    }

    pub fn session_ttl_ms(&self) -> Result<u64, ConfigError> {
        self.memo(&self.session_ttl_ms, || {
            match positive(self.host, &SESSION_TTL_SECONDS)? {
                // A month: beyond it, no session needs to live, and times stay far from
                // overflowing.
                seconds if seconds <= 2_592_000 => Ok(seconds as u64 * 1000),
                seconds => Err(problem(
                    &SESSION_TTL_SECONDS,
                    format!("{seconds} is more than a month (2592000 seconds)"),
                )),
            }
        })
        .copied()
    }

    pub fn keepalive_ms(&self) -> Result<u64, ConfigError> {
        self.memo(&self.keepalive_ms, || {
            seconds_as_ms(self.host, &KEEPALIVE_SECONDS)
        })
        .copied()
    }

    pub fn max_sessions(&self) -> Result<usize, ConfigError> {
        self.memo(&self.max_sessions, || {
            positive(self.host, &MAX_SESSIONS_PER_PRINCIPAL)
        })
        .copied()
    }

    pub fn max_streams(&self) -> Result<usize, ConfigError> {
        self.memo(&self.max_streams, || {
            positive(self.host, &MAX_STREAMS_PER_PRINCIPAL)
        })
        .copied()
    }

    pub fn max_sessions_total(&self) -> Result<usize, ConfigError> {
        self.memo(&self.max_sessions_total, || {
            positive(self.host, &MAX_SESSIONS_TOTAL)
        })
        .copied()
    }

    pub fn max_streams_total(&self) -> Result<usize, ConfigError> {
        self.memo(&self.max_streams_total, || {
            positive(self.host, &MAX_STREAMS_TOTAL)
        })
        .copied()
    }

    /// Whether `X-Forwarded-Prefix` is honoured.
    pub fn trust_forwarded_prefix(&self) -> Result<bool, ConfigError> {
        self.memo(&self.trust_forwarded_prefix, || {
            switch(self.host, &TRUST_FORWARDED_PREFIX)
        })
        .copied()
    }

    pub fn stream_max_ms(&self) -> Result<u64, ConfigError> {
        self.memo(&self.stream_max_ms, || {
            seconds_as_ms(self.host, &STREAM_MAX_SECONDS)
        })
        .copied()
    }

    pub fn gc_interval_ms(&self) -> Result<u64, ConfigError> {
        self.memo(&self.gc_interval_ms, || {
            seconds_as_ms(self.host, &GC_INTERVAL_SECONDS)
        })
        .copied()
    }

    /// Scopes each tool requires, in tool order; enforced outside `passthrough` mode.
    pub fn tool_scopes(&self) -> Result<&[(String, Vec<String>)], ConfigError> {
        self.memo(&self.tool_scopes, || {
            tool_scopes(&read(self.host, &TOOL_SCOPES)?)
        })
        .map(Vec::as_slice)
    }

    pub fn resource_documentation(&self) -> Result<Option<&str>, ConfigError> {
        self.memo(&self.resource_documentation, || {
            match read(self.host, &RESOURCE_DOCUMENTATION)?.as_str() {
                "" => Ok(None),
                url => Ok(Some(http_url(&RESOURCE_DOCUMENTATION, url)?)),
            }
        })
        .map(Option::as_deref)
    }

    /// Key for `requestState` signatures, when configured.
    pub fn state_secret(&self) -> Result<Option<&[u8]>, ConfigError> {
        self.memo(&self.state_secret, || {
            match read(self.host, &STATE_SECRET)? {
                secret if secret.is_empty() => Ok(None),
                secret if secret.len() < 32 => Err(problem(
                    &STATE_SECRET,
                    "must be at least 32 characters".into(),
                )),
                secret => Ok(Some(secret.into_bytes())),
            }
        })
        .map(Option::as_deref)
    }

    /// Whether the conformance fixtures are on.
    pub fn fixtures(&self) -> Result<bool, ConfigError> {
        self.memo(&self.fixtures, || switch(self.host, &CONFORMANCE_FIXTURES))
            .copied()
    }
}

fn problem(variable: &'static Variable, problem: String) -> ConfigError {
    ConfigError { variable, problem }
}

/// The variable's value, or its default when unset or blank.
fn read(host: &dyn Host, variable: &'static Variable) -> Result<String, ConfigError> {
    let value = host
        .variable(variable.name)
        .map_err(|reason| problem(variable, format!("could not be read: {reason}")))?;
    Ok(match value.as_deref().map(str::trim) {
        None | Some("") => variable.default.to_string(),
        Some(value) => value.to_string(),
    })
}

fn positive(host: &dyn Host, variable: &'static Variable) -> Result<usize, ConfigError> {
    let text = read(host, variable)?;
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(problem(
            variable,
            format!("expected a positive whole number, got {text:?}"),
        )),
    }
}

/// `label=sha256:<hex> scope…` / `label=plain:<token> scope…`, comma-separated. Errors name
/// the entry by its label or position, never by its credential.
fn static_tokens(text: &str) -> Result<Vec<StaticToken>, ConfigError> {
    use sha2::{Digest, Sha256};
    let mut tokens = Vec::new();
    for (n, entry) in split_list(text).enumerate() {
        let bad = |why: &str| problem(&STATIC_TOKENS, format!("entry {} {why}", n + 1));
        let (label, rest) = entry
            .split_once('=')
            .ok_or_else(|| bad("must look like label=sha256:<hex> or label=plain:<token>"))?;
        let label = label.trim();
        if label.is_empty()
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
        {
            return Err(bad("has a label that is not letters, digits, . _ @ -"));
        }
        let mut words = rest.split_whitespace();
        let credential = words.next().unwrap_or_default();
        let scopes: Vec<String> = words.map(str::to_string).collect();
        let sha256 = if let Some(hex) = credential.strip_prefix("sha256:") {
            decode_hex32(hex).ok_or_else(|| {
                problem(
                    &STATIC_TOKENS,
                    format!("entry {label:?}: sha256: must be followed by 64 hex digits"),
                )
            })?
        } else if let Some(token) = credential.strip_prefix("plain:") {
            if token.is_empty() {
                return Err(problem(
                    &STATIC_TOKENS,
                    format!("entry {label:?}: empty plain: token"),
                ));
            }
            Sha256::digest(token.as_bytes()).into()
        } else {
            return Err(problem(
                &STATIC_TOKENS,
                format!("entry {label:?}: the credential must start with sha256: or plain:"),
            ));
        };
        tokens.push(StaticToken {
            label: label.to_string(),
            sha256,
            scopes,
        });
    }
    if tokens.is_empty() {
        return Err(problem(
            &STATIC_TOKENS,
            "static mode needs at least one token; with none, nobody could get in".into(),
        ));
    }
    Ok(tokens)
}

fn decode_hex32(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let digit = |b: u8| (b as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

/// `public_url` gives the default audiences: the accepted `aud` never comes from the
/// request (its Host header is the client's word, and a token minted for another resource
/// would pass as ours, the confused deputy that audience checks exist to stop).
fn jwt_settings(host: &dyn Host, public_url: Option<&str>) -> Result<JwtSettings, ConfigError> {
    let issuer = read(host, &JWT_ISSUER)?;
    if issuer.is_empty() {
        return Err(problem(
            &JWT_ISSUER,
            "jwt mode needs the issuer every token must name".into(),
        ));
    }
    let hs256_secret = match read(host, &JWT_HS256_SECRET)? {
        secret if secret.is_empty() => None,
        secret if secret.len() < 32 => {
            return Err(problem(
                &JWT_HS256_SECRET,
                "must be at least 32 characters; shorter secrets can be guessed".into(),
            ))
        }
        secret => Some(secret.into_bytes()),
    };
    let keys = match (
        read(host, &JWT_JWKS_URL)?.as_str(),
        read(host, &JWT_JWKS)?.as_str(),
    ) {
        ("", "") if hs256_secret.is_some() => KeySource::None,
        ("", "") => return Err(problem(
            &JWT_JWKS_URL,
            "jwt mode needs the issuer's keys: set jwt_jwks_url (or jwt_jwks, or jwt_hs256_secret)"
                .into(),
        )),
        (url, "") => KeySource::Url(http_url(&JWT_JWKS_URL, url)?),
        ("", inline) => {
            let parsed: serde_json::Value = serde_json::from_str(inline)
                .map_err(|e| problem(&JWT_JWKS, format!("is not JSON: {e}")))?;
            if !parsed.get("keys").is_some_and(serde_json::Value::is_array) {
                return Err(problem(
                    &JWT_JWKS,
                    "must be a JWKS document: {\"keys\": [...]}".into(),
                ));
            }
            KeySource::Inline(inline.to_string())
        }
        _ => {
            return Err(problem(
                &JWT_JWKS,
                "set either jwt_jwks_url or jwt_jwks, not both".into(),
            ))
        }
    };
    let listed: Vec<String> = split_list(&read(host, &JWT_AUDIENCE)?)
        .map(str::to_string)
        .collect();
    let audiences = match (listed.is_empty(), public_url) {
        (false, _) => listed,
        // What clients request per RFC 8707: this server's resource URLs.
        (true, Some(url)) => ["", "/", "/mcp", "/sse"]
            .iter()
            .map(|path| format!("{url}{path}"))
            .collect(),
        (true, None) => {
            return Err(problem(
                &JWT_AUDIENCE,
                "jwt mode needs jwt_audience, or public_url to derive it from: the audience \
                 tokens must carry is never taken from the request"
                    .into(),
            ))
        }
    };
    let leeway_s = read(host, &JWT_LEEWAY_SECONDS)?
        .parse::<u64>()
        .map_err(|_| {
            problem(
                &JWT_LEEWAY_SECONDS,
                "expected a whole number of seconds".into(),
            )
        })?;
    Ok(JwtSettings {
        issuer,
        keys,
        audiences,
        hs256_secret,
        leeway_s,
        cache_ms: positive(host, &JWKS_CACHE_SECONDS)? as u64 * 1000,
    })
}

/// `tool=scope scope, tool2=scope`.
fn tool_scopes(text: &str) -> Result<ToolScopes, ConfigError> {
    split_list(text)
        .map(|entry| {
            let (tool, scopes) = entry.split_once('=').ok_or_else(|| {
                problem(&TOOL_SCOPES, format!("{entry:?} must look like tool=scope"))
            })?;
            let tool = tool.trim();
            if crate::catalog::Catalog::new(true).tool(tool).is_none() {
                return Err(problem(
                    &TOOL_SCOPES,
                    format!("there is no tool called {tool:?}"),
                ));
            }
            Ok((
                tool.to_string(),
                scopes.split_whitespace().map(str::to_string).collect(),
            ))
        })
        .collect()
}

/// A comma-separated list, lower-cased, trailing slashes dropped.
fn lower_list(host: &dyn Host, variable: &'static Variable) -> Result<Vec<String>, ConfigError> {
    Ok(split_list(&read(host, variable)?)
        .map(|s| s.trim_end_matches('/').to_ascii_lowercase())
        .collect())
}

fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split([',', ';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn http_url(variable: &'static Variable, url: &str) -> Result<String, ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| problem(variable, format!("{url:?} is not an http(s) URL")))?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
        return Err(problem(variable, format!("{url:?} is not an http(s) URL")));
    }
    Ok(url.to_string())
}

/// `on`/`off` (also `true`/`false`, `1`/`0`).
fn switch(host: &dyn Host, variable: &'static Variable) -> Result<bool, ConfigError> {
    match read(host, variable)?.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        other => Err(problem(
            variable,
            format!("expected on or off, got {other:?}"),
        )),
    }
}

/// A positive number of seconds, decimals allowed (`0.5`), as milliseconds.
fn seconds_as_ms(host: &dyn Host, variable: &'static Variable) -> Result<u64, ConfigError> {
    let text = read(host, variable)?;
    match text.parse::<f64>() {
        Ok(seconds) if (0.001..=86_400.0).contains(&seconds) => {
            Ok((seconds * 1000.0).round() as u64)
        }
        _ => Err(problem(
            variable,
            format!("expected a number of seconds between 0.001 and 86400, got {text:?}"),
        )),
    }
}

/// Accepts `http(s)://authority` with an optional trailing slash; returns it without.
fn parse_origin(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{url:?} must start with https:// or http://"))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', ' ']) {
        return Err(format!(
            "{url:?} must be an origin such as https://mcp.example.com, without a path"
        ));
    }
    Ok(url.strip_suffix('/').unwrap_or(url).to_string())
}
