//! Checks tool arguments against a tool's `inputSchema`, with messages that point at the
//! offending argument (`arguments.b: expected a number, got a string ("3")`).
//!
//! Only the JSON Schema keywords in [`KEYWORDS`] are understood. That is deliberate: the
//! schemas are this server's own, and a test checks each of them with
//! [`check_keywords`], so a schema can never silently use a keyword that goes unchecked.
//! References are local only (`#/$defs/name`), as the 2026-07-28 revision requires of
//! implementations: nothing is ever fetched.

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
    "$ref",
    "$defs",
    "definitions",
    "const",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    // Annotations: no effect on validation.
    "$anchor",
    "$schema",
    "title",
    "description",
    "default",
    "examples",
    // Streamable HTTP: mirror this argument into an Mcp-Param header (2026-07-28).
    "x-mcp-header",
];

/// Nested `$ref`s and composition keywords followed before giving up: a schema that refers
/// to itself forever, or nests to exhaust the validator (2026-07-28 asks for such bounds).
const MAX_DEPTH: usize = 32;

/// Validates `instance` against `schema`; `path` names the instance in the message.
pub fn validate(schema: &Value, instance: &Value, path: &str) -> Result<(), String> {
    Validator {
        root: schema,
        depth: 0,
    }
    .validate(schema, instance, path)
}

/// Validates a tool's arguments (the instance root) against its input schema, without
/// copying them into a JSON value first.
/// A tool's schema (JSON text compiled into the component), parsed once per instance and
/// kept: tools/call checks arguments against it on every call. Keyed by the text's
/// address; bounded by the number of schemas the build has.
pub fn parsed(text: &'static str) -> Result<std::rc::Rc<Value>, String> {
    use std::cell::RefCell;
    use std::rc::Rc;
    thread_local! {
        static PARSED: RefCell<Vec<(usize, Rc<Value>)>> = const { RefCell::new(Vec::new()) };
    }
    let key = text.as_ptr() as usize;
    if let Some(found) = PARSED.with_borrow(|parsed| {
        parsed
            .iter()
            .find(|(at, _)| *at == key)
            .map(|(_, schema)| schema.clone())
    }) {
        return Ok(found);
    }
    let schema = Rc::new(serde_json::from_str::<Value>(text).map_err(|e| e.to_string())?);
    PARSED.with_borrow_mut(|parsed| parsed.push((key, schema.clone())));
    Ok(schema)
}

pub fn validate_root(schema: &Value, arguments: &Map<String, Value>) -> Result<(), String> {
    let validator = Validator {
        root: schema,
        depth: 0,
    };
    let (schema, inner) = validator.resolve(schema)?;
    match schema {
        Value::Object(map) => {
            if let Some(expected) = map.get("type") {
                if !names(expected).contains(&"object") {
                    return Err("arguments: the tool's schema does not describe an object".into());
                }
            }
            if ["allOf", "anyOf", "oneOf", "not", "if"]
                .iter()
                .any(|k| map.contains_key(*k))
            {
                // Rare: the composition checks take the arguments as one JSON value.
                inner.check_composition(map, &Value::Object(arguments.clone()), "arguments")?;
            }
            inner.check_object(map, arguments, "arguments")
        }
        Value::Bool(false) => Err("arguments: no value is allowed here".into()),
        _ => Ok(()),
    }
}

struct Validator<'s> {
    root: &'s Value,
    depth: usize,
}

