//! Tasks (2026-07-28 extension `io.modelcontextprotocol/tasks`) through the in-memory host:
//! creation, polling, input through `tasks/update`, cancellation, a runner that stops
//! renewing its lease, the principal binding, the capability gates, and expiry. Tasks run
//! after their response, in the request's instance: a request on a thread answers with the
//! handle and goes on running the tool, as under Spin.

mod common;

use std::time::{Duration, Instant};

use common::*;
use remote_mcp_server::host::memory::{MemoryHost, MemoryStore, SinkEvent};
use remote_mcp_server::http::Headers;
use serde_json::{json, Value};

const TASKS: &str = "io.modelcontextprotocol/tasks";

/// A 2026-07-28 request whose client declares the tasks extension (and elicitation) unless
/// `declare` is false; `Mcp-Name` mirrors the tool name or the task id.
fn request(
    method: &str,
    mut params: Value,
    declare: bool,
    auth: &str,
) -> (Vec<(String, String)>, Value) {
    let mut meta = envelope();
    if declare {
        meta["io.modelcontextprotocol/clientCapabilities"] =
            json!({"elicitation": {}, "extensions": {TASKS: {}}});
    }
    params["_meta"] = meta;
    let mut headers = vec![
        ("authorization".to_string(), auth.to_string()),
        ("content-type".into(), "application/json".into()),
        (
            "accept".into(),
            "application/json, text/event-stream".into(),
        ),
        ("mcp-protocol-version".into(), "2026-07-28".into()),
        ("mcp-method".into(), method.into()),
    ];
    if let Some(name) = params
        .get("name")
        .or_else(|| params.get("taskId"))
        .and_then(Value::as_str)
    {
        headers.push(("mcp-name".into(), name.to_string()));
    }
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": method, "params": params});
    (headers, body)
}

fn call(host: &MemoryHost, method: &str, params: Value) -> Reply {
    call_as(host, method, params, true, &bearer())
}

fn call_as(host: &MemoryHost, method: &str, params: Value, declare: bool, auth: &str) -> Reply {
    let (headers, body) = request(method, params, declare, auth);
    post_pairs(host, &headers, &body)
}

fn post_pairs(host: &MemoryHost, headers: &[(String, String)], body: &Value) -> Reply {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    send(host, "POST", "/mcp", &headers, body.to_string().as_bytes())
}

/// Starts a `tools/call` on a thread; returns its response once complete, while the
/// thread goes on (running the task).
fn start(host: &MemoryHost, tool: &str, arguments: Value) -> (Value, std::thread::JoinHandle<()>) {
    let (headers, body) = request(
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
        true,
        &bearer(),
    );
    let mut all = Headers::new();
    for (name, value) in &headers {
        all.append(name, value.clone());
    }
    let (thread, events) = post_on_thread(host, all, &body);
    let mut bytes = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(SinkEvent::Body(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(SinkEvent::Head(..)) => {}
            Ok(SinkEvent::Finished) => break,
            Err(_) => panic!("the response did not complete within 5 s"),
        }
    }
    (
        serde_json::from_slice(&bytes).expect("a JSON response"),
        thread,
    )
}

/// [`start`] for a call that becomes a task: its id.
fn start_task(
    host: &MemoryHost,
    tool: &str,
    arguments: Value,
) -> (String, std::thread::JoinHandle<()>) {
    let (created, runner) = start(host, tool, arguments);
    let id = created["result"]["taskId"].as_str();
    (id.expect("a task id").to_string(), runner)
}

fn get(host: &MemoryHost, id: &str) -> Value {
    call(host, "tasks/get", json!({"taskId": id})).json()
}

