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
}

pub const AUTH_MODE: Variable = Variable {
    name: "auth_mode",
    default: "passthrough",
    description: "Who gets in. `passthrough`: any well-formed bearer token is accepted \
                  and handed to tools (the demo's behaviour; never for production).",
};
pub const PUBLIC_URL: Variable = Variable {
    name: "public_url",
    default: "",
    description: "The origin clients use to reach this server (`https://mcp.example.com`), \
                  when a proxy in front changes it. Empty: taken from each request.",
};
pub const AUTHORIZATION_SERVERS: Variable = Variable {
    name: "authorization_servers",
    default: "",
    description: "Comma-separated issuer URLs published as `authorization_servers` in the \
                  protected resource metadata. Empty: none published.",
};
pub const MAX_BODY_BYTES: Variable = Variable {
    name: "max_body_bytes",
    default: "4194304",
    description: "Largest request body accepted, in bytes; larger ones get 413.",
};
pub const PAGE_SIZE: Variable = Variable {
    name: "page_size",
    default: "50",
    description: "Items per page of `tools/list` (and every other list).",
};
pub const SESSION_TTL_SECONDS: Variable = Variable {
    name: "session_ttl_seconds",
    default: "3600",
    description: "How long a session lives without activity (an open stream counts as \
                  activity). Expired sessions get 404 and clients start a new one.",
};
pub const KEEPALIVE_SECONDS: Variable = Variable {
    name: "keepalive_seconds",
    default: "15",
    description: "Interval of the comment lines that keep idle event streams open through \
                  proxies; also how soon a vanished client is noticed. Decimals allowed.",
};

/// Every variable, in the order the README and `spin.toml` list them.
pub const VARIABLES: &[&Variable] = &[
    &AUTH_MODE,
    &PUBLIC_URL,
    &AUTHORIZATION_SERVERS,
    &MAX_BODY_BYTES,
    &PAGE_SIZE,
    &SESSION_TTL_SECONDS,
    &KEEPALIVE_SECONDS,
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
}

impl AuthMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            AuthMode::Passthrough => "passthrough",
        }
    }
}

/// The validated configuration of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub auth_mode: AuthMode,
    /// `scheme://host[:port]` without a trailing slash.
    pub public_url: Option<String>,
    pub authorization_servers: Vec<String>,
    pub max_body_bytes: usize,
    pub page_size: usize,
    pub session_ttl_ms: u64,
    pub keepalive_ms: u64,
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
            other => {
                return Err(problem(
                    &AUTH_MODE,
                    format!("unknown mode {other:?}; expected `passthrough`"),
                ))
            }
        };
        let public_url = match read(host, &PUBLIC_URL)?.as_str() {
            "" => None,
            url => Some(parse_origin(url).map_err(|p| problem(&PUBLIC_URL, p))?),
        };
        let authorization_servers = read(host, &AUTHORIZATION_SERVERS)?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|url| {
                if url.starts_with("https://") || url.starts_with("http://") {
                    Ok(url.to_string())
                } else {
                    Err(problem(
                        &AUTHORIZATION_SERVERS,
                        format!("{url:?} is not an http(s) URL"),
                    ))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Settings {
            auth_mode,
            public_url,
            authorization_servers,
            max_body_bytes: positive(host, &MAX_BODY_BYTES)?,
            page_size: positive(host, &PAGE_SIZE)?,
            session_ttl_ms: positive(host, &SESSION_TTL_SECONDS)? as u64 * 1000,
            keepalive_ms: seconds_as_ms(host, &KEEPALIVE_SECONDS)?,
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
