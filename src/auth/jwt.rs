//! `jwt` mode: JWS compact tokens (RFC 7515) signed with RS256, ES256 or EdDSA by the
//! issuer's keys, or HS256 with a configured secret; then the claims, checked against
//! this server and the host's clock.
//!
//! Keys come from the issuer's JWKS URL and are cached in the shared store for
//! `jwks_cache_seconds`. Nothing is looked up or fetched for a token that fails what can
//! be checked without keys (its form, `alg`, `crit`, `iss`, `aud`, `exp`, `nbf`), so junk
//! costs no fetch. A token whose key id is unknown triggers one refetch at once (key
//! rotation); after such a refetch the next is at least [`REFETCH_INTERVAL_MS`] later, so
//! a flood of forged tokens cannot hammer the issuer; a failed fetch is not retried by any instance for [`FAILED_FETCH_BACKOFF_MS`].
//! While the issuer is unreachable cached keys still serve, for at most [`MAX_STALE_MS`].
//! Without a store (the portable build) keys are fetched for every request that needs
//! them.
//!
//! Each key type verifies exactly one algorithm, and symmetric keys from a JWKS verify
//! nothing, so a token cannot choose a weaker check than its key allows. Refusals say
//! what is wrong (expired, wrong audience, unknown key) but never repeat the token.

use std::cell::RefCell;
use std::collections::BTreeSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use super::policy::{JwtSettings, KeySource};
use super::AuthError;
use crate::host::Host;
use crate::store::jwks::{Cached, KeyCache};

/// Least time between two fetches caused by unknown key ids.
pub const REFETCH_INTERVAL_MS: u64 = 30_000;
/// How long after a failed fetch no instance fetches again.
pub const FAILED_FETCH_BACKOFF_MS: u64 = 30_000;
/// Cached keys older than this are not used even when the issuer is unreachable: a key
/// the issuer has revoked must stop working at some point.
pub const MAX_STALE_MS: u64 = 24 * 60 * 60 * 1000;

/// What a verified token says about its bearer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    pub issuer: String,
    pub subject: String,
    pub scopes: BTreeSet<String>,
    /// Whether the subject is a client acting for itself (an introspected token with no
    /// `sub`, named by its `client_id`), not a user: its principal is kept apart from any
    /// user's, whatever their `sub`.
    pub client_only: bool,
}

/// The signature algorithms this server verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algorithm {
    Rs256,
    Es256,
    EdDsa,
    Hs256,
}

/// The issuer's keys as this instance last fetched or read them, kept in memory so that a
/// request need not read the store (or parse the JWKS) for them: used only while fresh
/// (`jwks_cache_seconds` since they were fetched) and when they know the token's `kid`;
/// otherwise the shared cache and its rules (refetch interval, back-off, maximum
/// staleness) decide. An instance keeps one; no `RefCell` borrow outlives a call.
#[derive(Default)]
pub struct KeyMemory(RefCell<Option<Remembered>>);

struct Remembered {
    url: String,
    fetched_at: u64,
    keys: Vec<Jwk>,
}

impl KeyMemory {
    fn fresh(&self, url: &str, now: u64, cache_ms: u64, kid: Option<&str>) -> Option<Vec<Jwk>> {
        let memory = self.0.borrow();
        let remembered = memory.as_ref().filter(|r| r.url == url)?;
        let fresh = now.saturating_sub(remembered.fetched_at) < cache_ms;
        let knows_kid = kid.is_none_or(|kid| {
            remembered
                .keys
                .iter()
                .any(|k| k.kid.as_deref() == Some(kid))
        });
        (fresh && knows_kid).then(|| remembered.keys.clone())
    }

    fn keep(&self, url: &str, fetched_at: u64, keys: &[Jwk]) {
        *self.0.borrow_mut() = Some(Remembered {
            url: url.to_string(),
            fetched_at,
            keys: keys.to_vec(),
        });
    }
}

/// A public key from a JWKS (RFC 7517), as far as this server uses it.
#[derive(Clone, Debug, Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

