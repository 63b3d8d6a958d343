//! The authentication policy in force: the mode `auth_mode` names, with what it needs to
//! judge a token (the static tokens' hashes, the JWT issuer and keys), built from the
//! configuration variables that belong to it.

use super::Secret;
use crate::config::{
    self, AuthMode, ConfigError, Settings, INTROSPECTION_CACHE_SECONDS, INTROSPECTION_CLIENT_ID,
    INTROSPECTION_CLIENT_SECRET, INTROSPECTION_URL, JWKS_CACHE_SECONDS, JWT_AUDIENCE,
    JWT_HS256_SECRET, JWT_ISSUER, JWT_JWKS, JWT_JWKS_URL, JWT_LEEWAY_SECONDS, STATIC_TOKENS,
};

/// How bearer tokens are judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Any well-formed token is accepted and becomes the principal.
    Passthrough,
    /// Only the configured tokens, compared by hash in constant time.
    Static(Vec<StaticToken>),
    /// JWTs signed by the configured issuer.
    Jwt(JwtSettings),
    /// Any token, judged by the authorization server's introspection endpoint.
    Introspection(IntrospectionSettings),
    /// No authentication at all: for test suites that send no token. Never the default.
    None,
}

impl Policy {
    /// Reads the policy `auth_mode` names and the variables it needs; the others are not
    /// read. Errors are logged in full once.
    pub fn load(settings: &Settings<'_>) -> Result<Policy, ConfigError> {
        let loaded = match settings.auth_mode()? {
            AuthMode::Passthrough => Ok(Policy::Passthrough),
            AuthMode::Static => static_tokens(settings.static_tokens()?).map(Policy::Static),
            AuthMode::Jwt => jwt_settings(settings).map(Policy::Jwt),
            AuthMode::Introspection => introspection_settings(settings).map(Policy::Introspection),
            AuthMode::None => Ok(Policy::None),
        };
        if let Err(e) = &loaded {
            settings.log_refusal(e);
        }
        loaded
    }

    pub fn mode(&self) -> AuthMode {
        match self {
            Policy::Passthrough => AuthMode::Passthrough,
            Policy::Static(_) => AuthMode::Static,
            Policy::Jwt(_) => AuthMode::Jwt,
            Policy::Introspection(_) => AuthMode::Introspection,
            Policy::None => AuthMode::None,
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

/// The `introspection` mode's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct IntrospectionSettings {
    /// The introspection endpoint.
    pub url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// The `iss` an answer must carry when it names one (`jwt_issuer`, optional here).
    pub issuer: Option<String>,
    /// Accepted `aud` values, as in jwt mode. Never empty.
    pub audiences: Vec<String>,
    pub leeway_s: u64,
    /// How long an answer is reused at most.
    pub cache_ms: u64,
}

impl std::fmt::Debug for IntrospectionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionSettings")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .finish()
    }
}

