//! `getToken`: the seed's demo of handing the caller's credentials to a tool.
//!
//! It echoes the request's `Authorization` header back to the caller. That shows the
//! principal reaches tool code; a real server must never expose tokens like this.

use serde_json::{Map, Value};

use super::{Outcome, ToolDef, ToolOutput};
use crate::protocol::call::Call;
use crate::protocol::model::ToolAnnotations;

pub const TOOL: ToolDef = ToolDef {
    name: "getToken",
    title: "Show my bearer token",
    description: "Returns the Authorization header this request was made with. A demo of \
                  tools seeing the caller's credentials; takes no arguments.",
    input_schema: r#"{"type": "object", "properties": {}, "additionalProperties": false}"#,
    output_schema: None,
    annotations: ToolAnnotations {
        read_only_hint: true,
        idempotent_hint: true,
        open_world_hint: false,
    },
    run,
};

fn run(_: &Map<String, Value>, call: &mut Call) -> Outcome {
    Ok(ToolOutput::text(format!(
        "User's token: {}",
        call.principal.authorization.expose()
    )))
}