impl Jwk {
    /// The one algorithm this key verifies: its type decides, a declared `alg` must agree,
    /// and encryption keys and symmetric keys verify nothing.
    fn algorithm(&self) -> Option<Algorithm> {
        let by_type = match (self.kty.as_str(), self.crv.as_deref()) {
            ("RSA", _) => Algorithm::Rs256,
            ("EC", Some("P-256")) => Algorithm::Es256,
            ("OKP", Some("Ed25519")) => Algorithm::EdDsa,
            _ => return None,
        };
        let declared = match self.alg.as_deref() {
            None => true,
            Some(alg) => alg_named(alg) == Some(by_type),
        };
        (declared && self.usage.as_deref() != Some("enc")).then_some(by_type)
    }
}

fn alg_named(name: &str) -> Option<Algorithm> {
    match name {
        "RS256" => Some(Algorithm::Rs256),
        "ES256" => Some(Algorithm::Es256),
        "EdDSA" => Some(Algorithm::EdDsa),
        "HS256" => Some(Algorithm::Hs256),
        _ => None,
    }
}

pub(super) fn invalid(why: impl Into<String>) -> AuthError {
    AuthError::InvalidToken(why.into())
}

/// Verifies `token` and returns its claims.
pub async fn verify(
    token: &str,
    settings: &JwtSettings,
    memory: &KeyMemory,
    host: &dyn Host,
) -> Result<Claims, AuthError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(
            "The access token is not a JWT (expected three dot-separated parts).",
        ));
    };
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| invalid(format!("The JWT {what} is not base64url.")))
    };
    let header: Value = serde_json::from_slice(&decode(header_b64, "header")?)
        .map_err(|_| invalid("The JWT header is not JSON."))?;
    if !header.is_object() {
        return Err(invalid("The JWT header is not a JSON object."));
    }
    // RFC 7515 §4.1.11: extensions listed in `crit` must be understood; this server
    // understands none.
    if header.get("crit").is_some() {
        return Err(invalid(
            "The JWT header lists critical extensions (crit), which this server does not support.",
        ));
    }
    let algorithm = match header.get("alg").and_then(Value::as_str) {
        None => return Err(invalid("The JWT header names no algorithm (alg).")),
        Some("none") => return Err(invalid("Unsigned JWTs (alg none) are not accepted.")),
        Some("HS256") if settings.hs256_secret.is_none() => {
            return Err(invalid(
                "HS256-signed JWTs are not accepted by this server.",
            ))
        }
        Some(name) => alg_named(name).ok_or_else(|| {
            invalid(format!(
                "JWTs signed with {} are not accepted; use RS256, ES256 or EdDSA.",
                name.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(16)
                    .collect::<String>()
            ))
        })?,
    };
    let claims: Value = serde_json::from_slice(&decode(payload_b64, "payload")?)
        .map_err(|_| invalid("The JWT payload is not JSON."))?;
    let signature = decode(signature_b64, "signature")?;
    // Everything that needs no key is checked before any key is looked up or fetched, so a
    // token that would be refused anyway never costs a fetch.
    check_claims(&claims, settings, host.now_unix_ms() / 1000)?;
    // The signature covers the encoded header and payload exactly as sent.
    let signed = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    let verified = match (algorithm, &settings.hs256_secret) {
        (Algorithm::Hs256, Some(secret)) => verify_hmac(secret, signed, &signature),
        _ => {
            let kid = header.get("kid").and_then(Value::as_str);
            let key = issuer_key(settings, memory, host, algorithm, kid).await?;
            verify_with(&key, algorithm, signed, &signature)
        }
    };
    if !verified {
        return Err(invalid(
            "The JWT signature does not verify with the issuer's key.",
        ));
    }
    // Checked again now that the signature holds (a fetch may have taken a while).
    check_claims(&claims, settings, host.now_unix_ms() / 1000)
}

fn verify_hmac(secret: &[u8], signed: &[u8], signature: &[u8]) -> bool {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(signed);
    // Constant-time comparison.
    mac.verify_slice(signature).is_ok()
}

