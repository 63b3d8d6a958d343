//! Token validation: the static and jwt policies, scopes, and the protected resource
//! metadata that describes them. Tokens are minted here with an independent JWT
//! implementation (jsonwebtoken) from keys generated for this run.

mod common;

use std::sync::OnceLock;

use common::*;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use remote_mcp_server::host::memory::{MemoryHost, MemoryStore};
use serde_json::{json, Value};

const ISSUER: &str = "https://issuer.test/";
const JWKS_URL: &str = "https://issuer.test/jwks";
/// The memory host's clock, in seconds.
const NOW: u64 = 1_767_225_600;

struct Key {
    encoding: EncodingKey,
    algorithm: Algorithm,
    kid: &'static str,
    /// The public JWK, when it is not derived from `encoding`.
    public: Option<Value>,
}

impl Key {
    fn jwk(&self) -> Value {
        if let Some(public) = &self.public {
            return public.clone();
        }
        let mut jwk = Jwk::from_encoding_key(&self.encoding, self.algorithm).unwrap();
        jwk.common.key_id = Some(self.kid.to_string());
        serde_json::to_value(jwk).unwrap()
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.to_string());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

struct Keys {
    rsa: Key,
    ec: Key,
    ed: Key,
    /// A second RSA key: the issuer's next key after rotation.
    next: Key,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let mut rng = rand::thread_rng();
        let rsa_key = |kid| {
            let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
            Key {
                encoding: EncodingKey::from_rsa_der(private.to_pkcs1_der().unwrap().as_bytes()),
                algorithm: Algorithm::RS256,
                kid,
                public: None,
            }
        };
        let ec = p256::ecdsa::SigningKey::random(&mut rng);
        let ed = ed25519_dalek::SigningKey::generate(&mut rng);
        Keys {
            rsa: rsa_key("rsa-1"),
            ec: Key {
                encoding: EncodingKey::from_ec_der(
                    p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&ec)
                        .unwrap()
                        .as_bytes(),
                ),
                algorithm: Algorithm::ES256,
                kid: "ec-1",
                public: None,
            },
            ed: Key {
                encoding: EncodingKey::from_ed_der(ed.to_pkcs8_der().unwrap().as_bytes()),
                algorithm: Algorithm::EdDSA,
                kid: "ed-1",
                public: Some(json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "alg": "EdDSA",
                    "kid": "ed-1",
                    "x": base64::Engine::encode(
                        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                        ed.verifying_key().as_bytes()
                    ),
                })),
            },
            next: rsa_key("rsa-2"),
        }
    })
}

fn jwks(keys: &[&Key]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

fn claims(sub: &str, scope: &str) -> Value {
    json!({
        "iss": ISSUER,
        "sub": sub,
        "aud": "http://mcp.test/mcp",
        "iat": NOW,
        "exp": NOW + 3600,
        "scope": scope,
    })
}

/// A Spin-like host (with a store) in jwt mode, the issuer's JWKS published.
fn jwt_host() -> MemoryHost {
    jwt_host_on(&MemoryStore::new())
}

/// [`jwt_host`] on the given store.
fn jwt_host_on(store: &std::sync::Arc<MemoryStore>) -> MemoryHost {
    let k = keys();
    let host = host()
        .with_store(store.clone())
        .with_variable("auth_mode", "jwt")
        .with_variable("public_url", ORIGIN)
        .with_variable("jwt_issuer", ISSUER)
        .with_variable("jwt_jwks_url", JWKS_URL);
    host.web().publish(JWKS_URL, &jwks(&[&k.rsa, &k.ec, &k.ed]));
    host
}

// --- static -------------------------------------------------------------------------------

#[test]
fn static_tokens_accept_exactly_the_configured_ones() {
    let entries = format!(
        "alice=sha256:{} token:read, ci=plain:local-dev-token",
        sha256_hex("alice-secret-token")
    );
    let host = host()
        .with_variable("auth_mode", "static")
        .with_variable("static_tokens", &entries);

    let alice = post_as(
        &host,
        "Bearer alice-secret-token",
        &[],
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "getToken", "arguments": {}}}),
    );
    assert_eq!(
        alice.json()["result"]["content"][0]["text"],
        "User's token: Bearer alice-secret-token"
    );
    let ci = post_as(
        &host,
        "Bearer local-dev-token",
        &[],
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    );
    assert_eq!(ci.status, 200);
    // ci has no token:read, so getToken is not offered.
    let listed = ci.json();
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, tool_names_without_get_token());

    for wrong in [
        "alice-secret-tokem",
        "local-dev-token2",
        "sha256",
        &sha256_hex("alice-secret-token"),
    ] {
        let reply = post_as(
            &host,
            &bearer_of(wrong),
            &[],
            &json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        );
        assert_refused(&reply, "not one this server accepts");
        assert!(!reply.text().contains(wrong));
    }
    let logs = host.logs().join("\n");
    assert!(
        logs.contains("\"principal\":\"alice\"") && logs.contains("\"principal\":\"ci\""),
        "{logs}"
    );
    assert!(!logs.contains("alice-secret-token") && !logs.contains("local-dev-token"));
}

