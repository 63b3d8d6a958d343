//! `introspection` mode on the in-memory host: opaque tokens judged by an introspection
//! endpoint (RFC 7662) that the test plays, answers cached under a digest of the token and
//! never past its expiry, refusals shaped as jwt mode's, failures that back off. The same
//! mode against a real authorization server: tests/clients/introspection.test.mjs.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::*;
use remote_mcp_server::host::memory::{MemoryHost, MemoryStore};
use remote_mcp_server::host::{Fetched, Host};
use serde_json::{json, Value};

const ENDPOINT: &str = "https://as.test/introspect";
const CLIENT_ID: &str = "mcp-server";
const SECRET: &str = "s3cret/with+odd=chars";
/// The memory host's clock, in seconds.
const NOW: u64 = 1_767_225_600;

/// The authorization server's view: what it answers about each token (inactive for any
/// other), and whether it answers at all.
#[derive(Clone, Default)]
struct Issuer {
    answers: Arc<Mutex<HashMap<String, Value>>>,
    status: Arc<Mutex<Option<u16>>>,
}

impl Issuer {
    fn issue(&self, token: &str, answer: Value) {
        self.answers
            .lock()
            .unwrap()
            .insert(token.to_string(), answer);
    }

    fn revoke(&self, token: &str) {
        self.answers.lock().unwrap().remove(token);
    }

    /// Answers every request with `status` (and no JSON), or normally again (`None`).
    fn fail_with(&self, status: Option<u16>) {
        *self.status.lock().unwrap() = status;
    }
}

