//! The Spin build's configuration source: Spin variables, declared in `spin.toml`.

use super::KeyValue;

pub fn variable(name: &str) -> Result<Option<String>, String> {
    match spin_sdk::variables::get(name) {
        Ok(value) => Ok(Some(value)),
        Err(spin_sdk::variables::Error::Undefined(_)) => Ok(None),
        Err(other) => Err(other.to_string()),
    }
}

pub fn open_store() -> Option<Box<dyn KeyValue>> {
    None
}