/// `label=sha256:<hex> scope…` / `label=plain:<token> scope…`, comma-separated. Errors name
/// the entry by its label or position, never by its credential.
fn static_tokens(text: &str) -> Result<Vec<StaticToken>, ConfigError> {
    use sha2::{Digest, Sha256};
    let mut tokens = Vec::new();
    for (n, entry) in config::split_list(text).enumerate() {
        let bad = |why: &str| STATIC_TOKENS.problem(format!("entry {} {why}", n + 1));
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
                STATIC_TOKENS.problem(format!(
                    "entry {label:?}: sha256: must be followed by 64 hex digits"
                ))
            })?
        } else if let Some(token) = credential.strip_prefix("plain:") {
            if token.is_empty() {
                return Err(STATIC_TOKENS.problem(format!("entry {label:?}: empty plain: token")));
            }
            Sha256::digest(token.as_bytes()).into()
        } else {
            return Err(STATIC_TOKENS.problem(format!(
                "entry {label:?}: the credential must start with sha256: or plain:"
            )));
        };
        tokens.push(StaticToken {
            label: label.to_string(),
            sha256,
            scopes,
        });
    }
    if tokens.is_empty() {
        return Err(STATIC_TOKENS
            .problem("static mode needs at least one token; with none, nobody could get in"));
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
fn jwt_settings(settings: &Settings<'_>) -> Result<JwtSettings, ConfigError> {
    let issuer = settings.jwt_issuer()?;
    if issuer.is_empty() {
        return Err(JWT_ISSUER.problem("jwt mode needs the issuer every token must name"));
    }
    let hs256_secret =
        config::optional_secret(&JWT_HS256_SECRET, settings.jwt_hs256_secret()?.to_string())?
            .map(String::into_bytes);
    let keys = match (settings.jwt_jwks_url()?, settings.jwt_jwks()?) {
        ("", "") if hs256_secret.is_some() => KeySource::None,
        ("", "") => return Err(JWT_JWKS_URL.problem(
            "jwt mode needs the issuer's keys: set jwt_jwks_url (or jwt_jwks, or jwt_hs256_secret)",
        )),
        (url, "") => KeySource::Url(config::http_url(&JWT_JWKS_URL, url)?),
        ("", inline) => {
            let parsed: serde_json::Value = serde_json::from_str(inline)
                .map_err(|e| JWT_JWKS.problem(format!("is not JSON: {e}")))?;
            if !parsed.get("keys").is_some_and(serde_json::Value::is_array) {
                return Err(JWT_JWKS.problem("must be a JWKS document: {\"keys\": [...]}"));
            }
            KeySource::Inline(inline.to_string())
        }
        _ => return Err(JWT_JWKS.problem("set either jwt_jwks_url or jwt_jwks, not both")),
    };
    Ok(JwtSettings {
        issuer: issuer.to_string(),
        keys,
        audiences: audiences(settings)?,
        hs256_secret,
        leeway_s: config::whole(&JWT_LEEWAY_SECONDS, settings.jwt_leeway_seconds()?.into())?,
        cache_ms: config::positive_seconds(
            &JWKS_CACHE_SECONDS,
            settings.jwks_cache_seconds()?.into(),
        )?,
    })
}

/// The accepted `aud` values of jwt and introspection modes: `jwt_audience`, or this
/// server's resource URLs under `public_url` (what clients request per RFC 8707).
fn audiences(settings: &Settings<'_>) -> Result<Vec<String>, ConfigError> {
    let listed: Vec<String> = config::split_list(settings.jwt_audience()?)
        .map(str::to_string)
        .collect();
    match (listed.is_empty(), settings.public_url()?) {
        (false, _) => Ok(listed),
        (true, Some(url)) => Ok(["", "/", "/mcp", "/sse"]
            .iter()
            .map(|path| format!("{url}{path}"))
            .collect()),
        (true, None) => Err(JWT_AUDIENCE.problem(format!(
            "{} mode needs jwt_audience, or public_url to derive it from: the audience \
             tokens must carry is never taken from the request",
            settings.auth_mode()?.as_str()
        ))),
    }
}

/// The introspection endpoint and this server's credentials for it are required; the
/// issuer is optional (an answer comes from the authorization server itself).
fn introspection_settings(settings: &Settings<'_>) -> Result<IntrospectionSettings, ConfigError> {
    let url = match settings.introspection_url()? {
        "" => {
            return Err(INTROSPECTION_URL.problem(
                "introspection mode needs the authorization server's introspection endpoint",
            ))
        }
        url => config::http_url(&INTROSPECTION_URL, url)?,
    };
    let client_id = settings.introspection_client_id()?;
    if client_id.is_empty() {
        return Err(INTROSPECTION_CLIENT_ID
            .problem("introspection mode needs the client id this server authenticates with"));
    }
    // Its length is the authorization server's choice, not the operator's: not checked.
    let client_secret = settings.introspection_client_secret()?;
    if client_secret.is_empty() {
        return Err(INTROSPECTION_CLIENT_SECRET
            .problem("introspection mode needs the secret of introspection_client_id"));
    }
    let issuer = Some(settings.jwt_issuer()?.to_string()).filter(|i| !i.is_empty());
    if issuer.is_none() && settings.authorization_servers()?.is_empty() {
        return Err(JWT_ISSUER.problem(
            "introspection mode needs jwt_issuer (or authorization_servers): the protected \
             resource metadata names it, and without it no client can find where to get a token",
        ));
    }
    Ok(IntrospectionSettings {
        url,
        client_id: client_id.to_string(),
        client_secret: Secret::new(client_secret),
        issuer,
        audiences: audiences(settings)?,
        leeway_s: config::whole(&JWT_LEEWAY_SECONDS, settings.jwt_leeway_seconds()?.into())?,
        cache_ms: config::positive_seconds(
            &INTROSPECTION_CACHE_SECONDS,
            settings.introspection_cache_seconds()?.into(),
        )?,
    })
}
