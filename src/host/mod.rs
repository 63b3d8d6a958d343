//! What the core needs from the machine it runs on, as a few small traits.
//!
//! The wasm builds implement them with WASI and Spin (`wasi_http`, `spin`, `portable`);
//! the native tests implement them in memory (`memory`). Nothing outside this module
//! touches WASI.
//!
//! What waits on the world is async ([`Pending`]): the store, the variables, sleeping,
//! outbound HTTP, and the response the core writes (`crate::http::ResponseSink`). An
//! instance interleaves its requests at those awaits. Reading the clock, drawing random
//! bytes and handing a line to the log do not wait (a host that writes its log slowly
//! queues the line).

pub use crate::http::Pending;

#[cfg(not(target_arch = "wasm32"))]
pub mod executor;
#[cfg(not(target_arch = "wasm32"))]
pub mod memory;

#[cfg(target_arch = "wasm32")]
mod bindings;

/// The WASIp3 Spin build (default).
#[cfg(all(target_arch = "wasm32", feature = "spin", not(feature = "p2")))]
mod wasi_p3;

/// The WASIp2 builds: the Spin build's `p2` variant and the portable build.
#[cfg(all(target_arch = "wasm32", any(feature = "p2", not(feature = "spin"))))]
mod wasi_p2;

#[cfg(all(target_arch = "wasm32", feature = "spin"))]
mod spin;

/// The hosted build's store: the operator's Redis through Spin's outbound Redis.
#[cfg(all(target_arch = "wasm32", feature = "hosted"))]
mod redis;

#[cfg(all(target_arch = "wasm32", not(feature = "spin")))]
mod portable;

/// The machine: configuration, time, randomness, the shared store and the log.
pub trait Host {
    /// Every configuration variable that is set, by its Spin name (`auth_mode`), read in
    /// one go (variables are fixed for a running app). `Err` carries the host's reason
    /// when they could not be read at all.
    fn variables(&self) -> Pending<'_, Result<Vec<(String, String)>, String>>;

    /// Wall-clock time, milliseconds since the Unix epoch.
    fn now_unix_ms(&self) -> u64;

    /// Waits a while (stream polling, keep-alives); other requests go on meanwhile.
    fn sleep_ms(&self, millis: u64) -> Pending<'_, ()>;

    /// Fills `buf` from a cryptographically secure source.
    fn fill_random(&self, buf: &mut [u8]);

    /// The key-value store shared by every instance of this component, if the host has one.
    fn store(&self) -> Option<&dyn KeyValue>;

    /// What would give this server a shared store, for the errors of what needs one
    /// (`/sse`) when [`store`](Host::store) is `None`.
    fn how_to_get_a_store(&self) -> &'static str {
        "a host with a shared key-value store, such as Spin"
    }

    /// Writes one line to the operator's log. Callers never pass secrets here.
    fn log(&self, line: &str);

    /// Sends an outbound HTTP request (issuer keys, token introspection, a tool's calls)
    /// and reads its answer, up to [`MAX_FETCH_BYTES`] within the host's deadline. `Err`
    /// explains a failure to get any answer (safe to log: it never repeats the request's
    /// headers or body).
    fn send<'a>(&'a self, request: Outbound<'a>) -> Pending<'a, Result<Fetched, String>>;

    /// Fetches `url` with GET.
    fn http_get<'a>(&'a self, url: &'a str) -> Pending<'a, Result<Fetched, String>> {
        self.send(Outbound::get(url))
    }

    /// How long the host keeps an instance none of whose responses is still being sent
    /// before it drops it, with whatever work the instance still runs (`None`: an instance
    /// lives until its requests return). An event stream whose client hung up is such
    /// work: where this is short, a stream that may be its instance's last looks for a
    /// hang-up often enough to clean up before the instance goes.
    fn idle_instance_grace_ms(&self) -> Option<u64> {
        None
    }
}

/// The method of an [`Outbound`] request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboundMethod {
    Get,
    Post,
}

