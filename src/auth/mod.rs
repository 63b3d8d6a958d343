//! Who is calling. Bearer tokens come only in the `Authorization` header (RFC 6750 §2.1);
//! the configured policy turns a token into a [`Principal`] or a refusal:
//!
//! * `passthrough`: any well-formed token (the demo; tools see it, scopes are not checked);
//! * `static`: configured tokens, kept as SHA-256 hashes, compared in constant time;
//! * `jwt`: JWS signatures checked against the issuer's keys, then `iss`, `aud`, `exp`,
//!   `nbf`; the principal is the token's subject;
//! * `introspection`: any token, as the authorization server's introspection endpoint
//!   judges it (RFC 7662), its answer checked as a JWT's claims are;
//! * `none`: no authentication, for conformance suites that send no token.
//!
//! Tokens never reach a log line or an error message: [`Secret`] prints as `[redacted]`,
//! and principals are logged by their label (a static token's label, a JWT's `sub`, or a
//! short fingerprint in passthrough mode), none of which can be replayed.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::config::ConfigError;
use crate::host::Host;
use crate::http::{Request, Response};

pub mod bearer;
pub mod introspection;
pub mod jwt;
pub mod metadata;
pub mod policy;
mod static_tokens;

pub use bearer::{extract, BearerError, MAX_AUTHORIZATION_BYTES};
pub use policy::Policy;

/// A value that must not be printed: `Debug` shows `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the few places that must hand it on.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What a principal may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grants {
    /// Everything (passthrough mode checks no scopes).
    All,
    /// These OAuth scopes.
    Scopes(BTreeSet<String>),
}

/// The authenticated caller of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Stable identity that sessions are bound to. Not for logs.
    pub id: String,
    /// How logs name the caller: a label or subject, never a credential.
    pub label: String,
    /// The `Authorization` header as received, for tools that act on the caller's behalf.
    pub authorization: Secret,
    pub grants: Grants,
}

impl Principal {
    /// The scopes in `required` this principal lacks.
    pub fn missing<'a>(&self, required: &'a [String]) -> Vec<&'a str> {
        match &self.grants {
            Grants::All => Vec::new(),
            Grants::Scopes(held) => required
                .iter()
                .filter(|s| !held.contains(*s))
                .map(String::as_str)
                .collect(),
        }
    }
}

/// Why a request was not authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No usable bearer token in the request.
    Bearer(BearerError),
    /// A token that is not valid here (RFC 6750 `invalid_token`); the text says why,
    /// without repeating the token.
    InvalidToken(String),
    /// The token could not be checked now: the issuer's keys are out of reach. The text
    /// is the detail for the operator's log (it may name URLs); the client is told only
    /// that it may retry.
    Unavailable(String),
    /// A valid token without every scope in `required_scopes` (those are named).
    MissingScopes(Vec<String>),
    /// The auth configuration is invalid (logged when read).
    Config(ConfigError),
}

/// The scopes every request needs under `policy`: `required_scopes` where scopes are
/// enforced, none elsewhere (passthrough and none modes grant everything).
pub fn required_scopes<'s>(
    policy: &Policy,
    settings: &'s crate::config::Settings<'_>,
) -> Result<&'s [String], ConfigError> {
    match policy.mode().enforces_scopes() {
        true => settings.required_scopes(),
        false => Ok(&[]),
    }
}

/// Refuses a principal that lacks any of `required` ([`required_scopes`]).
pub fn require(principal: &Principal, required: &[String]) -> Result<(), AuthError> {
    if principal.missing(required).is_empty() {
        Ok(())
    } else {
        Err(AuthError::MissingScopes(required.to_vec()))
    }
}

/// The policy in force, with what judging tokens under it keeps from one request to the
/// next: the issuer's keys, in memory ([`jwt::KeyMemory`]). An instance builds one and
/// keeps it for every request it serves; nothing in it belongs to a request or a caller.
pub struct Verifier {
    pub policy: Policy,
    keys: jwt::KeyMemory,
}

impl Verifier {
    pub fn new(policy: Policy) -> Verifier {
        Verifier {
            policy,
            keys: jwt::KeyMemory::default(),
        }
    }
}

