//! Caps on what a principal, and the server as a whole, may hold at once: sessions,
//! streams and long-running requests; refusals that leave nothing behind, and places given
//! back (or moved) exactly once however many race.

mod common;

use std::time::Duration;

use common::*;
use remote_mcp_server::host::memory::MemoryStore;
use serde_json::{json, Value};

#[test]
fn sessions_beyond_the_cap_get_429_and_the_cap_heals() {
    let store = MemoryStore::new();
    let host = stateful(&store).with_variable("max_sessions_per_principal", "2");
    let first = initialize_as(&host, TOKEN);
    assert_eq!(first.status, 200);
    assert_eq!(initialize_as(&host, TOKEN).status, 200);
    let refused = initialize_as(&host, TOKEN);
    assert_eq!(refused.status, 429);
    // Places are counted in quarters of session_ttl_seconds (3600): one frees at the end
    // of the quarter its session lapses in.
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((3600..=4500).contains(&retry), "{retry}");
    let body = refused.json();
    assert_eq!(body["id"], 7);
    assert_eq!(body["error"]["code"], -32030);
    assert_eq!(body["error"]["data"]["limit"], 2);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_sessions_per_principal"));
    assert_schema("2025-11-25", "JSONRPCErrorResponse", &body);
    assert_eq!(sessions_in(&store), 2, "a refusal writes no session");

    // Other principals have their own count.
    assert_eq!(initialize_as(&host, OTHER_TOKEN).status, 200);

    // Ending a session frees its place.
    let id = first.header("mcp-session-id").unwrap();
    let ended = end_session(&host, &bearer(), id);
    assert_eq!(ended.status, 204);
    assert_eq!(initialize_as(&host, TOKEN).status, 200);
    assert_eq!(initialize_as(&host, TOKEN).status, 429);

    // So does expiry: nothing has to release a session that simply lapsed; its place
    // frees with the quarter it lapsed in, as the Retry-After said.
    host.advance_ms(retry * 1000 - 1_000);
    assert_eq!(initialize_as(&host, TOKEN).status, 429);
    host.advance_ms(1_000);
    assert_eq!(initialize_as(&host, TOKEN).status, 200);
}

