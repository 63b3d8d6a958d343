//! Event streams as a client reads them: a response running on its own thread (an
//! instance of the component), parsed into server-sent events as they arrive.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use remote_mcp_server::host::memory::{ChannelSink, MemoryHost, SinkEvent};
use remote_mcp_server::http::{Headers, Method, Request};
use serde_json::Value;

use super::{post_request, ORIGIN};

/// A server-sent event as a client parses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: Option<String>,
    pub name: String,
    pub data: String,
    /// The `retry` field (reconnection delay), when the event carries one.
    pub retry: Option<String>,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {}", self.data))
    }
}

/// The client end of a streaming response running on another thread.
pub struct Stream {
    pub rx: Receiver<SinkEvent>,
    pub status: u16,
    pub headers: Headers,
    buffer: String,
    pub comments: usize,
    /// Whether the server finished the response (or its instance's thread is gone).
    ended: bool,
    pub thread: Option<std::thread::JoinHandle<()>>,
}

/// What a stream did within a wait.
enum Next {
    Event(Event),
    Silence,
    Ended,
}

/// How long [`Stream::hang_up`] gives the server to notice: many keep-alive intervals of
/// [`super::instance`]'s hosts.
const HANG_UP_WAIT: Duration = Duration::from_secs(10);

impl Stream {
    /// Runs `GET path` on its own thread, as one instance of the component.
    pub fn open(host: MemoryHost, path: &str, headers: &[(&str, &str)]) -> Stream {
        let (mut sink, rx) = ChannelSink::new();
        let mut all = Headers::new();
        for (name, value) in headers {
            all.append(name, *value);
        }
        let path = path.to_string();
        let thread = std::thread::spawn(move || {
            let request = Request::new(
                Method::Get,
                &path,
                all,
                Some(ORIGIN.into()),
                Box::new(std::io::empty()),
            );
            remote_mcp_server::host::executor::block_on(remote_mcp_server::handle(
                &host, request, &mut sink,
            ));
            use remote_mcp_server::http::ResponseSink;
            remote_mcp_server::host::executor::block_on(sink.finish());
        });
        let (status, headers) = match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(SinkEvent::Head(status, headers)) => (status, headers),
            other => panic!("expected response headers within 5 s, got {other:?}"),
        };
        Stream {
            rx,
            status,
            headers,
            buffer: String::new(),
            comments: 0,
            ended: false,
            thread: Some(thread),
        }
    }

    /// The next event, skipping comments; `None` if none arrives within `timeout` (the
    /// stream is still open). Panics if the response ends instead: a stream that is
    /// meant to end is checked with [`Stream::expect_end`].
    pub fn next_event(&mut self, timeout: Duration) -> Option<Event> {
        match self.poll(timeout) {
            Next::Event(event) => Some(event),
            Next::Silence => None,
            Next::Ended => panic!(
                "the stream ended while an event (or silence) was expected within {timeout:?}"
            ),
        }
    }

    /// The event that carries the stream's `retry` hint, skipping those before it.
    pub fn until_retry_hint(&mut self, timeout: Duration) -> Event {
        loop {
            let event = self.next_event(timeout).expect("the stream's closing hint");
            if event.retry.is_some() {
                return event;
            }
        }
    }

    /// Asserts that nothing but comments arrives within `timeout` and the stream stays open.
    pub fn expect_silence(&mut self, timeout: Duration, why: &str) {
        match self.poll(timeout) {
            Next::Silence => {}
            Next::Event(event) => panic!("{why}: expected silence, got {event:?}"),
            Next::Ended => panic!("{why}: expected silence on an open stream, but it ended"),
        }
    }

    /// Asserts that the server finishes the response within `timeout`, sending no further
    /// event before it does (comments are fine).
    pub fn expect_end(&mut self, timeout: Duration, why: &str) {
        match self.poll(timeout) {
            Next::Ended => {}
            Next::Event(event) => panic!("{why}: expected the stream to end, got {event:?}"),
            Next::Silence => panic!("{why}: the stream is still open after {timeout:?}"),
        }
    }

    /// What arrived but is not (yet) a whole event: the body of a response that is not an
    /// event stream, once [`Stream::expect_end`] has seen it end.
    pub fn unparsed(&self) -> &str {
        &self.buffer
    }

    fn poll(&mut self, timeout: Duration) -> Next {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Event {
                    id: None,
                    name: "message".into(),
                    data: String::new(),
                    retry: None,
                };
                let mut data = Vec::new();
                let mut comment = true;
                for line in block.lines() {
                    if line.starts_with(':') || line.is_empty() {
                        continue;
                    }
                    comment = false;
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "id" => event.id = Some(value.to_string()),
                        "event" => event.name = value.to_string(),
                        "data" => data.push(value.to_string()),
                        "retry" => event.retry = Some(value.to_string()),
                        _ => {}
                    }
                }
                if comment {
                    self.comments += 1;
                    continue;
                }
                event.data = data.join("\n");
                return Next::Event(event);
            }
            if self.ended {
                return Next::Ended;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(SinkEvent::Body(bytes)) => {
                    self.buffer.push_str(&String::from_utf8_lossy(&bytes))
                }
                Ok(SinkEvent::Head(..)) => panic!("second response head"),
                // A thread that died without finishing (a panic) ends the stream too.
                Ok(SinkEvent::Finished) | Err(RecvTimeoutError::Disconnected) => self.ended = true,
                Err(RecvTimeoutError::Timeout) => return Next::Silence,
            }
        }
    }

    /// Hangs up like a client closing the connection, and waits for the server side to
    /// notice and finish; panics if it does not within [`HANG_UP_WAIT`].
    pub fn hang_up(mut self) {
        let thread = self.thread.take();
        drop(self);
        if let Some(thread) = thread {
            join_within(
                thread,
                HANG_UP_WAIT,
                "the stream's instance, after the hang-up",
            );
        }
    }
}