/// Polls `tasks/get` until `done` holds (or 10 s pass).
fn until(host: &MemoryHost, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let task = get(host, id);
        if done(&task["result"]) {
            return task["result"].clone();
        }
        assert!(Instant::now() < deadline, "{what}: last seen {task}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn is_iso8601(value: &Value) -> bool {
    value.as_str().is_some_and(|t| {
        t.len() == 24
            && t.ends_with('Z')
            && t.as_bytes()[10] == b'T'
            && t[..4].parse::<u32>().is_ok()
    })
}

/// Under a host that drops an instance soon after its responses are sent (Spin's WASIp3
/// instances), the answer that creates a task comes as one event of a stream that stays
/// open until the task has run: the instance lives as long as the task.
#[test]
fn where_idle_instances_are_dropped_the_answer_streams_and_stays_open_while_the_task_runs() {
    let store = MemoryStore::new();
    let host = fixture_instance(&store).with_idle_instance_grace(1_000);
    let (headers, body) = request(
        "tools/call",
        json!({"name": "slow_compute", "arguments": {"seconds": 1, "label": "y"}}),
        true,
        &bearer(),
    );
    let mut all = Headers::new();
    for (name, value) in &headers {
        all.append(name, value.clone());
    }
    let started = Instant::now();
    let (runner, events) = post_on_thread(&host, all, &body);
    let mut bytes = Vec::new();
    let mut created = None;
    let finished_after = loop {
        match events.recv_timeout(Duration::from_secs(5)) {
            Ok(SinkEvent::Head(status, headers)) => {
                assert_eq!(status, 200);
                assert_eq!(headers.get("content-type"), Some("text/event-stream"));
            }
            Ok(SinkEvent::Body(chunk)) => {
                bytes.extend_from_slice(&chunk);
                if created.is_none() {
                    created = sse_messages(&bytes).pop();
                    assert!(
                        started.elapsed() < Duration::from_millis(900),
                        "the handle came at once"
                    );
                }
            }
            Ok(SinkEvent::Finished) => break started.elapsed(),
            Err(_) => panic!("the response did not end within 5 s of the last event"),
        }
    };
    let created = created.expect("the CreateTaskResult event");
    assert_eq!(created["result"]["resultType"], "task", "{created}");
    let id = created["result"]["taskId"].as_str().expect("a task id");
    assert!(
        finished_after >= Duration::from_secs(1),
        "open while the task ran: {finished_after:?}"
    );
    // Kept alive meanwhile (keepalive_seconds is 0.05 here): a comment every interval.
    let comments = String::from_utf8_lossy(&bytes)
        .matches(": keepalive")
        .count();
    assert!(comments >= 5, "{comments} keep-alive comments in 1 s");
    assert_eq!(get(&host, id)["result"]["status"], "completed");
    runner.join().unwrap();
}

#[test]
fn a_task_answers_at_once_then_runs_to_its_result() {
    let store = MemoryStore::new();
    let host = fixture_instance(&store);
    let discovered = call(&host, "server/discover", json!({})).json();
    assert_eq!(
        discovered["result"]["capabilities"]["extensions"][TASKS],
        json!({})
    );

    let started = Instant::now();
    let (created, runner) = start(&host, "slow_compute", json!({"seconds": 1, "label": "x"}));
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "the handle came at once"
    );
    let task = &created["result"];
    assert_eq!(task["resultType"], "task", "{created}");
    let id = task["taskId"].as_str().expect("a task id").to_string();
    assert_eq!(id.len(), 40);
    assert_eq!(task["status"], "working");
    assert!(
        is_iso8601(&task["createdAt"]) && is_iso8601(&task["lastUpdatedAt"]),
        "{task}"
    );
    assert_eq!(task["ttlMs"], 3_600_000);
    assert!(task["pollIntervalMs"].as_u64().is_some_and(|ms| ms > 0));
    for absent in [
        "result",
        "error",
        "inputRequests",
        "requestState",
        "task",
        "ttl",
        "pollInterval",
    ] {
        assert!(
            task.get(absent).is_none(),
            "CreateTaskResult carries no {absent}"
        );
    }
    // Durable before the handle: the first poll finds it, still working.
    let working = get(&host, &id);
    assert_eq!(working["result"]["status"], "working", "{working}");
    assert_eq!(working["result"]["resultType"], "complete");
    assert!(working["result"].get("result").is_none());

    let done = until(&host, &id, "completion", |t| t["status"] == "completed");
    assert_eq!(done["result"]["content"][0]["text"], "Computed x in 1 s.");
    assert_eq!(done["result"]["isError"], false);
    assert!(done.get("error").is_none());
    runner.join().unwrap();
    // A terminal task stays; cancelling it is the same empty acknowledgement.
    let ack = call(&host, "tasks/cancel", json!({"taskId": id})).json();
    assert_eq!(ack["result"]["resultType"], "complete");
    assert!(ack["result"].get("status").is_none());
    assert_eq!(get(&host, &id)["result"]["status"], "completed");
}

#[test]
fn tool_errors_complete_and_protocol_errors_fail() {
    let store = MemoryStore::new();
    let host = fixture_instance(&store);
    let (id, runner) = start_task(&host, "failing_job", json!({}));
    let done = until(&host, &id, "failing_job", |t| t["status"] != "working");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["result"]["isError"], true);
    runner.join().unwrap();

    let (id, runner) = start_task(&host, "protocol_error_job", json!({}));
    let failed = until(&host, &id, "protocol_error_job", |t| {
        t["status"] != "working"
    });
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], -32603);
    assert!(failed["error"]["message"].is_string());
    assert!(failed.get("result").is_none());
    runner.join().unwrap();
}