/// `application/x-www-form-urlencoded` decoding, for what the server posted.
fn form(body: &[u8]) -> HashMap<String, String> {
    let decode = |text: &str| {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// An active token's answer: for this server, `scope`, living an hour.
fn active(sub: &str, scope: &str) -> Value {
    json!({
        "active": true,
        "iss": "https://as.test/",
        "sub": sub,
        "client_id": "some-mcp-client",
        "aud": "http://mcp.test/mcp",
        "exp": NOW + 3600,
        "iat": NOW,
        "scope": scope,
        "token_type": "Bearer",
    })
}

fn introspection_host_on(store: Option<&Arc<MemoryStore>>) -> (MemoryHost, Issuer) {
    let mut host = host()
        .with_variable("auth_mode", "introspection")
        .with_variable("public_url", "http://mcp.test")
        .with_variable("introspection_url", ENDPOINT)
        .with_variable("introspection_client_id", CLIENT_ID)
        .with_variable("introspection_client_secret", SECRET)
        .with_variable("jwt_issuer", "https://as.test/");
    if let Some(store) = store {
        host = host.with_store(store.clone());
    }
    let issuer = Issuer::default();
    let answers = issuer.clone();
    host.web().answer_posts(ENDPOINT, move |body| {
        if let Some(status) = *answers.status.lock().unwrap() {
            return Fetched {
                status,
                body: b"<html>down</html>".to_vec(),
            };
        }
        let token = form(body).remove("token").unwrap_or_default();
        let answer = answers
            .answers
            .lock()
            .unwrap()
            .get(&token)
            .cloned()
            .unwrap_or(json!({"active": false}));
        Fetched {
            status: 200,
            body: answer.to_string().into_bytes(),
        }
    });
    (host, issuer)
}

fn introspection_host() -> (MemoryHost, Issuer) {
    introspection_host_on(Some(&MemoryStore::new()))
}

#[test]
fn an_active_token_gets_in_and_the_server_asked_as_its_own_client() {
    let (host, issuer) = introspection_host();
    let token = "opaque+/token==";
    issuer.issue(token, active("alice", "token:read"));
    let reply = add_as(&host, token);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["result"]["content"][0]["text"], "3");

    let posts = host.web().posts();
    assert_eq!(posts.len(), 1);
    let (url, headers, body) = &posts[0];
    assert_eq!(url, ENDPOINT);
    let sent = form(body);
    assert_eq!(sent["token"], token, "the token, form-encoded");
    assert_eq!(sent["token_type_hint"], "access_token");
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    // RFC 6749 §2.3.1: id and secret form-encoded before they are joined.
    use base64::Engine;
    let basic =
        base64::engine::general_purpose::STANDARD.encode("mcp-server:s3cret%2Fwith%2Bodd%3Dchars");
    assert_eq!(header("authorization"), Some(format!("Basic {basic}")));

    // The principal is the subject; the token's scopes are checked as in jwt mode.
    let echoed = modern_as(
        &host,
        &bearer_of(token),
        "tools/call",
        json!({"name": "getToken", "arguments": {}}),
    );
    assert_eq!(
        echoed.json()["result"]["content"][0]["text"],
        format!("User's token: Bearer {token}")
    );
    let logs = host.logs().join("\n");
    assert!(logs.contains("\"principal\":\"alice\""), "{logs}");
    assert!(!logs.contains(token) && !logs.contains(SECRET), "{logs}");
}

#[test]
fn answers_are_cached_until_the_ttl_so_a_revoked_token_is_refused_within_it() {
    let (host, issuer) = introspection_host();
    issuer.issue("t1", active("alice", ""));
    for _ in 0..3 {
        assert_eq!(add_as(&host, "t1").status, 200);
    }
    assert_eq!(
        host.web().fetches(ENDPOINT),
        1,
        "one question for three requests"
    );
    // The store holds a digest of the token, never the token.
    let keys = block_on(host.store().unwrap().keys_with_prefix("")).unwrap();
    assert!(
        keys.iter().any(|k| k.starts_with("introspected:")),
        "{keys:?}"
    );
    assert!(!keys.iter().any(|k| k.contains("t1")), "{keys:?}");

    issuer.revoke("t1");
    host.advance_ms(59_000);
    assert_eq!(add_as(&host, "t1").status, 200, "still cached (60 s)");
    host.advance_ms(2_000);
    assert_refused(&add_as(&host, "t1"), "not active");
    assert_eq!(host.web().fetches(ENDPOINT), 2);

    // A shorter cache time is honoured too.
    let (quick, issuer) = introspection_host();
    let quick = quick.with_variable("introspection_cache_seconds", "5");
    issuer.issue("t2", active("bob", ""));
    assert_eq!(add_as(&quick, "t2").status, 200);
    issuer.revoke("t2");
    quick.advance_ms(6_000);
    assert_refused(&add_as(&quick, "t2"), "not active");
}

#[test]
fn an_answer_is_never_used_past_the_tokens_expiry() {
    let (host, issuer) = introspection_host();
    let mut short = active("alice", "");
    short["exp"] = json!(NOW + 10);
    issuer.issue("short", short);
    assert_eq!(
        add_as(
            &host.clone().with_variable("jwt_leeway_seconds", "0"),
            "short"
        )
        .status,
        200
    );
    host.advance_ms(11_000);
    assert_refused(
        &add_as(
            &host.clone().with_variable("jwt_leeway_seconds", "0"),
            "short",
        ),
        "has expired",
    );
    assert_eq!(
        host.web().fetches(ENDPOINT),
        2,
        "the cached answer lapsed with the token, so the server asked again"
    );
}

#[test]
fn what_the_answer_says_is_checked_as_a_jwts_claims_are() {
    let (host, issuer) = introspection_host();
    let case = |name: &str, change: &dyn Fn(&mut Value)| {
        let mut answer = active("alice", "");
        change(&mut answer);
        issuer.issue(name, answer);
        add_as(&host, name)
    };
    assert_refused(
        &case("inactive", &|a| a["active"] = json!(false)),
        "not active",
    );
    assert_refused(
        &case("elsewhere", &|a| a["aud"] = json!("https://other.test/mcp")),
        "meant for another resource",
    );
    assert_refused(
        &case("no-aud", &|a| {
            a.as_object_mut().unwrap().remove("aud");
        }),
        "meant for another resource",
    );
    assert_refused(
        &case("expired", &|a| a["exp"] = json!(NOW - 3600)),
        "has expired",
    );
    assert_refused(
        &case("early", &|a| a["nbf"] = json!(NOW + 3600)),
        "not valid yet",
    );
    assert_refused(
        &case("bound", &|a| a["cnf"] = json!({"jkt": "abc"})),
        "bound to a key",
    );
    // Refresh tokens, however an answer marks them.
    assert_refused(
        &case("refresh", &|a| a["token_type"] = json!("refresh_token")),
        "not a bearer access token",
    );
    assert_refused(
        &case("use-refresh", &|a| a["token_use"] = json!("refresh_token")),
        "not a bearer access token",
    );
    assert_refused(
        &case("typ-refresh", &|a| a["typ"] = json!("Refresh")),
        "not a bearer access token",
    );
    assert_eq!(
        case("typ-access", &|a| a["typ"] = json!("Bearer")).status,
        200
    );
    assert_refused(
        &case("nobody", &|a| {
            let a = a.as_object_mut().unwrap();
            a.remove("sub");
            a.remove("client_id");
        }),
        "names no subject",
    );
    // A token a client got for itself: the client is the principal.
    let reply = case("machine", &|a| {
        a.as_object_mut().unwrap().remove("sub");
    });
    assert_eq!(reply.status, 200);
    assert!(host
        .logs()
        .join("\n")
        .contains("\"principal\":\"some-mcp-client\""));
    // With jwt_issuer set, an answer naming another issuer is refused, one naming none is
    // not; with only authorization_servers, iss is not checked.
    issuer.issue("foreign", {
        let mut a = active("alice", "");
        a["iss"] = json!("https://evil.test/");
        a
    });
    assert_refused(&add_as(&host, "foreign"), "not issued by");
    assert_eq!(
        case("anonymous-issuer", &|a| {
            a.as_object_mut().unwrap().remove("iss");
        })
        .status,
        200
    );
    let listed = host
        .clone()
        .with_variable("jwt_issuer", "")
        .with_variable("authorization_servers", "https://as.test/");
    assert_eq!(add_as(&listed, "foreign").status, 200, "iss not checked");
    // Scopes, and the required ones, as in jwt mode.
    let reply = modern_as(
        &host,
        &bearer_of("machine"),
        "tools/call",
        json!({"name": "getToken", "arguments": {}}),
    );
    assert_eq!(reply.status, 403);
    let required = host.clone().with_variable("required_scopes", "mcp");
    assert_eq!(add_as(&required, "machine").status, 403);
}

#[test]
fn a_client_is_never_the_same_principal_as_a_user_of_the_same_name() {
    let (host, issuer) = introspection_host();
    // The client's own token, and a user whose sub is the client's id.
    issuer.issue("client-token", {
        let mut a = active("x", "");
        a.as_object_mut().unwrap().remove("sub");
        a
    });
    issuer.issue("user-token", active("some-mcp-client", ""));
    let init = post_as(
        &host,
        &bearer_of("client-token"),
        &[],
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
    );
    let session = init.header("mcp-session-id").unwrap().to_string();
    let ping = |token: &str| {
        post_as(
            &host,
            &bearer_of(token),
            &[("mcp-session-id", &session)],
            &json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
        )
        .status
    };
    assert_eq!(ping("client-token"), 200);
    assert_eq!(ping("user-token"), 404, "another principal's session");
}

#[test]
fn inactive_answers_are_not_kept_and_one_requests_trouble_holds_no_one_off() {
    let (host, issuer) = introspection_host();
    for _ in 0..3 {
        assert_refused(&add_as(&host, "made-up"), "not active");
    }
    assert_eq!(host.web().fetches(ENDPOINT), 3, "asked each time");
    let keys = block_on(host.store().unwrap().keys_with_prefix("introspected:")).unwrap();
    assert!(keys.is_empty(), "{keys:?}");

    // A 400 or 429 is about that request: the next token is asked about at once.
    issuer.issue("good", active("alice", ""));
    for status in [400, 429] {
        issuer.fail_with(Some(status));
        assert_eq!(add_as(&host, "odd").status, 503);
        issuer.fail_with(None);
        assert_eq!(add_as(&host, "good").status, 200, "after {status}");
        host.advance_ms(61_000);
    }
}

#[test]
fn a_failure_recorded_by_a_fast_clock_holds_no_one_off_and_success_clears_it() {
    let (host, issuer) = introspection_host();
    let store = host.store().unwrap();
    block_on(store.set(
        "introspection:failed",
        (NOW * 1000 + 600_000).to_string().as_bytes(),
    ))
    .unwrap();
    issuer.issue("good", active("alice", ""));
    assert_eq!(add_as(&host, "good").status, 200);
    assert_eq!(
        block_on(store.get("introspection:failed")).unwrap(),
        None,
        "cleared by the answer"
    );
}

#[test]
fn an_unreachable_endpoint_is_503_backs_off_and_names_no_secret() {
    let (host, issuer) = introspection_host();
    issuer.issue("cached", active("alice", ""));
    assert_eq!(add_as(&host, "cached").status, 200);
    issuer.issue("fresh", active("bob", ""));
    issuer.fail_with(Some(502));
    let reply = add_as(&host, "fresh");
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("5"));
    assert!(!reply.text().contains("as.test"), "{}", reply.text());
    let logs = host.logs().join("\n");
    assert!(
        logs.contains("introspection endpoint https://as.test/introspect failed: HTTP 502"),
        "{logs}"
    );
    // Cached answers still serve; nobody asks again within 5 s of the failure.
    assert_eq!(add_as(&host, "cached").status, 200);
    issuer.fail_with(None);
    assert_eq!(add_as(&host, "fresh").status, 503);
    assert_eq!(host.web().fetches(ENDPOINT), 2);
    host.advance_ms(5_000);
    assert_eq!(add_as(&host, "fresh").status, 200);

    // Credentials the authorization server refuses: the log says which variables to check.
    issuer.fail_with(Some(401));
    host.advance_ms(60_000);
    assert_eq!(add_as(&host, "fresh").status, 503);
    let logs = host.logs().join("\n");
    assert!(
        logs.contains("check introspection_client_id and introspection_client_secret"),
        "{logs}"
    );
    assert!(!logs.contains(SECRET) && !logs.contains("fresh"), "{logs}");

    // Nothing listening at all.
    host.web().answer_posts(ENDPOINT, |_| Fetched {
        status: 500,
        body: Vec::new(),
    });
    host.advance_ms(60_000);
    assert_eq!(add_as(&host, "other").status, 503);
}

