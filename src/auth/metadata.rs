//! OAuth 2.0 Protected Resource Metadata (RFC 9728): where clients learn which
//! authorization servers issue tokens for this server.

use serde::Serialize;

use crate::config::Settings;
use crate::http::Response;

/// Path of the metadata document for the server as a whole.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The URL `WWW-Authenticate: … resource_metadata=` points at.
pub fn document_url(origin: &str) -> String {
    format!("{origin}{WELL_KNOWN}")
}

#[derive(Serialize)]
struct ProtectedResource<'a> {
    /// The resource identifier: the origin for the root document, or origin + path for
    /// the path-suffixed documents (RFC 9728 §3.1).
    resource: String,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    authorization_servers: &'a [String],
    bearer_methods_supported: [&'static str; 1],
    resource_name: &'static str,
}

/// The metadata document for `resource_path` ("" for the root document, "/mcp", …).
pub fn document(settings: &Settings, origin: &str, resource_path: &str) -> Response {
    Response::json(
        200,
        &ProtectedResource {
            resource: format!("{origin}{resource_path}"),
            authorization_servers: &settings.authorization_servers,
            bearer_methods_supported: ["header"],
            resource_name: crate::SERVER_TITLE,
        },
    )
}