#[test]
fn static_misconfiguration_fails_closed_without_echoing_tokens() {
    let cases = [
        ("", "at least one token"),
        ("alice", "entry 1 must look like"),
        ("alice=sha256:abc", "64 hex digits"),
        (
            "alice=secret-in-config",
            "must start with sha256: or plain:",
        ),
        ("bad label=plain:x", "label"),
    ];
    for (entries, words) in cases {
        let host = host()
            .with_variable("auth_mode", "static")
            .with_variable("static_tokens", entries);
        let reply = post(
            &host,
            &[],
            &json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        );
        assert_eq!(reply.status, 500, "{entries:?}");
        let description = reply.json()["error_description"]
            .as_str()
            .unwrap()
            .to_string();
        // The client learns which variable; the operator's log says what is wrong.
        assert!(description.contains("`static_tokens`"), "{description}");
        let logs = host.logs().join("\n");
        assert!(
            logs.contains("`static_tokens`") && logs.contains(words),
            "{logs}"
        );
        assert!(!description.contains("secret-in-config"));
        assert!(!logs.contains("secret-in-config"));
    }
}

// --- jwt ----------------------------------------------------------------------------------

#[test]
fn each_signature_algorithm_verifies() {
    let host = jwt_host();
    let k = keys();
    for key in [&k.rsa, &k.ec, &k.ed] {
        let reply = add_as(&host, &key.sign(&claims("alice", "")));
        assert_eq!(reply.status, 200, "{:?}: {}", key.algorithm, reply.text());
        assert_eq!(reply.json()["result"]["content"][0]["text"], "3");
    }
    let secret = "an-hs256-secret-of-at-least-32-chars!";
    let hs = host.clone().with_variable("jwt_hs256_secret", secret);
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims("svc", ""),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    assert_eq!(add_as(&hs, &token).status, 200);
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims("svc", ""),
        &EncodingKey::from_secret(b"another-secret-of-at-least-32-chars!!"),
    )
    .unwrap();
    assert_refused(&add_as(&hs, &forged), "signature does not verify");
}

fn hand_made(header: Value, payload: Value, signature: &[u8]) -> String {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes()),
        b64(signature)
    )
}

#[test]
fn weak_or_foreign_algorithms_are_refused() {
    let host = jwt_host();
    let k = keys();
    let body = claims("mallory", "token:read");
    assert_refused(
        &add_as(&host, &hand_made(json!({"alg": "none"}), body.clone(), b"")),
        "alg none",
    );
    // HS256 needs a configured secret; the RSA public key must not serve as one.
    let public_n = k.rsa.jwk()["n"].as_str().unwrap().to_string();
    let confused = jsonwebtoken::encode(
        &Header {
            kid: Some("rsa-1".into()),
            ..Header::new(Algorithm::HS256)
        },
        &body,
        &EncodingKey::from_secret(public_n.as_bytes()),
    )
    .unwrap();
    assert_refused(&add_as(&host, &confused), "HS256");
    // A signature by the EC key presented under the RSA key's id.
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("rsa-1".into());
    let swapped = jsonwebtoken::encode(&header, &body, &k.ec.encoding).unwrap();
    assert_refused(&add_as(&host, &swapped), "unknown kid");
    assert_refused(
        &add_as(&host, &hand_made(json!({"alg": "PS512"}), body, b"x")),
        "not accepted",
    );

    // A real signature over another payload: the subject was swapped after signing.
    for key in [&k.rsa, &k.ec, &k.ed] {
        let genuine = key.sign(&claims("alice", ""));
        let forged_payload = hand_made(json!({}), claims("admin", "token:read"), b"");
        let payload = forged_payload.split('.').nth(1).unwrap();
        let parts: Vec<&str> = genuine.split('.').collect();
        let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
        assert_refused(&add_as(&host, &tampered), "signature does not verify");
    }
}

