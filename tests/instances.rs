//! One instance, many requests: under WASIp3 an instance serves up to 128 requests, up to
//! 16 at a time, interleaved at their awaits, all sharing what the instance keeps (the
//! parsed configuration, the auth policy, the issuer's keys). Here one `App` serves
//! requests of two principals joined on one thread, as an instance runs them; neither
//! sees anything of the other.

mod common;

use std::cell::RefCell;

use common::*;
use remote_mcp_server::host::executor::join;
use remote_mcp_server::host::memory::MemoryStore;
use remote_mcp_server::web::App;
use serde_json::{json, Value};

const ALICE: &str = "alice-token-0123456789";
const BOB: &str = "bob-token-9876543210";

/// A principal's turn: a countdown (which waits between steps, letting the other run), a
/// legacy session, and `getToken` in it. Each step's end is noted in `done`.
async fn turn(
    app: &App<'_>,
    who: &'static str,
    token: &str,
    steps: u64,
    done: &RefCell<Vec<String>>,
) -> (Value, String, Value) {
    let auth = bearer_of(token);
    let counted = serve_on(
        app,
        modern_request(
            &auth,
            "tools/call",
            json!({"name": "countdown", "arguments": {"from": steps, "interval_ms": 20}}),
        ),
    )
    .await;
    done.borrow_mut().push(format!("{who} counted"));
    let opened = serve_on(
        app,
        post_request(
            client_headers(&auth, &[]),
            &initialize_request("2025-11-25", json!({})),
        ),
    )
    .await;
    let session = opened
        .header("mcp-session-id")
        .expect("a session")
        .to_string();
    let token_reply = serve_on(
        app,
        post_request(
            client_headers(
                &auth,
                &[
                    ("mcp-protocol-version", "2025-11-25"),
                    ("mcp-session-id", &session),
                ],
            ),
            &rpc(
                2,
                "tools/call",
                json!({"name": "getToken", "arguments": {}}),
            ),
        ),
    )
    .await;
    done.borrow_mut().push(format!("{who} got its token"));
    (counted.json(), session, token_reply.json())
}

#[test]
fn two_principals_interleaved_on_one_instance_see_nothing_of_each_other() {
    let store = MemoryStore::new();
    let host = instance(&store)
        .with_variable("auth_mode", "static")
        .with_variable(
            "static_tokens",
            &format!("alice=plain:{ALICE} token:read, bob=plain:{BOB} token:read"),
        );
    let app = block_on(App::new(&host));
    let done = RefCell::new(Vec::new());
    let ((alice_counted, alice_session, alice_token), (bob_counted, bob_session, bob_token)) =
        block_on(join(
            turn(&app, "alice", ALICE, 5, &done),
            turn(&app, "bob", BOB, 2, &done),
        ));

    // They ran interleaved: bob was done with everything while alice still counted.
    assert_eq!(
        done.into_inner(),
        [
            "bob counted",
            "bob got its token",
            "alice counted",
            "alice got its token"
        ]
    );
    assert_eq!(alice_counted["result"]["structuredContent"]["counted"], 5);
    assert_eq!(bob_counted["result"]["structuredContent"]["counted"], 2);
    assert_eq!(
        alice_token["result"]["content"][0]["text"],
        format!("User's token: Bearer {ALICE}")
    );
    assert_eq!(
        bob_token["result"]["content"][0]["text"],
        format!("User's token: Bearer {BOB}")
    );
    assert_ne!(alice_session, bob_session);

    // Each session is its owner's alone, on the same instance.
    for (token, foreign) in [(ALICE, &bob_session), (BOB, &alice_session)] {
        let reply = block_on(serve_on(
            &app,
            post_request(
                client_headers(
                    &bearer_of(token),
                    &[
                        ("mcp-protocol-version", "2025-11-25"),
                        ("mcp-session-id", foreign),
                    ],
                ),
                &rpc(3, "tools/list", json!({})),
            ),
        ));
        assert_eq!(reply.status, 404, "{}", reply.text());
    }

    // The log names each request's own principal.
    let logged: Vec<(String, String)> = host
        .logs()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["rpc"] == "tools/call")
        .map(|line| {
            (
                line["principal"].as_str().unwrap_or_default().to_string(),
                line["status"].to_string(),
            )
        })
        .collect();
    assert_eq!(logged.iter().filter(|(p, _)| p == "alice").count(), 2);
    assert_eq!(logged.iter().filter(|(p, _)| p == "bob").count(), 2);
}

