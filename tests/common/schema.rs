//! Validation of every message against the official MCP schemas of its revision.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};

/// Where the official MCP schemas are: `MCP_SCHEMA_DIR`, else `../shared/mcp-schema` beside
/// the project, else what `scripts/fetch-schemas.mjs` downloaded into `target/mcp-schema`.
/// `None` when none of them holds every revision.
fn schema_dir() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let candidates: Vec<PathBuf> = match std::env::var_os("MCP_SCHEMA_DIR") {
            // An explicit folder is the only one looked at: a wrong one must not go unnoticed.
            Some(dir) => vec![PathBuf::from(dir)],
            None => vec![
                root.join("../shared/mcp-schema"),
                root.join("target/mcp-schema"),
            ],
        };
        let complete = |dir: &PathBuf| {
            REVISIONS
                .iter()
                .all(|revision| dir.join(revision).join("schema.json").is_file())
        };
        let found = candidates.iter().find(|dir| complete(dir)).cloned();
        if found.is_none() {
            let looked: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
            let why = format!(
                "the official MCP schemas are not in {} (scripts/test downloads them; or set MCP_SCHEMA_DIR)",
                looked.join(" or ")
            );
            // Under CI nothing may be skipped.
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            // Straight to stderr, past the test harness's capture: one line per test
            // binary, unless scripts/test has said it already.
            if std::env::var_os("MCP_SCHEMA_SKIP_SAID").is_none() {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "schema checks skipped: {why}");
            }
        }
        found
    })
    .clone()
}

/// Every revision the server speaks, oldest first.
pub const REVISIONS: [&str; 5] = [
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];

/// Whether the schema checks run (see [`schema_dir`]).
pub fn schemas_available() -> bool {
    schema_dir().is_some()
}

type Cache = Mutex<HashMap<(String, String), Arc<jsonschema::Validator>>>;

fn validator(revision: &str, definition: &str) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (revision.to_string(), definition.to_string());
    if let Some(v) = cache.lock().unwrap().get(&key) {
        return v.clone();
    }
    let dir = schema_dir().expect("callers check schemas_available() first");
    let path = dir.join(revision).join("schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the official MCP schemas; set MCP_SCHEMA_DIR to their folder)",
            path.display()
        )
    });
    let mut root: Value = serde_json::from_str(&text).expect("schema.json is JSON");
    let defs = if root.get("$defs").is_some() {
        "$defs"
    } else {
        "definitions"
    };
    assert!(
        root[defs].get(definition).is_some(),
        "revision {revision} defines no {definition}"
    );
    root["$ref"] = json!(format!("#/{defs}/{definition}"));
    let compiled = Arc::new(jsonschema::validator_for(&root).expect("the schema compiles"));
    cache.lock().unwrap().insert(key, compiled.clone());
    compiled
}

/// Panics, listing every violation, unless `value` is a valid `definition` of `revision`.
/// Does nothing when the schemas are unavailable outside CI (see [`schema_dir`]).
pub fn assert_schema(revision: &str, definition: &str, value: &Value) {
    if !schemas_available() {
        return;
    }
    let validator = validator(revision, definition);
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not a valid {definition} of MCP {revision}:\n  {}\nmessage: {value}",
        errors.join("\n  ")
    );
}

/// Whether `value` is valid, for tests that check the validation itself.
pub fn is_valid(revision: &str, definition: &str, value: &Value) -> bool {
    validator(revision, definition).is_valid(value)
}

/// Checks a JSON-RPC result response and its result against `result_definition`.
pub fn assert_result(revision: &str, result_definition: &str, response: &Value) {
    let envelope = if revision >= "2025-11-25" {
        "JSONRPCResultResponse"
    } else {
        "JSONRPCResponse"
    };
    assert_schema(revision, envelope, response);
    assert_schema(revision, result_definition, &response["result"]);
}

/// Checks a JSON-RPC error response.
pub fn assert_error(revision: &str, response: &Value) {
    let envelope = if revision >= "2025-11-25" {
        "JSONRPCErrorResponse"
    } else {
        "JSONRPCError"
    };
    assert_schema(revision, envelope, response);
}

pub const LEGACY: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