#[test]
fn claims_must_fit_this_server_and_the_clock() {
    let host = jwt_host();
    let rsa = &keys().rsa;
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims("alice", "");
        change(&mut c);
        add_as(&host, &rsa.sign(&c))
    };
    assert_refused(&with(&|c| c["iss"] = json!("https://evil.test/")), "(iss)");
    assert_refused(
        &with(&|c| c["aud"] = json!("https://other.test/mcp")),
        "aud does not name this server",
    );
    assert_eq!(
        with(&|c| c["aud"] = json!(["https://other.test", "http://mcp.test"])).status,
        200
    );
    assert_refused(&with(&|c| c["exp"] = json!(NOW - 61)), "expired");
    assert_eq!(
        with(&|c| c["exp"] = json!(NOW - 59)).status,
        200,
        "within the 60 s leeway"
    );
    assert_refused(&with(&|c| c["nbf"] = json!(NOW + 120)), "not valid yet");
    assert_refused(
        &with(&|c| {
            c.as_object_mut().unwrap().remove("exp");
        }),
        "no expiry",
    );
    assert_refused(
        &with(&|c| {
            c.as_object_mut().unwrap().remove("sub");
        }),
        "no subject",
    );
    // A configured audience replaces the default ones.
    let strict = host.clone().with_variable("jwt_audience", "api://mcp");
    assert_refused(
        &add_as(&strict, &rsa.sign(&claims("alice", ""))),
        "aud does not name this server",
    );
}

#[test]
fn malformed_tokens_get_precise_refusals() {
    let host = jwt_host();
    assert_refused(&add_as(&host, "not-a-jwt"), "three dot-separated parts");
    assert_refused(&add_as(&host, "a.b.c"), "not base64url");
    // A forged signature over claims that do not fit is refused for the claims, before
    // any key is looked at.
    assert_refused(&add_as(&host, "eyJhbGciOiJSUzI1NiJ9.e30.AAAA"), "(iss)");
    let huge = format!("{}.{}.x", "a".repeat(5000), "b".repeat(5000));
    assert_eq!(add_as(&host, &huge).status, 400);
}

#[test]
fn keys_are_cached_and_a_rotation_is_picked_up_once() {
    let host = jwt_host();
    let k = keys();
    for _ in 0..3 {
        assert_eq!(add_as(&host, &k.rsa.sign(&claims("alice", ""))).status, 200);
    }
    assert_eq!(
        host.web().fetches(JWKS_URL),
        1,
        "cached after the first fetch"
    );

    // The issuer rotates to a new key; the first token signed with it triggers one refetch,
    // at once (no wait for the cached keys to age).
    host.advance_ms(1_000);
    host.web().publish(JWKS_URL, &jwks(&[&k.next]));
    assert_eq!(
        add_as(&host, &k.next.sign(&claims("alice", ""))).status,
        200
    );
    assert_eq!(host.web().fetches(JWKS_URL), 2);

    // A flood of unknown key ids does not hammer the issuer: the refetch for the rotation
    // holds off the next for 30 s.
    let mut header = Header::new(Algorithm::RS256);
    for n in 0..20 {
        header.kid = Some(format!("forged-{n}"));
        let token = jsonwebtoken::encode(&header, &claims("mallory", ""), &k.rsa.encoding).unwrap();
        assert_refused(&add_as(&host, &token), "unknown kid");
    }
    assert_eq!(
        host.web().fetches(JWKS_URL),
        2,
        "no refetch within 30 s of one for an unknown kid"
    );
    host.advance_ms(31_000);
    header.kid = Some("forged-again".into());
    assert_refused(
        &add_as(
            &host,
            &jsonwebtoken::encode(&header, &claims("m", ""), &k.rsa.encoding).unwrap(),
        ),
        "unknown kid",
    );
    assert_eq!(
        host.web().fetches(JWKS_URL),
        3,
        "one refetch once the interval passed"
    );

    // Once the cache is stale, an unknown kid refetches at once (no 30 s wait).
    let quick = host.clone().with_variable("jwks_cache_seconds", "1");
    quick.advance_ms(2_000);
    header.kid = Some("forged-stale".into());
    assert_refused(
        &add_as(
            &quick,
            &jsonwebtoken::encode(&header, &claims("m", ""), &k.rsa.encoding).unwrap(),
        ),
        "unknown kid",
    );
    assert_eq!(host.web().fetches(JWKS_URL), 4);
}

#[test]
fn an_unreachable_issuer_is_503_and_stale_keys_are_used_meanwhile() {
    let host = jwt_host();
    let token = keys().rsa.sign(&claims("alice", ""));
    host.web().take_down(JWKS_URL);
    let reply = add_as(&host, &token);
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("5"));
    assert!(reply.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("could not be checked"));

    host.web().publish(JWKS_URL, &jwks(&[&keys().rsa]));
    host.advance_ms(30_000); // after the failed fetch's back-off
    assert_eq!(add_as(&host, &token).status, 200);
    host.advance_ms(600_000); // the cache is stale now
    host.web().take_down(JWKS_URL);
    assert_eq!(
        add_as(&host, &token).status,
        200,
        "stale keys beat no service"
    );
}

