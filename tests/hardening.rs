//! Hostile and excessive input: nesting, id and header limits, bounded batches, refused
//! bodies, time budgets, event data that would forge fields, and regressions found by
//! fuzzing.

mod common;

use common::*;
use remote_mcp_server::host::memory::MemoryStore;
use remote_mcp_server::host::Host;
use serde_json::{json, Value};

#[test]
fn deep_nesting_is_refused_before_parsing() {
    let host = host();
    let nested = |depth: usize| {
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":{}{}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    let send_raw = |body: &str| {
        send(
            &host,
            "POST",
            "/mcp",
            &[
                ("authorization", &bearer()),
                ("content-type", "application/json"),
                ("accept", "application/json, text/event-stream"),
            ],
            body.as_bytes(),
        )
    };
    // 2 object levels + 62 arrays = 64: allowed.
    let ok = send_raw(&nested(62));
    assert_eq!(ok.status, 200, "{}", ok.text());
    let deep = send_raw(&nested(63));
    assert_eq!(deep.status, 400);
    assert_eq!(deep.json()["error"]["code"], -32600);
    assert!(deep.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("64 levels"));
    // Far deeper than any parser's stack would survive, and brackets inside strings do
    // not count.
    let hostile = send_raw(&nested(1_000_000));
    assert_eq!(hostile.status, 400);
    let in_string = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"s":"{}"}}}}"#,
        "[{".repeat(500)
    );
    assert_eq!(send_raw(&in_string).status, 200);
}

#[test]
fn long_ids_and_method_names_are_refused() {
    let host = host();
    let long = "x".repeat(257);
    let reply = post(
        &host,
        &[],
        &json!({"jsonrpc": "2.0", "id": long, "method": "ping"}),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["code"], -32600);
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("\"id\" is longer than 256"));
    assert!(
        reply.json().get("id").is_none(),
        "an unusable id is not echoed"
    );
    let reply = post(
        &host,
        &[],
        &json!({"jsonrpc": "2.0", "id": 1, "method": long}),
    );
    assert_eq!(reply.status, 400);
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("\"method\" is longer than 256"));
    let fits = post(
        &host,
        &[],
        &json!({"jsonrpc": "2.0", "id": "y".repeat(256), "method": "ping"}),
    );
    assert_eq!(fits.status, 200);
}

#[test]
fn too_many_or_too_large_headers_get_431() {
    let host = host();
    let names: Vec<String> = (0..101).map(|i| format!("x-filler-{i}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    let reply = send(&host, "GET", "/", &many, b"");
    assert_eq!(reply.status, 431);
    assert!(reply.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("at most 100 header fields"));
    let big = "b".repeat(65 * 1024);
    let reply = send(&host, "GET", "/", &[("x-big", &big)], b"");
    assert_eq!(reply.status, 431);
    assert_eq!(send(&host, "GET", "/", &many[..90], b"").status, 200);
}

#[test]
fn batches_are_bounded() {
    let host = host();
    let pings = |n: usize| {
        let batch: Vec<Value> = (0..n)
            .map(|id| json!({"jsonrpc": "2.0", "id": id, "method": "ping"}))
            .collect();
        post(
            &host,
            &[("mcp-protocol-version", "2025-03-26")],
            &Value::Array(batch),
        )
    };
    let reply = pings(33);
    assert_eq!(reply.status, 400);
    let body = reply.json();
    // No id can be named for a whole batch: the error omits it, as for a parse error
    // (the 2025-11-25 schema allows that; 2025-03-26's has no form for it).
    assert_error("2025-11-25", &body);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 32 messages"));
    let reply = pings(32);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json().as_array().unwrap().len(), 32);
}

#[test]
fn a_refused_body_leaves_the_session_whole() {
    let store = MemoryStore::new();
    let host = stateful(&store).with_variable("max_body_bytes", "1000");
    let session = open_session(&host, "2025-11-25", json!({}));
    let before = store.keys();
    let reply = post(
        &host,
        &[("mcp-session-id", &session)],
        &json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "p".repeat(2000)}}),
    );
    assert_eq!(reply.status, 413);
    assert_eq!(store.keys(), before);
    assert_eq!(in_session(&host, &session, "ping", json!({})).status, 200);
}

