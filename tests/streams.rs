//! Event streams' lifetime in both transports: the end at `stream_max_seconds` with a retry
//! hint, resuming with Last-Event-ID (and its bounds), takeover by a newer stream, a
//! hang-up noticed at once, and sessions no other principal can resume, stream or end.

mod common;

use std::time::Duration;

use common::*;
use remote_mcp_server::host::memory::MemoryStore;
use remote_mcp_server::host::Host;
use serde_json::{json, Value};

#[test]
fn streams_end_at_their_lifetime_with_a_retry_hint_and_resume() {
    let store = MemoryStore::new();
    let host = instance(&store).with_variable("stream_max_seconds", "0.4");
    let auth = bearer();
    let session = open_session(&host, "2025-11-25", json!({}));
    let open = |last: Option<&str>| session_stream(&host, &auth, &session, last);
    let mut stream = open(None);
    assert_eq!(stream.status, 200);
    let started = std::time::Instant::now();
    let last = stream.until_retry_hint(WAIT);
    assert_eq!(last.retry.as_deref(), Some("1000"));
    stream.expect_end(WAIT, "after its retry hint");
    assert!(started.elapsed() < Duration::from_secs(3));
    stream.hang_up();
    // The session outlives its stream: the client reconnects and carries on.
    assert_eq!(in_session(&host, &session, "ping", json!({})).status, 200);
    let again = open(Some("0"));
    assert_eq!(again.status, 200);
    again.hang_up();
}

/// On a host that cuts requests (`request_limit_seconds`), a stream ends on its own a
/// little before the cut, with its retry hint, whatever `stream_max_seconds` says.
#[test]
fn streams_end_before_the_hosts_request_limit_with_a_retry_hint() {
    let store = MemoryStore::new();
    let host = instance(&store).with_variable("request_limit_seconds", "2");
    let auth = bearer();
    let started = std::time::Instant::now();
    let mut stream = sse_stream(&host, &auth, None);
    assert_eq!(stream.next_event(WAIT).unwrap().name, "endpoint");
    let hint = stream.until_retry_hint(WAIT);
    assert_eq!(hint.retry.as_deref(), Some("1000"));
    stream.expect_end(WAIT, "after its retry hint");
    let lived = started.elapsed();
    // 2 s limit, 1 s margin.
    assert!(
        lived >= Duration::from_millis(900) && lived < Duration::from_millis(1900),
        "{lived:?}"
    );
    stream.hang_up();

    // A limit too short to deliver anything is a configuration error, said as such.
    let host = instance(&store).with_variable("request_limit_seconds", "1");
    let refused = sse_stream(&host, &auth, None);
    assert_eq!(refused.status, 500);
}