#[test]
fn without_a_store_keys_are_fetched_per_request() {
    let host = host()
        .with_variable("auth_mode", "jwt")
        .with_variable("public_url", ORIGIN)
        .with_variable("jwt_issuer", ISSUER)
        .with_variable("jwt_jwks_url", JWKS_URL);
    host.web().publish(JWKS_URL, &jwks(&[&keys().ec]));
    let token = keys().ec.sign(&claims("alice", ""));
    assert_eq!(add_as(&host, &token).status, 200);
    assert_eq!(add_as(&host, &token).status, 200);
    assert_eq!(host.web().fetches(JWKS_URL), 2);
    // An inline JWKS needs no fetch at all.
    let inline = host
        .clone()
        .with_variable("jwt_jwks_url", "")
        .with_variable("jwt_jwks", &jwks(&[&keys().ec]));
    assert_eq!(add_as(&inline, &token).status, 200);
    assert_eq!(host.web().fetches(JWKS_URL), 2);
}

#[test]
fn jwt_misconfiguration_fails_closed_naming_the_variable() {
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("jwt_jwks_url", JWKS_URL)], "`jwt_issuer`"),
        // The audience never comes from the request's Host: without jwt_audience or
        // public_url there is none to check against.
        (
            &[
                ("jwt_issuer", ISSUER),
                ("jwt_jwks_url", JWKS_URL),
                ("public_url", ""),
            ],
            "`jwt_audience`",
        ),
        (&[("jwt_issuer", ISSUER)], "`jwt_jwks_url`"),
        (
            &[("jwt_issuer", ISSUER), ("jwt_jwks_url", "issuer.test/jwks")],
            "`jwt_jwks_url`",
        ),
        (
            &[("jwt_issuer", ISSUER), ("jwt_jwks", "{not json")],
            "`jwt_jwks`",
        ),
        (
            &[("jwt_issuer", ISSUER), ("jwt_hs256_secret", "tiny-s3cret")],
            "`jwt_hs256_secret`",
        ),
    ];
    for (variables, named) in cases {
        let mut host = host()
            .with_variable("auth_mode", "jwt")
            .with_variable("public_url", ORIGIN);
        for (name, value) in variables {
            host = host.with_variable(name, value);
        }
        let reply = add_as(&host, "whatever");
        assert_eq!(reply.status, 500, "{variables:?}");
        let description = reply.json()["error_description"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(description.contains(named), "{description}");
        assert!(
            !description.contains("tiny-s3cret"),
            "secrets are not echoed"
        );
    }
}

// --- scopes -------------------------------------------------------------------------------

#[test]
fn jwt_lists_every_tool_so_a_client_can_step_up_for_one() {
    // A jwt client lacking a tool's scope still sees the tool: calling it gets the 403 that
    // tells it which scope to ask its authorization server for (static tokens, which cannot
    // gain scopes, see only what they may call: static_tokens_accept_exactly_the_configured_ones).
    let host = jwt_host();
    let rsa = &keys().rsa;
    let list = |scope: &str| {
        modern_as(
            &host,
            &bearer_of(&rsa.sign(&claims("alice", scope))),
            "tools/list",
            json!({}),
        )
        .json()
    };
    let without = list("");
    assert_schema("2026-07-28", "ListToolsResultResponse", &without);
    let names: Vec<&str> = without["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, tool_names());
    assert_eq!(
        without["result"]["cacheScope"], "public",
        "every caller sees the same list"
    );
    assert_eq!(
        without["result"]["tools"],
        list("token:read other")["result"]["tools"]
    );
}

#[test]
fn a_call_without_its_scope_is_403_naming_the_scope() {
    let host = jwt_host();
    let token = keys().rsa.sign(&claims("alice", ""));
    let reply = modern_as(
        &host,
        &bearer_of(&token),
        "tools/call",
        json!({"name": "getToken", "arguments": {}}),
    );
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"mcp\", resource_metadata=\"http://mcp.test/.well-known/oauth-protected-resource/mcp\", error=\"insufficient_scope\", error_description=\"This call needs the scope token:read.\", scope=\"token:read\"")
    );
    let body = reply.json();
    assert_schema("2026-07-28", "JSONRPCErrorResponse", &body);
    assert_eq!(body["id"], 7);
    assert_eq!(
        body["error"]["data"]["requiredScopes"],
        json!(["token:read"])
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("token:read"));

    let granted = keys().rsa.sign(&claims("alice", "token:read"));
    let reply = modern_as(
        &host,
        &bearer_of(&granted),
        "tools/call",
        json!({"name": "getToken", "arguments": {}}),
    );
    assert_eq!(
        reply.json()["result"]["content"][0]["text"],
        format!("User's token: Bearer {granted}")
    );

    // With required_scopes, the challenge names every scope the call needs (the TypeScript
    // SDK re-authorizes for exactly those), the message only the missing one.
    let based = host.clone().with_variable("required_scopes", "mcp");
    let reply = modern_as(
        &based,
        &bearer_of(&keys().rsa.sign(&claims("alice", "mcp"))),
        "tools/call",
        json!({"name": "getToken", "arguments": {}}),
    );
    assert_eq!(reply.status, 403);
    assert!(reply
        .header("www-authenticate")
        .unwrap()
        .ends_with("scope=\"mcp token:read\""));
    let body = reply.json();
    assert_eq!(
        body["error"]["data"]["requiredScopes"],
        json!(["mcp", "token:read"])
    );
    assert!(!body["error"]["message"].as_str().unwrap().contains("mcp "));

    // Scopes are configurable per tool.
    let strict = host
        .clone()
        .with_variable("tool_scopes", "add=math getToken=token:read");
    assert_eq!(add_as(&strict, &granted).status, 403);
    let bad = host.clone().with_variable("tool_scopes", "subtract=math");
    assert_eq!(add_as(&bad, &granted).status, 500);
}

