//! The home page at `/`: what this server is and how to connect to it, with snippets that
//! carry this server's own URLs. Plain HTML, no external assets.

use crate::config::AuthMode;
use crate::http::Response;
use crate::protocol::Revision;

const TEMPLATE: &str = include_str!("home.html");

/// `missing_store`: what would give the host a shared store, where it has none.
pub fn page(mode: AuthMode, origin: &str, missing_store: Option<&str>) -> Response {
    let (sse_status, inspector_transport, client_url) = if let Some(missing) = missing_store {
        (
            format!("HTTP+SSE: not available here, it needs {missing}"),
            "Streamable HTTP",
            format!("{origin}/mcp"),
        )
    } else {
        (
            "HTTP+SSE (legacy, revision 2024-11-05): what the Inspector's \"SSE\" transport and mcp-remote use"
                .to_string(),
            "SSE",
            format!("{origin}/sse"),
        )
    };
    let auth_note = match mode {
        AuthMode::Passthrough => {
            "<p class=\"warning\" id=\"auth-warning\"><strong>Every well-formed bearer token is \
             accepted</strong> and handed to the tools (passthrough mode, for demos). Configure \
             another mode before exposing this server.</p>"
        }
        AuthMode::None => {
            "<p class=\"warning\" id=\"auth-warning\"><strong>Authentication is OFF</strong>: \
             anyone who can reach this server can use it (auth_mode none, for conformance \
             testing only).</p>"
        }
        AuthMode::Static => "<p>Only the tokens this server was configured with are accepted.</p>",
        AuthMode::Jwt => {
            "<p>Tokens are JWTs from the authorization server listed in the \
             <a href=\"/.well-known/oauth-protected-resource\">protected resource metadata</a>; \
             MCP clients that support OAuth find it there.</p>"
        }
        AuthMode::Introspection => {
            "<p>Tokens come from the authorization server listed in the \
             <a href=\"/.well-known/oauth-protected-resource\">protected resource metadata</a>, \
             which this server asks about each one; MCP clients that support OAuth find it \
             there.</p>"
        }
    };
    let revisions: Vec<&str> = Revision::ALL.iter().rev().map(|r| r.as_str()).collect();
    let html = TEMPLATE
        .replace("{{title}}", crate::SERVER_TITLE)
        .replace("{{name}}", crate::SERVER_NAME)
        .replace("{{version}}", crate::SERVER_VERSION)
        .replace("{{revisions}}", &revisions.join(", "))
        .replace("{{sse_status}}", &sse_status)
        .replace("{{auth_mode}}", mode.as_str())
        .replace("{{auth_note}}", auth_note)
        .replace("{{inspector_transport}}", inspector_transport)
        .replace("{{client_url}}", &escape(&client_url))
        .replace("{{origin}}", &escape(origin));
    Response::new(200, "text/html; charset=utf-8", html)
}

/// HTML-escapes text that came from the request (the Host header is the client's word).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
