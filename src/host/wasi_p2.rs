//! The WASIp2 builds' export, `wasi:http/incoming-handler@0.2.0` (the Spin build's `p2`
//! variant and the portable build). It converts the WASI request into the core's
//! [`Request`], lets the core answer into a streaming sink, and provides [`Host`] from
//! WASI clocks and randomness plus the build's own configuration source and store (`spin`
//! or `portable`).
//!
//! WASIp2 host calls block, so every future the core awaits here is ready when first
//! polled: [`block_on`] runs the request to its end on the instance's one thread (which
//! serves only this request).

use std::cell::OnceCell;
use std::future::ready;

use super::bindings::exports::wasi::http::incoming_handler::Guest;
use super::bindings::wasi;
use wasi::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingRequest, Method as WasiMethod, OutgoingBody,
    OutgoingResponse, ResponseOutparam, Scheme,
};
use wasi::io::streams::{InputStream, OutputStream, StreamError};

#[cfg(not(feature = "spin"))]
use super::portable as platform;
#[cfg(feature = "spin")]
use super::spin as platform;
use super::{Fetched, Host, KeyValue, Outbound, OutboundMethod, Pending, MAX_FETCH_BYTES};
use crate::http::{Disconnected, Headers, Method, Request, ResponseSink};

/// Runs `future`, whose every await is ready at once (WASIp2 calls block), to its end.
fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut context) {
            return value;
        }
    }
}

struct Component;

impl Guest for Component {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let host = WasiHost {
            config: platform::Config,
            store: OnceCell::new(),
        };
        let method = match request.method() {
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
        for (name, value) in request.headers().entries() {
            headers.append(&name, String::from_utf8_lossy(&value).into_owned());
        }
        let origin = request.authority().map(|authority| {
            let scheme = match request.scheme() {
                Some(Scheme::Https) => "https".to_string(),
                Some(Scheme::Other(other)) => other,
                Some(Scheme::Http) | None => "http".to_string(),
            };
            format!("{scheme}://{authority}")
        });
        let path = request.path_with_query().unwrap_or_else(|| "/".into());
        let body: Box<dyn crate::http::BodyReader> = match request.consume() {
            Ok(body) => match body.stream() {
                Ok(stream) => Box::new(BodyReader {
                    stream,
                    _body: body,
                }),
                Err(()) => Box::new(std::io::empty()),
            },
            Err(()) => Box::new(std::io::empty()),
        };
        let mut sink = WasiSink {
            response_out: Some(response_out),
            body: None,
            stream: None,
        };
        block_on(async {
            let request = Request::new(method, &path, headers, origin, body);
            crate::web::handle(&host, request, &mut sink).await;
            sink.finish().await;
        });
    }
}

super::bindings::export!(Component with_types_in super::bindings);

struct WasiHost {
    config: platform::Config,
    /// Opened on first use, so requests that need no state never touch the store.
    store: OnceCell<Option<Box<dyn KeyValue>>>,
}

impl Host for WasiHost {
    fn variables(&self) -> Pending<'_, Result<Vec<(String, String)>, String>> {
        Box::pin(ready(self.config.all()))
    }

    fn now_unix_ms(&self) -> u64 {
        let now = wasi::clocks::wall_clock::now();
        now.seconds * 1000 + u64::from(now.nanoseconds) / 1_000_000
    }

    fn sleep_ms(&self, millis: u64) -> Pending<'_, ()> {
        wasi::clocks::monotonic_clock::subscribe_duration(millis * 1_000_000).block();
        Box::pin(ready(()))
    }

    fn fill_random(&self, buf: &mut [u8]) {
        let bytes = wasi::random::random::get_random_bytes(buf.len() as u64);
        buf.copy_from_slice(&bytes[..buf.len()]);
    }

    fn store(&self) -> Option<&dyn KeyValue> {
        self.store.get_or_init(platform::open_store).as_deref()
    }

    #[cfg(feature = "hosted")]
    fn how_to_get_a_store(&self) -> &'static str {
        "a Redis for this build's shared state: set the variables redis_address and \
         redis_origin (docs/deploy.md)"
    }

    fn log(&self, line: &str) {
        // One write of the whole line: eprintln! writes the line and its newline
        // separately, and every write is a host call (Spin copies it to a log file).
        use std::io::Write;
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let _ = std::io::stderr().write_all(&bytes);
    }

    fn send<'a>(&'a self, request: Outbound<'a>) -> Pending<'a, Result<Fetched, String>> {
        Box::pin(ready(send(&request)))
    }
}

/// The request body as a reader. Field order matters: the stream is a child of the body
/// resource and must be dropped first.
struct BodyReader {
    stream: InputStream,
    _body: IncomingBody,
}