#[test]
fn passthrough_checks_no_scopes() {
    let host = host();
    let reply = modern(
        &host,
        "tools/call",
        json!({"name": "getToken", "arguments": {}}),
    );
    assert_eq!(reply.status, 200);
}

#[test]
fn sessions_follow_the_subject_not_the_token() {
    let host = jwt_host();
    let rsa = &keys().rsa;
    let first = rsa.sign(&claims("alice", "token:read"));
    let init = post_as(
        &host,
        &bearer_of(&first),
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
    // A refreshed token of the same subject continues the session.
    let mut refreshed = claims("alice", "token:read");
    refreshed["exp"] = json!(NOW + 7200);
    assert_eq!(ping(&rsa.sign(&refreshed)), 200);
    // Another subject, even with a valid token, does not.
    assert_eq!(ping(&rsa.sign(&claims("bob", "token:read"))), 404);
    let logs = host.logs().join("\n");
    assert!(logs.contains("\"principal\":\"alice\""));
    assert!(!logs.contains(&first), "tokens never reach the log");
}

#[test]
fn sse_refuses_a_call_without_its_scope_before_acknowledging_it() {
    let store = MemoryStore::new();
    let base = instance(&store)
        .with_variable("auth_mode", "jwt")
        .with_variable("public_url", ORIGIN)
        .with_variable("jwt_issuer", ISSUER)
        .with_variable("jwt_jwks", &jwks(&[&keys().rsa]));
    let token = keys().rsa.sign(
        &json!({"iss": ISSUER, "sub": "alice", "aud": "http://mcp.test", "exp": 4_000_000_000u64}),
    );
    let auth = bearer_of(&token);
    let mut stream = Stream::open(base.clone(), "/sse", &[("authorization", &auth)]);
    let endpoint = stream
        .next_event(std::time::Duration::from_secs(5))
        .unwrap()
        .data;
    let reply = send(&base, "POST", &endpoint, &[("authorization", &auth), ("content-type", "application/json")],
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "getToken", "arguments": {}}}).to_string().as_bytes());
    assert_eq!(reply.status, 403);
    assert!(reply
        .header("www-authenticate")
        .unwrap()
        .contains("scope=\"token:read\""));
    assert_eq!(reply.json()["id"], 3);
    assert!(reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("token:read"));
    stream.hang_up();
}

// --- metadata -----------------------------------------------------------------------------

#[test]
fn protected_resource_metadata_reflects_the_configuration() {
    let host = jwt_host().with_variable("resource_documentation", "https://docs.example.com/mcp");
    let doc = send(
        &host,
        "GET",
        "/.well-known/oauth-protected-resource/mcp",
        &[],
        b"",
    )
    .json();
    assert_eq!(doc["resource"], "http://mcp.test/mcp");
    assert_eq!(doc["authorization_servers"], json!([ISSUER]));
    assert!(
        doc.get("scopes_supported").is_none(),
        "a tool's scope is asked for when it is needed, not up front: {doc}"
    );
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    assert_eq!(
        doc["resource_documentation"],
        "https://docs.example.com/mcp"
    );

    let passthrough = send(
        &common::host(),
        "GET",
        "/.well-known/oauth-protected-resource",
        &[],
        b"",
    )
    .json();
    assert!(
        passthrough.get("scopes_supported").is_none(),
        "not enforced, so not advertised"
    );
}