fn verify_with(key: &Jwk, algorithm: Algorithm, signed: &[u8], signature: &[u8]) -> bool {
    let b64 = |field: &Option<String>| {
        field
            .as_deref()
            .and_then(|f| URL_SAFE_NO_PAD.decode(f).ok())
    };
    match algorithm {
        Algorithm::Rs256 => {
            use rsa::signature::Verifier;
            let (Some(n), Some(e)) = (b64(&key.n), b64(&key.e)) else {
                return false;
            };
            let Ok(public) = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(&n),
                rsa::BigUint::from_bytes_be(&e),
            ) else {
                return false;
            };
            let verifier = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(public);
            rsa::pkcs1v15::Signature::try_from(signature)
                .is_ok_and(|s| verifier.verify(signed, &s).is_ok())
        }
        Algorithm::Es256 => {
            use p256::ecdsa::signature::Verifier;
            let (Some(x), Some(y)) = (b64(&key.x), b64(&key.y)) else {
                return false;
            };
            if x.len() != 32 || y.len() != 32 {
                return false;
            }
            // An uncompressed SEC1 point; JWS signatures are r ‖ s (RFC 7518 §3.4).
            let point = [&[4u8][..], &x, &y].concat();
            let Ok(verifier) = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point) else {
                return false;
            };
            p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| verifier.verify(signed, &s).is_ok())
        }
        Algorithm::EdDsa => {
            let Some(x) = b64(&key.x).and_then(|x| <[u8; 32]>::try_from(x).ok()) else {
                return false;
            };
            let (Ok(verifier), Ok(signature)) = (
                ed25519_dalek::VerifyingKey::from_bytes(&x),
                ed25519_dalek::Signature::from_slice(signature),
            ) else {
                return false;
            };
            verifier.verify_strict(signed, &signature).is_ok()
        }
        Algorithm::Hs256 => false,
    }
}

/// What a token's claims must say, whoever vouches for them: its signature (jwt mode), or
/// the authorization server's introspection answer.
pub(super) struct Rules<'a> {
    /// How refusals name the token: "The JWT", "The access token".
    pub noun: &'static str,
    /// The `iss` required, if any.
    pub issuer: Option<&'a str>,
    /// Whether a token that names no `iss` passes (an introspection answer need not).
    pub issuer_optional: bool,
    pub audiences: &'a [String],
    pub leeway_s: u64,
    /// Whether a token without `exp` is refused.
    pub expiry_required: bool,
}

impl JwtSettings {
    fn rules(&self) -> Rules<'_> {
        Rules {
            noun: "The JWT",
            issuer: Some(&self.issuer),
            issuer_optional: false,
            audiences: &self.audiences,
            leeway_s: self.leeway_s,
            expiry_required: true,
        }
    }
}

fn check_claims(claims: &Value, settings: &JwtSettings, now: u64) -> Result<Claims, AuthError> {
    check(claims, &settings.rules(), now)
}

