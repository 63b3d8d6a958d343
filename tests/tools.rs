//! Every registered tool: a unique name, an input schema that is valid JSON Schema and
//! uses only keywords the argument validator enforces.

use std::collections::HashSet;

use remote_mcp_server::tools::{schema, REGISTRY};
use serde_json::{json, Value};

#[test]
fn every_tool_schema_is_checked_in_full() {
    let mut names = HashSet::new();
    for tool in REGISTRY {
        assert!(names.insert(tool.name), "duplicate tool name {}", tool.name);
        assert!(
            !tool.description.is_empty() && !tool.title.is_empty(),
            "{}",
            tool.name
        );
        let input: Value = serde_json::from_str(tool.input_schema)
            .unwrap_or_else(|e| panic!("{}: inputSchema is not JSON: {e}", tool.name));
        assert_eq!(
            input["type"], "object",
            "{}: MCP input schemas are objects",
            tool.name
        );
        schema::check_keywords(&input, tool.name).unwrap_or_else(|e| panic!("{e}"));
        jsonschema::meta::validate(&input)
            .unwrap_or_else(|e| panic!("{}: not a valid JSON Schema: {e}", tool.name));
    }
}

#[test]
fn check_keywords_refuses_what_validate_would_ignore() {
    let sneaky =
        json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "^x"}}});
    let error = schema::check_keywords(&sneaky, "tool").unwrap_err();
    assert_eq!(error, "tool.properties.a: unsupported keyword \"pattern\"");
}

#[test]
fn validation_agrees_with_a_full_json_schema_validator() {
    // The hand-written subset must accept and refuse exactly what jsonschema does.
    let schema = json!({
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 1, "maximum": 10},
            "s": {"type": "string", "minLength": 2, "maxLength": 3, "enum": ["ab", "abc", "xyz"]},
            "list": {"type": "array", "items": {"type": ["number", "null"]}},
            "flag": {"type": "boolean"}
        },
        "required": ["n"],
        "additionalProperties": false
    });
    let full = jsonschema::validator_for(&schema).unwrap();
    let instances = [
        json!({"n": 1}),
        json!({"n": 10.0}),
        json!({"n": 1.5}),
        json!({"n": 0}),
        json!({"n": 11}),
        json!({"n": "1"}),
        json!({}),
        json!({"n": 2, "s": "ab"}),
        json!({"n": 2, "s": "a"}),
        json!({"n": 2, "s": "abcd"}),
        json!({"n": 2, "s": "zz"}),
        json!({"n": 2, "list": [1, null, 2.5]}),
        json!({"n": 2, "list": [1, "x"]}),
        json!({"n": 2, "flag": 1}),
        json!({"n": 2, "other": true}),
        json!([]),
    ];
    for instance in instances {
        let ours = schema::validate(&schema, &instance, "arguments");
        assert_eq!(
            ours.is_ok(),
            full.is_valid(&instance),
            "{instance}: ours says {ours:?}"
        );
    }
}