impl crate::http::BodyReader for BodyReader {
    fn read(&mut self, max: usize) -> Pending<'_, std::io::Result<Option<Vec<u8>>>> {
        let read = match self.stream.blocking_read(max as u64) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(StreamError::Closed) => Ok(None),
            Err(StreamError::LastOperationFailed(e)) => {
                Err(std::io::Error::other(e.to_debug_string()))
            }
        };
        Box::pin(ready(read))
    }
}

/// Sends the response as the core produces it: headers on `head`, each `body` chunk
/// flushed to the client before the call returns.
struct WasiSink {
    response_out: Option<ResponseOutparam>,
    body: Option<OutgoingBody>,
    stream: Option<OutputStream>,
}

fn fields(headers: &Headers) -> Fields {
    let fields = Fields::new();
    for (name, value) in headers.iter() {
        // The core sends only valid, allowed fields; a refused one is dropped rather than
        // failing the whole response.
        let _ = fields.append(name, value.as_bytes());
    }
    fields
}

/// `blocking-write-and-flush` takes at most 4096 bytes per call (wasi:io/streams).
const WRITE_LIMIT: usize = 4096;

impl WasiSink {
    fn head_now(&mut self, status: u16, headers: &Headers) -> Result<(), Disconnected> {
        let response_out = self.response_out.take().ok_or(Disconnected)?;
        let response = OutgoingResponse::new(fields(headers));
        let _ = response.set_status_code(status);
        let body = response.body().map_err(|()| Disconnected)?;
        ResponseOutparam::set(response_out, Ok(response));
        self.stream = Some(body.write().map_err(|()| Disconnected)?);
        self.body = Some(body);
        Ok(())
    }

    fn body_now(&mut self, chunk: &[u8]) -> Result<(), Disconnected> {
        let stream = self.stream.as_ref().ok_or(Disconnected)?;
        for piece in chunk.chunks(WRITE_LIMIT) {
            stream
                .blocking_write_and_flush(piece)
                .map_err(|_| Disconnected)?;
        }
        Ok(())
    }

    fn closed_now(&mut self) -> bool {
        // The outgoing body reports a closed peer on check-write (wasmtime: the host's end
        // of the body was dropped with the connection).
        self.stream
            .as_ref()
            .is_some_and(|stream| matches!(stream.check_write(), Err(StreamError::Closed)))
    }

    fn complete_now(&mut self, status: u16, headers: &Headers, body: &[u8]) {
        let Some(response_out) = self.response_out.take() else {
            return;
        };
        let response = OutgoingResponse::new(fields(headers));
        let _ = response.set_status_code(status);
        let Ok(outgoing) = response.body() else {
            ResponseOutparam::set(response_out, Err(ErrorCode::InternalError(None)));
            return;
        };
        // The body goes into the outgoing stream before the response is handed over, so
        // the host finds head and body ready together. The stream takes as much at once
        // as check-write allows (wasmtime: a whole chunk, 1 MiB by default).
        let written = match outgoing.write() {
            Ok(stream) => {
                let mut rest = body;
                while !rest.is_empty() {
                    let Ok(budget) = stream.check_write() else {
                        break;
                    };
                    if budget == 0 {
                        // The host's buffer is full: the rest follows the head.
                        break;
                    }
                    let n = rest.len().min(budget as usize);
                    if stream.write(&rest[..n]).is_err() {
                        break;
                    }
                    rest = &rest[n..];
                }
                let _ = stream.flush();
                (stream, rest)
            }
            Err(()) => {
                ResponseOutparam::set(response_out, Err(ErrorCode::InternalError(None)));
                return;
            }
        };
        ResponseOutparam::set(response_out, Ok(response));
        let (stream, rest) = written;
        for piece in rest.chunks(WRITE_LIMIT) {
            if stream.blocking_write_and_flush(piece).is_err() {
                break;
            }
        }
        drop(stream);
        let _ = OutgoingBody::finish(outgoing, None);
    }

    fn finish_now(&mut self) {
        if self.response_out.is_some() {
            // The core always answers; this only guards against a path that did not.
            let _ = self.head_now(500, &Headers::new());
        }
        drop(self.stream.take());
        if let Some(body) = self.body.take() {
            let _ = OutgoingBody::finish(body, None);
        }
    }
}