/// An outbound HTTP request. Not `Debug`: its headers may carry a credential.
pub struct Outbound<'a> {
    pub method: OutboundMethod,
    pub url: &'a str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl<'a> Outbound<'a> {
    pub fn get(url: &'a str) -> Outbound<'a> {
        Outbound {
            method: OutboundMethod::Get,
            url,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A POST of an HTML form (`application/x-www-form-urlencoded`) that asks for JSON.
    pub fn post_form(url: &'a str, fields: &[(&str, &str)]) -> Outbound<'a> {
        let body = fields
            .iter()
            .map(|(name, value)| format!("{}={}", form_encode(name), form_encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        Outbound {
            method: OutboundMethod::Post,
            url,
            headers: vec![
                ("content-type", "application/x-www-form-urlencoded".into()),
                ("content-length", body.len().to_string()),
                ("accept", "application/json".into()),
            ],
            body: body.into_bytes(),
        }
    }

    pub fn header(mut self, name: &'static str, value: String) -> Outbound<'a> {
        self.headers.push((name, value));
        self
    }

    /// The headers as `wasi:http` fields take them (`fields.from-list`).
    pub fn fields(&self) -> Vec<(String, Vec<u8>)> {
        self.headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect()
    }
}

/// `application/x-www-form-urlencoded` encoding of one name or value: unreserved
/// characters as they are, a space as `+`, every other byte as `%XX`.
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// An answer to [`Host::send`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Bodies larger than this are not read (a JWKS is a few kilobytes).
pub const MAX_FETCH_BYTES: usize = 1024 * 1024;

/// A key-value store shared across instances (and, with a networked backend, machines).
pub trait KeyValue {
    fn get<'a>(&'a self, key: &'a str) -> Pending<'a, Result<Option<Vec<u8>>, StoreError>>;
    fn set<'a>(&'a self, key: &'a str, value: &'a [u8]) -> Pending<'a, Result<(), StoreError>>;
    fn delete<'a>(&'a self, key: &'a str) -> Pending<'a, Result<(), StoreError>>;
    /// Adds `delta` to the integer stored at `key` (absent counts as 0) atomically and
    /// returns the new value.
    fn increment<'a>(&'a self, key: &'a str, delta: i64) -> Pending<'a, Result<i64, StoreError>>;
    /// Every key that starts with `prefix`.
    fn keys_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> Pending<'a, Result<Vec<String>, StoreError>>;

    /// The values of several keys, in their order (`None` for one not set): one host call
    /// where the host has one (Spin: `wasi:keyvalue/batch`, which blocks the instance
    /// while it runs), else one read after another.
    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> Pending<'a, Result<Vec<Option<Vec<u8>>>, StoreError>> {
        Box::pin(async move {
            let mut values = Vec::with_capacity(keys.len());
            for key in keys {
                values.push(self.get(key).await?);
            }
            Ok(values)
        })
    }

    /// Deletes several keys: one host call where the host has one (Spin:
    /// `wasi:keyvalue/batch`, one transaction on its SQLite store, where each lone delete
    /// is a transaction of its own), else one delete after another. The keys may go in any
    /// order, and a call that fails may have deleted some of them: a caller that needs one
    /// key gone before another makes two calls.
    fn delete_many<'a>(&'a self, keys: &'a [String]) -> Pending<'a, Result<(), StoreError>> {
        Box::pin(async move {
            for key in keys {
                self.delete(key).await?;
            }
            Ok(())
        })
    }

    /// Whether an instance holding many streams should listen on a bell instead of reading
    /// every outbox each tick (`transport::feed`), because [`get_many`](KeyValue::get_many)
    /// costs the store one read per key: true where the WASIp3 build's batch read fell
    /// back to single reads (Spin 4.0.2's Redis store; any failed batch read turns it on
    /// for the instance's life). False by default, also for the trait's own `get_many`:
    /// a WASIp2 instance holds one stream, whose two keys a bell would not save.
    fn reads_batches_key_by_key(&self) -> bool {
        false
    }

    /// The integer [`increment`](KeyValue::increment) keeps at `key`, read without writing.
    fn counter<'a>(&'a self, key: &'a str) -> Pending<'a, Result<Option<i64>, StoreError>> {
        Box::pin(async move {
            match self.get(key).await? {
                None => Ok(None),
                Some(bytes) => decode_counter(&bytes)
                    .map(Some)
                    .ok_or_else(|| StoreError(format!("{key} does not hold a counter"))),
            }
        })
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

/// `work`'s output, or `None` when `deadline` comes first (and `work` is dropped, which
/// abandons a host call under way).
pub async fn race<T>(
    work: impl std::future::Future<Output = T>,
    deadline: impl std::future::Future<Output = ()>,
) -> Option<T> {
    let mut work = std::pin::pin!(work);
    let mut deadline = std::pin::pin!(deadline);
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(value) = work.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(value));
        }
        deadline.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// All the futures' outputs, in order: polled in turn on this thread until every one is
/// done (several requests in one instance, several store reads in one wait).
pub async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx| {
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                if let std::task::Poll::Ready(value) = future.as_mut().poll(cx) {
                    *output = Some(value);
                }
            }
        }
        match outputs.iter().all(Option::is_some) {
            true => std::task::Poll::Ready(outputs.iter_mut().filter_map(Option::take).collect()),
            false => std::task::Poll::Pending,
        }
    })
    .await
}