#[test]
fn a_cancelled_task_stops_and_says_so() {
    let store = MemoryStore::new();
    let host = fixture_instance(&store);
    let (id, runner) = start_task(&host, "slow_compute", json!({"seconds": 60}));
    let ack = call(&host, "tasks/cancel", json!({"taskId": id})).json();
    assert_eq!(
        ack["result"],
        json!({"resultType": "complete", "_meta": ack["result"]["_meta"]})
    );
    let started = Instant::now();
    let cancelled = until(&host, &id, "cancellation", |t| t["status"] == "cancelled");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "noticed within a slice"
    );
    assert!(cancelled.get("result").is_none());
    runner.join().unwrap();
}

#[test]
fn a_task_asks_through_tasks_get_and_resumes_on_tasks_update() {
    let store = MemoryStore::new();
    let host = fixture_instance(&store);
    let (id, runner) = start_task(&host, "multi_input", json!({}));
    let asking = until(&host, &id, "input_required", |t| {
        t["status"] == "input_required"
    });
    let keys: Vec<&String> = asking["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["first", "second"]);
    assert_eq!(
        asking["inputRequests"]["first"]["method"],
        "elicitation/create"
    );

    // Answers to unknown keys are ignored; one answer leaves the other asked.
    let answer = |name: &str| json!({"action": "accept", "content": {"name": name}});
    // An answer too large for the store is refused whole, and nothing of it kept.
    let huge = answer(&"x".repeat(remote_mcp_server::store::MAX_VALUE_BYTES));
    let refused = call(
        &host,
        "tasks/update",
        json!({"taskId": id, "inputResponses": {"second": answer("Bo"), "first": huge}}),
    )
    .json();
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("\"first\" takes 100"),
        "{refused}"
    );
    assert_eq!(
        get(&host, &id)["result"]["inputRequests"]
            .as_object()
            .map(|m| m.len()),
        Some(2)
    );
    let ack = call(
        &host,
        "tasks/update",
        json!({"taskId": id, "inputResponses": {"first": answer("Ada"), "nope": answer("x")}}),
    )
    .json();
    assert_eq!(ack["result"]["resultType"], "complete");
    let partly = get(&host, &id)["result"].clone();
    assert_eq!(partly["status"], "input_required");
    let keys: Vec<&String> = partly["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["second"], "the answered request is no longer asked");
    call(
        &host,
        "tasks/update",
        json!({"taskId": id, "inputResponses": {"second": answer("Bo")}}),
    );
    let done = until(&host, &id, "completion", |t| t["status"] == "completed");
    assert_eq!(done["result"]["content"][0]["text"], "Got Ada and Bo.");
    runner.join().unwrap();
}

#[test]
fn input_rounds_before_the_task_carry_into_it() {
    let store = MemoryStore::new();
    let host = fixture_instance(&store);
    let round1 = call(
        &host,
        "tools/call",
        json!({"name": "test_tool_with_task", "arguments": {}}),
    )
    .json();
    assert_eq!(round1["result"]["resultType"], "input_required", "{round1}");
    assert!(round1["result"].get("taskId").is_none());
    let state = round1["result"]["requestState"].clone();
    // The retry with the answer becomes the task; it runs on this thread to the end (the
    // tool waits 200 ms after the handle).
    let params = json!({
        "name": "test_tool_with_task", "arguments": {},
        "inputResponses": {"user_name": {"action": "accept", "content": {"name": "Alice"}}},
        "requestState": state
    });
    let created = call(&host, "tools/call", params).json();
    assert_eq!(created["result"]["resultType"], "task", "{created}");
    assert!(created["result"].get("requestState").is_none());
    let id = created["result"]["taskId"].as_str().unwrap();
    let done = get(&host, id);
    assert_eq!(done["result"]["status"], "completed", "{done}");
    assert_eq!(
        done["result"]["result"]["content"][0]["text"],
        "Hello, Alice!"
    );
}

#[test]
fn a_task_whose_runner_stops_renewing_ends_as_failed_once() {
    let store = MemoryStore::new();
    let host = fixture_instance(&store);
    let (id, runner) = start_task(&host, "slow_compute", json!({"seconds": 3}));
    // Another instance whose clock is past the runner's lease takes the runner for gone.
    let later = fixture_instance(&store);
    later.advance_ms(45_000);
    let failed = get(&later, &id)["result"].clone();
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], -32603);
    // The runner, still alive, finds the task ended and leaves it so.
    runner.join().unwrap();
    assert_eq!(get(&host, &id)["result"]["status"], "failed");
    // Even a runner's write that slipped in after the end (it read the task just before
    // the end was claimed) does not undo it: the end is kept apart, written once.
    let key = format!("task:{id}");
    let stale = String::from_utf8(store.get(&key).unwrap().unwrap()).unwrap();
    store
        .set(&key, stale.replace("\"failed\"", "\"working\"").as_bytes())
        .unwrap();
    assert_eq!(get(&host, &id)["result"]["status"], "failed");
}