#[test]
fn an_sse_stream_ends_at_its_lifetime_and_the_reconnect_resumes_its_session() {
    let store = MemoryStore::new();
    let host = instance(&store).with_variable("stream_max_seconds", "0.3");
    let auth = bearer();
    let mut stream = sse_stream(&host, &auth, None);
    let endpoint = stream.next_event(WAIT).unwrap();
    assert_eq!(endpoint.name, "endpoint");
    let session = endpoint.data.rsplit('=').next().unwrap().to_string();
    assert_eq!(endpoint.id, Some(format!("{session}/0")));
    let hint = stream.next_event(WAIT).expect("retry hint");
    assert_eq!(hint.retry.as_deref(), Some("1000"));
    stream.expect_end(WAIT, "after its retry hint");
    stream.hang_up();

    // Between the streams the session waits (a little while) and a POST is queued.
    let record: Value =
        serde_json::from_slice(&store.get(&format!("session:{session}")).unwrap().unwrap())
            .unwrap();
    let now = host.now_unix_ms();
    assert!(record["expires_at"].as_u64().unwrap() <= now + 30_000);
    let queued = send(
        &host,
        "POST",
        &endpoint.data,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        json!({"jsonrpc": "2.0", "id": 9, "method": "ping"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(queued.status, 202);

    // The EventSource reconnects with Last-Event-ID: same session, the queued reply.
    let last = format!("{session}/0");
    let mut again = sse_stream(&host, &auth, Some(&last));
    let endpoint_again = again.next_event(WAIT).unwrap();
    assert_eq!(endpoint_again.data, endpoint.data);
    let reply = again.next_event(WAIT).unwrap();
    assert_eq!(reply.json()["id"], 9);
    assert_eq!(reply.id, Some(format!("{session}/1")));
    again.hang_up();
    // This stream ended with its client: so did the session, which cannot be resumed
    // any more; the reconnect gets a new one.
    assert!(leftovers(&store).iter().all(|k| !k.starts_with("session:")));
    let mut late = sse_stream(&host, &auth, Some(&last));
    let fresh = late.next_event(WAIT).expect("a new session's endpoint");
    assert_eq!(fresh.name, "endpoint");
    assert_ne!(fresh.data, endpoint.data);
    late.hang_up();
}

#[test]
fn a_client_that_hangs_up_frees_its_stream_place_at_once() {
    // Keep-alives every 15 s, as by default: the hang-up is noticed between polls, not at
    // the next keep-alive write.
    let store = MemoryStore::new();
    let host = instance(&store)
        .with_variable("keepalive_seconds", "15")
        .with_variable("max_streams_per_principal", "2");
    for n in 0..6 {
        let stream = sse_stream(&host, &bearer(), None);
        assert_eq!(stream.status, 200, "stream {n}");
        let started = std::time::Instant::now();
        stream.hang_up();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "noticed in {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_stream_taken_over_leaves_its_quota_place_to_the_new_one() {
    let store = MemoryStore::new();
    let host = instance(&store).with_variable("max_streams_per_principal", "1");
    let auth = bearer();
    let mut first = sse_stream(&host, &auth, None);
    let endpoint = first.next_event(WAIT).unwrap();
    let last = endpoint.id.clone().unwrap();
    // The same session's reconnect takes over (its place is the session's).
    let mut second = sse_stream(&host, &auth, Some(&last));
    assert_eq!(second.status, 200);
    assert_eq!(second.next_event(WAIT).unwrap().data, endpoint.data);
    // The first stream notices and ends; the place stays taken by the second.
    first.expect_end(WAIT, "the superseded stream");
    first.hang_up();
    // (On a thread, so that a wrongly admitted stream fails the test instead of hanging it.)
    let third = sse_stream(&host, &auth, None);
    let status = third.status;
    third.hang_up();
    second.hang_up();
    assert_eq!(status, 429);
}

#[test]
fn last_event_ids_no_outbox_reached_are_refused() {
    // u64::MAX + 1 would wrap to 0 and replay from the start (or panic).
    let store = MemoryStore::new();
    let host = instance(&store);
    let session = open_session(&host, "2025-11-25", json!({}));
    let auth = bearer();
    for id in ["18446744073709551615", "99"] {
        let reply = send(
            &host,
            "GET",
            "/mcp",
            &[
                ("authorization", &auth),
                ("accept", "text/event-stream"),
                ("mcp-session-id", &session),
                ("last-event-id", id),
            ],
            b"",
        );
        assert_eq!(reply.status, 400, "Last-Event-ID {id}");
        assert_error("2025-11-25", &reply.json());
    }
    // HTTP+SSE: an id that cannot be resumed opens a new session instead.
    let mut stream = sse_stream(
        &host,
        &auth,
        Some(&format!("{session}/18446744073709551615")),
    );
    assert_eq!(stream.status, 200);
    assert!(!stream.next_event(WAIT).unwrap().data.contains(&session));
    stream.hang_up();
}

/// The session id in an HTTP+SSE endpoint URL.
fn session_of(endpoint: &Event) -> String {
    assert_eq!(endpoint.name, "endpoint");
    endpoint
        .data
        .rsplit_once("sessionId=")
        .expect("the endpoint names its session")
        .1
        .to_string()
}

#[test]
fn another_principal_cannot_resume_a_live_sse_session() {
    let store = MemoryStore::new();
    let host = instance(&store);
    let owner = bearer();
    let intruder = bearer_of(OTHER_TOKEN);
    let mut stream = sse_stream(&host, &owner, None);
    let endpoint = stream.next_event(WAIT).expect("the endpoint event");
    let session = session_of(&endpoint);
    // The owner pings over its session; the answer comes back on the session's stream.
    let ping = |id: i64| json!({"jsonrpc": "2.0", "id": id, "method": "ping"});
    let post_ping = |id: i64| {
        send(
            &host,
            "POST",
            &endpoint.data,
            &[
                ("authorization", &owner),
                ("content-type", "application/json"),
            ],
            ping(id).to_string().as_bytes(),
        )
        .status
    };

    // The owner's live session named in Last-Event-ID, and an id never issued: each
    // reconnect is a new session of its own (the documented answer to an unknown id).
    let made_up = "0123456789abcdef0123456789abcdef01234567";
    for last in [format!("{session}/0"), format!("{made_up}/0")] {
        let mut other = sse_stream(&host, &intruder, Some(&last));
        assert_eq!(other.status, 200, "{last}");
        let theirs = session_of(&other.next_event(WAIT).expect("an endpoint"));
        assert_ne!(theirs, session, "{last} resumed the owner's session");
        assert_ne!(theirs, made_up, "{last}");
        // The owner's answers still reach the owner's stream, and only it.
        assert_eq!(post_ping(1), 202);
        assert_eq!(
            stream.next_event(WAIT).expect("the owner's answer").json()["id"],
            1
        );
        other.expect_silence(Duration::from_millis(200), "the owner's answer");
        other.hang_up();
    }
    // The owner's stream kept its outbox and still delivers.
    stream.expect_silence(Duration::from_millis(1500), "the owner's stream, idle");
    assert_eq!(post_ping(2), 202);
    assert_eq!(stream.next_event(WAIT).expect("the answer").json()["id"], 2);
    stream.hang_up();
    assert!(leftovers(&store).is_empty(), "{:?}", store.keys());
}

#[test]
fn another_principal_cannot_stream_or_end_a_live_streamable_session() {
    use remote_mcp_server::store::outbox::Outbox;
    use remote_mcp_server::store::session::SessionId;
    let store = MemoryStore::new();
    let host = instance(&store);
    let owner = bearer();
    let intruder = bearer_of(OTHER_TOKEN);
    let session = open_session(&host, "2025-11-25", json!({}));
    let open = |auth: &str, id: &str| session_stream(&host, auth, id, Some("0"));
    let outbox_id = SessionId::parse(&session).unwrap();
    let outbox = Outbox::new(&*store, &outbox_id);
    let note = |n: i64| {
        json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": n}})
            .to_string()
    };
    let mut stream = open(&owner, &session);
    assert_eq!(stream.status, 200);
    block_on(outbox.push(note(1).as_bytes(), 0)).unwrap();
    assert_eq!(
        stream.next_event(WAIT).expect("a message").id.as_deref(),
        Some("1")
    );

    let made_up = "0123456789abcdef0123456789abcdef01234567";
    for id in [session.as_str(), made_up] {
        // GET: refused as unknown. (On a thread: a wrongly opened stream would not end.)
        let mut other = open(&intruder, id);
        assert_eq!(other.status, 404, "GET {id}");
        other.expect_end(WAIT, "a refused GET");
        let refusal: Value = serde_json::from_str(other.unparsed()).expect("a JSON body");
        assert_eq!(refusal["error"]["code"], -32001, "GET {id}");
        other.hang_up();
        // DELETE: refused as unknown too.
        let deleted = end_session(&host, &intruder, id);
        assert_eq!(deleted.status, 404, "DELETE {id}");
        assert_eq!(deleted.json()["error"]["code"], -32001, "DELETE {id}");
    }
    // Nor does the owner's made-up id exist.
    let deleted = end_session(&host, &owner, made_up);
    assert_eq!(deleted.status, 404);

    // The owner's session and stream carry on: the stream is still its session's and
    // delivers.
    stream.expect_silence(Duration::from_millis(1500), "the owner's stream, idle");
    block_on(outbox.push(note(2).as_bytes(), 0)).unwrap();
    assert_eq!(
        stream.next_event(WAIT).expect("a message").id.as_deref(),
        Some("2")
    );
    assert_eq!(in_session(&host, &session, "ping", json!({})).status, 200);
    // Only its owner ends it.
    let deleted = end_session(&host, &owner, &session);
    assert_eq!(deleted.status, 204);
    stream.expect_end(WAIT, "the deleted session's stream");
    stream.hang_up();
    assert!(leftovers(&store).is_empty(), "{:?}", store.keys());
}

#[test]
fn ending_a_session_rings_its_streams_bell_and_deletes_the_outboxs_bell_key() {
    // A quiet instance listening on a bell reads every outbox only every 30 s: the end of
    // a session must ring, so that its stream ends at the instance's next tick.
    use remote_mcp_server::store::outbox::Outbox;
    use remote_mcp_server::store::session::SessionId;
    let store = MemoryStore::new();
    let host = instance(&store);
    let session = open_session(&host, "2025-11-25", json!({}));
    let outbox = Outbox::new(&*store, &SessionId::parse(&session).unwrap());
    block_on(outbox.set_bell(7)).unwrap();
    assert_eq!(store.get("bell:07").unwrap(), None);
    assert_eq!(end_session(&host, &bearer(), &session).status, 204);
    let rung = store.get("bell:07").unwrap().expect("the bell rang");
    assert_eq!(String::from_utf8(rung).unwrap(), format!("{session}:end"));
    assert!(
        !store.keys().iter().any(|k| k.ends_with(":bell")),
        "{:?}",
        store.keys()
    );
}
