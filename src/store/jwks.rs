//! The issuer's keys (`jwt` mode), cached in the store so that every instance on every
//! node shares one fetch, and the time of the last failed fetch, so that none of them
//! retries at once. Keyed by a digest of the JWKS URL.

use serde::{Deserialize, Serialize};

use super::keys;
use crate::host::{KeyValue, StoreError};

/// A JWKS as cached: the document as fetched, when, and whether a token with a key id
/// it did not know caused the fetch.
#[derive(Serialize, Deserialize)]
pub struct Cached {
    pub fetched_at: u64,
    pub jwks: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub for_unknown_kid: bool,
}

/// The cache of one JWKS URL.
pub struct KeyCache<'a> {
    store: &'a dyn KeyValue,
    key: String,
}

impl<'a> KeyCache<'a> {
    pub fn new(store: &'a dyn KeyValue, url: &str) -> KeyCache<'a> {
        KeyCache {
            store,
            key: keys::jwks(&crate::ids::sha256_hex(url, 16)),
        }
    }

    fn failed_key(&self) -> String {
        format!("{}:failed", self.key)
    }

    /// The cached document, if any (an unreadable one counts as none).
    pub async fn cached(&self) -> Option<Cached> {
        self.store
            .get(&self.key)
            .await
            .ok()
            .flatten()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
    }

    pub async fn save(&self, cached: &Cached) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(cached).map_err(|e| StoreError(e.to_string()))?;
        self.store.set(&self.key, &bytes).await
    }

    /// When the last fetch failed, as any instance saw it.
    pub async fn failed_at(&self) -> Option<u64> {
        self.store
            .get(&self.failed_key())
            .await
            .ok()
            .flatten()
            .and_then(|bytes| String::from_utf8(bytes).ok()?.parse::<u64>().ok())
    }

    pub async fn set_failed_at(&self, at: u64) -> Result<(), StoreError> {
        self.store
            .set(&self.failed_key(), at.to_string().as_bytes())
            .await
    }

    pub async fn clear_failed(&self) -> Result<(), StoreError> {
        self.store.delete(&self.failed_key()).await
    }
}
