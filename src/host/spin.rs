//! The Spin build's configuration (Spin variables, declared in `spin.toml`, read through
//! `wasi:config/store`) and shared store (Spin's `default` key-value store; SQLite
//! locally, Redis or another backend through Spin's runtime configuration).
//!
//! The WASIp3 build reaches the store through `spin:key-value@3.0.0`, whose calls are
//! async: other requests of the instance go on while one waits, and a call can be raced
//! with a deadline. Atomic increments exist only in `wasi:keyvalue/atomics@0.2.0-draft2`,
//! whose calls block the instance while they run. The WASIp2 build uses
//! `wasi:keyvalue@0.2.0-draft2` for everything. The hosted build (feature `hosted`)
//! imports no `wasi:keyvalue` at all: its store is the operator's Redis (`super::redis`).

#[cfg(not(feature = "hosted"))]
use std::future::ready;

use super::bindings::wasi::config::store as config;
#[cfg(not(feature = "hosted"))]
use super::bindings::wasi::keyvalue::{atomics, store};

#[cfg(not(feature = "hosted"))]
use super::{KeyValue, Pending, StoreError};

/// The hosted build keeps its shared state in the operator's Redis.
#[cfg(feature = "hosted")]
pub use super::redis::open_store;

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

#[cfg(not(feature = "hosted"))]
fn describe(error: &store::Error) -> String {
    match error {
        store::Error::NoSuchStore => "no such store".into(),
        store::Error::AccessDenied => {
            "access denied: list it in the component's key_value_stores in spin.toml".into()
        }
        store::Error::Other(reason) => reason.clone(),
    }
}

#[cfg(not(feature = "hosted"))]
fn failed(error: store::Error) -> StoreError {
    StoreError(describe(&error))
}

#[cfg(all(feature = "p2", not(feature = "hosted")))]
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

#[cfg(not(feature = "hosted"))]
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
#[cfg(all(feature = "p2", not(feature = "hosted")))]
pub fn open_store() -> Option<Box<dyn KeyValue>> {
    open_bucket().map(|bucket| Box::new(DraftStore(bucket)) as Box<dyn KeyValue>)
}

#[cfg(all(feature = "p2", not(feature = "hosted")))]
struct DraftStore(store::Bucket);

#[cfg(all(feature = "p2", not(feature = "hosted")))]
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
/// The store, opened when first used: opening one whose server is down can wait as long
/// as a call to it, so an instance opens it within the deadline of the first call that
/// needs it (a request that needs no store never waits for it). The draft2 handle, for
/// increments and listing, is opened only when one of those is made, after the core's
/// guard saw the store answer (see `store::guard`).
#[cfg(not(feature = "p2"))]
pub fn open_store() -> Option<Box<dyn KeyValue>> {
    Some(Box::new(AsyncStore {
        store: std::cell::RefCell::new(None),
        bucket: std::cell::OnceCell::new(),
        batch_failed: std::cell::Cell::new(false),
    }))
}

#[cfg(not(feature = "p2"))]
type V3Store = super::bindings::spin::key_value::key_value::Store;
#[cfg(not(feature = "p2"))]
type V3Error = super::bindings::spin::key_value::key_value::Error;

#[cfg(not(feature = "p2"))]
struct AsyncStore {
    store: std::cell::RefCell<Option<std::rc::Rc<V3Store>>>,
    bucket: std::cell::OnceCell<store::Bucket>,
    /// The host's batch read failed once: this instance reads key by key from then on.
    batch_failed: std::cell::Cell<bool>,
}

#[cfg(not(feature = "p2"))]
impl AsyncStore {
    /// The `spin:key-value` handle, opened at the first call (again after a failed open).
    async fn v3(&self) -> Result<std::rc::Rc<V3Store>, StoreError> {
        if let Some(store) = self.store.borrow().as_ref() {
            return Ok(store.clone());
        }
        let opened = std::rc::Rc::new(V3Store::open("default".into()).await.map_err(failed_v3)?);
        // Another request may have opened it meanwhile: keep the first.
        Ok(self.store.borrow_mut().get_or_insert(opened).clone())
    }

