//! `getToken`: the seed's demo of handing the caller's credentials to a tool.
//!
//! It echoes the request's `Authorization` header back to the caller. That shows the
//! principal reaches tool code; a real server must never expose tokens like this.

use super::{Invocation, Outcome, ToolDef};
use crate::protocol::model::{Content, ToolAnnotations};

pub const TOOL: ToolDef = ToolDef {
    name: "getToken",
    title: "Show my bearer token",
    description: "Returns the Authorization header this request was made with. A demo of \
                  tools seeing the caller's credentials; takes no arguments.",
    input_schema: r#"{"type": "object", "properties": {}, "additionalProperties": false}"#,
    annotations: ToolAnnotations {
        read_only_hint: true,
        idempotent_hint: true,
        open_world_hint: false,
    },
    run,
};

fn run(call: &Invocation) -> Outcome {
    Ok(vec![Content::text(format!(
        "User's token: {}",
        call.principal.authorization.expose()
    ))])
}
