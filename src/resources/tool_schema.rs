//! `tool://{name}/schema`: the input schema of one of this server's tools.

use super::TemplateDef;
use crate::protocol::call::{Call, Stop};
use crate::protocol::model::ResourceContents;
use crate::tools::REGISTRY;

pub const TEMPLATE: TemplateDef = TemplateDef {
    uri_template: "tool://{name}/schema",
    name: "tool-schema",
    title: "Tool input schema",
    description: "The JSON Schema of a tool's arguments; name is the tool's name.",
    mime_type: "application/schema+json",
    read: &read,
    complete,
};

async fn read(
    _: &mut Call<'_>,
    uri: &str,
    vars: &[(String, String)],
) -> Result<Vec<ResourceContents>, Stop> {
    let name = vars.first().map(|(_, v)| v.as_str()).unwrap_or_default();
    match REGISTRY.iter().find(|t| t.name == name) {
        Some(tool) => Ok(vec![ResourceContents::text(
            uri,
            TEMPLATE.mime_type,
            tool.input_schema,
        )]),
        None => Err(Stop::Failed(format!("no tool is called {name:?}"))),
    }
}

fn complete(variable: &str, prefix: &str) -> Vec<String> {
    if variable != "name" {
        return Vec::new();
    }
    crate::tools::names_starting_with(prefix)
}
