//! An in-memory host for native tests: configuration from a map, a clock the test moves,
//! a store that several "instances" share, a log the test can read, a sink that records
//! what a client would have received. Its calls are ready at once, but for sleeps in real
//! time, which wake through [`super::executor`]'s timer.

use std::collections::{BTreeMap, HashMap};
use std::future::ready;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::executor::sleep_until;
use super::{Fetched, Host, KeyValue, Outbound, OutboundMethod, Pending, StoreError};
use crate::http::{Disconnected, Headers, ResponseSink};

/// One component instance's view of the machine. Clone it (or share its store) to model
/// several instances serving one deployment.
#[derive(Clone, Default)]
pub struct MemoryHost {
    variables: HashMap<String, String>,
    store: Option<Arc<MemoryStore>>,
    /// The manual clock, or — in real time — an offset added to the system clock.
    clock: Arc<AtomicU64>,
    /// Whether time is the system's and `sleep_ms` really sleeps (instances on threads),
    /// or time stands still until a test or a sleep moves it (deterministic tests).
    real_time: bool,
    random: Arc<AtomicU64>,
    logs: Arc<Mutex<Vec<String>>>,
    web: Arc<MemoryWeb>,
    /// What `idle_instance_grace_ms` says (`None`: instances live until their requests
    /// return, as under WASIp2).
    idle_grace_ms: Option<u64>,
}

/// Answers a POST to one URL, from its body.
type Responder = Arc<dyn Fn(&[u8]) -> Fetched + Send + Sync>;

/// A POST as sent: its URL, headers and body.
pub type Posted = (String, Vec<(String, String)>, Vec<u8>);

/// What `send` reaches: URLs a test has published (GET), URLs that answer POSTs, and a
/// record of every request.
#[derive(Default)]
pub struct MemoryWeb {
    pages: Mutex<HashMap<String, Fetched>>,
    responders: Mutex<HashMap<String, Responder>>,
    fetches: Mutex<Vec<String>>,
    /// Every POST: its URL, headers and body.
    posts: Mutex<Vec<Posted>>,
}

impl MemoryWeb {
    /// Serves `body` at `url` with status 200 (replacing what was there).
    pub fn publish(&self, url: &str, body: &str) {
        if let Ok(mut pages) = self.pages.lock() {
            pages.insert(
                url.to_string(),
                Fetched {
                    status: 200,
                    body: body.as_bytes().to_vec(),
                },
            );
        }
    }

    /// Makes `url` unreachable.
    pub fn take_down(&self, url: &str) {
        if let Ok(mut pages) = self.pages.lock() {
            pages.remove(url);
        }
    }

    /// Answers POSTs to `url` with what `respond` makes of their body.
    pub fn answer_posts(
        &self,
        url: &str,
        respond: impl Fn(&[u8]) -> Fetched + Send + Sync + 'static,
    ) {
        if let Ok(mut responders) = self.responders.lock() {
            responders.insert(url.to_string(), Arc::new(respond));
        }
    }

    /// Every POST so far: URL, headers, body.
    pub fn posts(&self) -> Vec<Posted> {
        self.posts.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// How many times `url` was requested (any method).
    pub fn fetches(&self, url: &str) -> usize {
        self.fetches
            .lock()
            .map(|f| f.iter().filter(|u| *u == url).count())
            .unwrap_or_default()
    }
}

impl MemoryHost {
    /// A host with no store (like the portable build) and the clock at 2026-01-01.
    /// Each host draws its own random sequence, as separate instances would.
    pub fn new() -> MemoryHost {
        static SEEDS: AtomicU64 = AtomicU64::new(1);
        let seed = SEEDS.fetch_add(1, Ordering::SeqCst);
        MemoryHost {
            clock: Arc::new(AtomicU64::new(1_767_225_600_000)),
            random: Arc::new(AtomicU64::new(seed.wrapping_mul(0x2545_f491_4f6c_dd1d))),
            ..MemoryHost::default()
        }
    }

