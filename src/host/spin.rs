//! The Spin build's configuration (Spin variables, declared in `spin.toml`, read through
//! `wasi:config/store`) and shared store (Spin's `default` key-value store; SQLite
//! locally, Redis or another backend through Spin's runtime configuration).
//!
//! The WASIp3 build reaches the store through `spin:key-value@3.0.0`, whose calls are
//! async: other requests of the instance go on while one waits, and a call can be raced
//! with a deadline. Atomic increments exist only in `wasi:keyvalue/atomics@0.2.0-draft2`,
//! whose calls block the instance while they run. The WASIp2 build uses
//! `wasi:keyvalue@0.2.0-draft2` for everything.

use std::future::ready;

use super::bindings::wasi::config::store as config;
use super::bindings::wasi::keyvalue::{atomics, store};

use super::{KeyValue, Pending, StoreError};

/// The component's variables, read with one `get-all` call.
pub struct Config;

impl Config {
    /// Every variable that is set.
    pub fn all(&self) -> Result<Vec<(String, String)>, String> {
        config::get_all().map_err(|error| match error {
            config::Error::Upstream(why) | config::Error::Io(why) => why,
        })
    }
}

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

/// Opens the `default` store through `wasi:keyvalue`. Failing that (the component lacks
/// `key_value_stores = ["default"]`), the server runs without sessions, and says why.
fn open_bucket() -> Option<store::Bucket> {
    match store::open("default") {
        Ok(bucket) => Some(bucket),
        Err(e) => {
            eprintln!(
                "key-value store \"default\" unavailable ({}); sessions and /sse are off",
                describe(&e)
            );
            None
        }
    }
}

/// Every key that starts with `prefix`, from `wasi:keyvalue`'s paged listing.
fn keys_of(bucket: &store::Bucket, prefix: &str) -> Result<Vec<String>, StoreError> {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = bucket.list_keys(cursor.as_deref()).map_err(failed)?;
        keys.extend(page.keys.into_iter().filter(|k| k.starts_with(prefix)));
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(keys),
        }
    }
}

/// The WASIp2 build's store: every call through `wasi:keyvalue@0.2.0-draft2`, blocking.
#[cfg(feature = "p2")]
pub fn open_store() -> Option<Box<dyn KeyValue>> {
    open_bucket().map(|bucket| Box::new(DraftStore(bucket)) as Box<dyn KeyValue>)
}

#[cfg(feature = "p2")]
struct DraftStore(store::Bucket);

#[cfg(feature = "p2")]
impl KeyValue for DraftStore {
    fn get<'a>(&'a self, key: &'a str) -> Pending<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(ready(self.0.get(key).map_err(failed)))
    }

    fn set<'a>(&'a self, key: &'a str, value: &'a [u8]) -> Pending<'a, Result<(), StoreError>> {
        Box::pin(ready(self.0.set(key, value).map_err(failed)))
    }

    fn delete<'a>(&'a self, key: &'a str) -> Pending<'a, Result<(), StoreError>> {
        Box::pin(ready(self.0.delete(key).map_err(failed)))
    }

    fn increment<'a>(&'a self, key: &'a str, delta: i64) -> Pending<'a, Result<i64, StoreError>> {
        Box::pin(ready(
            atomics::increment(&self.0, key, delta).map_err(failed),
        ))
    }

    fn keys_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> Pending<'a, Result<Vec<String>, StoreError>> {
        Box::pin(ready(keys_of(&self.0, prefix)))
    }
}

/// The WASIp3 build's store: `spin:key-value@3.0.0` for reads and writes (async), the
/// `wasi:keyvalue` bucket for increments.
#[cfg(not(feature = "p2"))]
pub async fn open_store() -> Option<Box<dyn KeyValue>> {
    use super::bindings::spin::key_value::key_value::Store;
    let bucket = open_bucket()?;
    match Store::open("default".into()).await {
        Ok(store) => Some(Box::new(AsyncStore { store, bucket })),
        Err(e) => {
            eprintln!("key-value store \"default\" unavailable ({e:?}); sessions and /sse are off");
            None
        }
    }
}

#[cfg(not(feature = "p2"))]
struct AsyncStore {
    store: super::bindings::spin::key_value::key_value::Store,
    bucket: store::Bucket,
}

#[cfg(not(feature = "p2"))]
fn failed_v3(error: super::bindings::spin::key_value::key_value::Error) -> StoreError {
    use super::bindings::spin::key_value::key_value::Error;
    StoreError(match error {
        Error::StoreTableFull => "too many stores open".into(),
        Error::NoSuchStore => "no such store".into(),
        Error::AccessDenied => {
            "access denied: list it in the component's key_value_stores in spin.toml".into()
        }
        Error::Other(reason) => reason,
    })
}

#[cfg(not(feature = "p2"))]
impl KeyValue for AsyncStore {
    fn get<'a>(&'a self, key: &'a str) -> Pending<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move { self.store.get(key.into()).await.map_err(failed_v3) })
    }

    fn set<'a>(&'a self, key: &'a str, value: &'a [u8]) -> Pending<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.store
                .set(key.into(), value.to_vec())
                .await
                .map_err(failed_v3)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> Pending<'a, Result<(), StoreError>> {
        Box::pin(async move { self.store.delete(key.into()).await.map_err(failed_v3) })
    }

    fn increment<'a>(&'a self, key: &'a str, delta: i64) -> Pending<'a, Result<i64, StoreError>> {
        // Blocks the instance for its duration: the only atomic operation Spin offers.
        Box::pin(ready(
            atomics::increment(&self.bucket, key, delta).map_err(failed),
        ))
    }

    fn keys_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> Pending<'a, Result<Vec<String>, StoreError>> {
        Box::pin(ready(keys_of(&self.bucket, prefix)))
    }
}