    fn bucket(&self) -> Result<&store::Bucket, StoreError> {
        if let Some(bucket) = self.bucket.get() {
            return Ok(bucket);
        }
        let bucket = store::open("default").map_err(failed)?;
        Ok(self.bucket.get_or_init(|| bucket))
    }
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
        Box::pin(async move { self.v3().await?.get(key.into()).await.map_err(failed_v3) })
    }

    fn set<'a>(&'a self, key: &'a str, value: &'a [u8]) -> Pending<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.v3()
                .await?
                .set(key.into(), value.to_vec())
                .await
                .map_err(failed_v3)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> Pending<'a, Result<(), StoreError>> {
        Box::pin(async move { self.v3().await?.delete(key.into()).await.map_err(failed_v3) })
    }

    fn increment<'a>(&'a self, key: &'a str, delta: i64) -> Pending<'a, Result<i64, StoreError>> {
        // Blocks the instance for its duration: the only atomic operation Spin offers.
        Box::pin(ready(self.bucket().and_then(|bucket| {
            atomics::increment(bucket, key, delta).map_err(failed)
        })))
    }

    fn keys_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> Pending<'a, Result<Vec<String>, StoreError>> {
        Box::pin(ready(
            self.bucket().and_then(|bucket| keys_of(bucket, prefix)),
        ))
    }

    fn reads_batches_key_by_key(&self) -> bool {
        self.batch_failed.get()
    }

    fn delete_many<'a>(&'a self, keys: &'a [String]) -> Pending<'a, Result<(), StoreError>> {
        use super::bindings::wasi::keyvalue::batch;
        Box::pin(async move {
            // Spin 4.0.2's SQLite and Redis stores both delete a batch in one call (one
            // transaction, one DEL). Where the batch call fails, the same keys are deleted
            // one by one, concurrently, each time: a failed delete says nothing about how
            // the store reads, so batch reads are not given up for it.
            let deleted = self
                .bucket()
                .and_then(|bucket| batch::delete_many(bucket, keys).map_err(failed));
            if deleted.is_ok() {
                return Ok(());
            }
            let store = self.v3().await?;
            one_by_one(keys.iter().map(|key| store.delete(key.clone())).collect())
                .await
                .map(drop)
        })
    }

    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> Pending<'a, Result<Vec<Option<Vec<u8>>>, StoreError>> {
        use super::bindings::wasi::keyvalue::batch;
        Box::pin(async move {
            // One call for all; the host answers with the keys it found, in any order.
            if !self.batch_failed.get() {
                let found = self
                    .bucket()
                    .and_then(|bucket| batch::get_many(bucket, keys).map_err(failed));
                match found {
                    Ok(found) => {
                        let mut values = vec![None; keys.len()];
                        for (key, value) in found {
                            if let Some(at) = keys.iter().position(|k| *k == key) {
                                values[at] = value;
                            }
                        }
                        return Ok(values);
                    }
                    // Spin 4.0.2's Redis store answers every batch read with an error (it
                    // sends the keys as a KEYS pattern, not an MGET). Whatever the cause,
                    // the same keys read one by one give the same answer, concurrently; a
                    // store that is down fails those reads too.
                    Err(_) => self.batch_failed.set(true),
                }
            }
            let store = self.v3().await?;
            one_by_one(keys.iter().map(|key| store.get(key.clone())).collect()).await
        })
    }
}

/// The outcomes of single calls a batch call fell back to, made concurrently: all of
/// them, or the first failure.
#[cfg(not(feature = "p2"))]
async fn one_by_one<T>(
    calls: Vec<impl std::future::Future<Output = Result<T, V3Error>>>,
) -> Result<Vec<T>, StoreError> {
    super::join_all(calls)
        .await
        .into_iter()
        .map(|outcome| outcome.map_err(failed_v3))
        .collect()
}
