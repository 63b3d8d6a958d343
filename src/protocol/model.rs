//! MCP's data types, one Rust type per spec concept, serialized the way the schema names
//! them. Fields a revision does not know are left out by the code that builds them.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{meta, Revision};

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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesCapability>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompts: Option<ListCapability>,
    /// `completion/complete` is answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completions: Option<Empty>,
    /// The server sends `notifications/message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Empty>,
    /// 2026-07-28 extensions, by identifier (`io.modelcontextprotocol/tasks`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The tasks extension's identifier (2026-07-28, SEP-2663), in capabilities.
pub const TASKS_EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// Whether client capabilities declare the tasks extension.
pub fn declares_tasks(client_capabilities: &Value) -> bool {
    client_capabilities
        .get("extensions")
        .and_then(|e| e.get(TASKS_EXTENSION))
        .is_some_and(Value::is_object)
}

/// `{}`.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Empty {}

/// The capability object of a list feature.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListCapability {
    /// Whether the server sends `notifications/*/list_changed`.
    pub list_changed: bool,
}

/// `ServerCapabilities.resources`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourcesCapability {
    /// Clients may subscribe to updates of single resources.
    pub subscribe: bool,
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
    pub instructions: String,
}

/// `DiscoverResult` (2026-07-28): versions, capabilities and identity in one answer.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoverResult {
    pub supported_versions: Vec<&'static str>,
    pub capabilities: ServerCapabilities,
    pub instructions: String,
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
    /// JSON Schema of `structuredContent` (2025-06-18 on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<&'a RawValue>,
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

/// `ContentBlock`: one piece of a tool's output or a prompt message.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Content {
    #[serde(rename = "text")]
    Text { text: String },
    /// Base64 image data.
    #[serde(rename = "image", rename_all = "camelCase")]
    Image { data: String, mime_type: String },
    /// Base64 audio data (2025-03-26 on).
    #[serde(rename = "audio", rename_all = "camelCase")]
    Audio { data: String, mime_type: String },
    /// A resource's contents, inline.
    #[serde(rename = "resource")]
    Resource { resource: ResourceContents },
    /// A pointer to a resource the client may read (2025-06-18 on).
    #[serde(rename = "resource_link", rename_all = "camelCase")]
    ResourceLink {
        uri: String,
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
    },
}

impl Content {
    pub fn text(text: impl Into<String>) -> Content {
        Content::Text { text: text.into() }
    }
}

/// `TextResourceContents` / `BlobResourceContents`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ResourceContents {
    #[serde(rename_all = "camelCase")]
    Text {
        uri: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        text: String,
    },
    #[serde(rename_all = "camelCase")]
    Blob {
        uri: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// Base64.
        blob: String,
    },
}

impl ResourceContents {
    pub fn text(uri: &str, mime_type: &str, text: impl Into<String>) -> ResourceContents {
        ResourceContents::Text {
            uri: uri.to_string(),
            mime_type: Some(mime_type.to_string()),
            text: text.into(),
        }
    }

    pub fn blob(uri: &str, mime_type: &str, base64: impl Into<String>) -> ResourceContents {
        ResourceContents::Blob {
            uri: uri.to_string(),
            mime_type: Some(mime_type.to_string()),
            blob: base64.into(),
        }
    }
}

/// `Resource`: a resource as `resources/list` shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource<'a> {
    pub uri: &'a str,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    pub description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<&'a str>,
}

/// `ResourceTemplate`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTemplate<'a> {
    pub uri_template: &'a str,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    pub description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<&'a str>,
}

/// `Prompt`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prompt<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    pub description: &'a str,
    pub arguments: &'a [PromptArgument],
}

/// `PromptArgument`.
#[derive(Clone, Debug, Serialize)]
pub struct PromptArgument {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
}

/// `PromptMessage`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PromptMessage {
    pub role: Role,
    pub content: Content,
}

/// `Role`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

impl PromptMessage {
    pub fn user(content: Content) -> PromptMessage {
        PromptMessage {
            role: Role::User,
            content,
        }
    }
}

/// The server's identity as this revision describes it.
pub fn server_info(revision: Revision) -> Implementation {
    Implementation {
        name: crate::SERVER_NAME,
        title: revision.has_titles().then_some(crate::SERVER_TITLE),
        version: crate::SERVER_VERSION,
    }
}

/// Modern results say they are complete (unless they already say otherwise) and who
/// answered (2026-07-28 `Result`).
pub fn finish(revision: Revision, mut result: Value) -> Value {
    if revision.is_modern() {
        if let Value::Object(object) = &mut result {
            object
                .entry("resultType")
                .or_insert_with(|| "complete".into());
            let meta = object
                .entry("_meta")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(meta) = meta {
                meta.insert(
                    meta::SERVER_INFO.into(),
                    serde_json::to_value(server_info(revision)).unwrap_or(Value::Null),
                );
            }
        }
    }
    result
}
