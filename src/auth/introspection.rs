//! `introspection` mode: tokens this server cannot read (opaque tokens, or JWTs it has no
//! keys for) are judged by the authorization server that issued them, through its
//! introspection endpoint (RFC 7662). This server authenticates there as a client of its
//! own (HTTP Basic, `introspection_client_id` and `introspection_client_secret`) and sends
//! the token with `token_type_hint=access_token`.
//!
//! The answer is judged as a JWT's claims are ([`super::jwt::check`]): `active` must be
//! true, `aud` must name this server, `exp` and `nbf` must fit the clock, `iss` (when the
//! answer names one and `jwt_issuer` is set) must be the issuer; the principal is `sub`
//! (a token issued to a client for itself, with no user, is its `client_id`, as a principal
//! of its own kind), and the scopes are `scope`. A token bound to a key (`cnf`: DPoP, mTLS)
//! is refused: this server checks no proof of possession. So is one the answer marks as
//! something else than a bearer access token (`token_type`, `token_use`, `typ`: a refresh
//! token presented as an access token).
//!
//! Active answers are cached in the shared store under a digest of the endpoint, this
//! server's client id and the token (never the token itself), until the smaller of
//! `introspection_cache_seconds` and the token's `exp`, so a token the authorization server
//! revokes is refused within that time. Inactive answers are not cached: made-up tokens
//! would only fill the store. A request to the endpoint has the host's deadlines (as the
//! JWKS fetch). When the endpoint cannot be reached, fails (5xx) or refuses this server's
//! credentials, no instance asks again for [`FAILED_BACKOFF_MS`], and tokens without a
//! cached answer get 503 with `Retry-After` meanwhile; an answer about one request (400,
//! 413, 429) does not hold the others off. Without a store (the portable build) every
//! request asks.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::jwt::{check, invalid, Claims, Rules};
use super::policy::IntrospectionSettings;
use super::AuthError;
use crate::host::{form_encode, Host, KeyValue, Outbound};
use crate::store::{expiry, keys};

/// How long after a failed request no instance asks the endpoint again. Shorter than the
/// JWKS fetch's back-off: cached keys serve every token meanwhile, while here every token
/// without a cached answer is refused until the next try (the 503's `Retry-After: 5`).
pub const FAILED_BACKOFF_MS: u64 = 5_000;

/// The answer's members this server judges: what is cached (the rest is dropped).
const KEPT: [&str; 13] = [
    "active",
    "token_use",
    "typ",
    "iss",
    "aud",
    "exp",
    "nbf",
    "sub",
    "client_id",
    "scope",
    "scp",
    "token_type",
    "cnf",
];

/// An answer as cached.
#[derive(Serialize, Deserialize)]
struct Cached {
    /// Unix milliseconds after which it is not used.
    until: u64,
    answer: Map<String, Value>,
}

/// Judges `token` by the introspection endpoint's answer (cached or fresh).
pub async fn verify(
    token: &str,
    settings: &IntrospectionSettings,
    host: &dyn Host,
) -> Result<Claims, AuthError> {
    let now = host.now_unix_ms();
    let Some(store) = host.store() else {
        let answer = ask(token, settings, host).await.map_err(|failure| {
            host.log(&format!("introspection: {}", failure.why));
            AuthError::Unavailable(failure.why)
        })?;
        return judge(&answer, settings, now);
    };
    // Keyed by what asked whom too: another endpoint's (or client's) answer is never reused.
    let key = keys::introspected(&crate::ids::sha256_hex(
        &format!("{}\n{}\n{token}", settings.url, settings.client_id),
        16,
    ));
    if let Some(cached) = cached(store, &key).await {
        if now < cached.until {
            return judge(&cached.answer, settings, now);
        }
    }
    let failed_at = failed_at(store).await;
    // A failure time ahead of this clock (another node's clock runs fast) is not honoured:
    // it would hold every node off until that clock caught up.
    if let Some(at) = failed_at.filter(|at| *at <= now.saturating_add(1_000)) {
        if now < at.saturating_add(FAILED_BACKOFF_MS) {
            return Err(AuthError::Unavailable(format!(
                "the last introspection request failed {} ms ago, and none is tried within {} s \
                 of a failure",
                now.saturating_sub(at),
                FAILED_BACKOFF_MS / 1000
            )));
        }
    }
    let answer = match ask(token, settings, host).await {
        Ok(answer) => answer,
        Err(failure) if failure.holds_off => {
            host.log(&format!(
                "introspection: {}; no instance asks again for {} s",
                failure.why,
                FAILED_BACKOFF_MS / 1000
            ));
            if let Err(e) = store
                .set(keys::INTROSPECTION_FAILED, now.to_string().as_bytes())
                .await
            {
                host.log(&format!("introspection: could not record the failure: {e}"));
            }
            return Err(AuthError::Unavailable(failure.why));
        }
        Err(failure) => {
            host.log(&format!("introspection: {}", failure.why));
            return Err(AuthError::Unavailable(failure.why));
        }
    };
    if failed_at.is_some() {
        let _ = store.delete(keys::INTROSPECTION_FAILED).await;
    }
    // Reused until the cache time is up, and never past the token's own expiry. Inactive
    // answers are not kept: made-up tokens would only fill the store.
    let mut until = now.saturating_add(settings.cache_ms);
    if let Some(exp) = answer.get("exp").and_then(Value::as_f64) {
        until = until.min((exp.max(0.0) * 1000.0) as u64);
    }
    if answer.get("active") == Some(&Value::Bool(true)) && until > now {
        let record = Cached {
            until,
            answer: answer.clone(),
        };
        if let Err(e) = save(store, &key, &record, now).await {
            host.log(&format!("introspection: could not cache an answer: {e}"));
        }
    }
    judge(&answer, settings, now)
}

