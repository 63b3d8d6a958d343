//! Tools: what a model can call. A tool is one file here plus one line in [`REGISTRY`].

use serde_json::{Map, Value};

use crate::auth::Principal;
use crate::protocol::model::{Content, ToolAnnotations};

mod add;
mod get_token;
pub mod schema;

/// A tool's definition and its code.
pub struct ToolDef {
    /// Unique, stable, what clients call it by.
    pub name: &'static str,
    /// Display name for people.
    pub title: &'static str,
    /// What it does and when to use it, for the model.
    pub description: &'static str,
    /// JSON Schema of the arguments object, as JSON text. Only the keywords
    /// [`schema`] checks may appear (a test holds every tool to that).
    pub input_schema: &'static str,
    pub annotations: ToolAnnotations,
    /// Runs the tool on arguments that already passed `input_schema`.
    pub run: fn(&Invocation) -> Outcome,
}

/// One call of a tool.
pub struct Invocation<'a> {
    pub arguments: &'a Map<String, Value>,
    pub principal: &'a Principal,
}

/// What a tool produced, or — as `Err` — why it failed, in words for the model.
/// A failure becomes a result with `isError: true`, never a protocol error.
pub type Outcome = Result<Vec<Content>, String>;

/// Every tool, in the order `tools/list` shows them.
pub const REGISTRY: &[&ToolDef] = &[&add::TOOL, &get_token::TOOL];

/// The tool called `name`.
pub fn find(name: &str) -> Option<&'static ToolDef> {
    REGISTRY.iter().copied().find(|tool| tool.name == name)
}