/// Checks `claims` against `rules` at `now` (unix seconds): issuer, audience, expiry, not
/// before, subject; and reads the scopes.
pub(super) fn check(claims: &Value, rules: &Rules<'_>, now: u64) -> Result<Claims, AuthError> {
    let noun = rules.noun;
    let named = claims.get("iss").and_then(Value::as_str);
    let issuer = match (named, rules.issuer) {
        (Some(named), Some(required)) if named == required => named,
        (None, Some(required)) if rules.issuer_optional => required,
        (Some(named), None) => named,
        (None, None) => "",
        _ => {
            return Err(invalid(format!(
                "{noun} was not issued by this server's authorization server (iss)."
            )))
        }
    };
    let accepted = rules.audiences;
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    // The accepted audiences are not named: the client learns which resource to ask a
    // token for from the protected resource metadata, not from a refusal.
    if !audiences.iter().any(|a| accepted.iter().any(|b| a == b)) {
        return Err(invalid(format!(
            "{noun} is meant for another resource: its aud does not name this server."
        )));
    }
    let leeway = rules.leeway_s as f64;
    let numeric = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(value) => value.as_f64().map(Some).ok_or_else(|| {
            invalid(format!(
                "{noun}'s {name} is not a number (RFC 7519 NumericDate)."
            ))
        }),
    };
    match numeric("exp")? {
        None if rules.expiry_required => {
            return Err(invalid(format!("{noun} has no expiry (exp).")))
        }
        Some(exp) if now as f64 > exp + leeway => {
            return Err(invalid(format!("{noun} has expired.")))
        }
        _ => {}
    }
    if let Some(nbf) = numeric("nbf")? {
        if now as f64 + leeway < nbf {
            return Err(invalid(format!("{noun} is not valid yet (nbf).")));
        }
    }
    let subject = match claims.get("sub").and_then(Value::as_str) {
        Some(sub) if !sub.is_empty() => sub.to_string(),
        _ => return Err(invalid(format!("{noun} names no subject (sub)."))),
    };
    // `scope` (RFC 8693, space-separated) or `scp` (array or string, as some issuers use).
    let mut scopes = BTreeSet::new();
    for field in ["scope", "scp"] {
        match claims.get(field) {
            Some(Value::String(list)) => scopes.extend(list.split_whitespace().map(str::to_string)),
            Some(Value::Array(items)) => {
                scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_string))
            }
            _ => {}
        }
    }
    Ok(Claims {
        issuer: issuer.to_string(),
        subject,
        scopes,
        client_only: false,
    })
}

/// The issuer key for `algorithm` and `kid`, from the configured key source.
async fn issuer_key(
    settings: &JwtSettings,
    memory: &KeyMemory,
    host: &dyn Host,
    algorithm: Algorithm,
    kid: Option<&str>,
) -> Result<Jwk, AuthError> {
    let keys = match &settings.keys {
        KeySource::Inline(text) => parse_set(text.as_bytes()).map_err(AuthError::Unavailable)?,
        KeySource::None => Vec::new(),
        KeySource::Url(url) => fetch_keys(url, settings, memory, host, kid).await?,
    };
    let usable: Vec<Jwk> = keys
        .into_iter()
        .filter(|k| k.algorithm() == Some(algorithm))
        .collect();
    match kid {
        Some(kid) => usable
            .into_iter()
            .find(|k| k.kid.as_deref() == Some(kid))
            .ok_or_else(|| {
                invalid("The JWT is signed with a key the issuer does not publish (unknown kid).")
            }),
        None => match <[Jwk; 1]>::try_from(usable) {
            Ok([only]) => Ok(only),
            Err(usable) if usable.is_empty() => Err(invalid(
                "The issuer publishes no key for this JWT's algorithm.",
            )),
            Err(_) => Err(invalid(
                "The JWT names no key (kid) and the issuer has several.",
            )),
        },
    }
}

/// The keys of a JWKS; keys of kinds this server cannot read are skipped (issuers publish
/// encryption keys and newer algorithms beside their signing keys).
fn parse_set(bytes: &[u8]) -> Result<Vec<Jwk>, String> {
    let raw: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
    Ok(raw
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the JWKS has no \"keys\" array")?
        .iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
        .collect())
}

