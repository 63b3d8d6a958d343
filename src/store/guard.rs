//! A store that cannot hang a request: every call runs against a deadline
//! (`store_timeout_seconds`), and past it the call fails as "unavailable", which the
//! transports answer with 503 and `Retry-After`. An instance that saw a call time out
//! fails every call at once for [`OPEN_MS`] (no request waits a second deadline), then
//! tries again: when the store is back, the next call after that gets through.
//!
//! A deadline helps only where the host's call can be abandoned: Spin's
//! `spin:key-value@3` calls are asynchronous, so racing them with a timer works. Atomic
//! `increment` and key listing exist only in `wasi:keyvalue` draft2, whose calls block the
//! instance until the host answers (under Spin 4.0.2 with Redis killed: more than 20 s,
//! every request of the instance with it). So right before one of those the guard probes
//! the store with an asynchronous read under the deadline, and makes the blocking call
//! only if the store answered it. (A store that dies in the moment between the two still
//! holds that call.) Under the WASIp2 variant every call blocks: the deadline never fires
//! there.

use std::cell::Cell;

use super::keys;
use crate::host::{race, Host, KeyValue, Pending, StoreError};

/// How long the instance fails every call at once after one timed out.
pub const OPEN_MS: u64 = 1_000;

/// The text of a store error that means "no answer in time", as the log shows it.
pub const UNAVAILABLE: &str = "no answer within the deadline (store_timeout_seconds)";

/// The text of a call not made at all because one timed out less than [`OPEN_MS`] ago (a
/// log reader should not count these as more timeouts).
pub const RESTING: &str =
    "not tried: a call timed out less than a second ago (store_timeout_seconds)";

pub struct Guarded<'h> {
    inner: &'h dyn KeyValue,
    host: &'h dyn Host,
    timeout_ms: u64,
    /// Until when every call fails at once (host clock, ms).
    open_until: Cell<u64>,
}

impl<'h> Guarded<'h> {
    pub fn new(inner: &'h dyn KeyValue, host: &'h dyn Host, timeout_ms: u64) -> Guarded<'h> {
        Guarded {
            inner,
            host,
            timeout_ms,
            open_until: Cell::new(0),
        }
    }

    /// The call `call` makes, under the deadline (not made at all while open).
    async fn timed<'c, T>(
        &self,
        call: impl FnOnce() -> Pending<'c, Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = self.host.now_unix_ms();
        if started < self.open_until.get() {
            return Err(StoreError(RESTING.into()));
        }
        let call = call();
        // The timer is made only if the call is not answered at once (a host whose calls
        // complete synchronously never sees it).
        let timer = async { self.host.sleep_ms(self.timeout_ms).await };
        match race(call, timer).await {
            Some(result) => result,
            None => {
                self.open_until.set(self.host.now_unix_ms() + OPEN_MS);
                Err(StoreError(UNAVAILABLE.into()))
            }
        }
    }

    /// Before a call that blocks the instance: the store answers a probe, under the
    /// deadline, now. (An error answer, such as "connection reset", fails it too.)
    async fn fresh(&self) -> Result<(), StoreError> {
        self.timed(|| self.inner.get(keys::SWEEP_NEXT))
            .await
            .map(|_| ())
    }
}

impl KeyValue for Guarded<'_> {
    fn get<'a>(&'a self, key: &'a str) -> Pending<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(self.timed(|| self.inner.get(key)))
    }

    fn set<'a>(&'a self, key: &'a str, value: &'a [u8]) -> Pending<'a, Result<(), StoreError>> {
        Box::pin(self.timed(|| self.inner.set(key, value)))
    }

    fn delete<'a>(&'a self, key: &'a str) -> Pending<'a, Result<(), StoreError>> {
        Box::pin(self.timed(|| self.inner.delete(key)))
    }

    fn increment<'a>(&'a self, key: &'a str, delta: i64) -> Pending<'a, Result<i64, StoreError>> {
        Box::pin(async move {
            self.fresh().await?;
            self.timed(|| self.inner.increment(key, delta)).await
        })
    }

    fn keys_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> Pending<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move {
            self.fresh().await?;
            self.timed(|| self.inner.keys_with_prefix(prefix)).await
        })
    }

    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> Pending<'a, Result<Vec<Option<Vec<u8>>>, StoreError>> {
        // May block (Spin's batch call): probed first, as the other blocking calls.
        Box::pin(async move {
            self.fresh().await?;
            self.timed(|| self.inner.get_many(keys)).await
        })
    }

    fn counter<'a>(&'a self, key: &'a str) -> Pending<'a, Result<Option<i64>, StoreError>> {
        Box::pin(self.timed(|| self.inner.counter(key)))
    }

    fn delete_many<'a>(&'a self, keys: &'a [String]) -> Pending<'a, Result<(), StoreError>> {
        // May block (Spin's batch call): probed first, as the other blocking calls.
        Box::pin(async move {
            self.fresh().await?;
            self.timed(|| self.inner.delete_many(keys)).await
        })
    }

    fn reads_batches_key_by_key(&self) -> bool {
        self.inner.reads_batches_key_by_key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::executor::block_on;
    use crate::host::memory::{MemoryHost, MemoryStore};

    #[test]
    fn a_blocking_call_is_never_made_to_a_store_that_does_not_answer_a_probe() {
        let store = MemoryStore::new();
        let host = MemoryHost::new().with_store(store.clone());
        let guarded = Guarded::new(store.as_ref(), &host, 1_000);
        assert_eq!(block_on(guarded.increment("n", 1)), Ok(1));
        store.set_down(true);
        // A probe first, under the deadline.
        let started = host.now_unix_ms();
        assert!(block_on(guarded.increment("n", 1)).is_err());
        assert_eq!(host.now_unix_ms() - started, 1_000, "one deadline");
        assert_eq!(store.unanswered(), 1, "only the probe was tried");
        // Open: every call fails at once, none reaches the store, and says so.
        assert_eq!(block_on(guarded.get("n")), Err(StoreError(RESTING.into())));
        assert!(block_on(guarded.increment("n", 1)).is_err());
        assert_eq!(store.unanswered(), 1);
        assert_eq!(host.now_unix_ms() - started, 1_000, "no second wait");
        // Back: once the open second is over, calls go through again.
        store.set_down(false);
        host.advance_ms(OPEN_MS);
        assert_eq!(block_on(guarded.increment("n", 1)), Ok(2));
    }
}