#[test]
fn a_configuration_error_stays_an_error_for_every_request_of_the_instance() {
    let host = host().with_variable("page_size", "many");
    let app = block_on(App::new(&host));
    for _ in 0..2 {
        let reply = block_on(serve_on(
            &app,
            modern_request(&bearer(), "tools/list", json!({})),
        ));
        assert_eq!(reply.status, 500, "{}", reply.text());
        assert!(reply.text().contains("page_size"), "{}", reply.text());
    }
}

/// `n` HTTP+SSE streams (of `n` principals) held by one instance on its own thread: the
/// thread, each stream's events, and each stream's endpoint (where its POSTs go).
fn streams_of_one_instance(
    store: &std::sync::Arc<MemoryStore>,
    n: usize,
) -> (
    std::thread::JoinHandle<()>,
    Vec<std::sync::mpsc::Receiver<remote_mcp_server::host::memory::SinkEvent>>,
    Vec<String>,
) {
    streams_of(instance(store), n)
}

/// [`streams_of_one_instance`] on `host` (a clone of which can move its clock).
fn streams_of(
    host: remote_mcp_server::host::memory::MemoryHost,
    n: usize,
) -> (
    std::thread::JoinHandle<()>,
    Vec<std::sync::mpsc::Receiver<remote_mcp_server::host::memory::SinkEvent>>,
    Vec<String>,
) {
    use remote_mcp_server::host::executor::join_all;
    use remote_mcp_server::host::memory::{ChannelSink, SinkEvent};
    use remote_mcp_server::http::{Headers, Method, Request};

    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let app = block_on(App::new(&host));
        let streams: Vec<_> = (0..n)
            .map(|i| {
                let (mut sink, events) = ChannelSink::new();
                tx.send(events).unwrap();
                let app = &app;
                async move {
                    let auth = bearer_of(&format!("idle-stream-{i:04}-0123456789"));
                    let request = Request::new(
                        Method::Get,
                        "/sse",
                        Headers::from([
                            ("authorization", auth.as_str()),
                            ("accept", "text/event-stream"),
                        ]),
                        Some(ORIGIN.into()),
                        Box::new(std::io::empty()),
                    );
                    app.handle(request, &mut sink).await;
                }
            })
            .collect();
        block_on(join_all(streams));
    });
    let streams: Vec<_> = (0..n).map(|_| rx.recv().unwrap()).collect();
    let endpoints = streams
        .iter()
        .map(|events| loop {
            match events.recv_timeout(WAIT) {
                Ok(SinkEvent::Body(chunk)) if chunk.starts_with(b"id:") => {
                    let text = String::from_utf8(chunk).unwrap();
                    let data = text.lines().find_map(|l| l.strip_prefix("data: "));
                    break data.expect("the endpoint").to_string();
                }
                Ok(SinkEvent::Head(status, _)) => assert_eq!(status, 200),
                Ok(_) => {}
                Err(e) => panic!("no endpoint event: {e}"),
            }
        })
        .collect();
    (thread, streams, endpoints)
}

/// Store reads over 1.5 s while `n` HTTP+SSE streams of one instance sit idle.
fn store_reads_while_idle(n: usize) -> u64 {
    use std::time::Duration;

    let store = MemoryStore::new();
    let (thread, streams, _) = streams_of_one_instance(&store, n);
    std::thread::sleep(Duration::from_millis(200));
    let before = store.operations().0;
    std::thread::sleep(Duration::from_millis(1500));
    let reads = store.operations().0 - before;
    drop(streams);
    thread.join().unwrap();
    reads
}

#[test]
fn idle_streams_of_one_instance_cost_the_store_what_one_stream_does() {
    let one = store_reads_while_idle(1);
    let twelve = store_reads_while_idle(12);
    eprintln!("idle store reads in 1.5 s: one stream {one}, twelve streams {twelve}");
    assert!(one > 0, "the stream polls");
    assert!(
        twelve <= one * 2,
        "one stream: {one} reads in 1.5 s; twelve streams of one instance: {twelve}"
    );
}