/// Authenticates a request under the configured policy.
pub async fn authenticate(
    verifier: &Verifier,
    host: &dyn Host,
    request: &Request<'_>,
) -> Result<Principal, AuthError> {
    let policy = &verifier.policy;
    if *policy == Policy::None {
        // Everyone is the same anonymous caller; a token, if sent, is ignored.
        return Ok(Principal {
            id: "anonymous".into(),
            label: "anonymous".into(),
            authorization: Secret::new(""),
            grants: Grants::All,
        });
    }
    let (header, token) = extract(request).map_err(AuthError::Bearer)?;
    let authorization = Secret::new(header);
    match policy {
        Policy::Passthrough => {
            let digest = crate::ids::hex(&Sha256::digest(token.as_bytes()));
            Ok(Principal {
                label: format!("token:{}", &digest[..8]),
                id: format!("token-sha256:{digest}"),
                authorization,
                grants: Grants::All,
            })
        }
        Policy::Static(tokens) => {
            let entry = static_tokens::find(tokens, token).ok_or_else(|| {
                AuthError::InvalidToken("The access token is not one this server accepts.".into())
            })?;
            Ok(Principal {
                id: format!("static:{}", entry.label),
                label: entry.label.clone(),
                authorization,
                grants: Grants::Scopes(entry.scopes.iter().cloned().collect()),
            })
        }
        Policy::Jwt(jwt_settings) => {
            let claims = jwt::verify(token, jwt_settings, &verifier.keys, host).await?;
            Ok(Principal {
                id: format!("jwt:{}|{}", claims.issuer, claims.subject),
                label: log_safe(&claims.subject),
                authorization,
                grants: Grants::Scopes(claims.scopes),
            })
        }
        Policy::Introspection(settings) => {
            let claims = introspection::verify(token, settings, host).await?;
            let kind = if claims.client_only {
                "oauth-client"
            } else {
                "oauth"
            };
            Ok(Principal {
                id: format!("{kind}:{}|{}", claims.issuer, claims.subject),
                label: log_safe(&claims.subject),
                authorization,
                grants: Grants::Scopes(claims.scopes),
            })
        }
        Policy::None => unreachable!("handled above"),
    }
}

/// A subject as it may appear in a log line: printable, bounded.
fn log_safe(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// The `WWW-Authenticate` challenge every refusal carries: the realm and where the
/// protected resource metadata is (RFC 9728 §5.1), plus RFC 6750 error attributes.
fn challenge_header(
    origin: &str,
    endpoint: &str,
    error: Option<(&str, &str)>,
    scope: Option<&str>,
) -> String {
    let mut header = format!(
        "Bearer realm=\"mcp\", resource_metadata=\"{}\"",
        metadata::document_url(origin, endpoint)
    );
    if let Some((code, description)) = error {
        header.push_str(&format!(
            ", error=\"{code}\", error_description=\"{}\"",
            quotable(description)
        ));
    }
    if let Some(scope) = scope {
        header.push_str(&format!(", scope=\"{}\"", quotable(scope)));
    }
    header
}

/// RFC 6750 §3: attribute values exclude `"` and `\` and control characters.
fn quotable(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

/// The response that refuses an unauthenticated request: 401 (or 400 for a malformed
/// request, RFC 6750 §3.1), 403 for a token without the scopes every request needs, or
/// 503 when the token could not be checked. `endpoint` is the protected endpoint asked
/// for ([`metadata::endpoint_of`]); `required` the scopes every request needs, which a
/// 401 names so that a client asks for them (and only them) first.
pub fn challenge(error: &AuthError, origin: &str, endpoint: &str, required: &[String]) -> Response {
    let required = required.join(" ");
    let scope = (!required.is_empty()).then_some(required.as_str());
    let (status, code, description) = match error {
        AuthError::Config(e) => return e.response(),
        AuthError::MissingScopes(scopes) => {
            let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
            let body = serde_json::json!({
                "error": "insufficient_scope",
                "error_description": format!(
                    "This server needs the scope {} for every request.",
                    scopes.join(" ")
                ),
            });
            return Response::json(403, &body).with_header(
                "www-authenticate",
                insufficient_scope_header(origin, endpoint, &scopes),
            );
        }
        AuthError::Bearer(bearer) => (bearer.status(), bearer.code(), bearer.description()),
        AuthError::InvalidToken(why) => (401, Some("invalid_token"), why.clone()),
        AuthError::Unavailable(_) => {
            let body = serde_json::json!({
                "error": "temporarily_unavailable",
                "error_description": "The access token could not be checked: this server \
                                      cannot reach its authorization server's keys right now. \
                                      Retry shortly.",
            });
            return Response::json(503, &body).with_header("retry-after", "5");
        }
    };
    let body = serde_json::json!({
        "error": code.unwrap_or("unauthorized"),
        "error_description": description,
    });
    let header = challenge_header(
        origin,
        endpoint,
        code.map(|c| (c, description.as_str())),
        scope,
    );
    Response::json(status, &body).with_header("www-authenticate", header)
}

/// The `WWW-Authenticate` value of a 403 for missing scopes (RFC 6750 §3.1
/// `insufficient_scope`), naming the scopes the request needs.
pub fn insufficient_scope_header(origin: &str, endpoint: &str, scopes: &[&str]) -> String {
    let scope = scopes.join(" ");
    challenge_header(
        origin,
        endpoint,
        Some((
            "insufficient_scope",
            &format!("This call needs the scope {scope}."),
        )),
        Some(&scope),
    )
}
