//! The Spin build's export, `wasi:http/handler@0.3.0-rc-2026-03-15` (WASIp3): every
//! request is an async call into the component, and an instance serves many of them, up
//! to several at once, interleaved at their awaits.
//!
//! What is fixed for a running app is set up once per instance and kept: here in
//! [`Instance`], the variables (one `get-all`) and the store handles; in the core's
//! [`App`], the parsed configuration, the auth policy and the issuer's keys. Nothing about
//! a request or a principal is kept; the core keeps that in its request's futures or in
//! the store.
//!
//! A request runs as a task of its own ([`wit_bindgen::spawn`]): the response's head goes
//! back to the host as soon as the core sends it, and its body streams from the task as
//! the core writes it, after the export call has returned.

use std::cell::{Cell, OnceCell, RefCell};
use std::future::ready;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::bindings::exports::wasi::http::handler::Guest;
use super::bindings::wasi;
use super::bindings::{wit_future, wit_stream};
use wasi::http::types::{
    ErrorCode, Fields, Method as WasiMethod, Request as WasiRequest, Response as WasiResponse,
    Scheme,
};

use super::spin as platform;
use super::{Fetched, Host, KeyValue, Outbound, OutboundMethod, Pending, MAX_FETCH_BYTES};
use crate::http::{BodyReader, Disconnected, Headers, Method, Request, ResponseSink};
use crate::web::App;
use wit_bindgen::{FutureReader, FutureWriter, StreamReader, StreamResult, StreamWriter};

struct Component;

impl Guest for Component {
    async fn handle(request: WasiRequest) -> Result<WasiResponse, ErrorCode> {
        let app = Instance::app().await;
        let request = incoming(request);
        let (head, response) = slot();
        wit_bindgen::spawn(async move {
            let mut sink = Sink::new(head);
            let busy = log::Busy::new();
            app.handle(request, &mut sink).await;
            sink.finish().await;
            drop(busy);
            log::settle().await;
        });
        response.await.ok_or(ErrorCode::InternalError(None))
    }
}

super::bindings::export!(Component with_types_in super::bindings);

/// What an instance sets up once and keeps for every request it serves.
struct Instance {
    variables: Result<Vec<(String, String)>, String>,
    store: Option<Box<dyn KeyValue>>,
}

thread_local! {
    static APP: OnceCell<&'static App<'static>> = const { OnceCell::new() };
}

impl Instance {
    /// This instance's app, set up by its first request and kept for the instance's life
    /// (a component instance has one linear memory and one thread). Requests that start
    /// while the first sets up may set up their own; the first to finish is kept, and the
    /// others' are leaked: at most a handful, once per instance.
    async fn app() -> &'static App<'static> {
        if let Some(app) = APP.with(|cell| cell.get().copied()) {
            return app;
        }
        let instance: &'static Instance = Box::leak(Box::new(Instance {
            variables: platform::Config.all(),
            store: platform::open_store(),
        }));
        let app: &'static App<'static> = Box::leak(Box::new(App::new(instance).await));
        APP.with(|cell| *cell.get_or_init(|| app))
    }
}

impl Host for Instance {
    fn variables(&self) -> Pending<'_, Result<Vec<(String, String)>, String>> {
        Box::pin(ready(self.variables.clone()))
    }

    fn now_unix_ms(&self) -> u64 {
        let now = wasi::clocks::system_clock::now();
        (now.seconds as u64) * 1000 + u64::from(now.nanoseconds) / 1_000_000
    }

    fn sleep_ms(&self, millis: u64) -> Pending<'_, ()> {
        Box::pin(wasi::clocks::monotonic_clock::wait_for(millis * 1_000_000))
    }

    fn fill_random(&self, buf: &mut [u8]) {
        let bytes = wasi::random::random::get_random_bytes(buf.len() as u64);
        buf.copy_from_slice(&bytes[..buf.len()]);
    }

    fn store(&self) -> Option<&dyn KeyValue> {
        self.store.as_deref()
    }

    fn log(&self, line: &str) {
        log::line(line);
    }

    fn idle_instance_grace_ms(&self) -> Option<u64> {
        // Spin's `--idle-instance-timeout` (1 s unless set): it counts from the moment the
        // host has sent every response of the instance, also one whose client hung up.
        Some(1_000)
    }

    fn send<'a>(&'a self, request: Outbound<'a>) -> Pending<'a, Result<Fetched, String>> {
        Box::pin(send(request))
    }
}

