//! The server's core compiled natively behind a minimal HTTP/1.1 server: the ceiling the
//! wasm builds are measured against in `bench/run`. It is not a way to deploy the server
//! (responses are buffered, so event streams do not stream).
//!
//! ```text
//! native-server 127.0.0.1:3000      # MCP_* environment variables configure it
//! ```

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use remote_mcp_server::host::executor::block_on;
use remote_mcp_server::host::memory::{MemoryHost, MemorySink, MemoryStore};
use remote_mcp_server::host::{Fetched, Host, KeyValue, Outbound, Pending};
use remote_mcp_server::http::{Headers, Method, Request};
use tokio::net::TcpListener;

/// The in-memory host with a shared store, real time, and log lines on stderr as the
/// wasm hosts print them.
struct NativeHost(MemoryHost);

impl Host for NativeHost {
    fn variables(&self) -> Pending<'_, Result<Vec<(String, String)>, String>> {
        self.0.variables()
    }
    fn now_unix_ms(&self) -> u64 {
        self.0.now_unix_ms()
    }
    fn sleep_ms(&self, millis: u64) -> Pending<'_, ()> {
        self.0.sleep_ms(millis)
    }
    fn fill_random(&self, buf: &mut [u8]) {
        self.0.fill_random(buf)
    }
    fn store(&self) -> Option<&dyn KeyValue> {
        self.0.store()
    }
    fn log(&self, line: &str) {
        eprintln!("{line}");
    }
    fn send<'a>(&'a self, request: Outbound<'a>) -> Pending<'a, Result<Fetched, String>> {
        Box::pin(std::future::ready(Err(format!(
            "the native benchmark server fetches nothing ({})",
            request.url
        ))))
    }
}

async fn serve(
    host: Arc<NativeHost>,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut headers = Headers::new();
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            headers.append(name.as_str(), value);
        }
    }
    let origin = headers.get("host").map(|h| format!("http://{h}"));
    let path = parts
        .uri
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    let method = Method::parse(parts.method.as_str());
    let sink = tokio::task::spawn_blocking(move || {
        let request = Request::new(method, &path, headers, origin, Box::new(&body[..]));
        let mut sink = MemorySink::new();
        block_on(remote_mcp_server::handle(host.as_ref(), request, &mut sink));
        sink
    })
    .await
    .expect("the handler does not panic");
    let mut response = hyper::Response::builder().status(sink.status.unwrap_or(500));
    for (name, value) in sink.headers.iter() {
        response = response.header(name, value);
    }
    Ok(response
        .body(Full::new(Bytes::from(sink.body())))
        .expect("valid response"))
}

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let mut host = MemoryHost::new()
        .with_real_time()
        .with_store(MemoryStore::new());
    for (name, value) in std::env::vars() {
        if let Some(variable) = name.strip_prefix("MCP_") {
            host = host.with_variable(&variable.to_ascii_lowercase(), &value);
        }
    }
    let host = Arc::new(NativeHost(host));
    let listener = TcpListener::bind(&addr).await.expect("bind");
    println!(
        "native server on http://{}/",
        listener.local_addr().expect("address")
    );
    loop {
        let Ok((connection, _)) = listener.accept().await else {
            continue;
        };
        let _ = connection.set_nodelay(true);
        let host = host.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |r| serve(host.clone(), r));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(connection), service)
                .await;
        });
    }
}