async fn fetch_keys(
    url: &str,
    settings: &JwtSettings,
    memory: &KeyMemory,
    host: &dyn Host,
    kid: Option<&str>,
) -> Result<Vec<Jwk>, AuthError> {
    let now = host.now_unix_ms();
    if let Some(keys) = memory.fresh(url, now, settings.cache_ms, kid) {
        return Ok(keys);
    }
    let Some(store) = host.store() else {
        // No shared cache: only the instance's memory outlives the request, and a failure
        // is not remembered, so every request that gets this far while the memory holds
        // no fresh keys costs one fetch. What bounds that: only tokens whose unverified
        // claims already fit get here, each fetch ends within the host's deadline
        // (`http_get`), and there are no more fetches than requests the host admits.
        // `jwt_jwks` (keys inline) needs no fetch at all.
        return match fetch(url, host).await {
            Ok((keys, _)) => {
                memory.keep(url, now, &keys);
                Ok(keys)
            }
            Err(why) => Err(fetch_failed(host, why)),
        };
    };
    let cache = KeyCache::new(store, url);
    let cached = cache.cached().await.and_then(|c| {
        parse_set(c.jwks.as_bytes())
            .ok()
            .map(|keys| (c.fetched_at, keys, c.for_unknown_kid))
    });
    let mut knows_kid = true;
    if let Some((fetched_at, keys, for_unknown_kid)) = &cached {
        let age = now.saturating_sub(*fetched_at);
        knows_kid = kid.is_none_or(|kid| keys.iter().any(|k| k.kid.as_deref() == Some(kid)));
        let fresh = age < settings.cache_ms;
        // Fresh keys serve. An unknown kid refetches them at once (the issuer rotated its
        // key), unless an unknown kid already did less than an interval ago: a flood of
        // made-up key ids costs the issuer one fetch per interval.
        let refetched_lately = *for_unknown_kid && age < REFETCH_INTERVAL_MS;
        if fresh && (knows_kid || refetched_lately) {
            memory.keep(url, *fetched_at, keys);
            return Ok(keys.clone());
        }
    }
    let cached = cached.map(|(fetched_at, keys, _)| (fetched_at, keys));
    // When the last fetch failed (as any instance saw it), and until when nobody retries.
    let failed_at = cache.failed_at().await;
    let why = match failed_at.filter(|at| now < at.saturating_add(FAILED_FETCH_BACKOFF_MS)) {
        Some(at) => format!(
            "the last JWKS fetch failed {} s ago, and none is tried within {} s of a failure",
            now.saturating_sub(at) / 1000,
            FAILED_FETCH_BACKOFF_MS / 1000
        ),
        None => match fetch(url, host).await {
            Ok((keys, body)) => {
                let record = Cached {
                    fetched_at: now,
                    jwks: body,
                    for_unknown_kid: !knows_kid,
                };
                if let Err(e) = cache.save(&record).await {
                    host.log(&format!("jwt: could not cache the JWKS: {e}"));
                }
                if failed_at.is_some() {
                    let _ = cache.clear_failed().await;
                }
                memory.keep(url, now, &keys);
                return Ok(keys);
            }
            Err(why) => {
                host.log(&format!(
                    "jwt: {why}; no instance fetches the JWKS again for {} s",
                    FAILED_FETCH_BACKOFF_MS / 1000
                ));
                if let Err(e) = cache.set_failed_at(now).await {
                    host.log(&format!("jwt: could not record the failed fetch: {e}"));
                }
                why
            }
        },
    };
    match cached {
        // Better stale keys than no service while the issuer is unreachable, up to a point.
        Some((fetched_at, keys)) if now.saturating_sub(fetched_at) < MAX_STALE_MS => Ok(keys),
        Some(_) => Err(AuthError::Unavailable(format!(
            "{why}, and the cached keys are older than {} hours",
            MAX_STALE_MS / 3_600_000
        ))),
        None => Err(AuthError::Unavailable(why)),
    }
}

/// A fetch without a store to remember it: logged here, the client told only to retry.
fn fetch_failed(host: &dyn Host, why: String) -> AuthError {
    host.log(&format!("jwt: {why}"));
    AuthError::Unavailable(why)
}

/// Fetches and parses the JWKS. The error is for the log: it names the URL.
async fn fetch(url: &str, host: &dyn Host) -> Result<(Vec<Jwk>, String), String> {
    let failed = |why: String| format!("fetching the JWKS at {url} failed: {why}");
    let answer = host.http_get(url).await.map_err(failed)?;
    if answer.status != 200 {
        return Err(failed(format!("HTTP {}", answer.status)));
    }
    let body = String::from_utf8(answer.body).map_err(|_| failed("not UTF-8".into()))?;
    let keys = parse_set(body.as_bytes()).map_err(failed)?;
    Ok((keys, body))
}