/// The WASI request as the core's [`Request`], its body streaming in as it arrives.
fn incoming(request: WasiRequest) -> Request<'static> {
    let method = match request.get_method() {
        WasiMethod::Get => Method::Get,
        WasiMethod::Head => Method::Head,
        WasiMethod::Post => Method::Post,
        WasiMethod::Delete => Method::Delete,
        WasiMethod::Options => Method::Options,
        WasiMethod::Put => Method::Other("PUT".into()),
        WasiMethod::Patch => Method::Other("PATCH".into()),
        WasiMethod::Connect => Method::Other("CONNECT".into()),
        WasiMethod::Trace => Method::Other("TRACE".into()),
        WasiMethod::Other(name) => Method::Other(name),
    };
    let mut headers = Headers::new();
    for (name, value) in request.get_headers().copy_all() {
        headers.append(&name, String::from_utf8_lossy(&value).into_owned());
    }
    let origin = request.get_authority().map(|authority| {
        let scheme = match request.get_scheme() {
            Some(Scheme::Https) => "https".to_string(),
            Some(Scheme::Other(other)) => other,
            Some(Scheme::Http) | None => "http".to_string(),
        };
        format!("{scheme}://{authority}")
    });
    let path = request.get_path_with_query().unwrap_or_else(|| "/".into());
    let (done, finished) = wit_future::new(|| Ok(()));
    let (stream, _trailers) = WasiRequest::consume_body(request, finished);
    let body = IncomingBody {
        stream,
        _done: done,
        ended: false,
    };
    Request::new(method, &path, headers, origin, Box::new(body))
}

/// A request or response body as it arrives.
struct IncomingBody {
    stream: StreamReader<u8>,
    /// Dropped when the body is: tells the host it was consumed.
    _done: FutureWriter<Result<(), ErrorCode>>,
    ended: bool,
}

impl BodyReader for IncomingBody {
    fn read(&mut self, max: usize) -> Pending<'_, std::io::Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            while !self.ended {
                let (result, chunk) = self.stream.read(Vec::with_capacity(max)).await;
                match result {
                    StreamResult::Complete(_) if !chunk.is_empty() => return Ok(Some(chunk)),
                    StreamResult::Complete(_) => continue,
                    StreamResult::Dropped | StreamResult::Cancelled => self.ended = true,
                }
            }
            Ok(None)
        })
    }
}

/// A one-value channel between the request's task (which sends the response head) and the
/// export call (which hands it to the host).
struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
    /// The sender is gone.
    closed: bool,
}

struct Sender<T>(Rc<RefCell<Slot<T>>>);
struct Receiver<T>(Rc<RefCell<Slot<T>>>);

fn slot<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Rc::new(RefCell::new(Slot {
        value: None,
        waker: None,
        closed: false,
    }));
    (Sender(slot.clone()), Receiver(slot))
}