#[test]
fn required_scopes_are_what_a_first_call_asks_for_and_every_call_needs() {
    let host = jwt_host().with_variable("required_scopes", "mcp  mcp,files:read");
    // The 401 names them (clients ask for exactly those first), and so does the metadata.
    let refused = send(&host, "POST", "/mcp", &[], b"{}");
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.header("www-authenticate"),
        Some("Bearer realm=\"mcp\", resource_metadata=\"http://mcp.test/.well-known/oauth-protected-resource/mcp\", scope=\"mcp files:read\"")
    );
    let expired = {
        let mut c = claims("alice", "mcp files:read");
        c["exp"] = json!(NOW - 3600);
        keys().rsa.sign(&c)
    };
    let stale = add_as(&host, &expired);
    assert_eq!(stale.status, 401);
    assert!(stale
        .header("www-authenticate")
        .unwrap()
        .ends_with("error=\"invalid_token\", error_description=\"The JWT has expired.\", scope=\"mcp files:read\""));
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource/sse",
    ] {
        let doc = send(&host, "GET", path, &[], b"").json();
        assert_eq!(
            doc["scopes_supported"],
            json!(["mcp", "files:read"]),
            "{path}"
        );
    }
    // A valid token without them is refused before anything runs, naming them.
    let partial = add_as(&host, &keys().rsa.sign(&claims("alice", "mcp token:read")));
    assert_eq!(partial.status, 403);
    assert_eq!(
        partial.header("www-authenticate"),
        Some("Bearer realm=\"mcp\", resource_metadata=\"http://mcp.test/.well-known/oauth-protected-resource/mcp\", error=\"insufficient_scope\", error_description=\"This call needs the scope mcp files:read.\", scope=\"mcp files:read\"")
    );
    assert_eq!(partial.json()["error"], "insufficient_scope");
    assert_eq!(
        add_as(
            &host,
            &keys().rsa.sign(&claims("alice", "files:read other mcp"))
        )
        .status,
        200
    );
    // A scope that cannot be one fails closed, naming the variable.
    let bad = jwt_host().with_variable("required_scopes", "mcp \"quoted\"");
    let reply = add_as(&bad, &keys().rsa.sign(&claims("alice", "mcp")));
    assert_eq!(reply.status, 500);
    assert!(reply.text().contains("required_scopes"), "{}", reply.text());
    // Passthrough grants everything: the variable changes nothing there.
    let open = common::host().with_variable("required_scopes", "mcp");
    assert_eq!(
        send(
            &open,
            "GET",
            "/.well-known/oauth-protected-resource/mcp",
            &[],
            b""
        )
        .json()
        .get("scopes_supported"),
        None
    );
}

// --- what a token can make the server do --------------------------------------------------

/// A token with any header and claims, signed by `key` (so only what is checked is wrong).
fn signed(key: &Key, header: Value, claims: &Value) -> String {
    use base64::Engine;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
    };
    let signing_input = format!("{}.{}", b64(&header), b64(claims));
    let signature =
        jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key.encoding, key.algorithm).unwrap();
    format!("{signing_input}.{signature}")
}

/// jwt mode without a store, like the portable build.
fn portable_jwt_host() -> MemoryHost {
    let host = host()
        .with_variable("auth_mode", "jwt")
        .with_variable("public_url", ORIGIN)
        .with_variable("jwt_issuer", ISSUER)
        .with_variable("jwt_jwks_url", JWKS_URL);
    host.web().publish(JWKS_URL, &jwks(&[&keys().rsa]));
    host
}

#[test]
fn tokens_refused_by_their_own_content_cause_no_key_fetch() {
    let rsa = &keys().rsa;
    let header = json!({"alg": "RS256", "kid": "rsa-1"});
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims("mallory", "token:read");
        change(&mut c);
        hand_made(header.clone(), c, b"forged")
    };
    let junk = [
        ("eyJhbGciOiJSUzI1NiJ9.e30.AA".to_string(), "(iss)"),
        (with(&|c| c["iss"] = json!("https://evil.test/")), "(iss)"),
        (with(&|c| c["aud"] = json!("https://evil.test/mcp")), "aud"),
        (with(&|c| c["exp"] = json!(NOW - 120)), "expired"),
        (with(&|c| c["nbf"] = json!(NOW + 120)), "not valid yet"),
        (with(&|c| c["exp"] = json!("soon")), "exp is not a number"),
        (
            hand_made(json!({"kid": "rsa-1"}), claims("m", ""), b"x"),
            "no algorithm",
        ),
        (
            hand_made(json!({"alg": "PS256"}), claims("m", ""), b"x"),
            "not accepted",
        ),
        (
            hand_made(
                json!({"alg": "RS256", "crit": ["b64"], "b64": false}),
                claims("m", ""),
                b"x",
            ),
            "(crit)",
        ),
        (
            format!(
                "{}.bm90IGpzb24.AA",
                with(&|_| {}).split('.').next().unwrap()
            ),
            "payload is not JSON",
        ),
    ];
    for host in [jwt_host(), portable_jwt_host()] {
        for (token, words) in &junk {
            assert_refused(&add_as(&host, token), words);
        }
        assert_eq!(
            host.web().fetches(JWKS_URL),
            0,
            "no fetch for a token refused by its own content"
        );
        // A token that fits still gets its keys, and the claims hold after the signature.
        assert_eq!(add_as(&host, &rsa.sign(&claims("alice", ""))).status, 200);
        assert_eq!(host.web().fetches(JWKS_URL), 1);
    }
}