#[test]
fn a_task_over_the_running_cap_is_refused_when_created() {
    let store = MemoryStore::new();
    let host = fixture_instance(&store);
    let running: Vec<(String, std::thread::JoinHandle<()>)> = (0..16)
        .map(|_| start_task(&host, "slow_compute", json!({"seconds": 60})))
        .collect();
    let tasks_before = store
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("task:"))
        .count();
    let refused = call(
        &host,
        "tools/call",
        json!({"name": "slow_compute", "arguments": {"seconds": 60}}),
    )
    .json();
    assert_eq!(refused["error"]["code"], -32030, "{refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("long-running requests"));
    let tasks_after = store
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("task:"))
        .count();
    assert_eq!(tasks_before, tasks_after, "a refused task leaves no record");
    // Asking again and again to cancel (or answering again) indexes nothing more.
    let index = || {
        store
            .keys()
            .into_iter()
            .filter(|k| k.starts_with("expiry:"))
            .count()
    };
    call(&host, "tasks/cancel", json!({"taskId": running[0].0}));
    let indexed = index();
    for _ in 0..10 {
        call(&host, "tasks/cancel", json!({"taskId": running[0].0}));
    }
    assert_eq!(index(), indexed);
    for (id, runner) in running {
        call(&host, "tasks/cancel", json!({"taskId": id}));
        runner.join().unwrap();
    }
    // Their places came back with their ends.
    let (created, runner) = start(&host, "slow_compute", json!({"seconds": 1}));
    assert_eq!(created["result"]["resultType"], "task", "{created}");
    runner.join().unwrap();
}

#[test]
fn a_task_past_its_time_to_live_is_gone_before_any_sweep() {
    let store = MemoryStore::new();
    let host = fixture_instance(&store);
    let (id, runner) = start_task(&host, "slow_compute", json!({"seconds": 1}));
    runner.join().unwrap();
    let later = fixture_instance(&store);
    later.advance_ms(3_600_001);
    for method in ["tasks/get", "tasks/cancel"] {
        let body = call(&later, method, json!({"taskId": id})).json();
        assert_eq!(body["error"]["code"], -32602, "{method}: {body}");
    }
}

#[test]
fn tasks_are_their_creators_alone() {
    let store = MemoryStore::new();
    let host = fixture_instance(&store)
        .with_variable("auth_mode", "static")
        .with_variable(
            "static_tokens",
            &format!("alice=plain:{TOKEN}, bob=plain:another-token-0123456789"),
        );
    let (id, runner) = start_task(&host, "slow_compute", json!({"seconds": 1}));
    let bob = "Bearer another-token-0123456789";
    let unknown = |reply: Reply| {
        let body = reply.json();
        assert_eq!(body["error"]["code"], -32602, "{body}");
        body["error"]["message"].as_str().unwrap().to_string()
    };
    let foreign = unknown(call_as(
        &host,
        "tasks/get",
        json!({"taskId": id}),
        true,
        bob,
    ));
    let made_up = unknown(call_as(
        &host,
        "tasks/get",
        json!({"taskId": "ab".repeat(20)}),
        true,
        bob,
    ));
    assert_eq!(
        foreign.replace(&id, ""),
        made_up.replace(&"ab".repeat(20), ""),
        "another's task is answered exactly like one that does not exist"
    );
    unknown(call_as(
        &host,
        "tasks/cancel",
        json!({"taskId": id}),
        true,
        bob,
    ));
    unknown(call_as(
        &host,
        "tasks/update",
        json!({"taskId": id, "inputResponses": {}}),
        true,
        bob,
    ));
    runner.join().unwrap();
    assert_eq!(get(&host, &id)["result"]["status"], "completed");
}