#[test]
fn a_request_stops_at_its_time_budget() {
    use remote_mcp_server::config::Settings;
    use remote_mcp_server::protocol::call::{
        Call, Discard, Rounds, Stop, Target, REQUEST_BUDGET_MS,
    };
    use remote_mcp_server::protocol::exchange::Exchange;
    use remote_mcp_server::protocol::jsonrpc::{Request, RequestId};
    let host = host().with_store(MemoryStore::new());
    let settings = block_on(Settings::load(&host));
    let principal = principal("budget", "budget");
    let request = Request {
        id: RequestId::Number(1.into()),
        method: "tools/call".into(),
        params: Default::default(),
    };
    let mut emitter = Discard;
    let exchange = Exchange::legacy(
        &host,
        &settings,
        &principal,
        remote_mcp_server::protocol::Revision::V2025_11_25,
        None,
    );
    let target = Target {
        method: "tools/call".into(),
        name: "countdown".into(),
    };
    let mut call = Call::new(
        exchange.context(),
        &mut emitter,
        &request,
        target,
        Rounds::default(),
    );
    // Most of the budget may be spent waiting; a wait past its end is refused.
    assert!(block_on(call.sleep_ms(REQUEST_BUDGET_MS - 1_000)).is_ok());
    match block_on(call.sleep_ms(2_000)) {
        Err(Stop::Failed(why)) => assert!(why.contains("time budget"), "{why}"),
        _ => panic!("a wait past the budget must stop the request"),
    }
}

#[test]
fn a_batchs_calls_share_one_time_budget() {
    // Two 5-minute countdowns in one 2025-03-26 batch: the second runs out of the budget
    // the POST had (the sleeps run on the host's manual clock).
    let host = host().with_store(MemoryStore::new());
    let session = open_session(&host, "2025-03-26", json!({}));
    let countdown = |id: u64| json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "countdown", "arguments": {"from": 60, "interval_ms": 5000}}});
    let reply = post(
        &host,
        &[
            ("mcp-protocol-version", "2025-03-26"),
            ("mcp-session-id", &session),
        ],
        &json!([countdown(1), countdown(2)]),
    );
    assert_eq!(reply.status, 200);
    let replies = reply.json();
    assert_eq!(replies[0]["result"]["isError"], false, "{replies}");
    assert_eq!(replies[1]["result"]["isError"], true, "{}", replies[1]);
    assert!(replies[1]["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("time budget"));
}

#[test]
fn every_line_break_in_event_data_starts_a_data_line() {
    use remote_mcp_server::transport::stream::event;
    // CR and CRLF end lines in SSE too: left raw, a CR would let data forge a field.
    let frame = event(Some("3"), "message", b"a\rid: 9\r\nb\nc");
    assert_eq!(
        String::from_utf8(frame).unwrap(),
        "id: 3\nevent: message\ndata: a\ndata: id: 9\ndata: b\ndata: c\n\n"
    );
    assert_eq!(
        String::from_utf8(event(None, "message", b"")).unwrap(),
        "event: message\ndata: \n\n"
    );
}

/// Inputs `scripts/fuzz bearer` produced: a scheme this server does not know is never
/// named in the error (it may be a bare token), and what follows it never is.
#[test]
fn an_unknown_scheme_is_never_named() {
    let host = host();
    let refuse = |authorization: &str| {
        let reply = send(
            &host,
            "POST",
            "/mcp",
            &[
                ("authorization", authorization),
                ("content-type", "application/json"),
            ],
            b"{}",
        );
        assert_eq!(reply.status, 401, "{authorization}");
        reply.json()["error_description"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let named = refuse("nnnnnnnnnn secret-credential-1");
    assert!(named.contains("another scheme"), "{named}");
    assert!(
        !named.contains("nnnnnnnnnn") && !named.contains("secret-credential-1"),
        "{named}"
    );
    let long = format!("Bjarec{}arer {}", "V".repeat(75), "k".repeat(40));
    let unknown = refuse(&long);
    assert!(unknown.contains("another scheme"), "{unknown}");
    assert!(
        !unknown.contains("VVVV") && !unknown.contains("kkkk"),
        "{unknown}"
    );
}

/// Where the host cuts requests (`request_limit_seconds`), a call that would run past the
/// cut is refused up front with an error that says why; a shorter one is untouched.
/// The clock is the in-memory host's, so the test takes no real time.
#[test]
fn a_call_stops_before_the_hosts_request_limit_and_says_so() {
    let limited = host().with_variable("request_limit_seconds", "30");
    let countdown = |from: u64| {
        let started = limited.now_unix_ms();
        let reply = modern(
            &limited,
            "tools/call",
            json!({"name": "countdown", "arguments": {"from": from, "interval_ms": 1000}}),
        );
        assert_eq!(reply.status, 200);
        (reply.json(), limited.now_unix_ms() - started)
    };
    let (short, _) = countdown(20);
    assert_eq!(short["result"]["isError"], false, "{short}");
    let (long, took) = countdown(60);
    assert_eq!(long["result"]["isError"], true, "{long}");
    let why = long["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        why.contains("request limit of 30 seconds (request_limit_seconds)"),
        "{why}"
    );
    // Refused up front: 60 s of counting cannot end before 25 s (30 less a sixth).
    assert_eq!(took, 0);

    // Without a limit the same call runs to its end.
    let reply = modern(
        &host(),
        "tools/call",
        json!({"name": "countdown", "arguments": {"from": 60, "interval_ms": 1000}}),
    );
    assert_eq!(reply.json()["result"]["isError"], false);
}
