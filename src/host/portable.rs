//! The portable build's configuration source: environment variables (`MCP_AUTH_MODE`, …),
//! which `wasmtime serve --env NAME=value` passes in. There is no shared store.

use super::KeyValue;

/// Environment variables.
pub struct Config;

impl Config {
    /// Every `MCP_*` environment variable, named as the Spin variable it stands for
    /// (`MCP_AUTH_MODE` is `auth_mode`).
    pub fn all(&self) -> Result<Vec<(String, String)>, String> {
        let mut all = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str().and_then(|n| n.strip_prefix("MCP_")) else {
                continue;
            };
            let value = value
                .into_string()
                .map_err(|_| format!("MCP_{name} is not valid UTF-8"))?;
            all.push((name.to_ascii_lowercase(), value));
        }
        Ok(all)
    }
}

pub fn open_store() -> Option<Box<dyn KeyValue>> {
    None
}
