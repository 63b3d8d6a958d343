//! The hosted build's shared store: a Redis the operator names in the variable
//! `redis_address`, reached through Spin's outbound Redis (`fermyon:spin/redis@2.0.0`).
//!
//! Hosted Spin platforms (Fermyon Wasm Functions, Fermyon Cloud) provide `wasi:keyvalue`
//! without `atomics`, and every count this server keeps (outbox and change sequence
//! numbers, caps, claims, the expiry index) must be exact under concurrent instances on
//! several machines. Redis's `INCRBY` is, and one store for everything keeps a count and
//! what it numbers together. Calls block the request's instance (WASIp2), as the WASIp2
//! variant's key-value calls do.
//!
//! The address may carry a password (`redis://:secret@host:6379/0`): it is read here and
//! never written anywhere, and an error that repeats it has it cut out.

use std::cell::OnceCell;
use std::future::ready;

use super::bindings::fermyon::spin::redis::{Connection, Error, RedisParameter, RedisResult};
use super::bindings::wasi::config::store as config;
use super::{KeyValue, Pending, StoreError};

/// The variable naming the Redis (a `redis://` or `rediss://` URL).
pub const ADDRESS: &str = "redis_address";

/// Keys a `SCAN` step asks for: one round trip per this many keys of the whole database.
const SCAN_COUNT: i64 = 1000;

/// The store, if `redis_address` is set. Connected at its first call, so a request that
/// needs no state never waits on Redis, and a Redis that is down fails the calls that need
/// it (503, "the session store is unavailable") rather than the whole server.
pub fn open_store() -> Option<Box<dyn KeyValue>> {
    let address = config::get(ADDRESS).ok().flatten()?;
    if address.trim().is_empty() {
        return None;
    }
    Some(Box::new(RedisStore {
        address,
        connection: OnceCell::new(),
    }))
}

struct RedisStore {
    address: String,
    connection: OnceCell<Connection>,
}

impl RedisStore {
    fn connection(&self) -> Result<&Connection, StoreError> {
        if let Some(connection) = self.connection.get() {
            return Ok(connection);
        }
        let connection = Connection::open(&self.address).map_err(|e| self.failed(e))?;
        Ok(self.connection.get_or_init(|| connection))
    }

    /// A store error that says what went wrong without repeating the address.
    fn failed(&self, error: Error) -> StoreError {
        let why = match error {
            Error::InvalidAddress => format!(
                "{ADDRESS} is not a Redis URL Spin accepts (redis://host:port/db), or its \
                 host is not in allowed_outbound_hosts"
            ),
            Error::TooManyConnections => "too many Redis connections open".into(),
            Error::TypeError => "Redis holds a value of another type at that key".into(),
            Error::Other(why) => why.replace(&self.address, "<redis_address>"),
        };
        StoreError(format!("redis: {why}"))
    }

    fn execute(
        &self,
        command: &str,
        arguments: &[RedisParameter],
    ) -> Result<Vec<RedisResult>, StoreError> {
        self.connection()?
            .execute(command, arguments)
            .map_err(|e| self.failed(e))
    }
}

fn key(key: &str) -> RedisParameter {
    RedisParameter::Binary(key.as_bytes().to_vec())
}

fn unexpected(command: &str, results: &[RedisResult]) -> StoreError {
    StoreError(format!(
        "redis: unexpected answer to {command} ({} values)",
        results.len()
    ))
}

/// `prefix` as a `SCAN MATCH` pattern: the glob characters in it escaped, then `*`.
fn pattern(prefix: &str) -> Vec<u8> {
    let mut pattern = Vec::with_capacity(prefix.len() + 1);
    for byte in prefix.bytes() {
        if matches!(byte, b'*' | b'?' | b'[' | b']' | b'\\') {
            pattern.push(b'\\');
        }
        pattern.push(byte);
    }
    pattern.push(b'*');
    pattern
}

impl KeyValue for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> Pending<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(ready(
            self.connection()
                .and_then(|c| c.get(key).map_err(|e| self.failed(e))),
        ))
    }

    fn set<'a>(&'a self, key: &'a str, value: &'a [u8]) -> Pending<'a, Result<(), StoreError>> {
        Box::pin(ready(
            self.connection()
                .and_then(|c| c.set(key, value).map_err(|e| self.failed(e))),
        ))
    }

    fn delete<'a>(&'a self, key: &'a str) -> Pending<'a, Result<(), StoreError>> {
        Box::pin(ready(self.connection().and_then(|c| {
            c.del(&[key.to_string()])
                .map(|_| ())
                .map_err(|e| self.failed(e))
        })))
    }

    fn delete_many<'a>(&'a self, keys: &'a [String]) -> Pending<'a, Result<(), StoreError>> {
        // One DEL for all: Redis applies it whole.
        Box::pin(ready(self.connection().and_then(|c| {
            c.del(keys).map(|_| ()).map_err(|e| self.failed(e))
        })))
    }

    fn increment<'a>(&'a self, key: &'a str, delta: i64) -> Pending<'a, Result<i64, StoreError>> {
        Box::pin(ready(
            self.execute("INCRBY", &[self::key(key), RedisParameter::Int64(delta)])
                .and_then(|results| match results.as_slice() {
                    [RedisResult::Int64(count)] => Ok(*count),
                    other => Err(unexpected("INCRBY", other)),
                }),
        ))
    }

    fn keys_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> Pending<'a, Result<Vec<String>, StoreError>> {
        Box::pin(ready((|| {
            // SCAN rather than KEYS: a shared Redis is not held up while a large database
            // is walked. Spin flattens the answer: the next cursor, then the keys.
            let pattern = pattern(prefix);
            let mut keys = Vec::new();
            let mut cursor = b"0".to_vec();
            loop {
                let results = self.execute(
                    "SCAN",
                    &[
                        RedisParameter::Binary(cursor),
                        RedisParameter::Binary(b"MATCH".to_vec()),
                        RedisParameter::Binary(pattern.clone()),
                        RedisParameter::Binary(b"COUNT".to_vec()),
                        RedisParameter::Int64(SCAN_COUNT),
                    ],
                )?;
                let mut results = results.into_iter();
                let Some(RedisResult::Binary(next)) = results.next() else {
                    return Err(StoreError("redis: SCAN answered without a cursor".into()));
                };
                for result in results {
                    if let RedisResult::Binary(found) = result {
                        if let Ok(found) = String::from_utf8(found) {
                            // MATCH is a glob; the prefix is checked exactly.
                            if found.starts_with(prefix) {
                                keys.push(found);
                            }
                        }
                    }
                }
                if next == b"0" {
                    // SCAN may return a key twice.
                    keys.sort_unstable();
                    keys.dedup();
                    return Ok(keys);
                }
                cursor = next;
            }
        })()))
    }

    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> Pending<'a, Result<Vec<Option<Vec<u8>>>, StoreError>> {
        Box::pin(ready((|| {
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let arguments: Vec<RedisParameter> = keys.iter().map(|k| key(k)).collect();
            let results = self.execute("MGET", &arguments)?;
            if results.len() != keys.len() {
                return Err(unexpected("MGET", &results));
            }
            results
                .into_iter()
                .map(|result| match result {
                    RedisResult::Nil => Ok(None),
                    RedisResult::Binary(value) => Ok(Some(value)),
                    _ => Err(StoreError(
                        "redis: MGET answered a value that is not bytes".into(),
                    )),
                })
                .collect()
        })()))
    }
}