#[test]
fn critical_extensions_and_non_numeric_times_are_refused_even_when_signed() {
    let host = jwt_host();
    let rsa = &keys().rsa;
    let header = json!({"alg": "RS256", "kid": "rsa-1"});
    assert_eq!(
        add_as(&host, &signed(rsa, header.clone(), &claims("alice", ""))).status,
        200,
        "the hand-signed token is valid as such"
    );
    assert_refused(
        &add_as(
            &host,
            &signed(
                rsa,
                json!({"alg": "RS256", "kid": "rsa-1", "crit": ["exp-ext"], "exp-ext": 1}),
                &claims("alice", ""),
            ),
        ),
        "(crit)",
    );
    let mut later = claims("alice", "");
    later["nbf"] = json!("tomorrow");
    assert_refused(
        &add_as(&host, &signed(rsa, header.clone(), &later)),
        "nbf is not a number",
    );
    let mut never = claims("alice", "");
    never["exp"] = json!(null);
    assert_refused(
        &add_as(&host, &signed(rsa, header, &never)),
        "exp is not a number",
    );
}

#[test]
fn a_failed_fetch_is_not_repeated_by_any_instance_for_a_while() {
    let first = jwt_host();
    // Another instance: the same store, the same issuer, the same clock.
    let second = first.clone();
    let token = keys().rsa.sign(&claims("alice", ""));
    first.web().take_down(JWKS_URL);
    for host in [&first, &second, &first, &second] {
        assert_eq!(add_as(host, &token).status, 503);
    }
    assert_eq!(first.web().fetches(JWKS_URL), 1, "one fetch, then back-off");
    first.web().publish(JWKS_URL, &jwks(&[&keys().rsa]));
    assert_eq!(add_as(&second, &token).status, 503, "still backing off");
    first.advance_ms(30_000);
    assert_eq!(add_as(&second, &token).status, 200);
    assert_eq!(first.web().fetches(JWKS_URL), 2);

    // With stale keys cached, a failed refetch serves them and backs off too.
    first.advance_ms(600_000);
    first.web().take_down(JWKS_URL);
    for host in [&first, &second, &first] {
        assert_eq!(add_as(host, &token).status, 200);
    }
    assert_eq!(first.web().fetches(JWKS_URL), 3);
    let failures: Vec<String> = first
        .logs()
        .into_iter()
        .filter(|l| l.contains("jwt:") && l.contains(JWKS_URL))
        .collect();
    assert_eq!(
        failures.len(),
        2,
        "each failed fetch is logged once: {failures:?}"
    );
}

#[test]
fn cached_keys_stop_serving_past_the_maximum_staleness() {
    let host = jwt_host();
    let token = keys().rsa.sign(&claims("alice", ""));
    assert_eq!(add_as(&host, &token).status, 200);
    host.web().take_down(JWKS_URL);
    host.advance_ms(24 * 3_600_000 - 60_000);
    let token = keys().rsa.sign(&json!({
        "iss": ISSUER, "sub": "alice", "aud": "http://mcp.test/mcp",
        "exp": NOW + 2 * 86_400,
    }));
    assert_eq!(add_as(&host, &token).status, 200, "a day old: still served");
    host.advance_ms(120_000);
    let reply = add_as(&host, &token);
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(reply.header("retry-after"), Some("5"));
}

#[test]
fn an_instance_keeps_the_issuers_keys_in_memory_while_they_are_fresh() {
    use remote_mcp_server::web::App;
    let store = MemoryStore::new();
    let host = jwt_host_on(&store);
    let token = bearer_of(&keys().rsa.sign(&claims("alice", "")));
    let add = || {
        modern_request(
            &token,
            "tools/call",
            json!({"name": "add", "arguments": {"a": 1, "b": 2}}),
        )
    };
    let app = block_on(App::new(&host));
    assert_eq!(block_on(serve_on(&app, add())).status, 200);
    assert_eq!(host.web().fetches(JWKS_URL), 1);
    // The next request of the instance neither fetches nor reads the store for the keys
    // (a stateless call touches the store for nothing else).
    let before = store.operations();
    assert_eq!(block_on(serve_on(&app, add())).status, 200);
    assert_eq!(store.operations(), before);
    // Another instance has them from the shared cache: a read, no fetch.
    let other = block_on(App::new(&host));
    assert_eq!(block_on(serve_on(&other, add())).status, 200);
    assert!(store.operations().0 > before.0);
    assert_eq!(host.web().fetches(JWKS_URL), 1);
    // Past jwks_cache_seconds (300) the memory no longer serves: the cache's rules
    // decide, and the keys are fetched again.
    host.advance_ms(301_000);
    let token = bearer_of(&keys().rsa.sign(&json!({
        "iss": ISSUER, "sub": "alice", "aud": "http://mcp.test/mcp", "exp": NOW + 7200,
    })));
    let late = modern_request(
        &token,
        "tools/call",
        json!({"name": "add", "arguments": {"a": 1, "b": 2}}),
    );
    assert_eq!(block_on(serve_on(&app, late)).status, 200);
    assert_eq!(host.web().fetches(JWKS_URL), 2);
}