impl<'s> Validator<'s> {
    /// Follows `schema`'s `$ref` (and the target's, and so on), if it has one.
    fn resolve(&self, mut schema: &'s Value) -> Result<(&'s Value, Validator<'s>), String> {
        let mut depth = self.depth;
        while let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            if depth >= MAX_DEPTH {
                return Err(format!("the schema nests deeper than {MAX_DEPTH} levels"));
            }
            schema = reference
                .strip_prefix('#')
                .and_then(|pointer| self.root.pointer(pointer))
                .ok_or_else(|| {
                    format!("schema reference {reference:?} is not a local definition")
                })?;
            depth += 1;
        }
        Ok((
            schema,
            Validator {
                root: self.root,
                depth,
            },
        ))
    }

    fn validate(&self, schema: &'s Value, instance: &Value, path: &str) -> Result<(), String> {
        let (schema, inner) = self.resolve(schema)?;
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
        if let Some(expected) = schema.get("const") {
            if !same_value(expected, instance) {
                return Err(format!("{path}: must be {expected}, got {instance}"));
            }
        }
        inner.check_composition(schema, instance, path)?;
        match instance {
            Value::Number(n) => check_number(schema, n.as_f64().unwrap_or(f64::NAN), path)?,
            Value::String(s) => check_length(schema, s.chars().count(), path)?,
            Value::Object(object) => inner.check_object(schema, object, path)?,
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        inner.validate(item_schema, item, &format!("{path}[{i}]"))?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A validator one level deeper, for subschemas.
    fn nested(&self) -> Result<Validator<'s>, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!("the schema nests deeper than {MAX_DEPTH} levels"));
        }
        Ok(Validator {
            root: self.root,
            depth: self.depth + 1,
        })
    }

    /// `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`.
    fn check_composition(
        &self,
        schema: &'s Map<String, Value>,
        instance: &Value,
        path: &str,
    ) -> Result<(), String> {
        let list = |keyword: &str| schema.get(keyword).and_then(Value::as_array);
        let sub = self.nested()?;
        if let Some(all) = list("allOf") {
            for part in all {
                sub.validate(part, instance, path)?;
            }
        }
        if let Some(any) = list("anyOf") {
            let mut first = None;
            if !any
                .iter()
                .any(|part| match sub.validate(part, instance, path) {
                    Ok(()) => true,
                    Err(e) => {
                        first.get_or_insert(e);
                        false
                    }
                })
            {
                return Err(format!(
                    "{path}: matches none of the allowed forms (anyOf); the first says: {}",
                    first.unwrap_or_default()
                ));
            }
        }
        if let Some(one) = list("oneOf") {
            let matching = one
                .iter()
                .filter(|part| sub.validate(part, instance, path).is_ok())
                .count();
            if matching != 1 {
                return Err(format!("{path}: must match exactly one of the allowed forms (oneOf), matches {matching}"));
            }
        }
        if let Some(not) = schema.get("not") {
            if sub.validate(not, instance, path).is_ok() {
                return Err(format!("{path}: matches a form that is not allowed (not)"));
            }
        }
        if let Some(condition) = schema.get("if") {
            let branch = if sub.validate(condition, instance, path).is_ok() {
                "then"
            } else {
                "else"
            };
            if let Some(consequence) = schema.get(branch) {
                sub.validate(consequence, instance, path)?;
            }
        }
        Ok(())
    }

    fn check_object(
        &self,
        schema: &'s Map<String, Value>,
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
                Some(property_schema) => self.validate(property_schema, value, &child)?,
                None => match schema.get("additionalProperties") {
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
                    Some(additional) => self.validate(additional, value, &child)?,
                    None => {}
                },
            }
        }
        Ok(())
    }
}

fn names(expected: &Value) -> Vec<&str> {
    match expected {
        Value::String(name) => vec![name.as_str()],
        Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn check_type(expected: &Value, instance: &Value, path: &str) -> Result<(), String> {
    let names = names(expected);
    if names.is_empty() || names.iter().any(|name| has_type(name, instance)) {
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
            "properties" | "$defs" | "definitions" => {
                for (name, sub) in value.as_object().into_iter().flatten() {
                    check_keywords(sub, &format!("{path}.{keyword}.{name}"))?;
                }
            }
            "items" | "additionalProperties" | "not" | "if" | "then" | "else" => {
                check_keywords(value, &format!("{path}.{keyword}"))?
            }
            "allOf" | "anyOf" | "oneOf" => {
                for (i, sub) in value.as_array().into_iter().flatten().enumerate() {
                    check_keywords(sub, &format!("{path}.{keyword}[{i}]"))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}
