//! Who is calling. Bearer tokens come only in the `Authorization` header (RFC 6750 §2.1);
//! a policy from the configuration turns a token into a [`Principal`] or a challenge.
//!
//! Tokens never reach a log line or an error message: [`Secret`] prints as `[redacted]`,
//! and principals are logged by their label, a short fingerprint that cannot be replayed.

use sha2::{Digest, Sha256};

use crate::config::{AuthMode, Settings};
use crate::http::{Request, Response};

mod bearer;
pub mod metadata;

pub use bearer::{extract, BearerError, MAX_AUTHORIZATION_BYTES};

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

/// The authenticated caller of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Stable identity that sessions are bound to. Not for logs.
    pub id: String,
    /// How logs name the caller: a label or a short fingerprint, never a credential.
    pub label: String,
    /// The `Authorization` header as received, for tools that act on the caller's behalf.
    pub authorization: Secret,
}

/// Authenticates a request under the configured policy.
pub fn authenticate(settings: &Settings, request: &Request) -> Result<Principal, BearerError> {
    let (header, token) = extract(request)?;
    match settings.auth_mode {
        AuthMode::Passthrough => {
            let digest = hex(&Sha256::digest(token.as_bytes()));
            Ok(Principal {
                label: format!("token:{}", &digest[..8]),
                id: format!("token-sha256:{digest}"),
                authorization: Secret::new(header),
            })
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The response that refuses a request for `error`: 401 with a `WWW-Authenticate`
/// challenge pointing at the protected resource metadata (RFC 9728 §5.1), or 400 for a
/// request that is malformed rather than unauthenticated (RFC 6750 §3.1).
pub fn challenge(error: &BearerError, origin: &str) -> Response {
    let mut header = format!(
        "Bearer realm=\"mcp\", resource_metadata=\"{}\"",
        metadata::document_url(origin)
    );
    if let Some(code) = error.code() {
        header.push_str(&format!(
            ", error=\"{code}\", error_description=\"{}\"",
            error.description()
        ));
    }
    let body = serde_json::json!({
        "error": error.code().unwrap_or("unauthorized"),
        "error_description": error.description(),
    });
    Response::json(error.status(), &body).with_header("www-authenticate", header)
}
