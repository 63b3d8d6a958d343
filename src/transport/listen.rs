//! `subscriptions/listen` (2026-07-28): a long-lived response stream carrying the change
//! notifications the client opted in to.
//!
//! The stream acknowledges first (`notifications/subscriptions/acknowledged`, naming what
//! the server agreed to send), then follows the change feed in the shared store, so a
//! change published by any instance reaches every listening client. Each notification
//! carries the subscription's id (the listen request's id) in `_meta`. Without a shared
//! store there is nothing to follow: the server agrees to nothing and keeps the stream
//! open with keep-alives until the client closes it.

use serde_json::{json, Map, Value};

use super::stream::StreamLimits;
use super::{rpc_error, stream};
use crate::auth::Principal;
use crate::config::Settings;
use crate::host::Host;
use crate::http::{Response, ResponseSink};
use crate::protocol::jsonrpc::{self, Request, RpcError};
use crate::protocol::model::finish;
use crate::protocol::{meta, Revision};
use crate::store::events::{self, Change};
use crate::store::places::Leased;

/// What a client asked for, as far as this server honours it.
#[derive(Default)]
struct Filter {
    tools: bool,
    prompts: bool,
    resources: bool,
    uris: Vec<String>,
}

impl Filter {
    fn wants(&self, change: &Change) -> bool {
        match change {
            Change::ToolsList => self.tools,
            Change::PromptsList => self.prompts,
            Change::ResourcesList => self.resources,
            Change::ResourceUpdated(uri) => self.uris.contains(uri),
        }
    }

    fn to_json(&self) -> Value {
        let mut granted = Map::new();
        for (name, on) in [
            ("toolsListChanged", self.tools),
            ("promptsListChanged", self.prompts),
            ("resourcesListChanged", self.resources),
        ] {
            if on {
                granted.insert(name.into(), json!(true));
            }
        }
        if !self.uris.is_empty() {
            granted.insert("resourceSubscriptions".into(), json!(self.uris));
        }
        Value::Object(granted)
    }
}

/// Serves a `subscriptions/listen` request until the client closes the stream, or until
/// `stream_max_seconds` pass: the server then ends the subscription gracefully (the spec's
/// completion result) and the client listens again.
pub async fn run(
    host: &dyn Host,
    settings: &Settings<'_>,
    principal: &Principal,
    request: &Request,
    sink: &mut dyn ResponseSink,
) -> Option<Response> {
    let Some(asked) = request
        .params
        .get("notifications")
        .and_then(Value::as_object)
    else {
        return Some(rpc_error(
            400,
            Some(&request.id),
            &RpcError::invalid_params(
                "subscriptions/listen needs params.notifications, the notifications to receive",
            ),
        ));
    };
    // Task status notifications (SEP-2663) are for clients that declared the tasks
    // extension; this server offers none on the stream (polling `tasks/get` is the way),
    // so the acknowledgement lists no task ids.
    if asked.contains_key("taskIds") {
        let capabilities = request
            .params
            .get("_meta")
            .and_then(|m| m.get(meta::CLIENT_CAPABILITIES))
            .cloned()
            .unwrap_or(Value::Null);
        if !crate::protocol::model::declares_tasks(&capabilities) {
            let error = crate::protocol::handler::tasks::missing_extension("notifications.taskIds");
            return Some(rpc_error(400, Some(&request.id), &error));
        }
    }
    let store = host.store();
    let flag =
        |name: &str| store.is_some() && asked.get(name).and_then(Value::as_bool) == Some(true);
    let filter = Filter {
        tools: flag("toolsListChanged"),
        prompts: flag("promptsListChanged"),
        resources: flag("resourcesListChanged"),
        uris: match (store, asked.get("resourceSubscriptions")) {
            (Some(_), Some(Value::Array(uris))) => uris
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        },
    };
    let limits = match StreamLimits::load(settings) {
        Ok(limits) => limits,
        Err(e) => return Some(e.response()),
    };
    // A listen stream counts against the principal's stream quota like any other.
    let mut claim = match store {
        None => None,
        Some(store) => match limits
            .take(
                store,
                principal,
                &crate::ids::random_hex(host, 16),
                host.now_unix_ms(),
            )
            .await
        {
            Ok(Ok(claim)) => Some(claim),
            Ok(Err(full)) => return Some(super::full(&full, Some(&request.id))),
            Err(e) => return Some(super::store_failure(host, &e)),
        },
    };
    if let Some(store) = store {
        crate::store::sweep::when_due(host, store, settings).await;
    }
    follow(host, &limits, request, sink, &filter, claim.as_mut()).await;
    if let Some(claim) = claim {
        claim.release(host.now_unix_ms()).await;
    }
    None
}