/// `tools/call add` (request `id`) posted from another instance to the session of idle
/// stream `i` (of [`streams_of_one_instance`]) at its `endpoint`.
fn call_idle_stream(
    store: &std::sync::Arc<MemoryStore>,
    i: usize,
    endpoint: &str,
    id: u64,
) -> Reply {
    let auth = bearer_of(&format!("idle-stream-{i:04}-0123456789"));
    let call = rpc(
        id,
        "tools/call",
        json!({"name": "add", "arguments": {"a": 1, "b": 2}}),
    );
    send(
        &instance(store),
        "POST",
        endpoint,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        call.to_string().as_bytes(),
    )
}

/// Waits for the next answer (an event carrying a `"result"`) on a stream, until `until`.
fn next_answer(
    events: &std::sync::mpsc::Receiver<remote_mcp_server::host::memory::SinkEvent>,
    until: std::time::Instant,
) -> Result<(), std::sync::mpsc::RecvTimeoutError> {
    use remote_mcp_server::host::memory::SinkEvent;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        match events.recv_timeout(left)? {
            SinkEvent::Body(chunk) if chunk.windows(8).any(|w| w == b"\"result\"") => return Ok(()),
            _ => {}
        }
    }
}

/// `n` streams of one instance on a store whose batch reads cost a read per key (`per_key`,
/// as Spin 4.0.2's Redis store) or one read: each stream is sent a `tools/call` from
/// other instances every 100 ms for 1.5 s (a burst of `n` calls each time). The store
/// reads made meanwhile, the batch reads among them, the bursts, and what the store held
/// while the streams were open.
fn busy_streams(n: usize, per_key: bool) -> (u64, u64, u64, Vec<(String, Vec<u8>)>) {
    use std::time::{Duration, Instant};

    let store = MemoryStore::new();
    store.set_batches_per_key(per_key);
    let (thread, streams, endpoints) = streams_of_one_instance(&store, n);
    std::thread::sleep(Duration::from_millis(300));
    let before = store.operations().0;
    let batches_before = store.batches();
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        for (i, endpoint) in endpoints.iter().enumerate() {
            let reply = call_idle_stream(&store, i, endpoint, sent);
            assert_eq!(reply.status, 202, "{}", reply.text());
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let reads = store.operations().0 - before;
    let batches = store.batches() - batches_before;
    let mut answered = 0;
    for events in &streams {
        let until = Instant::now() + Duration::from_secs(2);
        let mut mine = 0;
        while mine < sent / n as u64 && next_answer(events, until).is_ok() {
            mine += 1;
        }
        answered += mine as usize;
    }
    assert_eq!(answered, sent as usize, "every answer arrives");
    let held = store
        .keys()
        .into_iter()
        .filter_map(|k| Some((k.clone(), store.get(&k).ok()??)))
        .collect();
    drop(streams);
    thread.join().unwrap();
    (reads, batches, sent / n as u64, held)
}

#[test]
fn where_batch_reads_cost_a_read_per_key_busy_streams_listen_on_a_bell() {
    let (batched, _, _, _) = busy_streams(12, false);
    let (per_key, full_reads, bursts, held) = busy_streams(12, true);
    eprintln!(
        "store reads in 1.5 s of 12 busy streams: batch reads {batched}; key by key with the bell {per_key} ({full_reads} full reads, {bursts} bursts of calls)"
    );
    // The instance listens on one bell, every outbox names it, and queued messages rang it.
    let bells: Vec<&(String, Vec<u8>)> = held
        .iter()
        .filter(|(k, _)| k.starts_with("bell:"))
        .collect();
    assert_eq!(bells.len(), 1, "{bells:?}");
    let (bell, rung) = bells[0];
    let slot = u8::from_str_radix(bell.trim_start_matches("bell:"), 16).unwrap();
    let named: Vec<&Vec<u8>> = held
        .iter()
        .filter(|(k, _)| k.starts_with("outbox:") && k.ends_with(":bell"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(named, vec![&vec![slot]; 12], "each outbox names the bell");
    let rung = String::from_utf8_lossy(rung);
    assert!(rung.contains(':'), "<session>:<seq>, not {rung}");
    // Each burst is heard: it is read in full at once, not only when the next full read
    // falls due (every 250 ms: 6 in 1.5 s).
    assert!(
        full_reads * 4 >= bursts * 3,
        "{full_reads} full reads for {bursts} bursts"
    );
    // Without the bell, each 5 ms tick would read the 24 keys of 12 outboxes (about 8,600
    // reads in 1.5 s here); with it, a tick reads one key.
    assert!(
        per_key < 3 * batched.max(300),
        "key by key with the bell: {per_key} reads; batch reads: {batched}"
    );
}

#[test]
fn streams_quiet_for_a_minute_read_every_outbox_every_few_seconds_and_still_hear_the_bell() {
    use std::time::{Duration, Instant};

    let store = MemoryStore::new();
    store.set_batches_per_key(true);
    let host = instance(&store);
    let (thread, streams, endpoints) = streams_of(host.clone(), 4);
    std::thread::sleep(Duration::from_millis(300));
    let full_reads = |during: Duration| {
        let before = store.batches();
        std::thread::sleep(during);
        store.batches() - before
    };
    // Active (the streams just joined): every outbox is read every 250 ms.
    let active = full_reads(Duration::from_millis(1500));
    // Quiet for more than a minute, in steps the streams' housekeeping keeps up with.
    for _ in 0..5 {
        host.advance_ms(13_000);
        std::thread::sleep(Duration::from_millis(300));
    }
    let quiet = full_reads(Duration::from_millis(1500));
    eprintln!("full reads in 1.5 s: active {active}, quiet for a minute {quiet}");
    assert!(active >= 4, "{active} full reads in 1.5 s while active");
    assert!(quiet <= 1, "{quiet} full reads in 1.5 s while quiet");
    // A message queued from another instance still gets through: the bell rings.
    let sent = Instant::now();
    let reply = call_idle_stream(&store, 0, &endpoints[0], 7);
    assert_eq!(reply.status, 202, "{}", reply.text());
    if let Err(e) = next_answer(&streams[0], sent + Duration::from_secs(6)) {
        panic!("no answer on the quiet stream within 6 s: {e}");
    }
    // Heard through the bell at the next 1 s tick, not at the next full read (30 s).
    assert!(
        sent.elapsed() < Duration::from_millis(2500),
        "answered after {:?}",
        sent.elapsed()
    );
    drop(streams);
    thread.join().unwrap();
}

/// The outboxes that name a bell while `n` HTTP+SSE streams of one instance sit on a store
/// that reads a batch in one call, and the `bell:` keys rung once a call from another
/// instance was answered on the first stream.
fn bells_of_streams_on_a_batch_store(n: usize) -> (usize, usize) {
    use std::time::{Duration, Instant};

    let store = MemoryStore::new();
    let (thread, streams, endpoints) = streams_of_one_instance(&store, n);
    std::thread::sleep(Duration::from_millis(300));
    let named = store
        .keys()
        .iter()
        .filter(|k| k.starts_with("outbox:") && k.ends_with(":bell"))
        .count();
    let reply = call_idle_stream(&store, 0, &endpoints[0], 1);
    assert_eq!(reply.status, 202, "{}", reply.text());
    if let Err(e) = next_answer(&streams[0], Instant::now() + Duration::from_secs(3)) {
        panic!("no answer within 3 s: {e}");
    }
    let rung = store
        .keys()
        .iter()
        .filter(|k| k.starts_with("bell:"))
        .count();
    drop(streams);
    thread.join().unwrap();
    (named, rung)
}

#[test]
fn an_instance_holding_a_few_streams_listens_on_a_bell_whatever_its_store() {
    // Two streams: each tick reads their four keys in one batch; no bell, no ring.
    assert_eq!(bells_of_streams_on_a_batch_store(2), (0, 0));
    // Four: every outbox names the instance's bell, and the message for one rang it.
    assert_eq!(bells_of_streams_on_a_batch_store(4), (4, 1));
}
