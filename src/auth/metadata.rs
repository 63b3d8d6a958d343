//! OAuth 2.0 Protected Resource Metadata (RFC 9728): where clients learn which
//! authorization servers issue tokens for this server, and which scopes it knows.

use serde::Serialize;

use super::Policy;
use crate::config::{ConfigError, Settings};
use crate::http::Response;

/// Path of the metadata document for the server as a whole.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The endpoint a protected path belongs to: `/mcp`, or `/sse` for the HTTP+SSE transport
/// (`/sse/message` included). Its metadata document names exactly that endpoint's URL.
pub fn endpoint_of(path: &str) -> &'static str {
    if path == "/sse" || path.starts_with("/sse/") {
        "/sse"
    } else {
        "/mcp"
    }
}

/// The URL a refusal at `endpoint` (`/mcp`, `/sse`) names in `WWW-Authenticate: …
/// resource_metadata=`: that endpoint's own document (RFC 9728 §3.1, path-suffixed), whose
/// `resource` is the endpoint's URL. A client that follows it asks its authorization server
/// for a token for that URL (RFC 8707), which is what a strict client requires (RFC 9728
/// §3.3: the document's `resource` equals the URL it requested) and what the default
/// `jwt` audiences accept. The root document names the origin; clients that took it asked
/// for tokens for the origin, which a server configured with `jwt_audience` set to its
/// `/mcp` URL refused.
pub fn document_url(origin: &str, endpoint: &str) -> String {
    format!("{origin}{WELL_KNOWN}{endpoint}")
}

#[derive(Serialize)]
struct ProtectedResource<'a> {
    /// The resource identifier: the origin for the root document, or origin + path for
    /// the path-suffixed documents (RFC 9728 §3.1).
    resource: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authorization_servers: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scopes_supported: Vec<&'a str>,
    bearer_methods_supported: [&'static str; 1],
    resource_name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_documentation: Option<&'a str>,
}

/// The metadata document for `resource_path` ("" for the root document, "/mcp", …).
pub fn document(
    settings: &Settings<'_>,
    policy: &Policy,
    origin: &str,
    resource_path: &str,
) -> Result<Response, ConfigError> {
    let mut authorization_servers: Vec<&str> = settings
        .authorization_servers()?
        .iter()
        .map(String::as_str)
        .collect();
    // The issuer is the authorization server unless another was configured.
    if authorization_servers.is_empty() {
        match policy {
            Policy::Jwt(jwt) => authorization_servers.push(&jwt.issuer),
            Policy::Introspection(introspection) => {
                authorization_servers.extend(introspection.issuer.as_deref())
            }
            _ => {}
        }
    }
    // `scopes_supported` is what a client asks for when the challenge names no scope: the
    // MCP specification makes it the minimal set for basic use (`required_scopes`), with a
    // tool's further scopes asked for when a call is refused for them (step-up). Listing
    // every tool's scopes here made clients ask for all of them up front. Scopes mean
    // something only where they are enforced.
    let scopes_supported: Vec<&str> = super::required_scopes(policy, settings)?
        .iter()
        .map(String::as_str)
        .collect();
    Ok(Response::json(
        200,
        &ProtectedResource {
            resource: format!("{origin}{resource_path}"),
            authorization_servers,
            scopes_supported,
            bearer_methods_supported: ["header"],
            resource_name: crate::SERVER_TITLE,
            resource_documentation: settings.resource_documentation()?,
        },
    ))
}
