//! What the core needs from the machine it runs on, as a few small traits.
//!
//! The wasm builds implement them with WASI and Spin (`wasi_http`, `spin`, `portable`);
//! the native tests implement them in memory (`memory`). Nothing outside this module
//! touches WASI.

pub mod memory;

#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
mod wasi_http;

#[cfg(all(target_arch = "wasm32", feature = "spin"))]
mod spin;

#[cfg(all(target_arch = "wasm32", not(feature = "spin")))]
mod portable;

/// The machine: configuration, time, randomness, the shared store and the log.
pub trait Host {
    /// A configuration variable by its Spin name (`auth_mode`). `Ok(None)` when unset.
    /// `Err` carries the host's reason when the variable could not be read at all.
    fn variable(&self, name: &str) -> Result<Option<String>, String>;

    /// A hint that every variable is about to be read: a host that can fetch them all in
    /// one call does so now.
    fn prefetch_variables(&self) {}

    /// Wall-clock time, milliseconds since the Unix epoch.
    fn now_unix_ms(&self) -> u64;

    /// Blocks this instance for a while (stream polling, keep-alives).
    fn sleep_ms(&self, millis: u64);

    /// Fills `buf` from a cryptographically secure source.
    fn fill_random(&self, buf: &mut [u8]);

    /// The key-value store shared by every instance of this component, if the host has one.
    fn store(&self) -> Option<&dyn KeyValue>;

    /// Writes one line to the operator's log. Callers never pass secrets here.
    fn log(&self, line: &str);

    /// Fetches `url` with GET (issuer keys). `Err` explains a failure to get any answer.
    fn http_get(&self, url: &str) -> Result<Fetched, String>;
}

/// An answer to [`Host::http_get`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Bodies larger than this are not read (a JWKS is a few kilobytes).
pub const MAX_FETCH_BYTES: usize = 1024 * 1024;

/// A key-value store shared across instances (and, with a networked backend, machines).
pub trait KeyValue {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Adds `delta` to the integer stored at `key` (absent counts as 0) atomically and
    /// returns the new value.
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError>;
    /// Every key that starts with `prefix`.
    fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// The integer [`increment`](KeyValue::increment) keeps at `key`, read without writing.
    fn counter(&self, key: &str) -> Result<Option<i64>, StoreError> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => decode_counter(&bytes)
                .map(Some)
                .ok_or_else(|| StoreError(format!("{key} does not hold a counter"))),
        }
    }
}

/// Reads a counter as the store's `increment` wrote it. Backends differ: Spin's SQLite
/// store keeps an 8-byte little-endian i64, Redis (`INCRBY`) decimal text. Decimal text is
/// all ASCII digits; a little-endian counter of this server's size never is.
pub fn decode_counter(bytes: &[u8]) -> Option<i64> {
    let decimal = !bytes.is_empty()
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || (i == 0 && *b == b'-'));
    if decimal {
        std::str::from_utf8(bytes).ok()?.parse().ok()
    } else {
        Some(i64::from_le_bytes(bytes.try_into().ok()?))
    }
}

/// A store operation failed; the text is the host's reason, safe to log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "key-value store: {}", self.0)
    }
}