/// Joins `thread`, failing the test (instead of hanging it) if it runs past `timeout`.
pub fn join_within<T>(thread: std::thread::JoinHandle<T>, timeout: Duration, what: &str) -> T {
    let deadline = std::time::Instant::now() + timeout;
    while !thread.is_finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} is still running after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    thread.join().unwrap_or_else(|_| panic!("{what} panicked"))
}

/// The JSON messages of an event-stream body, in order.
pub fn sse_messages(body: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter_map(|block| {
            let data: Vec<&str> = block
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            (!data.is_empty()).then(|| serde_json::from_str(&data.join("\n")).expect("JSON data"))
        })
        .collect()
}

/// `GET /sse` with `auth` as `Authorization`, resuming `last` (a Last-Event-ID) when
/// given: an HTTP+SSE session's stream.
pub fn sse_stream(host: &MemoryHost, auth: &str, last: Option<&str>) -> Stream {
    let mut headers = vec![("authorization", auth), ("accept", "text/event-stream")];
    headers.extend(last.map(|last| ("last-event-id", last)));
    Stream::open(host.clone(), "/sse", &headers)
}

/// `GET /mcp` with `auth` as `Authorization`: the stream of the Streamable HTTP session
/// `session`, resuming after `last` (a Last-Event-ID) when given.
pub fn session_stream(host: &MemoryHost, auth: &str, session: &str, last: Option<&str>) -> Stream {
    let mut headers = vec![
        ("authorization", auth),
        ("accept", "text/event-stream"),
        ("mcp-session-id", session),
    ];
    headers.extend(last.map(|last| ("last-event-id", last)));
    Stream::open(host.clone(), "/mcp", &headers)
}

/// `POST /mcp` with these headers and body on its own thread (an instance): the thread,
/// and the response's parts as they come.
pub fn post_on_thread(
    host: &MemoryHost,
    headers: Headers,
    body: &Value,
) -> (JoinHandle<()>, Receiver<SinkEvent>) {
    let (mut sink, rx) = ChannelSink::new();
    let (host, body) = (host.clone(), body.clone());
    let thread = std::thread::spawn(move || {
        let request = post_request(headers, &body);
        remote_mcp_server::host::executor::block_on(remote_mcp_server::handle(
            &host, request, &mut sink,
        ));
    });
    (thread, rx)
}
