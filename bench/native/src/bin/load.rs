//! An HTTP/1.1 load generator: `conns` keep-alive connections, each sending the same
//! request back to back for `seconds` after a warm-up second; prints one JSON line with
//! requests/s and latency percentiles. A response counts as an error unless its status is
//! the expected one and its body contains the expected text. An empty BODY sends GET,
//! anything else POST.
//!
//! ```text
//! load URL CONNS SECONDS BODY EXPECT_TEXT [HEADER: VALUE]...
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

struct Spec {
    uri: hyper::Uri,
    body: Bytes,
    expect: String,
    headers: Vec<(String, String)>,
}

/// One connection's run: latencies of successful requests (µs), and the error count.
async fn connection(spec: &Spec, warmup_until: Instant, until: Instant) -> (Vec<u32>, u64) {
    let authority = spec.uri.authority().expect("URL with host:port").clone();
    let stream = TcpStream::connect(authority.as_str())
        .await
        .expect("connect");
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let (mut latencies, mut errors) = (Vec::with_capacity(100_000), 0);
    loop {
        let started = Instant::now();
        if started >= until {
            return (latencies, errors);
        }
        let method = if spec.body.is_empty() {
            hyper::Method::GET
        } else {
            hyper::Method::POST
        };
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(spec.uri.clone())
            .header("host", authority.as_str());
        for (name, value) in &spec.headers {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(spec.body.clone())).expect("request");
        if sender.ready().await.is_err() {
            return (latencies, errors + 1);
        }
        let ok = match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                status == 200 && String::from_utf8_lossy(&body).contains(&spec.expect)
            }
            Err(_) => return (latencies, errors + 1),
        };
        if started < warmup_until {
            continue;
        }
        if ok {
            latencies.push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
        } else {
            errors += 1;
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        eprintln!("usage: load URL CONNS SECONDS BODY EXPECT_TEXT [HEADER: VALUE]...");
        std::process::exit(2);
    }
    let conns: usize = args[1].parse().expect("CONNS");
    let seconds: f64 = args[2].parse().expect("SECONDS");
    let spec = std::sync::Arc::new(Spec {
        uri: args[0].parse().expect("URL"),
        body: Bytes::from(args[3].clone()),
        expect: args[4].clone(),
        headers: args[5..]
            .iter()
            .map(|h| {
                let (n, v) = h.split_once(':').expect("HEADER: VALUE");
                (n.trim().to_string(), v.trim().to_string())
            })
            .collect(),
    });
    let warmup_until = Instant::now() + Duration::from_secs(1);
    let until = warmup_until + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..conns)
        .map(|_| {
            let spec = spec.clone();
            tokio::spawn(async move { connection(&spec, warmup_until, until).await })
        })
        .collect();
    let (mut all, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let (latencies, e) = task.await.expect("connection task");
        all.extend(latencies);
        errors += e;
    }
    all.sort_unstable();
    println!(
        "{}",
        serde_json::json!({
            "conns": conns,
            "requests": all.len(),
            "errors": errors,
            "rps": all.len() as f64 / seconds,
            "p50_ms": percentile(&all, 50.0),
            "p99_ms": percentile(&all, 99.0),
        })
    );
}