#[test]
fn refusals_name_no_urls_and_the_log_has_the_detail() {
    let description = |reply: &Reply| {
        let body = reply.json()["error_description"]
            .as_str()
            .unwrap()
            .to_string();
        let header = reply.header("www-authenticate").unwrap_or_default();
        let in_header = header
            .split_once("error_description=")
            .map(|(_, d)| d.to_string())
            .unwrap_or_default();
        format!("{body} {in_header}")
    };
    // The issuer unreachable, or answering with something that is not a JWKS.
    for served in [None, Some("<html>502 Bad Gateway</html>")] {
        let host = jwt_host();
        match served {
            Some(body) => host.web().publish(JWKS_URL, body),
            None => host.web().take_down(JWKS_URL),
        }
        let reply = add_as(&host, &keys().rsa.sign(&claims("alice", "")));
        assert_eq!(reply.status, 503);
        let shown = description(&reply);
        assert!(
            !shown.contains("://") && !shown.contains("issuer.test"),
            "{shown}"
        );
        assert!(shown.contains("could not be checked"), "{shown}");
        assert!(
            host.logs().iter().any(|l| l.contains(JWKS_URL)),
            "the log says what failed: {:?}",
            host.logs()
        );
    }
    // A token for another audience is not told which audiences this server accepts.
    let strict = jwt_host().with_variable("jwt_audience", "api://internal-mcp");
    let reply = add_as(&strict, &keys().rsa.sign(&claims("alice", "")));
    assert_eq!(reply.status, 401);
    let shown = description(&reply);
    assert!(!shown.contains("://"), "{shown}");
}

/// The journey of a client that follows the metadata (RFC 9728, RFC 8707), for each
/// protected endpoint: the 401 names that endpoint's own document, whose `resource` is
/// exactly the endpoint's URL (a strict client discards any other, RFC 9728 §3.3); a token
/// the issuer minted for that resource is accepted. Both with the audiences derived from
/// `public_url` and with `jwt_audience` naming the `/mcp` URL alone, the setup under which
/// clients that followed the root document (whose resource is the origin) were refused.
#[test]
fn a_client_that_follows_the_challenge_gets_a_token_this_server_accepts() {
    let k = keys();
    let pinned = jwt_host().with_variable("jwt_audience", "http://mcp.test/mcp");
    for (host, endpoints) in [(jwt_host(), &["/mcp", "/sse"][..]), (pinned, &["/mcp"][..])] {
        for endpoint in endpoints {
            let refused = match *endpoint {
                "/sse" => send(
                    &host,
                    "GET",
                    "/sse",
                    &[("accept", "text/event-stream")],
                    b"",
                ),
                _ => send(
                    &host,
                    "POST",
                    "/mcp",
                    &[
                        ("content-type", "application/json"),
                        ("accept", "application/json, text/event-stream"),
                    ],
                    rpc(1, "ping", json!({})).to_string().as_bytes(),
                ),
            };
            assert_eq!(refused.status, 401, "{endpoint}");
            let challenge = refused.header("www-authenticate").unwrap().to_string();
            let document = challenge
                .split("resource_metadata=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap()
                .to_string();
            assert_eq!(
                document,
                format!("http://mcp.test/.well-known/oauth-protected-resource{endpoint}")
            );
            let path = document.trim_start_matches("http://mcp.test");
            let metadata = send(&host, "GET", path, &[], b"").json();
            let resource = metadata["resource"].as_str().unwrap().to_string();
            assert_eq!(resource, format!("http://mcp.test{endpoint}"));

            let mut claims = claims("alice", "");
            claims["aud"] = json!(resource);
            let token = k.rsa.sign(&claims);
            match *endpoint {
                "/sse" => {
                    let stream = sse_stream(&host, &bearer_of(&token), None);
                    assert_eq!(stream.status, 200, "{endpoint}");
                    stream.hang_up();
                }
                _ => assert_eq!(add_as(&host, &token).status, 200),
            }
        }
    }
}