#[test]
fn caps_hold_when_many_admissions_race() {
    // Sixty initialize requests of one principal at once, each on its own thread (its own
    // instance), against one store: exactly the cap gets in, never more.
    let store = MemoryStore::new();
    let host = stateful(&store).with_variable("max_sessions_per_principal", "8");
    let threads: Vec<_> = (0..60)
        .map(|_| {
            let host = host.clone();
            std::thread::spawn(move || initialize_as(&host, TOKEN).status)
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(admitted, 8, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert_eq!(sessions_in(&store), 8);
}

#[test]
fn server_wide_caps_bound_every_principal_together() {
    // In passthrough mode every new token is a new principal: per-principal caps alone
    // would not bound an anonymous client.
    let store = MemoryStore::new();
    let host = stateful(&store).with_variable("max_sessions_total", "3");
    for n in 0..3 {
        assert_eq!(
            initialize_as(&host, &format!("token-{n}-0123456789")).status,
            200
        );
    }
    let refused = initialize_as(&host, "token-9-0123456789");
    assert_eq!(refused.status, 503);
    assert!(refused.header("retry-after").is_some());
    let body = refused.json();
    assert_schema("2025-11-25", "JSONRPCErrorResponse", &body);
    assert_eq!(body["error"]["code"], -32030);
    assert_eq!(body["error"]["data"]["scope"], "server");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_sessions_total"));
    assert_eq!(sessions_in(&store), 3, "a refusal writes no session");
    // The principal's own count took nothing either: with room again it gets in.
    let store = MemoryStore::new();
    let host = instance(&store).with_variable("max_streams_total", "1");
    let auth = bearer();
    let other = "Bearer another-token-0123456789".to_string();
    let first = sse_stream(&host, &auth, None);
    assert_eq!(first.status, 200);
    let second = sse_stream(&host, &other, None);
    assert_eq!(second.status, 503);
    second.hang_up();
    first.hang_up();
    let third = sse_stream(&host, &other, None);
    assert_eq!(third.status, 200, "the place freed with the first stream");
    third.hang_up();
}

#[test]
fn streams_beyond_the_cap_get_429_without_leaving_a_session() {
    let store = MemoryStore::new();
    let host = instance(&store).with_variable("max_streams_per_principal", "1");
    let auth = bearer();
    let headers = [
        ("authorization", auth.as_str()),
        ("accept", "text/event-stream"),
    ];
    let mut first = Stream::open(host.clone(), "/sse", &headers);
    assert_eq!(first.status, 200);
    first.next_event(WAIT).expect("endpoint");
    let refused = send(&host, "GET", "/sse", &headers, b"");
    assert_eq!(refused.status, 429);
    assert!(refused.header("retry-after").is_some());
    assert_eq!(refused.json()["error"]["code"], -32030);
    assert_eq!(
        sessions_in(&store),
        1,
        "the refused stream's session is gone"
    );

    // A Streamable HTTP GET stream counts too.
    let session = open_session(&host, "2025-11-25", json!({}));
    let get = send(
        &host,
        "GET",
        "/mcp",
        &[
            ("authorization", &auth),
            ("accept", "text/event-stream"),
            ("mcp-session-id", &session),
        ],
        b"",
    );
    assert_eq!(get.status, 429);

    first.hang_up();
    let mut again = Stream::open(host.clone(), "/sse", &headers);
    assert_eq!(again.status, 200);
    again.next_event(WAIT).expect("endpoint");
    again.hang_up();
}

#[test]
fn a_stream_place_lapses_when_its_holder_dies() {
    use remote_mcp_server::transport::stream::StreamLimits;
    let store = MemoryStore::new();
    let host = instance(&store).with_variable("max_streams_per_principal", "1");
    // An instance takes a place and dies with it: nothing gives it back.
    let limits = StreamLimits {
        keepalive_ms: 50,
        max_ms: 3_600_000,
        per_principal: 1,
        total: 1000,
    };
    let principal = principal(&format!("token-sha256:{}", sha256_hex(TOKEN)), "dead");
    use remote_mcp_server::host::Host;
    let claim = block_on(limits.take(&*store, &principal, "dead-holder", host.now_unix_ms()))
        .unwrap()
        .unwrap();
    std::mem::forget(claim);
    let open = || sse_stream(&host, &bearer(), None);
    let refused = open();
    assert_eq!(
        refused.status, 429,
        "the dead holder's place counts for now"
    );
    refused.hang_up();
    // A lease (sixteen keep-alives, at least 2 s) and the quarter it lapses in later, the
    // place is free.
    host.advance_ms(limits.lease_ms() + limits.lease_ms() / 4 + 1_000);
    let admitted = open();
    assert_eq!(admitted.status, 200);
    admitted.hang_up();
}

#[test]
fn a_stream_whose_session_was_deleted_gives_its_quota_place_back() {
    let store = MemoryStore::new();
    let host = instance(&store);
    let auth = bearer();
    let session = open_session(&host, "2025-11-25", json!({}));
    let stream = session_stream(&host, &auth, &session, None);
    assert_eq!(stream.status, 200);
    let deleted = end_session(&host, &auth, &session);
    assert_eq!(deleted.status, 204);
    // The client closes its stream right away, before the stream sees the session gone.
    stream.hang_up();
    assert!(
        leftovers(&store).is_empty(),
        "left behind: {:?}",
        store.keys()
    );
}

#[test]
fn a_stream_that_took_another_ones_place_over_gives_it_back_once() {
    // A's place passes to B (the same session's newer stream); B hangs up, and A, which
    // then finds the lease gone, must neither give the place back again nor end the
    // session: over three rounds the count stays exact.
    let store = MemoryStore::new();
    let host = instance(&store);
    let session = open_session(&host, "2025-11-25", json!({}));
    let auth = bearer();
    let get = || session_stream(&host, &auth, &session, None);
    for round in 0..3 {
        let a = get();
        assert_eq!(a.status, 200);
        let b = get();
        assert_eq!(b.status, 200);
        b.hang_up();
        std::thread::sleep(Duration::from_millis(1_200));
        a.hang_up();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(counted(&store, "streams"), 0, "round {round}");
    }
    assert_eq!(
        in_session(&host, &session, "ping", json!({})).status,
        200,
        "the session lives on"
    );
}

#[test]
fn a_stream_that_ends_before_it_learns_of_its_successor_leaves_it_the_place() {
    // B takes the outbox over from A with A's place (a reconnect on another instance).
    // A reaches its lifetime before it learns of B: its instance listens on a bell (the
    // store reads batches key by key) and, quiet for a minute, reads the outbox's lease
    // only every 30 s. A must leave the place to B, which gives it back itself: given
    // back by A, B's stream counts for nobody and another is admitted past the cap (as
    // it was before b9ef999).
    let store = MemoryStore::new();
    store.set_batches_per_key(true);
    let host = instance(&store)
        .with_variable("keepalive_seconds", "2")
        .with_variable("stream_max_seconds", "80")
        .with_variable("max_streams_per_principal", "1");
    let auth = bearer();
    let session = open_session(&host, "2025-11-25", json!({}));
    let other = open_session(&host, "2025-11-25", json!({}));
    // The principal's one place is taken: another session's stream is refused.
    let refused = || {
        let stream = session_stream(&host, &auth, &other, None);
        let status = stream.status;
        stream.hang_up();
        status
    };
    let mut a = session_stream(&host, &auth, &session, None);
    assert_eq!(a.status, 200);
    // A's first keep-alive: its lifetime counts from before the jump below.
    let waited = std::time::Instant::now();
    while a.comments == 0 {
        assert!(waited.elapsed() < WAIT, "A's first keep-alive");
        a.expect_silence(Duration::from_millis(100), "A, quiet");
    }
    // Quiet for 70 s: A renews its place at its next wake, and its instance's poller
    // (every second once quiet) reads every outbox at its next tick, then none for 30 s.
    host.advance_ms(70_000);
    std::thread::sleep(Duration::from_millis(2_500));
    let b = session_stream(&host, &auth, &session, None);
    assert_eq!(b.status, 200, "B takes A's place over");
    assert_eq!(refused(), 429, "A's place, held by B");
    // Past A's lifetime (80 s), within B's lease (A's renewal at 72 s, for 32 s) and
    // before A's instance reads every outbox again (at 103 s).
    host.advance_ms(11_000);
    assert!(a.until_retry_hint(WAIT).retry.is_some());
    a.expect_end(WAIT, "A at its lifetime");
    assert_eq!(refused(), 429, "B's place, left to it by A");
    b.hang_up();
    assert_eq!(refused(), 200, "given back by B");
}

#[test]
fn a_stream_that_fails_to_take_a_place_over_leaves_it_to_its_holder() {
    // B would take the outbox over from A with A's place, but the store refuses B's
    // lease: B answers 503 and must leave the place to A, which still holds it (given
    // back by B, A's live stream would count for nobody, and the cap could be passed).
    let store = MemoryStore::new();
    let host = instance(&store)
        .with_variable("keepalive_seconds", "1")
        .with_variable("max_streams_per_principal", "1");
    let auth = bearer();
    let session = open_session(&host, "2025-11-25", json!({}));
    let other = open_session(&host, "2025-11-25", json!({}));
    let stream_of = |session: &str| {
        let stream = session_stream(&host, &auth, session, None);
        let status = stream.status;
        stream.hang_up();
        status
    };
    let a = session_stream(&host, &auth, &session, None);
    assert_eq!(a.status, 200);
    store.refuse_sets_ending(Some(":lease"));
    assert_eq!(stream_of(&session), 503, "B, its lease refused");
    store.refuse_sets_ending(None);
    assert_eq!(stream_of(&other), 429, "A's place, still counted");
    a.hang_up();
    assert_eq!(stream_of(&other), 200, "given back by A");
}

#[test]
fn a_session_ended_by_many_at_once_gives_its_place_back_once() {
    let store = MemoryStore::new();
    let host = stateful(&store).with_variable("max_sessions_per_principal", "2");
    for round in 0..3 {
        let session = initialize_as(&host, TOKEN);
        let id = session.header("mcp-session-id").unwrap().to_string();
        at_once(16, {
            let host = host.clone();
            move || end_session(&host, &bearer(), &id).status
        });
        assert_eq!(counted(&store, "sessions"), 0, "round {round}");
    }
    assert_eq!(initialize_as(&host, TOKEN).status, 200);
    assert_eq!(initialize_as(&host, TOKEN).status, 200);
    assert_eq!(initialize_as(&host, TOKEN).status, 429, "the cap holds");
}

#[test]
fn many_requests_renewing_a_session_at_once_move_its_place_once() {
    let store = MemoryStore::new();
    let host = stateful(&store).with_variable("session_ttl_seconds", "100");
    let session = open_session(&host, "2025-11-25", json!({}));
    host.advance_ms(60_000); // past half the time to live: the next requests renew
    let pings = at_once(12, {
        let (host, session) = (host.clone(), session.clone());
        move || in_session(&host, &session, "ping", json!({})).status
    });
    for ping in pings {
        assert_eq!(ping, 200);
    }
    assert_eq!(counted(&store, "sessions"), 1);
}

#[test]
fn refused_admissions_leave_nothing_behind_once_swept() {
    let store = MemoryStore::new();
    let host = stateful(&store)
        .with_variable("max_sessions_total", "1")
        .with_variable("session_ttl_seconds", "20")
        .with_variable("gc_interval_seconds", "1");
    assert_eq!(initialize_as(&host, TOKEN).status, 200);
    for n in 0..20 {
        assert_eq!(
            initialize_as(&host, &format!("new-token-{n}-0123456789")).status,
            503
        );
    }
    // Past the sessions' time and their counters' epochs, sweeps take what is left.
    for _ in 0..4 {
        host.advance_ms(30_000);
        let _ = initialize_as(&host, "sweeper-0123456789");
    }
    let quota: Vec<String> = store
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("quota:") && !k.contains("all"))
        .collect();
    assert!(quota.len() <= 2, "{} counters left: {quota:?}", quota.len());
}

#[test]
fn a_principal_runs_a_bounded_number_of_long_requests_at_once() {
    use remote_mcp_server::store::places::MAX_RUNNING_CALLS;
    let store = MemoryStore::new();
    let host = instance(&store);
    let total = MAX_RUNNING_CALLS + 4;
    let answers: Vec<Value> = at_once(total, {
        let host = host.clone();
        move || {
            modern(
                &host,
                "tools/call",
                json!({"name": "countdown", "arguments": {"from": 2, "interval_ms": 300}}),
            )
            .json()
        }
    });
    let refused = answers
        .iter()
        .filter(|a| a["error"]["code"] == -32030)
        .count();
    let counted = answers
        .iter()
        .filter(|a| a["result"]["structuredContent"]["counted"] == 2)
        .count();
    assert_eq!(refused + counted, total, "{answers:?}");
    assert!(counted <= MAX_RUNNING_CALLS, "{counted} ran at once");
    assert!(refused >= total - MAX_RUNNING_CALLS, "{refused} refused");
    // Each gave its place back: the next one runs.
    let after = modern(
        &host,
        "tools/call",
        json!({"name": "countdown", "arguments": {"from": 1, "interval_ms": 10}}),
    );
    assert_eq!(after.json()["result"]["structuredContent"]["counted"], 1);
}

#[test]
fn a_stream_place_moved_by_two_holders_at_once_is_never_counted_short() {
    use remote_mcp_server::store::places::Leased;
    // A stream and the successor that took its place over renew it at the same moment
    // (renewals of a stream's place are not claimed): the place may count twice for a
    // while, never not at all, and it lapses a lease after its last renewal all the same.
    let store = MemoryStore::new();
    let lease_ms = 8_000;
    let take = |id: &str, now: u64| {
        block_on(Leased::take(&*store, "p", id, lease_ms, (1, 1000), now))
            .unwrap()
            .ok()
    };
    let mut first = take("held", 0).expect("the first place");
    let mut successor = Leased::inherit(&*store, "p", "held", first.until(), lease_ms);
    let due = first.until() - lease_ms / 8 + 1;
    assert!(
        !first.due(due - 1) && first.due(due),
        "due after seven eighths"
    );
    assert!(take("other", due - 1).is_none(), "one place per principal");
    block_on(first.renew(due)).unwrap();
    block_on(successor.renew(due)).unwrap();
    assert_eq!(first.until(), due + lease_ms);
    assert_eq!(successor.until(), due + lease_ms);
    let mut now = due;
    while now < due + lease_ms {
        assert!(
            take("other", now).is_none(),
            "a second place admitted at {now} ms"
        );
        now += 500;
    }
    // Past the lease and the quarter it counts in, the place is gone.
    assert!(take("other", due + lease_ms + lease_ms / 4 + 1).is_some());
}
