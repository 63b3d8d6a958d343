//! `use_tool`: asks the model to get a task done with one of this server's tools.

use serde_json::{Map, Value};

use super::PromptDef;
use crate::protocol::call::{Call, Stop};
use crate::protocol::model::{Content, PromptArgument, PromptMessage};
use crate::tools::REGISTRY;

pub const PROMPT: PromptDef = PromptDef {
    name: "use_tool",
    title: "Use a tool",
    description: "Asks the model to accomplish a task with one of this server's tools.",
    arguments: &[
        PromptArgument {
            name: "tool",
            description: "The name of the tool to use, as tools/list shows it (completion \
                          suggests the names).",
            required: true,
        },
        PromptArgument {
            name: "task",
            description: "What to accomplish; if left out, the model demonstrates the tool.",
            required: false,
        },
    ],
    get: &get,
    complete,
};

async fn get(_: &mut Call<'_>, arguments: &Map<String, Value>) -> Result<Vec<PromptMessage>, Stop> {
    let tool = arguments
        .get("tool")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(def) = REGISTRY.iter().find(|t| t.name == tool) else {
        return Err(Stop::Failed(format!("no tool is called {tool:?}")));
    };
    let task = arguments
        .get("task")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .unwrap_or("show what it does with an example of your choice");
    Ok(vec![PromptMessage::user(Content::text(format!(
        "Use the `{}` tool of this MCP server ({}) to {task}. Report the tool's exact output.",
        def.name, def.description
    )))])
}

fn complete(argument: &str, prefix: &str) -> Vec<String> {
    if argument != "tool" {
        return Vec::new();
    }
    crate::tools::names_starting_with(prefix)
}