impl<T> Sender<T> {
    fn send(self, value: T) {
        let waker = {
            let mut slot = self.0.borrow_mut();
            slot.value = Some(value);
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut slot = self.0.borrow_mut();
            slot.closed = true;
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> std::future::Future for Receiver<T> {
    type Output = Option<T>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Option<T>> {
        let mut slot = self.0.borrow_mut();
        if let Some(value) = slot.value.take() {
            return Poll::Ready(Some(value));
        }
        if slot.closed {
            return Poll::Ready(None);
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Sends the response as the core produces it: the head to the export call, each body
/// chunk into the body stream, which the host reads as it goes.
struct Sink {
    head: Option<Sender<WasiResponse>>,
    body: Option<StreamWriter<u8>>,
    /// Whether the host stopped reading the body (the client went away), as the
    /// response's delivery result says.
    gone: Rc<Cell<bool>>,
    /// The delivery result, until a [`Sink::probe`] starts watching it (only streams
    /// ask; a plain response never pays for the watch).
    delivered: Option<FutureReader<Result<(), ErrorCode>>>,
}

impl Sink {
    fn new(head: Sender<WasiResponse>) -> Sink {
        Sink {
            head: Some(head),
            body: None,
            gone: Rc::new(Cell::new(false)),
            delivered: None,
        }
    }

    fn head_now(&mut self, status: u16, headers: &Headers) -> Result<(), Disconnected> {
        let head = self.head.take().ok_or(Disconnected)?;
        let fields = Fields::new();
        for (name, value) in headers.iter() {
            // The core sends only valid, allowed fields; a refused one is dropped rather
            // than failing the whole response.
            let _ = fields.append(name, value.as_bytes());
        }
        let (writer, reader) = wit_stream::new();
        let (trailers, no_trailers) = wit_future::new(|| Ok(None));
        drop(trailers);
        let (response, delivered) = WasiResponse::new(fields, Some(reader), no_trailers);
        let _ = response.set_status_code(status);
        self.delivered = Some(delivered);
        head.send(response);
        self.body = Some(writer);
        Ok(())
    }

    /// Whether the host stopped reading the body: an empty write says so at once when it
    /// has (it waits while the host is busy sending, which then says nothing).
    async fn probe(&mut self) -> bool {
        // The delivery result resolves when the host has sent the body, or could not (the
        // client hung up): from the first probe on, a stream notices between its polls,
        // without a write. (Spin 4.0.2 resolves it with the request body's outcome
        // instead; there the empty write below is what notices.)
        if let Some(delivered) = self.delivered.take() {
            let gone = self.gone.clone();
            wit_bindgen::spawn(async move {
                if delivered.await.is_err() {
                    gone.set(true);
                }
            });
        }
        if self.gone.get() {
            return true;
        }
        let Some(body) = self.body.as_mut() else {
            return false;
        };
        // While the host waits for the body (an idle stream) the write completes at once,
        // and no timer is needed; only a host busy sending gets the moment's wait.
        let mut probe = std::pin::pin!(body.write(Vec::new()));
        let at_once = std::future::poll_fn(|cx| {
            Poll::Ready(match std::future::Future::poll(probe.as_mut(), cx) {
                Poll::Ready(result) => Some(result),
                Poll::Pending => None,
            })
        })
        .await;
        let result = match at_once {
            Some(result) => Some(result),
            None => {
                let moment = wasi::clocks::monotonic_clock::wait_for(1_000_000);
                super::race(probe, moment).await
            }
        };
        if let Some((StreamResult::Dropped, _)) = result {
            self.gone.set(true);
        }
        self.gone.get()
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<(), Disconnected> {
        let body = self.body.as_mut().ok_or(Disconnected)?;
        let rest = body.write_all(chunk.to_vec()).await;
        if rest.is_empty() {
            Ok(())
        } else {
            self.gone.set(true);
            Err(Disconnected)
        }
    }
}

impl ResponseSink for Sink {
    fn head<'a>(
        &'a mut self,
        status: u16,
        headers: &'a Headers,
    ) -> Pending<'a, Result<(), Disconnected>> {
        Box::pin(ready(self.head_now(status, headers)))
    }

    fn body<'a>(&'a mut self, chunk: &'a [u8]) -> Pending<'a, Result<(), Disconnected>> {
        Box::pin(self.write(chunk))
    }

    fn closed(&mut self) -> Pending<'_, bool> {
        Box::pin(self.probe())
    }

    fn finish(&mut self) -> Pending<'_, ()> {
        if self.head.is_some() {
            // The core always answers; this only guards against a path that did not.
            let _ = self.head_now(500, &Headers::new());
        }
        // Dropping the writer ends the body.
        drop(self.body.take());
        Box::pin(ready(()))
    }
}

/// Longest wait for a connection, for the first byte of the answer, and between two
/// bytes of it.
const FETCH_STEP_TIMEOUT_NS: u64 = 5_000_000_000;
/// Longest a whole fetch may take, body included: an issuer that trickles bytes cannot
/// hold a request longer than this.
const FETCH_DEADLINE_NS: u64 = 10_000_000_000;

/// `GET url` through `wasi:http/client`, body read up to [`MAX_FETCH_BYTES`], the whole
/// of it within [`FETCH_DEADLINE_NS`].
async fn send(request: Outbound<'_>) -> Result<Fetched, String> {
    let url = request.url;
    let deadline = wasi::clocks::monotonic_clock::wait_for(FETCH_DEADLINE_NS);
    let timed_out = || {
        format!(
            "{url} did not answer in full within {} s",
            FETCH_DEADLINE_NS / 1_000_000_000
        )
    };
    super::race(fetch(request), deadline)
        .await
        .unwrap_or_else(|| Err(timed_out()))
}

async fn fetch(request: Outbound<'_>) -> Result<Fetched, String> {
    use wasi::http::client;
    use wasi::http::types::RequestOptions;

    let url = request.url;

    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else {
        return Err(format!("{url} is not an http(s) URL"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let options = RequestOptions::new();
    let _ = options.set_connect_timeout(Some(FETCH_STEP_TIMEOUT_NS));
    let _ = options.set_first_byte_timeout(Some(FETCH_STEP_TIMEOUT_NS));
    let _ = options.set_between_bytes_timeout(Some(FETCH_STEP_TIMEOUT_NS));
    let (trailers, no_trailers) = wit_future::new(|| Ok(None));
    drop(trailers);
    let headers = Fields::from_list(&request.fields())
        .map_err(|e| format!("a header for {url} is invalid: {e:?}"))?;
    let contents = (request.method == OutboundMethod::Post).then(|| {
        let (mut writer, reader) = wit_stream::new();
        let body = request.body;
        wit_bindgen::spawn(async move {
            let _ = writer.write_all(body).await;
        });
        reader
    });
    let (outgoing, _sent) = WasiRequest::new(headers, contents, no_trailers, Some(options));
    let _ = outgoing.set_method(&match request.method {
        OutboundMethod::Get => WasiMethod::Get,
        OutboundMethod::Post => WasiMethod::Post,
    });
    let _ = outgoing.set_scheme(Some(&scheme));
    let _ = outgoing.set_authority(Some(authority));
    let _ = outgoing.set_path_with_query(Some(path));
    let describe = |e: ErrorCode| match e {
        ErrorCode::HttpRequestDenied => format!(
            "the host denied the request to {authority}: on Spin, its origin must be in \
             allowed_outbound_hosts (set jwt_jwks_origin or introspection_origin to it)"
        ),
        other => format!("request to {url} failed: {other:?}"),
    };
    let response = client::send(outgoing).await.map_err(describe)?;
    let status = response.get_status_code();
    let (done, finished) = wit_future::new(|| Ok(()));
    let (stream, _trailers) = WasiResponse::consume_body(response, finished);
    let mut body = IncomingBody {
        stream,
        _done: done,
        ended: false,
    };
    let mut bytes = Vec::new();
    while let Some(chunk) = body
        .read(64 * 1024)
        .await
        .map_err(|e| format!("reading {url}: {e}"))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_FETCH_BYTES {
            return Err(format!(
                "{url} answered with more than {MAX_FETCH_BYTES} bytes"
            ));
        }
    }
    Ok(Fetched {
        status,
        body: bytes,
    })
}

/// Log lines, written to stderr through one stream the instance keeps open (a `wasi:cli`
/// 0.3 stream: measured under Spin 4.0.2, a line cost an empty handler about 15 us as a
/// WASIp2 blocking write, about half that through the stream). A request writes the lines
/// it logged when it ends; a line logged while a request runs long waits at most
/// [`FLUSH_AFTER_MS`]; a panic writes what is pending before its message.
mod log {
    use std::cell::{Cell, RefCell};

    use super::wasi;
    use wit_bindgen::StreamWriter;

    const FLUSH_AFTER_MS: u64 = 200;

    thread_local! {
        static PENDING: RefCell<String> = const { RefCell::new(String::new()) };
        static IN_FLIGHT: Cell<usize> = const { Cell::new(0) };
        static ARMED: Cell<bool> = const { Cell::new(false) };
        /// The stream to stderr, while no drain holds it.
        static WRITER: RefCell<Option<StreamWriter<u8>>> = const { RefCell::new(None) };
        static DRAINING: Cell<bool> = const { Cell::new(false) };
    }

    pub fn line(line: &str) {
        PENDING.with_borrow_mut(|pending| {
            pending.push_str(line);
            pending.push('\n');
        });
        install_panic_hook();
        if IN_FLIGHT.get() == 0 {
            wit_bindgen::spawn(drain());
        } else if !ARMED.replace(true) {
            wit_bindgen::spawn(async {
                wasi::clocks::monotonic_clock::wait_for(FLUSH_AFTER_MS * 1_000_000).await;
                ARMED.set(false);
                drain().await;
            });
        }
    }

    /// Writes the pending lines (unless another drain is at it, which will).
    pub async fn drain() {
        if PENDING.with_borrow(String::is_empty) || DRAINING.replace(true) {
            return;
        }
        let mut writer = WRITER.take().unwrap_or_else(|| {
            let (writer, reader) = super::wit_stream::new();
            let done = wasi::cli::stderr::write_via_stream(reader);
            wit_bindgen::spawn(async move {
                let _ = done.await;
            });
            writer
        });
        loop {
            let text = PENDING.with_borrow_mut(std::mem::take);
            if text.is_empty() {
                break;
            }
            let _ = writer.write_all(text.into_bytes()).await;
        }
        WRITER.set(Some(writer));
        DRAINING.set(false);
    }

    /// A request ended: the last one in flight writes what is pending; while others run,
    /// the flush timer does, so a busy instance writes its lines in batches (one host
    /// write for many requests' lines, not one each).
    pub async fn settle() {
        if IN_FLIGHT.get() == 0 {
            drain().await;
        }
    }

    /// On a panic the instance traps right after the hook: what is pending goes out with
    /// one blocking write first.
    fn install_panic_hook() {
        thread_local!(static INSTALLED: Cell<bool> = const { Cell::new(false) });
        if INSTALLED.replace(true) {
            return;
        }
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            use std::io::Write;
            let text = PENDING.with_borrow_mut(std::mem::take);
            let _ = std::io::stderr().write_all(text.as_bytes());
            previous(info);
        }));
    }

    /// A request in flight: its lines are written when it ends.
    pub struct Busy;

    impl Busy {
        pub fn new() -> Busy {
            IN_FLIGHT.set(IN_FLIGHT.get() + 1);
            Busy
        }
    }

    impl Drop for Busy {
        fn drop(&mut self) {
            IN_FLIGHT.set(IN_FLIGHT.get() - 1);
        }
    }
}