    /// Adds a shared store (like the Spin build).
    pub fn with_store(mut self, store: Arc<MemoryStore>) -> MemoryHost {
        self.store = Some(store);
        self
    }

    pub fn with_variable(mut self, name: &str, value: &str) -> MemoryHost {
        self.variables.insert(name.to_string(), value.to_string());
        self
    }

    /// A host that drops an instance `ms` after its responses are all sent, as Spin does
    /// with WASIp3 instances.
    pub fn with_idle_instance_grace(mut self, ms: u64) -> MemoryHost {
        self.idle_grace_ms = Some(ms);
        self
    }

    /// System time and real sleeps, for tests where instances run on threads.
    /// `advance_ms` still moves this host's clock ahead of the system's.
    pub fn with_real_time(mut self) -> MemoryHost {
        self.real_time = true;
        self.clock = Arc::new(AtomicU64::new(0));
        self
    }

    /// Moves the clock forward.
    pub fn advance_ms(&self, millis: u64) {
        self.clock.fetch_add(millis, Ordering::SeqCst);
    }

    /// The web this host reaches; shared by its clones.
    pub fn web(&self) -> &MemoryWeb {
        &self.web
    }

    /// Every line logged so far, by any clone of this host.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Host for MemoryHost {
    fn variables(&self) -> Pending<'_, Result<Vec<(String, String)>, String>> {
        let all = self
            .variables
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Box::pin(ready(Ok(all)))
    }

    fn now_unix_ms(&self) -> u64 {
        let base = if self.real_time {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or_default()
        } else {
            0
        };
        base + self.clock.load(Ordering::SeqCst)
    }

    fn sleep_ms(&self, millis: u64) -> Pending<'_, ()> {
        if self.real_time {
            Box::pin(sleep_until(Instant::now() + Duration::from_millis(millis)))
        } else {
            self.advance_ms(millis);
            Box::pin(ready(()))
        }
    }

    fn fill_random(&self, buf: &mut [u8]) {
        // splitmix64: reproducible, distinct per call; tests need uniqueness, not secrecy.
        for chunk in buf.chunks_mut(8) {
            let mut z = self
                .random
                .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::SeqCst)
                .wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }

    fn store(&self) -> Option<&dyn KeyValue> {
        self.store.as_deref().map(|s| s as &dyn KeyValue)
    }

    fn log(&self, line: &str) {
        if let Ok(mut logs) = self.logs.lock() {
            logs.push(line.to_string());
        }
    }

    fn send<'a>(&'a self, request: Outbound<'a>) -> Pending<'a, Result<Fetched, String>> {
        let url = request.url;
        if let Ok(mut fetches) = self.web.fetches.lock() {
            fetches.push(url.to_string());
        }
        let refused = || format!("connection refused: {url}");
        let answer = match request.method {
            OutboundMethod::Get => self
                .web
                .pages
                .lock()
                .ok()
                .and_then(|pages| pages.get(url).cloned())
                .ok_or_else(refused),
            OutboundMethod::Post => {
                if let Ok(mut posts) = self.web.posts.lock() {
                    let headers = request
                        .headers
                        .iter()
                        .map(|(name, value)| (name.to_string(), value.clone()))
                        .collect();
                    posts.push((url.to_string(), headers, request.body.clone()));
                }
                let responder = self
                    .web
                    .responders
                    .lock()
                    .ok()
                    .and_then(|responders| responders.get(url).cloned());
                responder
                    .map(|respond| respond(&request.body))
                    .ok_or_else(refused)
            }
        };
        Box::pin(ready(answer))
    }

    fn idle_instance_grace_ms(&self) -> Option<u64> {
        self.idle_grace_ms
    }
}