async fn cached(store: &dyn KeyValue, key: &str) -> Option<Cached> {
    let bytes = store.get(key).await.ok()??;
    serde_json::from_slice(&bytes).ok()
}

async fn save(
    store: &dyn KeyValue,
    key: &str,
    record: &Cached,
    now: u64,
) -> Result<(), crate::host::StoreError> {
    let bytes = serde_json::to_vec(record).map_err(|e| crate::host::StoreError(e.to_string()))?;
    store.set(key, &bytes).await?;
    // The sweep removes it once it has lapsed.
    expiry::note(store, key, record.until, now).await
}

async fn failed_at(store: &dyn KeyValue) -> Option<u64> {
    let bytes = store.get(keys::INTROSPECTION_FAILED).await.ok()??;
    String::from_utf8(bytes).ok()?.parse().ok()
}

/// Why the endpoint gave no answer: for the log (it names the endpoint, never the token or
/// the secret), and whether every token must wait ([`FAILED_BACKOFF_MS`]) or only this one
/// went unanswered.
struct Failure {
    why: String,
    holds_off: bool,
}

/// Asks the endpoint about `token`; the answer's members this server judges.
async fn ask(
    token: &str,
    settings: &IntrospectionSettings,
    host: &dyn Host,
) -> Result<Map<String, Value>, Failure> {
    use base64::Engine;
    let url = &settings.url;
    // RFC 6749 §2.3.1: the id and secret are form-encoded, then joined and base64-encoded.
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        form_encode(&settings.client_id),
        form_encode(settings.client_secret.expose())
    ));
    let request = Outbound::post_form(
        url,
        &[("token", token), ("token_type_hint", "access_token")],
    )
    .header("authorization", format!("Basic {credentials}"));
    let failed = |why: String| Failure {
        why: format!("asking the introspection endpoint {url} failed: {why}"),
        holds_off: true,
    };
    let answer = host.send(request).await.map_err(failed)?;
    match answer.status {
        200 => {}
        401 | 403 => {
            return Err(failed(format!(
                "HTTP {}: the authorization server refused this server's credentials; check \
                 introspection_client_id and introspection_client_secret",
                answer.status
            )))
        }
        // About this request (an odd token, a rate limit): the others may go on.
        status @ (400 | 413 | 429) => {
            return Err(Failure {
                holds_off: false,
                ..failed(format!("HTTP {status}"))
            })
        }
        status => return Err(failed(format!("HTTP {status}"))),
    }
    let body: Value = serde_json::from_slice(&answer.body)
        .map_err(|_| failed("the answer is not JSON".into()))?;
    let Some(members) = body.as_object() else {
        return Err(failed("the answer is not a JSON object".into()));
    };
    if !members.get("active").is_some_and(Value::is_boolean) {
        return Err(failed("the answer has no boolean \"active\"".into()));
    }
    Ok(KEPT
        .iter()
        .filter_map(|name| Some((name.to_string(), members.get(*name)?.clone())))
        .collect())
}

/// What an answer says of its token at `now` (unix milliseconds).
fn judge(
    answer: &Map<String, Value>,
    settings: &IntrospectionSettings,
    now: u64,
) -> Result<Claims, AuthError> {
    if answer.get("active") != Some(&Value::Bool(true)) {
        return Err(invalid(
            "The access token is not active: the authorization server revoked it, it expired, \
             or it was never issued.",
        ));
    }
    if answer.contains_key("cnf") {
        return Err(invalid(
            "The access token is bound to a key (cnf); this server accepts bearer tokens only.",
        ));
    }
    // RFC 7662 §2.2: `token_type` as in RFC 6749 §7.1; some servers' answers also say what
    // a token is for (`token_use`) or its kind (`typ`). A refresh token, or one of a kind
    // this server does not check, is not a bearer access token for it.
    let is = |name: &str, expected: &str| {
        answer
            .get(name)
            .is_none_or(|v| v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(expected)))
    };
    if !(is("token_type", "bearer") && is("typ", "bearer") && is("token_use", "access_token")) {
        return Err(invalid("The token is not a bearer access token."));
    }
    let mut claims = Value::Object(answer.clone());
    // A token a client got for itself (client credentials) names no user: the client is
    // the principal, of a kind of its own.
    let mut client_only = false;
    if claims
        .get("sub")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        if let Some(client) = answer.get("client_id").and_then(Value::as_str) {
            claims["sub"] = Value::String(client.to_string());
            client_only = true;
        }
    }
    let rules = Rules {
        noun: "The access token",
        issuer: settings.issuer.as_deref(),
        issuer_optional: true,
        audiences: &settings.audiences,
        leeway_s: settings.leeway_s,
        expiry_required: false,
    };
    let mut checked = check(&claims, &rules, now / 1000)?;
    checked.client_only = client_only;
    Ok(checked)
}
