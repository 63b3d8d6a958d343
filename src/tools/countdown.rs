//! `countdown`: visible work over time. It counts down one step per interval, reporting
//! progress (when the client sent a progress token) and a log message per step, so a
//! client such as the MCP Inspector shows the result streaming in. Cancelling the request
//! stops it.

use serde_json::{json, Map, Value};

use super::{Outcome, ToolDef, ToolOutput};
use crate::protocol::call::{Call, LogLevel};
use crate::protocol::model::ToolAnnotations;

pub const TOOL: ToolDef = ToolDef {
    name: "countdown",
    title: "Count down",
    description: "Counts down from a number, one step per interval, reporting progress and a \
                  log message at each step. A demonstration of streamed results.",
    input_schema: r#"{
        "type": "object",
        "properties": {
            "from": {"type": "integer", "minimum": 1, "maximum": 60, "default": 5,
                     "description": "Where to start counting."},
            "interval_ms": {"type": "integer", "minimum": 10, "maximum": 5000, "default": 500,
                            "description": "Milliseconds between steps."}
        },
        "additionalProperties": false
    }"#,
    output_schema: Some(
        r#"{"type": "object", "properties": {"counted": {"type": "integer"}}, "required": ["counted"]}"#,
    ),
    annotations: ToolAnnotations {
        read_only_hint: true,
        idempotent_hint: true,
        open_world_hint: false,
    },
    run,
};

fn run(arguments: &Map<String, Value>, call: &mut Call) -> Outcome {
    let number = |name: &str, default: u64| {
        arguments
            .get(name)
            .and_then(Value::as_u64)
            .unwrap_or(default)
    };
    let from = number("from", 5);
    let interval = number("interval_ms", 500);
    for left in (0..=from).rev() {
        let done = from - left;
        call.progress(
            done as f64,
            Some(from as f64),
            Some(&format!("{left} to go")),
        )?;
        call.log(LogLevel::Info, "countdown", json!(format!("{left}")))?;
        if left > 0 {
            call.sleep_ms(interval)?;
        }
    }
    // Structured results also come as serialized JSON text, for clients that predate
    // structuredContent (2025-06-18 tools: SHOULD).
    let result = json!({"counted": from});
    Ok(ToolOutput {
        structured: Some(result.clone()),
        ..ToolOutput::text(result.to_string())
    })
}
