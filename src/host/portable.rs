//! The portable build's configuration source: environment variables (`MCP_AUTH_MODE`, …),
//! which `wasmtime serve --env NAME=value` passes in. There is no shared store.

use super::KeyValue;

/// Environment variables (no state: the field only keeps the struct from being a unit).
#[derive(Default)]
pub struct Config {
    _environment: (),
}

impl Config {
    pub fn get(&self, name: &str) -> Result<Option<String>, String> {
        let env_name = crate::config::env_name(name);
        match std::env::var(&env_name) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!("{env_name} is not valid UTF-8")),
        }
    }

    /// The environment is in memory already.
    pub fn prefetch(&self) {}
}

pub fn open_store() -> Option<Box<dyn KeyValue>> {
    None
}
