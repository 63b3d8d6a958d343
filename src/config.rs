//! Configuration: one table of variables, read through the host.
//!
//! The Spin build reads Spin variables (declared in `spin.toml`, set with
//! `spin up --variable name=value` or `SPIN_VARIABLE_NAME`); the portable build reads
//! environment variables (`MCP_` + the upper-cased name, passed with
//! `wasmtime serve --env`). A wrong value fails each request with a 500 that names the
//! variable: a server that guesses its configuration could let the wrong people in.

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
                  server's resource URLs (its origin, and the origin with /mcp or /sse).",
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
    description: "Host names (optionally host:port) the MCP endpoints answer to in passthrough \
                  and none modes, comma-separated; `*` for any. Always allowed: localhost, \
                  127.0.0.1, [::1] and public_url's host. Guards local servers against DNS \
                  rebinding.",
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
                  protected resource metadata. Empty: none published.",
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
    description: "Items per page of `tools/list` (and every other list).",
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
    description: "Long-lived event streams (`GET /sse`, `GET /mcp`) one principal may hold \
                  open at once; beyond it 429 with `Retry-After`.",
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

/// Every variable, in the order the README and `spin.toml` list them.
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
    &STREAM_MAX_SECONDS,
    &GC_INTERVAL_SECONDS,
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
    /// Accepted `aud` values; `None` means this server's own resource URLs.
    pub audiences: Option<Vec<String>>,
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

/// The validated configuration of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub auth_mode: AuthMode,
    /// `scheme://host[:port]` without a trailing slash.
    pub public_url: Option<String>,
    /// Extra `Host` values the MCP endpoints accept (`*`: any), lower-cased.
    pub allowed_hosts: Vec<String>,
    /// Extra `Origin` values the MCP endpoints accept (`*`: any), lower-cased.
    pub allowed_origins: Vec<String>,
    pub authorization_servers: Vec<String>,
    pub max_body_bytes: usize,
    pub page_size: usize,
    pub session_ttl_ms: u64,
    pub keepalive_ms: u64,
    pub max_sessions: usize,
    pub max_streams: usize,
    pub stream_max_ms: u64,
    pub gc_interval_ms: u64,
    /// Scopes each tool requires, in tool order; enforced outside `passthrough` mode.
    pub tool_scopes: Vec<(String, Vec<String>)>,
    pub resource_documentation: Option<String>,
    /// Key for `requestState` signatures, when configured.
    pub state_secret: Option<Vec<u8>>,
    /// Whether the conformance fixtures are on.
    pub fixtures: bool,
}

/// A variable that could not be read or has a wrong value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static Variable,
    pub problem: String,
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

impl Settings {
    pub fn load(host: &dyn Host) -> Result<Settings, ConfigError> {
        let auth_mode = match read(host, &AUTH_MODE)?.as_str() {
            "passthrough" => AuthMode::Passthrough,
            "static" => AuthMode::Static(static_tokens(&read(host, &STATIC_TOKENS)?)?),
            "jwt" => AuthMode::Jwt(jwt_settings(host)?),
            "none" => AuthMode::None,
            other => {
                return Err(problem(
                    &AUTH_MODE,
                    format!(
                        "unknown mode {other:?}; expected `passthrough`, `static`, `jwt` or `none`"
                    ),
                ))
            }
        };
        let public_url = match read(host, &PUBLIC_URL)?.as_str() {
            "" => None,
            url => Some(parse_origin(url).map_err(|p| problem(&PUBLIC_URL, p))?),
        };
        let list = |variable| -> Result<Vec<String>, ConfigError> {
            Ok(split_list(&read(host, variable)?)
                .map(|s| s.trim_end_matches('/').to_ascii_lowercase())
                .collect())
        };
        let allowed_hosts = list(&ALLOWED_HOSTS)?;
        let allowed_origins = list(&ALLOWED_ORIGINS)?;
        if let Some(bad) = allowed_origins
            .iter()
            .find(|o| *o != "*" && !(o.starts_with("http://") || o.starts_with("https://")))
        {
            return Err(problem(
                &ALLOWED_ORIGINS,
                format!("{bad:?} is not an origin such as https://app.example.com"),
            ));
        }
        let authorization_servers = split_list(&read(host, &AUTHORIZATION_SERVERS)?)
            .map(|url| http_url(&AUTHORIZATION_SERVERS, url))
            .collect::<Result<_, _>>()?;
        Ok(Settings {
            auth_mode,
            public_url,
            allowed_hosts,
            allowed_origins,
            authorization_servers,
            max_body_bytes: positive(host, &MAX_BODY_BYTES)?,
            page_size: positive(host, &PAGE_SIZE)?,
            session_ttl_ms: positive(host, &SESSION_TTL_SECONDS)? as u64 * 1000,
            keepalive_ms: seconds_as_ms(host, &KEEPALIVE_SECONDS)?,
            max_sessions: positive(host, &MAX_SESSIONS_PER_PRINCIPAL)?,
            max_streams: positive(host, &MAX_STREAMS_PER_PRINCIPAL)?,
            stream_max_ms: seconds_as_ms(host, &STREAM_MAX_SECONDS)?,
            gc_interval_ms: seconds_as_ms(host, &GC_INTERVAL_SECONDS)?,
            tool_scopes: tool_scopes(&read(host, &TOOL_SCOPES)?)?,
            resource_documentation: match read(host, &RESOURCE_DOCUMENTATION)?.as_str() {
                "" => None,
                url => Some(http_url(&RESOURCE_DOCUMENTATION, url)?),
            },
            state_secret: match read(host, &STATE_SECRET)? {
                secret if secret.is_empty() => None,
                secret if secret.len() < 32 => {
                    return Err(problem(
                        &STATE_SECRET,
                        "must be at least 32 characters".into(),
                    ))
                }
                secret => Some(secret.into_bytes()),
            },
            fixtures: switch(host, &CONFORMANCE_FIXTURES)?,
        })
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

fn jwt_settings(host: &dyn Host) -> Result<JwtSettings, ConfigError> {
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
    let audiences = {
        let list: Vec<String> = split_list(&read(host, &JWT_AUDIENCE)?)
            .map(str::to_string)
            .collect();
        (!list.is_empty()).then_some(list)
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
fn tool_scopes(text: &str) -> Result<Vec<(String, Vec<String>)>, ConfigError> {
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