/// A key-value store behind a mutex, shared by every instance that holds it. It counts
/// reads and writes, so tests can hold hot paths to their budget.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
    reads: AtomicU64,
    writes: AtomicU64,
    listings: AtomicU64,
    /// While set, no call is answered (as a store whose server is gone): each stays
    /// pending, and is counted in `unanswered`.
    down: AtomicBool,
    unanswered: AtomicU64,
    /// The longest key and the largest value written so far (`largest`).
    largest: Mutex<Largest>,
    /// Says its batch reads cost a read per key (as Spin 4.0.2's Redis store's do).
    batches_per_key: AtomicBool,
    /// Batch reads (`get_many` calls) so far.
    batches: AtomicU64,
    /// Sets of keys ending so fail (a fault a test injects).
    refused: Mutex<Option<String>>,
    /// Batch deletions delete every other key and then fail (a fault a test injects).
    half_done_deletes: AtomicBool,
}

/// The longest key written (the key) and the largest value written (its size and key).
#[derive(Clone, Debug, Default)]
pub struct Largest {
    pub key: String,
    pub value_bytes: usize,
    pub value_key: String,
}

/// The limits of Fermyon's hosted key-value stores, which every test store holds the
/// server to: a write over either fails, as it would there.
pub const MAX_KEY_BYTES: usize = 255;
pub const MAX_VALUE_BYTES: usize = 1_000_000;

impl MemoryStore {
    /// Takes the store down (no call answered) or brings it back.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Makes the store say that its batch reads cost a read per key
    /// ([`KeyValue::reads_batches_key_by_key`]): streams then listen for bells.
    pub fn set_batches_per_key(&self, per_key: bool) {
        self.batches_per_key.store(per_key, Ordering::SeqCst);
    }

    /// Makes every `set` of a key ending with `suffix` fail, the store otherwise working
    /// (`None`: none does).
    pub fn refuse_sets_ending(&self, suffix: Option<&str>) {
        if let Ok(mut refused) = self.refused.lock() {
            *refused = suffix.map(str::to_string);
        }
    }

    /// Makes every batch deletion ([`KeyValue::delete_many`]) delete every other key and
    /// then fail, as a batch call may (its keys go in any order, some of them before a
    /// failure), or heals it.
    pub fn fail_batch_deletes_half_done(&self, failing: bool) {
        self.half_done_deletes.store(failing, Ordering::SeqCst);
    }

