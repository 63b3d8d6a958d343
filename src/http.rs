//! The HTTP vocabulary the core speaks: requests as the host hands them over, responses
//! as the core sends them back, and [`Pending`], the future every host call returns. No
//! WASI here; the host glue converts.

use std::future::Future;
use std::pin::Pin;

/// A host call under way (a store read, a sleep, a write to the client): the core awaits
/// it. Not `Send`: an instance runs its requests on one thread, interleaved at awaits.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// An HTTP method. Only the ones the router distinguishes get their own variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Delete,
    Options,
    Other(String),
}

impl Method {
    pub fn parse(name: &str) -> Method {
        match name {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other(name) => name,
        }
    }
}

/// Header fields in arrival order. Names are stored lower-case (RFC 9110 §5.1: field
/// names are case-insensitive); values are kept as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// Appends a field; the name is lower-cased.
    pub fn append(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_ascii_lowercase(), value.into()));
    }

    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }

    /// Every value of a field, in arrival order.
    pub fn get_all(&self, name: &str) -> impl Iterator<Item = &str> {
        let name = name.to_ascii_lowercase();
        self.0
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl<const N: usize> From<[(&str, &str); N]> for Headers {
    fn from(fields: [(&str, &str); N]) -> Headers {
        let mut headers = Headers::new();
        for (name, value) in fields {
            headers.append(name, value);
        }
        headers
    }
}

/// A request body as it arrives.
pub trait BodyReader {
    /// The next chunk, at most `max` bytes; `Ok(None)` at the end of the body.
    fn read(&mut self, max: usize) -> Pending<'_, std::io::Result<Option<Vec<u8>>>>;
}

/// Any `std::io::Read` (a body already in memory, in tests and the fuzz targets).
impl<R: std::io::Read> BodyReader for R {
    fn read(&mut self, max: usize) -> Pending<'_, std::io::Result<Option<Vec<u8>>>> {
        let mut chunk = vec![0; max.min(64 * 1024)];
        let read = std::io::Read::read(self, &mut chunk).map(|n| {
            chunk.truncate(n);
            (n > 0).then_some(chunk)
        });
        Box::pin(std::future::ready(read))
    }
}

/// An incoming request. The body is read as it arrives, so the core decides how much of
/// it to take: an oversized body is refused without being read to the end.
pub struct Request<'a> {
    pub method: Method,
    /// The path, without the query string.
    pub path: String,
    pub query: Option<String>,
    pub headers: Headers,
    /// `scheme://authority` as the client addressed this server, when the host knows it.
    pub origin: Option<String>,
    pub body: Box<dyn BodyReader + 'a>,
}

impl<'a> Request<'a> {
    /// Splits `path_with_query` as hosts deliver it.
    pub fn new(
        method: Method,
        path_with_query: &str,
        headers: Headers,
        origin: Option<String>,
        body: Box<dyn BodyReader + 'a>,
    ) -> Request<'a> {
        let (path, query) = match path_with_query.split_once('?') {
            Some((path, query)) => (path.to_string(), Some(query.to_string())),
            None => (path_with_query.to_string(), None),
        };
        Request {
            method,
            path: if path.is_empty() { "/".into() } else { path },
            query,
            headers,
            origin,
            body,
        }
    }

    /// The values of a query parameter, percent-decoded (`+` is a space, as in forms).
    pub fn query_param(&self, name: &str) -> Vec<String> {
        let Some(query) = &self.query else {
            return Vec::new();
        };
        query
            .split('&')
            .filter_map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(key) == name).then(|| percent_decode(value))
            })
            .collect()
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

/// A complete response, sent in one piece. Streams go straight to the [`ResponseSink`]
/// instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        let mut headers = Headers::new();
        headers.append("content-type", content_type);
        Response {
            status,
            headers,
            body: body.into(),
        }
    }

    /// A body-less response (202 Accepted, 204, …).
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, body: &impl serde::Serialize) -> Response {
        // Serializing the server's own types cannot fail: they hold no maps with
        // non-string keys and no failing Serialize impls.
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        Response::new(status, "application/json", bytes)
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.append(name, value);
        self
    }

    /// Writes the whole response to a sink and finishes it, its length in
    /// `Content-Length`. Head and body leave together and the response ends before
    /// anything else happens (such as the log line): under `spin up`, which does not set
    /// TCP_NODELAY, a body or last chunk sent after the head waited for the client's
    /// delayed ACK (Nagle's algorithm), 40 ms a response.
    pub async fn send(mut self, sink: &mut dyn ResponseSink) {
        if !matches!(self.status, 100..=199 | 204 | 304) {
            self.headers
                .append("content-length", self.body.len().to_string());
        }
        sink.complete(self.status, &self.headers, &self.body).await;
    }
}

/// Where a response goes. `head` is called once, then `body` any number of times; each
/// `body` call reaches the client as soon as the host can send it, which is what makes
/// server-sent events stream. `finish` ends the response while the instance may go on
/// working (a 202 sent before the work it acknowledges); the host finishes it otherwise.
/// Calls after the first `finish` do nothing.
pub trait ResponseSink {
    fn head<'a>(
        &'a mut self,
        status: u16,
        headers: &'a Headers,
    ) -> Pending<'a, Result<(), Disconnected>>;
    fn body<'a>(&'a mut self, chunk: &'a [u8]) -> Pending<'a, Result<(), Disconnected>>;
    fn finish(&mut self) -> Pending<'_, ()>;

    /// Whether the client has gone (hung up), as far as the host can tell without writing
    /// anything. Long-lived streams ask between polls.
    fn closed(&mut self) -> Pending<'_, bool> {
        Box::pin(std::future::ready(false))
    }

    /// Sends a whole response at once and finishes it. A host may do better than `head`,
    /// `body`, `finish` in turn (the WASI glue hands the body over with the head, so both
    /// leave in one packet).
    fn complete<'a>(
        &'a mut self,
        status: u16,
        headers: &'a Headers,
        body: &'a [u8],
    ) -> Pending<'a, ()> {
        Box::pin(async move {
            if self.head(status, headers).await.is_ok() && !body.is_empty() {
                // A client that went away mid-body has nothing left to receive.
                let _ = self.body(body).await;
            }
            self.finish().await;
        })
    }
}

/// The client is gone: nothing more can be sent on this response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Disconnected;
