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

/// Store reads over 1.5 s while `n` HTTP+SSE streams of one instance sit idle.
fn store_reads_while_idle(n: usize) -> u64 {
    use remote_mcp_server::host::executor::join_all;
    use remote_mcp_server::host::memory::{ChannelSink, SinkEvent};
    use remote_mcp_server::http::{Headers, Method, Request};
    use std::time::Duration;

    let store = MemoryStore::new();
    let host = instance(&store);
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
    for events in &streams {
        loop {
            match events.recv_timeout(WAIT) {
                Ok(SinkEvent::Body(chunk)) if chunk.starts_with(b"id:") => break,
                Ok(SinkEvent::Head(status, _)) => assert_eq!(status, 200),
                Ok(_) => {}
                Err(e) => panic!("no endpoint event: {e}"),
            }
        }
    }
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