    /// Batch reads (`get_many` calls) so far.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::SeqCst)
    }

    /// Calls made while the store was down.
    pub fn unanswered(&self) -> u64 {
        self.unanswered.load(Ordering::SeqCst)
    }

    /// `answer`, or a call that never completes while the store is down.
    fn answer<'a, T: 'a>(&'a self, answer: impl FnOnce() -> T + 'a) -> Pending<'a, T> {
        if self.down.load(Ordering::SeqCst) {
            self.unanswered.fetch_add(1, Ordering::SeqCst);
            return Box::pin(std::future::pending());
        }
        Box::pin(ready(answer()))
    }

    pub fn new() -> Arc<MemoryStore> {
        Arc::new(MemoryStore::default())
    }

    /// Reads (`get`, listing) and writes (`set`, `delete`, `increment`) so far.
    pub fn operations(&self) -> (u64, u64) {
        (
            self.reads.load(Ordering::SeqCst),
            self.writes.load(Ordering::SeqCst),
        )
    }

    /// How many times keys were listed (`keys_with_prefix`, which a real store answers by
    /// listing every key).
    pub fn listings(&self) -> u64 {
        self.listings.load(Ordering::SeqCst)
    }

    fn read(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
    }

    fn write(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }

    /// A write of `value` at `key`: refused past the hosted limits, recorded otherwise.
    fn sized(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        if key.len() > MAX_KEY_BYTES {
            return Err(StoreError(format!(
                "key of {} bytes, over the limit of {MAX_KEY_BYTES}: {key}",
                key.len()
            )));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(StoreError(format!(
                "value of {} bytes at {key}, over the limit of {MAX_VALUE_BYTES}",
                value.len()
            )));
        }
        let mut largest = self
            .largest
            .lock()
            .map_err(|_| StoreError("poisoned".into()))?;
        if key.len() > largest.key.len() {
            largest.key = key.to_string();
        }
        if value.len() > largest.value_bytes {
            largest.value_bytes = value.len();
            largest.value_key = key.to_string();
        }
        Ok(())
    }

    /// The longest key and the largest value written so far.
    pub fn largest(&self) -> Largest {
        self.largest.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Every key currently stored, in order.
    pub fn keys(&self) -> Vec<String> {
        self.lock()
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>>, StoreError> {
        self.entries
            .lock()
            .map_err(|_| StoreError("poisoned".into()))
    }
}

/// The store's operations, done at once: tests call these directly (the trait's, which
/// the server calls, are the same wrapped in a ready future).
impl MemoryStore {
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read();
        Ok(self.lock()?.get(key).cloned())
    }

    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.write();
        if let Ok(Some(suffix)) = self.refused.lock().as_deref() {
            if key.ends_with(suffix.as_str()) {
                return Err(StoreError(format!("{key}: refused (a fault the test set)")));
            }
        }
        self.sized(key, value)?;
        self.lock()?.insert(key.to_string(), value.to_vec());
        Ok(())
    }

    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.write();
        self.lock()?.remove(key);
        Ok(())
    }

    pub fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.write();
        let mut entries = self.lock()?;
        let current = match entries.get(key) {
            None => 0,
            Some(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| StoreError(format!("{key} does not hold an integer")))?,
        };
        let next = current + delta;
        self.sized(key, next.to_string().as_bytes())?;
        entries.insert(key.to_string(), next.to_string().into_bytes());
        Ok(next)
    }

    /// The integer `increment` keeps at `key`.
    pub fn counter(&self, key: &str) -> Result<Option<i64>, StoreError> {
        match MemoryStore::get(self, key)? {
            None => Ok(None),
            Some(bytes) => super::decode_counter(&bytes)
                .map(Some)
                .ok_or_else(|| StoreError(format!("{key} does not hold a counter"))),
        }
    }

    pub fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.read();
        self.listings.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .lock()?
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect())
    }
}

impl KeyValue for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> Pending<'a, Result<Option<Vec<u8>>, StoreError>> {
        self.answer(move || MemoryStore::get(self, key))
    }

    fn set<'a>(&'a self, key: &'a str, value: &'a [u8]) -> Pending<'a, Result<(), StoreError>> {
        self.answer(move || MemoryStore::set(self, key, value))
    }

    fn delete<'a>(&'a self, key: &'a str) -> Pending<'a, Result<(), StoreError>> {
        self.answer(move || MemoryStore::delete(self, key))
    }

    fn increment<'a>(&'a self, key: &'a str, delta: i64) -> Pending<'a, Result<i64, StoreError>> {
        self.answer(move || MemoryStore::increment(self, key, delta))
    }

    fn keys_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> Pending<'a, Result<Vec<String>, StoreError>> {
        self.answer(move || MemoryStore::keys_with_prefix(self, prefix))
    }

    fn reads_batches_key_by_key(&self) -> bool {
        self.batches_per_key.load(Ordering::SeqCst)
    }

    /// One write, however many keys (as one transaction of a real store).
    fn delete_many<'a>(&'a self, keys: &'a [String]) -> Pending<'a, Result<(), StoreError>> {
        self.answer(move || {
            self.write();
            let mut entries = self.lock()?;
            if self.half_done_deletes.load(Ordering::SeqCst) {
                for key in keys.iter().skip(1).step_by(2) {
                    entries.remove(key);
                }
                return Err(StoreError("half done (a fault the test set)".into()));
            }
            for key in keys {
                entries.remove(key);
            }
            Ok(())
        })
    }

    /// One read, however many keys (as a batch call to a real store); one per key when
    /// the store says it reads batches key by key.
    fn get_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> Pending<'a, Result<Vec<Option<Vec<u8>>>, StoreError>> {
        self.answer(move || {
            self.batches.fetch_add(1, Ordering::SeqCst);
            match self.reads_batches_key_by_key() {
                true => keys.iter().for_each(|_| self.read()),
                false => self.read(),
            }
            let entries = self.lock()?;
            Ok(keys.iter().map(|key| entries.get(key).cloned()).collect())
        })
    }
}

