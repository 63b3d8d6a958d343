//! Tools: what a model can call. A tool is one file here plus one line in [`REGISTRY`].

use serde_json::{Map, Value};

use crate::protocol::call::{Call, Stop};
use crate::protocol::model::{Content, ToolAnnotations};

mod add;
mod countdown;
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
    /// JSON Schema of the result's `structuredContent`, when the tool returns one.
    pub output_schema: Option<&'static str>,
    pub annotations: ToolAnnotations,
    /// Runs the tool on arguments that already passed `input_schema`.
    pub run: fn(&Map<String, Value>, &mut Call) -> Outcome,
}

/// What a tool produced. A `Stop` ends it early: cancelled, waiting for input, or failed
/// (a failure becomes a result with `isError: true`, never a protocol error).
pub type Outcome = Result<ToolOutput, Stop>;

/// A tool's result.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolOutput {
    pub content: Vec<Content>,
    /// Conforms to the tool's `output_schema`.
    pub structured: Option<Value>,
    /// The tool ran and failed; the content says why, for the model.
    pub is_error: bool,
}

impl ToolOutput {
    pub fn text(text: impl Into<String>) -> ToolOutput {
        ToolOutput::content(vec![Content::text(text)])
    }

    pub fn content(content: Vec<Content>) -> ToolOutput {
        ToolOutput {
            content,
            structured: None,
            is_error: false,
        }
    }

    pub fn error(text: impl Into<String>) -> ToolOutput {
        ToolOutput {
            is_error: true,
            ..ToolOutput::text(text)
        }
    }
}

/// The user-facing tools, in the order `tools/list` shows them.
pub const REGISTRY: &[&ToolDef] = &[&add::TOOL, &get_token::TOOL, &countdown::TOOL];

/// The names of the tools that start with `prefix`: what completion offers for an
/// argument that names a tool.
pub fn names_starting_with(prefix: &str) -> Vec<String> {
    REGISTRY
        .iter()
        .filter(|t| t.name.starts_with(prefix))
        .map(|t| t.name.to_string())
        .collect()
}
