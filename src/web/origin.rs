//! DNS rebinding protection for the MCP endpoints (Streamable HTTP "Security": servers
//! MUST validate `Origin`; local servers must not answer to foreign host names).
//!
//! A web page can make a visitor's browser talk to a server on their machine by pointing
//! its own domain at 127.0.0.1. The browser then sends `Host: evil.example` and
//! `Origin: https://evil.example`. `Origin` is checked always, when present. `Host` is
//! checked in every mode: where any token gets in (`passthrough`, `none`) a rebinding page
//! could simply send a made-up token, and in the others a host name this server does not
//! answer to is never one its tokens were minted for.

use crate::config::{ConfigError, Settings};
use crate::http::{Request, Response};
use crate::protocol::jsonrpc::RpcError;
use crate::transport::rpc_error;

fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1") || host.ends_with(".localhost")
}

/// `host` without its port (`[::1]:3000` → `[::1]`).
fn without_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
}

/// The authority of an origin (`https://app.example.com:8443` → `app.example.com:8443`).
fn authority_of(origin: &str) -> &str {
    origin.split_once("://").map_or(origin, |(_, rest)| rest)
}

/// Whether a browser page of `origin` may call the MCP endpoints: localhost origins,
/// `public_url`, and what `allowed_origins` lists.
pub fn allowed(settings: &Settings<'_>, origin: &str) -> Result<bool, ConfigError> {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    Ok(is_loopback(without_port(authority_of(&origin)))
        || settings
            .public_url()?
            .is_some_and(|p| p.eq_ignore_ascii_case(&origin))
        || settings
            .allowed_origins()?
            .iter()
            .any(|o| o == "*" || *o == origin))
}

/// Refuses a request whose `Origin` or `Host` says it comes through DNS rebinding, or
/// names a host this server does not answer to.
pub fn check(settings: &Settings<'_>, request: &Request<'_>) -> Result<(), Response> {
    checked(settings, request).map_err(|e| e.response())?
}

fn checked(
    settings: &Settings<'_>,
    request: &Request<'_>,
) -> Result<Result<(), Response>, ConfigError> {
    if let Some(origin) = request.headers.get("origin") {
        if !allowed(settings, origin)? {
            let origin = origin.trim();
            return Ok(Err(forbidden(format!(
                "requests from the web origin {origin} are not allowed; list it in the allowed_origins variable"
            ))));
        }
    }
    let host = request
        .headers
        .get("host")
        .map(str::to_string)
        .or_else(|| {
            request
                .origin
                .as_deref()
                .map(|o| authority_of(o).to_string())
        })
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let name = without_port(&host);
    let public = settings.public_url()?.map(str::to_ascii_lowercase);
    let allowed = host.is_empty()
        || is_loopback(name)
        || public
            .as_deref()
            .map(authority_of)
            .is_some_and(|p| p == host || without_port(p) == name)
        || settings
            .allowed_hosts()?
            .iter()
            .any(|h| h == "*" || *h == host || *h == name);
    if !allowed {
        return Ok(Err(forbidden(format!(
            "this server does not answer to the host name {name}; set public_url, or list it \
             in allowed_hosts"
        ))));
    }
    Ok(Ok(()))
}

fn forbidden(why: String) -> Response {
    rpc_error(403, None, &RpcError::invalid_request(why))
}
