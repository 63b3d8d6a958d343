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

// --- typed tools: derive(Schema) ------------------------------------------------------------

mod derived {
    use remote_mcp_server::protocol::call::{Call, Stop};
    use remote_mcp_server::tools::{Schema, Structured, ToolDef, Typed};
    use serde::{Deserialize, Serialize};

    // Only the schema and the deserialization are under test: most fields go unread.
    #[allow(dead_code)]
    #[derive(Deserialize, Schema)]
    #[serde(rename_all = "camelCase")]
    pub struct Everything {
        /// A number.
        pub ratio: f64,
        /// Multi-line docs
        /// become "one" line.
        #[schema(minimum = 1, maximum = 10, default = 3)]
        pub small_count: u8,
        pub offset: i32,
        pub big: u64,
        pub flag: Option<bool>,
        #[schema(min_length = 1, max_length = 5, header = "Region")]
        pub region: String,
        pub tags: Vec<String>,
        #[serde(rename = "any")]
        pub anything: serde_json::Value,
        #[schema(raw = r#"{"type": "string", "enum": ["a", "b"]}"#)]
        pub choice: String,
        #[schema(default = -2.5)]
        pub shift: f64,
    }

    #[derive(Serialize, Schema)]
    pub struct Out {
        pub total: f64,
    }

    pub const TOOL: ToolDef = ToolDef::new(
        "everything",
        "Everything",
        "Takes it all.",
        &Typed::new(run),
    )
    .read_only()
    .open_world();

    async fn run(args: Everything, _: &mut Call<'_>) -> Result<Structured<Out>, Stop> {
        Ok(Structured(Out {
            total: args.ratio + f64::from(args.small_count) + args.shift,
        }))
    }
}

#[test]
fn derived_schemas_describe_their_types() {
    let schema: Value = serde_json::from_str(derived::TOOL.input_schema).unwrap();
    assert_eq!(
        schema,
        json!({
            "type": "object",
            "properties": {
                "ratio": {"type": "number", "description": "A number."},
                "smallCount": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3,
                               "description": "Multi-line docs become \"one\" line."},
                "offset": {"type": "integer", "minimum": -2147483648, "maximum": 2147483647},
                "big": {"type": "integer", "minimum": 0},
                "flag": {"type": "boolean"},
                "region": {"type": "string", "minLength": 1, "maxLength": 5, "x-mcp-header": "Region"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "any": {},
                "choice": {"type": "string", "enum": ["a", "b"]},
                "shift": {"type": "number", "default": -2.5}
            },
            "required": ["ratio", "offset", "big", "region", "tags", "any", "choice"],
            "additionalProperties": false
        })
    );
    schema::check_keywords(&schema, "everything").unwrap();
    jsonschema::meta::validate(&schema).unwrap();
    let output: Value = serde_json::from_str(derived::TOOL.output_schema.unwrap()).unwrap();
    assert_eq!(
        output,
        json!({"type": "object", "properties": {"total": {"type": "number"}},
               "required": ["total"], "additionalProperties": false})
    );
    let annotations = &derived::TOOL.annotations;
    assert!(
        annotations.read_only_hint && annotations.open_world_hint && !annotations.idempotent_hint
    );
}

#[test]
fn typed_arguments_get_their_defaults_and_misfits_are_named() {
    let arguments = json!({"ratio": 0.5, "offset": -1, "big": 7, "region": "eu", "tags": [],
                           "any": null, "choice": "a"});
    let arguments = arguments.as_object().unwrap();
    // What the schema passes, the type takes; the defaults fill what was left out.
    let schema: Value = serde_json::from_str(derived::TOOL.input_schema).unwrap();
    schema::validate_root(&schema, arguments).unwrap();
    assert!(derived::TOOL.prepare(arguments).is_ok());
    // A value the schema cannot see is wrong for the type (a float where u64 is needed,
    // written as an integer-valued number) is refused with the type's reason.
    let mut wrong = arguments.clone();
    wrong.insert("big".into(), json!(1e20));
    let Err(problem) = derived::TOOL.prepare(&wrong) else {
        panic!("1e20 is no u64");
    };
    assert!(problem.starts_with("arguments: "), "{problem}");
    assert!(
        problem.contains("u64") || problem.contains("floating"),
        "{problem}"
    );
}