#[test]
fn without_a_store_every_request_asks() {
    let (host, issuer) = introspection_host_on(None);
    issuer.issue("t", active("alice", ""));
    for _ in 0..3 {
        assert_eq!(add_as(&host, "t").status, 200);
    }
    assert_eq!(host.web().fetches(ENDPOINT), 3);
    issuer.revoke("t");
    assert_refused(&add_as(&host, "t"), "not active");
}

#[test]
fn misconfiguration_fails_closed_naming_the_variable() {
    for (variable, value, named) in [
        ("introspection_url", "", "introspection_url"),
        ("introspection_url", "not-a-url", "introspection_url"),
        ("introspection_client_id", "", "introspection_client_id"),
        (
            "introspection_client_secret",
            "",
            "introspection_client_secret",
        ),
        (
            "introspection_cache_seconds",
            "0",
            "introspection_cache_seconds",
        ),
    ] {
        let (host, _) = introspection_host();
        let host = host.with_variable(variable, value);
        let reply = add_as(&host, "t");
        assert_eq!(reply.status, 500, "{variable}={value:?}");
        assert!(reply.text().contains(named), "{}", reply.text());
        assert!(!reply.text().contains(SECRET));
    }
    let (host, _) = introspection_host();
    let reply = add_as(&host.clone().with_variable("public_url", ""), "t");
    assert_eq!(reply.status, 500);
    assert!(reply.text().contains("jwt_audience"), "{}", reply.text());
    // No authorization server to publish: clients could not find where to get a token.
    let reply = add_as(&host.with_variable("jwt_issuer", ""), "t");
    assert_eq!(reply.status, 500);
    assert!(reply.text().contains("jwt_issuer"), "{}", reply.text());
}

#[test]
fn the_metadata_names_the_issuer() {
    let (host, _) = introspection_host();
    let doc = send(
        &host,
        "GET",
        "/.well-known/oauth-protected-resource/mcp",
        &[],
        b"",
    )
    .json();
    assert_eq!(doc["authorization_servers"], json!(["https://as.test/"]));
    assert_eq!(doc["resource"], "http://mcp.test/mcp");
}
