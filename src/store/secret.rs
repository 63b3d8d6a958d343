//! The key that signs 2026-07-28 `requestState` when no `state_secret` is configured: 32
//! random bytes, created by the first instance that needs it and shared by all.

use super::keys::STATE_KEY;
use crate::host::{Host, KeyValue, StoreError};

/// The shared signing key, created now if there is none yet.
pub async fn state_key(host: &dyn Host, store: &dyn KeyValue) -> Result<Vec<u8>, StoreError> {
    if let Ok(Some(key)) = store.get(STATE_KEY).await {
        return Ok(key);
    }
    let mut key = vec![0u8; 32];
    host.fill_random(&mut key);
    store.set(STATE_KEY, &key).await?;
    // Another instance may have raced us; converge on whatever the store holds now.
    Ok(store.get(STATE_KEY).await.ok().flatten().unwrap_or(key))
}
