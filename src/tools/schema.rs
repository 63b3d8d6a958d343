//! Checks tool arguments against a tool's `inputSchema`, with messages that point at the
//! offending argument (`arguments.b: expected a number, got a string ("3")`).
//!
//! Only the JSON Schema keywords in [`KEYWORDS`] are understood. That is deliberate: the
//! schemas are this server's own, and a test checks each of them with
//! [`check_keywords`], so a schema can never silently use a keyword that goes unchecked.

use serde_json::{Map, Value};

use crate::protocol::jsonrpc::kind_of;

/// The keywords [`validate`] applies, plus the annotations it ignores.
pub const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    // Annotations: no effect on validation.
    "$schema",
    "title",
    "description",
    "default",
    "examples",
];

/// Validates `instance` against `schema`; `path` names the instance in the message.
pub fn validate(schema: &Value, instance: &Value, path: &str) -> Result<(), String> {
    let Value::Object(schema) = schema else {
        // `true` accepts everything, `false` nothing (JSON Schema boolean schemas).
        return match schema {
            Value::Bool(false) => Err(format!("{path}: no value is allowed here")),
            _ => Ok(()),
        };
    };
    if let Some(expected) = schema.get("type") {
        check_type(expected, instance, path)?;
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.iter().any(|a| same_value(a, instance)) {
            return Err(format!(
                "{path}: must be one of {}, got {instance}",
                Value::Array(allowed.clone())
            ));
        }
    }
    match instance {
        Value::Number(n) => check_number(schema, n.as_f64().unwrap_or(f64::NAN), path)?,
        Value::String(s) => check_length(schema, s.chars().count(), path)?,
        Value::Object(object) => check_object(schema, object, path)?,
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate(item_schema, item, &format!("{path}[{i}]"))?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_type(expected: &Value, instance: &Value, path: &str) -> Result<(), String> {
    let names: Vec<&str> = match expected {
        Value::String(name) => vec![name.as_str()],
        Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    if names.iter().any(|name| has_type(name, instance)) {
        return Ok(());
    }
    let wanted = names
        .iter()
        .map(|n| article(n))
        .collect::<Vec<_>>()
        .join(" or ");
    let shown = match instance {
        Value::String(s) if s.len() <= 40 => format!(" ({s:?})"),
        Value::Number(n) => format!(" ({n})"),
        Value::Bool(b) => format!(" ({b})"),
        _ => String::new(),
    };
    Err(format!(
        "{path}: expected {wanted}, got {}{shown}",
        kind_of(instance)
    ))
}

fn has_type(name: &str, instance: &Value) -> bool {
    match name {
        "null" => instance.is_null(),
        "boolean" => instance.is_boolean(),
        "string" => instance.is_string(),
        "number" => instance.is_number(),
        // JSON Schema: an integer is a number with no fractional part (1.0 counts).
        "integer" => instance.as_f64().is_some_and(|f| f.fract() == 0.0),
        "array" => instance.is_array(),
        "object" => instance.is_object(),
        _ => false,
    }
}

fn article(name: &str) -> String {
    match name {
        "array" | "integer" | "object" => format!("an {name}"),
        "null" => "null".into(),
        _ => format!("a {name}"),
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn check_number(schema: &Map<String, Value>, n: f64, path: &str) -> Result<(), String> {
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        if n < min {
            return Err(format!("{path}: must be at least {min}, got {n}"));
        }
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        if n > max {
            return Err(format!("{path}: must be at most {max}, got {n}"));
        }
    }
    Ok(())
}

fn check_length(schema: &Map<String, Value>, len: usize, path: &str) -> Result<(), String> {
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
        if (len as u64) < min {
            return Err(format!("{path}: must be at least {min} characters long"));
        }
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
        if len as u64 > max {
            return Err(format!("{path}: must be at most {max} characters long"));
        }
    }
    Ok(())
}

fn check_object(
    schema: &Map<String, Value>,
    object: &Map<String, Value>,
    path: &str,
) -> Result<(), String> {
    let properties = schema.get("properties").and_then(Value::as_object);
    if let Some(Value::Array(required)) = schema.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if !object.contains_key(name) {
                return Err(format!("{path}: missing required property {name:?}"));
            }
        }
    }
    for (name, value) in object {
        let child = format!("{path}.{name}");
        match properties.and_then(|p| p.get(name)) {
            Some(property_schema) => validate(property_schema, value, &child)?,
            None => {
                match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        let known = properties
                            .map(|p| p.keys().map(String::as_str).collect::<Vec<_>>().join(", "))
                            .unwrap_or_default();
                        return Err(if known.is_empty() {
                            format!("{path}: unexpected property {name:?}; this tool takes no arguments")
                        } else {
                            format!("{path}: unexpected property {name:?}; expected only {known}")
                        });
                    }
                    Some(additional) => validate(additional, value, &child)?,
                    None => {}
                }
            }
        }
    }
    Ok(())
}

/// Errs with the first keyword in `schema` (at any depth) that [`validate`] does not know.
pub fn check_keywords(schema: &Value, path: &str) -> Result<(), String> {
    let Value::Object(schema) = schema else {
        return Ok(());
    };
    for (keyword, value) in schema {
        if !KEYWORDS.contains(&keyword.as_str()) {
            return Err(format!("{path}: unsupported keyword {keyword:?}"));
        }
        match keyword.as_str() {
            "properties" => {
                for (name, sub) in value.as_object().into_iter().flatten() {
                    check_keywords(sub, &format!("{path}.properties.{name}"))?;
                }
            }
            "items" | "additionalProperties" => {
                check_keywords(value, &format!("{path}.{keyword}"))?
            }
            _ => {}
        }
    }
    Ok(())
}