/// Records a response the way a client would see it: status, headers, and each body
/// chunk with the moment it arrived.
#[derive(Debug, Default)]
pub struct MemorySink {
    pub status: Option<u16>,
    pub headers: Headers,
    pub chunks: Vec<(Instant, Vec<u8>)>,
    /// When set, writes after this many body chunks fail as if the client hung up.
    pub hang_up_after: Option<usize>,
    /// When the server finished the response, if it did so itself.
    pub finished: Option<Instant>,
}

impl MemorySink {
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// The body received so far.
    pub fn body(&self) -> Vec<u8> {
        self.chunks.iter().flat_map(|(_, c)| c.clone()).collect()
    }

    /// The body as text (lossy; for assertions).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body()).into_owned()
    }
}

impl ResponseSink for MemorySink {
    fn head<'a>(
        &'a mut self,
        status: u16,
        headers: &'a Headers,
    ) -> Pending<'a, Result<(), Disconnected>> {
        self.status = Some(status);
        self.headers = headers.clone();
        Box::pin(ready(Ok(())))
    }

    fn body<'a>(&'a mut self, chunk: &'a [u8]) -> Pending<'a, Result<(), Disconnected>> {
        let written = if self.finished.is_some()
            || self.hang_up_after.is_some_and(|n| self.chunks.len() >= n)
        {
            Err(Disconnected)
        } else {
            self.chunks.push((Instant::now(), chunk.to_vec()));
            Ok(())
        };
        Box::pin(ready(written))
    }

    fn finish(&mut self) -> Pending<'_, ()> {
        self.finished.get_or_insert_with(Instant::now);
        Box::pin(ready(()))
    }
}

/// What a [`ChannelSink`] passes on, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkEvent {
    Head(u16, Headers),
    Body(Vec<u8>),
    Finished,
}

/// A sink whose writes arrive at a [`Receiver`] on another thread, as a client would see
/// them. Dropping the receiver is the client hanging up: later writes fail.
pub struct ChannelSink(Sender<SinkEvent>, bool);

impl ChannelSink {
    pub fn new() -> (ChannelSink, Receiver<SinkEvent>) {
        let (tx, rx) = channel();
        (ChannelSink(tx, false), rx)
    }
}

impl ResponseSink for ChannelSink {
    fn head<'a>(
        &'a mut self,
        status: u16,
        headers: &'a Headers,
    ) -> Pending<'a, Result<(), Disconnected>> {
        let sent = self
            .0
            .send(SinkEvent::Head(status, headers.clone()))
            .map_err(|_| Disconnected);
        Box::pin(ready(sent))
    }

    fn body<'a>(&'a mut self, chunk: &'a [u8]) -> Pending<'a, Result<(), Disconnected>> {
        let sent = self
            .0
            .send(SinkEvent::Body(chunk.to_vec()))
            .map_err(|_| Disconnected);
        Box::pin(ready(sent))
    }

    fn closed(&mut self) -> Pending<'_, bool> {
        // An empty chunk probes the channel: its send fails once the client hung up.
        Box::pin(ready(self.0.send(SinkEvent::Body(Vec::new())).is_err()))
    }

    fn finish(&mut self) -> Pending<'_, ()> {
        if !std::mem::replace(&mut self.1, true) {
            let _ = self.0.send(SinkEvent::Finished);
        }
        Box::pin(ready(()))
    }
}
