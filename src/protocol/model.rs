//! MCP's data types, one Rust type per spec concept, serialized the way the schema names
//! them. Fields a revision does not know are left out by the code that builds them.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// `Implementation`: who this server is.
#[derive(Clone, Debug, Serialize)]
pub struct Implementation {
    pub name: &'static str,
    /// Display name (2025-06-18 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'static str>,
    pub version: &'static str,
}

/// `ServerCapabilities`: the features this server offers.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ServerCapabilities {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<ListCapability>,
}

/// The capability object of a list feature.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListCapability {
    /// Whether the server sends `notifications/*/list_changed`.
    pub list_changed: bool,
}

/// `InitializeResult` (legacy revisions).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeResult {
    /// The revision the session will speak: the client's, if this server supports it.
    pub protocol_version: &'static str,
    pub capabilities: ServerCapabilities,
    pub server_info: Implementation,
    /// Guidance a client may hand to its model.
    pub instructions: &'static str,
}

/// `DiscoverResult` (2026-07-28): versions, capabilities and identity in one answer.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoverResult {
    pub supported_versions: Vec<&'static str>,
    pub capabilities: ServerCapabilities,
    pub instructions: &'static str,
    #[serde(flatten)]
    pub cache: Cacheable,
}

/// `CacheableResult` fields (2026-07-28 caching utility).
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cacheable {
    /// How long the client may treat the result as fresh.
    pub ttl_ms: u64,
    pub cache_scope: CacheScope,
}

/// Who may cache a result: anyone (`public`) or only the same authorization context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheScope {
    Public,
    Private,
}

/// `Tool`: a tool as `tools/list` shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool<'a> {
    pub name: &'a str,
    /// Display name (2025-06-18 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    pub description: &'a str,
    /// A JSON Schema object describing the arguments.
    pub input_schema: &'a RawValue,
    /// Hints about the tool's behaviour (2025-03-26 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<&'a ToolAnnotations>,
}

/// `ToolAnnotations`: hints, not guarantees, about what a tool does.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolAnnotations {
    /// The tool does not modify its environment.
    pub read_only_hint: bool,
    /// Calling it again with the same arguments has no further effect.
    pub idempotent_hint: bool,
    /// The tool reaches outside this server (web, other systems).
    pub open_world_hint: bool,
}

/// `ListToolsResult`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListToolsResult<'a> {
    pub tools: Vec<Tool<'a>>,
    /// Present when more tools follow; pass it back as `cursor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Caching hints, required from 2026-07-28 on.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub cache: Option<Cacheable>,
}

/// `CallToolResult`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallToolResult {
    pub content: Vec<Content>,
    /// The tool ran and failed; the content says why, so the model can correct itself.
    pub is_error: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structured_content: Option<Value>,
}

/// `ContentBlock`: one piece of a tool's output.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Content {
    Text { text: String },
}

impl Content {
    pub fn text(text: impl Into<String>) -> Content {
        Content::Text { text: text.into() }
    }
}