impl ResponseSink for WasiSink {
    fn head<'a>(
        &'a mut self,
        status: u16,
        headers: &'a Headers,
    ) -> Pending<'a, Result<(), Disconnected>> {
        Box::pin(ready(self.head_now(status, headers)))
    }

    fn body<'a>(&'a mut self, chunk: &'a [u8]) -> Pending<'a, Result<(), Disconnected>> {
        Box::pin(ready(self.body_now(chunk)))
    }

    fn closed(&mut self) -> Pending<'_, bool> {
        Box::pin(ready(self.closed_now()))
    }

    fn complete<'a>(
        &'a mut self,
        status: u16,
        headers: &'a Headers,
        body: &'a [u8],
    ) -> Pending<'a, ()> {
        self.complete_now(status, headers, body);
        Box::pin(ready(()))
    }

    fn finish(&mut self) -> Pending<'_, ()> {
        self.finish_now();
        Box::pin(ready(()))
    }
}

/// Longest wait for a connection, for the first byte of the answer, and between two
/// bytes of it.
const FETCH_STEP_TIMEOUT_NS: u64 = 5_000_000_000;
/// Longest a whole fetch may take, body included: an issuer that trickles bytes cannot
/// hold a request (and its instance) longer than this.
const FETCH_DEADLINE_NS: u64 = 10_000_000_000;

/// `request` through `wasi:http/outgoing-handler`, the answer's body read up to
/// [`MAX_FETCH_BYTES`], the whole of it within [`FETCH_DEADLINE_NS`].
fn send(request: &Outbound<'_>) -> Result<Fetched, String> {
    use wasi::clocks::monotonic_clock;
    use wasi::http::outgoing_handler;
    use wasi::http::types::{OutgoingRequest, RequestOptions};
    use wasi::io::poll::{poll, Pollable};

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
    let deadline = monotonic_clock::now().saturating_add(FETCH_DEADLINE_NS);
    let timed_out = || {
        format!(
            "{url} did not answer in full within {} s",
            FETCH_DEADLINE_NS / 1_000_000_000
        )
    };
    // Waits until `ready` is, or the deadline passes (false).
    let wait = |ready: &Pollable| {
        let expiry = monotonic_clock::subscribe_instant(deadline);
        poll(&[ready, &expiry]).contains(&0)
    };
    let headers = Fields::from_list(&request.fields())
        .map_err(|e| format!("a header for {url} is invalid: {e:?}"))?;
    let outgoing = OutgoingRequest::new(headers);
    let _ = outgoing.set_method(&match request.method {
        OutboundMethod::Get => WasiMethod::Get,
        OutboundMethod::Post => WasiMethod::Post,
    });
    let _ = outgoing.set_scheme(Some(&scheme));
    let _ = outgoing.set_authority(Some(authority));
    let _ = outgoing.set_path_with_query(Some(path));
    let body = outgoing
        .body()
        .map_err(|()| format!("no body for the request to {url}"))?;
    let options = RequestOptions::new();
    let _ = options.set_connect_timeout(Some(FETCH_STEP_TIMEOUT_NS));
    let _ = options.set_first_byte_timeout(Some(FETCH_STEP_TIMEOUT_NS));
    let _ = options.set_between_bytes_timeout(Some(FETCH_STEP_TIMEOUT_NS));
    let describe = |e: ErrorCode| match e {
        ErrorCode::HttpRequestDenied => format!(
            "the host denied the request to {authority}: on Spin, its origin must be in \
             allowed_outbound_hosts (set jwt_jwks_origin or introspection_origin to it)"
        ),
        other => format!("request to {url} failed: {other:?}"),
    };
    let pending = outgoing_handler::handle(outgoing, Some(options)).map_err(describe)?;
    {
        let stream = body
            .write()
            .map_err(|()| format!("no body for the request to {url}"))?;
        // At most 4096 bytes per call (wasi:io's limit for blocking writes).
        for chunk in request.body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("sending the request to {url}: {e:?}"))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|e| format!("sending the request to {url}: {e:?}"))?;
    if !wait(&pending.subscribe()) {
        return Err(timed_out());
    }
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(describe(e)),
        _ => return Err(format!("request to {url} produced no response")),
    };
    let status = response.status();
    let body = response
        .consume()
        .map_err(|()| format!("no body from {url}"))?;
    let mut bytes = Vec::new();
    {
        let stream = body.stream().map_err(|()| format!("no body from {url}"))?;
        let readable = stream.subscribe();
        loop {
            if !wait(&readable) {
                return Err(timed_out());
            }
            // Ready: this read does not block (it may return nothing yet).
            match stream.read(64 * 1024) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(format!("reading {url}: {}", e.to_debug_string()))
                }
            }
            if bytes.len() > MAX_FETCH_BYTES {
                return Err(format!(
                    "{url} answered with more than {MAX_FETCH_BYTES} bytes"
                ));
            }
        }
    }
    Ok(Fetched {
        status,
        body: bytes,
    })
}
