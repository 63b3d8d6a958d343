//! CORS, so that MCP clients running in a browser page (the MCP Inspector's web UI, web
//! apps) can call the server: preflights are answered without authentication (browsers
//! send none), and responses name the calling origin when it is allowed.
//!
//! Which origins are allowed is the DNS rebinding rule's (`origin::allowed`): a page the
//! server would refuse to serve gets no CORS grant either.

use super::origin;
use crate::config::Settings;
use crate::http::{Headers, Request, Response};

/// Request headers an MCP client sends. `Authorization` must be listed by name: the
/// `*` wildcard does not cover it.
const ALLOW_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "accept",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
    "mcp-method",
    "mcp-name",
];

/// Response headers a browser client must be able to read.
const EXPOSE_HEADERS: &str = "mcp-session-id, www-authenticate, retry-after";

/// How long a browser may reuse a preflight answer (seconds).
const MAX_AGE: &str = "86400";

/// The allowed `Origin` of a request, if it has one.
pub fn granted(settings: &Settings<'_>, request: &Request<'_>) -> Option<String> {
    let origin = request.headers.get("origin")?.trim();
    // A configuration error was answered by origin::check already.
    origin::allowed(settings, origin)
        .ok()?
        .then(|| origin.to_string())
}

/// Adds the headers that let `origin` read a response.
pub fn decorate(headers: &mut Headers, origin: &str) {
    headers.append("access-control-allow-origin", origin);
    headers.append("access-control-expose-headers", EXPOSE_HEADERS);
    headers.append("vary", "origin");
}

/// Answers an `OPTIONS` request: a CORS preflight, or a plain statement of the methods
/// the path allows (`allow`). The caller has refused origins it does not serve; the
/// grant itself (`Access-Control-Allow-Origin`) is added with the response head.
pub fn preflight(request: &Request<'_>, allow: &str) -> Response {
    if request.headers.get("origin").is_none() {
        return Response::empty(204).with_header("allow", allow);
    }
    // Echo the Mcp-Param-* headers a 2026-07-28 client announces; the rest is fixed.
    let mut headers: Vec<String> = ALLOW_HEADERS.iter().map(|h| h.to_string()).collect();
    for asked in request
        .headers
        .get_all("access-control-request-headers")
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
    {
        if asked.starts_with("mcp-param-") && !headers.contains(&asked) {
            headers.push(asked);
        }
    }
    Response::empty(204)
        .with_header("allow", allow)
        .with_header("access-control-allow-methods", allow)
        .with_header("access-control-allow-headers", headers.join(", "))
        .with_header("access-control-max-age", MAX_AGE)
}