#[test]
fn without_the_extension_nothing_becomes_a_task() {
    let store = MemoryStore::new();
    let host = fixture_instance(&store);
    // A tool that may become a task runs within its request.
    let plain = call_as(
        &host,
        "tools/call",
        json!({"name": "slow_compute", "arguments": {"seconds": 1}}),
        false,
        &bearer(),
    )
    .json();
    assert_eq!(plain["result"]["resultType"], "complete", "{plain}");
    assert_eq!(
        plain["result"]["content"][0]["text"],
        "Computed the answer in 1 s."
    );
    // One that runs only as a task is refused, naming the extension.
    let refused = call_as(
        &host,
        "tools/call",
        json!({"name": "failing_job", "arguments": {}}),
        false,
        &bearer(),
    );
    assert_eq!(refused.status, 400);
    let body = refused.json();
    assert_eq!(body["error"]["code"], -32021);
    assert_eq!(
        body["error"]["data"]["requiredCapabilities"]["extensions"][TASKS],
        json!({})
    );
    // The tasks methods are refused the same way, before any lookup.
    for method in ["tasks/get", "tasks/update", "tasks/cancel"] {
        let body = call_as(
            &host,
            method,
            json!({"taskId": "gate", "inputResponses": {}}),
            false,
            &bearer(),
        )
        .json();
        assert_eq!(body["error"]["code"], -32021, "{method}: {body}");
    }
    // The 2025-11-25 methods that the extension removed are unknown.
    for method in ["tasks/result", "tasks/list"] {
        let body = call(&host, method, json!({"taskId": "x"})).json();
        assert_eq!(body["error"]["code"], -32601, "{method}: {body}");
    }
    // A mismatched Mcp-Name on a tasks request is a header mismatch.
    let (mut headers, body) = request(
        "tasks/get",
        json!({"taskId": "ab".repeat(20)}),
        true,
        &bearer(),
    );
    headers.retain(|(n, _)| n != "mcp-name");
    headers.push(("mcp-name".into(), "another".into()));
    let mismatch = post_pairs(&host, &headers, &body);
    assert_eq!(mismatch.status, 400);
    assert_eq!(mismatch.json()["error"]["code"], -32020);
}

#[test]
fn a_task_and_everything_it_left_are_swept_after_its_time_to_live() {
    let store = MemoryStore::new();
    let host = fixture_instance(&store);
    let (id, runner) = start_task(&host, "confirm_delete", json!({"filename": "a.txt"}));
    until(&host, &id, "input_required", |t| {
        t["status"] == "input_required"
    });
    call(
        &host,
        "tasks/update",
        json!({"taskId": id, "inputResponses": {"confirm": {"action": "accept", "content": {"confirm": true}}}}),
    );
    let done = until(&host, &id, "completion", |t| t["status"] == "completed");
    assert_eq!(done["result"]["content"][0]["text"], "Deleted a.txt.");
    runner.join().unwrap();
    assert!(
        leftovers(&store).iter().any(|k| k.starts_with("task")),
        "{:?}",
        leftovers(&store)
    );
    // Past the time to live, a request that sweeps removes the task, its answer, and its
    // count among its principal's tasks.
    let later = fixture_instance(&store);
    // (the stored-task count lapses with its quarter-hour epoch)
    later.advance_ms(4_600_000);
    legacy(
        &later,
        "2025-11-25",
        "initialize",
        json!({
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}
        }),
    );
    let left: Vec<String> = leftovers(&store)
        .into_iter()
        .filter(|k| k.contains("task"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // The claim that ended it lapsed with it, and went too.
    let claims: Vec<String> = store
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("claim:"))
        .collect();
    assert!(claims.is_empty(), "{claims:?}");
    let gone = call(&later, "tasks/get", json!({"taskId": id})).json();
    assert_eq!(gone["error"]["code"], -32602);
}

#[test]
fn a_principal_stores_a_bounded_number_of_tasks() {
    // Simulated time: each task's second of work passes at once.
    let store = MemoryStore::new();
    let host = host()
        .with_store(store.clone())
        .with_variable("conformance_fixtures", "on");
    let create = || {
        call(
            &host,
            "tools/call",
            json!({"name": "slow_compute", "arguments": {"seconds": 1}}),
        )
        .json()
    };
    for n in 0..256 {
        let created = create();
        assert_eq!(
            created["result"]["resultType"], "task",
            "task {n}: {created}"
        );
    }
    let refused = create();
    assert_eq!(refused["error"]["code"], -32030, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("stored tasks") && message.contains("256"),
        "{message}"
    );
    // The count lapses with the tasks.
    host.advance_ms(3_600_000 + 900_000 + 1_000);
    assert_eq!(create()["result"]["resultType"], "task");
}
