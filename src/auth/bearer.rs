//! Extracting a bearer token from a request (RFC 6750 §2.1).

use crate::http::Request;

/// `Authorization` values longer than this are refused before any parsing.
pub const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024;

/// Why a request carries no usable bearer token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BearerError {
    /// No `Authorization` header.
    Missing,
    /// Another scheme: its registered name (`Basic`), or `None` for anything else, which
    /// is never echoed (a client that sends a bare token would see it in the error).
    OtherScheme(Option<&'static str>),
    /// `Bearer` with no token, or characters outside RFC 6750's b64token.
    Malformed(&'static str),
    /// More than one `Authorization` header.
    Repeated,
    /// An `Authorization` header over [`MAX_AUTHORIZATION_BYTES`].
    Oversized,
    /// An `access_token` query parameter (RFC 6750 §2.3), which this server refuses: URLs
    /// end up in logs and browser history.
    InQuery,
}

impl BearerError {
    /// The RFC 6750 §3.1 error code; `None` when the request simply had no credentials.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            BearerError::Missing | BearerError::OtherScheme(_) => None,
            BearerError::Malformed(_) => Some("invalid_token"),
            BearerError::Repeated | BearerError::Oversized | BearerError::InQuery => {
                Some("invalid_request")
            }
        }
    }

    pub fn status(&self) -> u16 {
        match self.code() {
            Some("invalid_request") => 400,
            _ => 401,
        }
    }

    /// What went wrong, for the client developer. Never contains the credential, and only
    /// characters RFC 6750 allows in `error_description` (no `"` or `\`).
    pub fn description(&self) -> String {
        match self {
            BearerError::Missing => {
                "This endpoint needs an access token: send an Authorization: Bearer <token> header."
                    .into()
            }
            BearerError::OtherScheme(scheme) => format!(
                "The Authorization header uses {}; this server accepts only Bearer tokens.",
                match scheme {
                    Some(name) => format!("the {name} scheme"),
                    None => "another scheme".into(),
                }
            ),
            BearerError::Malformed(why) => format!("The bearer token is malformed: {why}."),
            BearerError::Repeated => {
                "The request has more than one Authorization header; send exactly one.".into()
            }
            BearerError::Oversized => {
                format!("The Authorization header is longer than {MAX_AUTHORIZATION_BYTES} bytes.")
            }
            BearerError::InQuery => "Access tokens in the URL are not accepted; send an \
                                     Authorization: Bearer <token> header instead."
                .into(),
        }
    }
}

/// Schemes an error may name: the IANA HTTP Authentication Scheme Registry, plus `NTLM`
/// and `Token`, which clients commonly send. Anything else may be a credential.
const KNOWN_SCHEMES: &[&str] = &[
    "Basic",
    "Concealed",
    "Digest",
    "DPoP",
    "GNAP",
    "HOBA",
    "Mutual",
    "Negotiate",
    "NTLM",
    "OAuth",
    "PrivateToken",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "Token",
    "vapid",
];

/// Returns the whole `Authorization` value and the token in it.
pub fn extract<'r>(request: &'r Request) -> Result<(&'r str, &'r str), BearerError> {
    if !request.query_param("access_token").is_empty() {
        return Err(BearerError::InQuery);
    }
    let mut values = request.headers.get_all("authorization");
    let header = values.next().ok_or(BearerError::Missing)?;
    if values.next().is_some() {
        return Err(BearerError::Repeated);
    }
    if header.len() > MAX_AUTHORIZATION_BYTES {
        return Err(BearerError::Oversized);
    }
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        let known = KNOWN_SCHEMES
            .iter()
            .find(|known| known.eq_ignore_ascii_case(scheme))
            .copied();
        return Err(BearerError::OtherScheme(known));
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(BearerError::Malformed("the token after Bearer is empty"));
    }
    if !is_b64token(token) {
        return Err(BearerError::Malformed(
            "only letters, digits and - . _ ~ + / are allowed, optionally followed by = padding",
        ));
    }
    Ok((header, token))
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}
