//! Every registered tool: a unique name, an input schema that is valid JSON Schema and
//! uses only keywords the argument validator enforces.

use std::collections::HashSet;

use remote_mcp_server::catalog::Catalog;
use remote_mcp_server::tools::schema;
use serde_json::{json, Value};

#[test]
fn every_tool_schema_is_checked_in_full() {
    let mut names = HashSet::new();
    // The user-facing tools and the conformance fixtures alike.
    for tool in Catalog::new(true).tools() {
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
        if let Some(output) = tool.output_schema {
            let output: Value = serde_json::from_str(output).expect("outputSchema is JSON");
            jsonschema::meta::validate(&output)
                .unwrap_or_else(|e| panic!("{}: outputSchema is not valid: {e}", tool.name));
        }
    }
}

#[test]
fn composition_and_conditionals_agree_with_a_full_validator() {
    let schema = json!({
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": ["phone", "email"]},
            "phone": {"type": "string"},
            "email": {"type": "string"},
            "n": {"oneOf": [{"type": "integer", "maximum": 5}, {"type": "integer", "minimum": 3}]},
            "x": {"not": {"const": 0}}
        },
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {"properties": {"kind": {"const": "phone"}}, "required": ["kind"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]}
    });
    let full = jsonschema::validator_for(&schema).unwrap();
    for instance in [
        json!({"phone": "1"}),
        json!({"email": "a@b"}),
        json!({}),
        json!({"kind": "phone", "email": "a@b"}),
        json!({"kind": "phone", "phone": "1"}),
        json!({"kind": "email", "phone": "1"}),
        json!({"email": "e", "n": 4}),
        json!({"email": "e", "n": 1}),
        json!({"email": "e", "n": 9}),
        json!({"email": "e", "x": 0}),
        json!({"email": "e", "x": 1}),
    ] {
        let ours = schema::validate_root(&schema, instance.as_object().unwrap());
        assert_eq!(
            ours.is_ok(),
            full.is_valid(&instance),
            "{instance}: ours says {ours:?}"
        );
    }
}

#[test]
fn self_referencing_schemas_stop_at_the_depth_bound() {
    let schema = json!({"$defs": {"loop": {"$ref": "#/$defs/loop"}}, "properties": {"a": {"$ref": "#/$defs/loop"}}});
    let error = schema::validate_root(&schema, json!({"a": 1}).as_object().unwrap()).unwrap_err();
    assert!(error.contains("nests deeper"), "{error}");
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
        "$defs": {"flag": {"type": "boolean"}},
        "properties": {
            "n": {"type": "integer", "minimum": 1, "maximum": 10},
            "s": {"type": "string", "minLength": 2, "maxLength": 3, "enum": ["ab", "abc", "xyz"]},
            "list": {"type": "array", "items": {"type": ["number", "null"]}},
            "flag": {"$ref": "#/$defs/flag"}
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
        let ours = match &instance {
            Value::Object(arguments) => schema::validate_root(&schema, arguments),
            other => schema::validate(&schema, other, "arguments"),
        };
        assert_eq!(
            ours.is_ok(),
            full.is_valid(&instance),
            "{instance}: ours says {ours:?}"
        );
    }
}
