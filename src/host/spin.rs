//! The Spin build's configuration (Spin variables, declared in `spin.toml`, read through
//! `wasi:config/store`) and shared store (Spin's `default` key-value store through
//! `wasi:keyvalue@0.2.0-draft2`; SQLite locally, Redis or another backend through Spin's
//! runtime configuration).

use std::cell::OnceCell;

use super::bindings::wasi::config::store as config;
use super::bindings::wasi::keyvalue::{atomics, store};

use super::{KeyValue, StoreError};

/// The component's variables. Each is read with one host call when first needed
/// ([`crate::config::Settings`] reads each at most once per request): under Spin the first
/// variable read of a request costs about 0.1 ms and each further one about 0.01 ms, so a
/// request reads only what its path needs. [`Config::prefetch`] takes them all in one
/// `get-all` call, for the checks that need every one.
#[derive(Default)]
pub struct Config(OnceCell<Result<Vec<(String, String)>, String>>);

fn describe_config(error: config::Error) -> String {
    match error {
        config::Error::Upstream(why) | config::Error::Io(why) => why,
    }
}

impl Config {
    pub fn get(&self, name: &str) -> Result<Option<String>, String> {
        match self.0.get() {
            Some(Ok(all)) => Ok(all.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())),
            Some(Err(why)) => Err(why.clone()),
            None => config::get(name).map_err(describe_config),
        }
    }

    pub fn prefetch(&self) {
        self.0
            .get_or_init(|| config::get_all().map_err(describe_config));
    }
}

/// Opens the `default` store. Failing that (the component lacks
/// `key_value_stores = ["default"]`), the server runs without sessions, and says why.
pub fn open_store() -> Option<Box<dyn KeyValue>> {
    match store::open("default") {
        Ok(bucket) => Some(Box::new(SpinStore(bucket))),
        Err(e) => {
            eprintln!(
                "key-value store \"default\" unavailable ({}); sessions and /sse are off",
                describe(&e)
            );
            None
        }
    }
}

struct SpinStore(store::Bucket);

fn describe(error: &store::Error) -> String {
    match error {
        store::Error::NoSuchStore => "no such store".into(),
        store::Error::AccessDenied => {
            "access denied: list it in the component's key_value_stores in spin.toml".into()
        }
        store::Error::Other(reason) => reason.clone(),
    }
}

fn failed(error: store::Error) -> StoreError {
    StoreError(describe(&error))
}

impl KeyValue for SpinStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(key).map_err(failed)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.0.set(key, value).map_err(failed)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key).map_err(failed)
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        atomics::increment(&self.0, key, delta).map_err(failed)
    }

    fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.0.list_keys(cursor.as_deref()).map_err(failed)?;
            keys.extend(page.keys.into_iter().filter(|k| k.starts_with(prefix)));
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(keys),
            }
        }
    }
}