/// Writes the stream until the client goes or the lifetime ends.
async fn follow(
    host: &dyn Host,
    limits: &StreamLimits,
    request: &Request,
    sink: &mut dyn ResponseSink,
    filter: &Filter,
    mut claim: Option<&mut Leased<'_>>,
) {
    let store = host.store();
    let subscription = serde_json::to_value(&request.id).unwrap_or(Value::Null);
    let tagged = |mut message: Value| {
        let params = message
            .as_object_mut()
            .map(|m| m.entry("params").or_insert_with(|| json!({})));
        if let Some(Value::Object(params)) = params {
            params.insert(
                "_meta".into(),
                json!({ meta::SUBSCRIPTION_ID: subscription }),
            );
        }
        message
    };
    // The feed's position is taken before the acknowledgement goes out: a client may
    // change something the moment it reads the ack, and that change must reach it.
    let mut cursor = match store {
        Some(store) => events::head(store).await.unwrap_or(0),
        None => 0,
    };
    if sink.head(200, &stream::headers()).await.is_err() {
        return;
    }
    let ack = jsonrpc::notification(
        "notifications/subscriptions/acknowledged",
        &json!({"_meta": {meta::SUBSCRIPTION_ID: subscription}, "notifications": filter.to_json()}),
    );
    let send = async |sink: &mut dyn ResponseSink, message: &Value| {
        let event = stream::event(None, "message", message.to_string().as_bytes());
        sink.body(&event).await
    };
    if send(sink, &ack).await.is_err() {
        return;
    }
    let mut last_write = host.now_unix_ms();
    let mut last_change = last_write;
    let deadline = last_write.saturating_add(limits.max_ms);
    // Since when the next change's number has been taken but its record not yet written
    // (its publisher is between the two writes, or died there).
    let mut gap_since: Option<u64> = None;
    loop {
        let mut delivered = false;
        if let Some(store) = store {
            let head = events::head(store).await.unwrap_or(cursor);
            // A stream that fell more than the feed's length behind skips what is gone.
            cursor = cursor.max(head.saturating_sub(events::KEEP));
            while cursor < head {
                let change = match events::get(store, cursor + 1).await {
                    Ok(Some(change)) => change,
                    Ok(None) => {
                        let now = host.now_unix_ms();
                        if now.saturating_sub(*gap_since.get_or_insert(now)) < stream::GAP_WAIT_MS {
                            break; // looked at again next time round
                        }
                        cursor += 1;
                        gap_since = None;
                        continue;
                    }
                    Err(_) => break,
                };
                cursor += 1;
                gap_since = None;
                if filter.wants(&change) {
                    if send(sink, &tagged(change.notification())).await.is_err() {
                        return;
                    }
                    delivered = true;
                }
            }
        }
        let now = host.now_unix_ms();
        if now >= deadline {
            let done = finish(
                Revision::V2026_07_28,
                json!({"_meta": {meta::SUBSCRIPTION_ID: subscription}}),
            );
            let _ = send(sink, &jsonrpc::success(&request.id, done)).await;
            return;
        }
        if delivered {
            last_write = now;
            last_change = now;
        } else if now.saturating_sub(last_write) >= limits.keepalive_ms {
            if sink.body(stream::KEEPALIVE).await.is_err() {
                return;
            }
            last_write = now;
        }
        let mut pause = crate::store::poll_interval(now.saturating_sub(last_change));
        if let Some(claim) = claim.as_deref() {
            // Awake when the renewal falls due, also with keep-alives of less than a second.
            pause = pause.min(claim.due_at().saturating_sub(now).max(1));
        }
        host.sleep_ms(pause).await;
        if sink.closed().await {
            return;
        }
        if let Some(claim) = claim.as_deref_mut() {
            // A failed renewal leaves the lease to lapse; the stream goes on meanwhile.
            let _ = claim.renew(host.now_unix_ms()).await;
        }
    }
}
