//! 2026-07-28 input rounds keep nothing on the server: a call that needs input stops with
//! `input_required`, and what it gathered so far travels to the client and back in
//! `requestState`, signed (HMAC-SHA256) so a client can neither forge nor alter it, and
//! bound to the method, its target, the principal and a time to live.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use super::{Call, Target};
use crate::auth::Principal;
use crate::config::Settings;
use crate::host::Host;
use crate::protocol::jsonrpc::{self, RpcError};

/// How long a `requestState` stays valid.
const STATE_TTL_MS: u64 = 15 * 60 * 1000;

/// What a modern call carried for input rounds: the answers so far, and the state the
/// callee keeps across rounds.
#[derive(Default)]
pub struct Rounds {
    pub responses: Map<String, Value>,
    pub state: Map<String, Value>,
}

/// The signed contents of a `requestState`.
#[derive(Serialize, Deserialize)]
struct StatePayload {
    /// Method and target it was issued for.
    m: String,
    t: String,
    /// Principal it was issued to.
    p: String,
    /// Unix milliseconds after which it is refused.
    e: u64,
    r: Map<String, Value>,
    s: Map<String, Value>,
}

type HmacSha256 = Hmac<Sha256>;

fn sign(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The key that signs `requestState`: `state_secret` if configured, else a random key
/// kept in the shared store (created by the first instance that needs it).
async fn state_key(host: &dyn Host, settings: &Settings<'_>) -> Result<Vec<u8>, RpcError> {
    if let Some(secret) = settings.state_secret()? {
        return Ok(secret.as_bytes().to_vec());
    }
    let Some(store) = host.store() else {
        return Err(RpcError::internal(
            "this needs the state_secret variable (or a host with a shared key-value store) to sign requestState",
        ));
    };
    crate::store::secret::state_key(host, store)
        .await
        .map_err(|e| RpcError::internal(format!("could not keep the state key: {e}")))
}

impl Call<'_> {
    /// A value the callee keeps across 2026-07-28 input rounds.
    pub fn state(&self, key: &str) -> Option<&Value> {
        self.rounds.state.get(key)
    }

    pub fn set_state(&mut self, key: &str, value: Value) {
        self.rounds.state.insert(key.to_string(), value);
    }

    /// The `input_required` result for a stopped modern call: the pending requests and a
    /// signed `requestState` carrying every answer so far.
    pub async fn input_required(&self) -> Result<Value, RpcError> {
        let payload = StatePayload {
            m: self.target.method.clone(),
            t: self.target.name.clone(),
            p: self.principal.id.clone(),
            e: self.host.now_unix_ms() + STATE_TTL_MS,
            r: self.rounds.responses.clone(),
            s: self.rounds.state.clone(),
        };
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap_or_default());
        let signature = URL_SAFE_NO_PAD.encode(sign(
            &state_key(self.host, self.settings).await?,
            body.as_bytes(),
        ));
        Ok(json!({
            "resultType": "input_required",
            "inputRequests": self.pending,
            "requestState": format!("{body}.{signature}"),
        }))
    }
}

/// Reads a modern call's `inputResponses` and `requestState`: verified, unexpired, and
/// issued for this method, target and principal. Anything else is `-32602`.
pub async fn rounds(
    host: &dyn Host,
    settings: &Settings<'_>,
    principal: &Principal,
    params: &Map<String, Value>,
    target: &Target,
) -> Result<Rounds, RpcError> {
    let mut rounds = Rounds::default();
    if let Some(state) = params.get("requestState") {
        let text = state
            .as_str()
            .ok_or_else(|| RpcError::invalid_params("requestState must be a string"))?;
        let tampered = || {
            RpcError::invalid_params(
                "requestState failed its integrity check: pass it back exactly as received",
            )
        };
        let (body, signature) = text.split_once('.').ok_or_else(tampered)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| tampered())?;
        let mut mac =
            HmacSha256::new_from_slice(&state_key(host, settings).await?).expect("any key length");
        mac.update(body.as_bytes());
        mac.verify_slice(&signature).map_err(|_| tampered())?;
        let payload: StatePayload = URL_SAFE_NO_PAD
            .decode(body)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(tampered)?;
        if payload.m != target.method || payload.t != target.name || payload.p != principal.id {
            return Err(RpcError::invalid_params(
                "requestState was issued for another request",
            ));
        }
        if payload.e < host.now_unix_ms() {
            return Err(RpcError::invalid_params(
                "requestState has expired: start the request again without it",
            ));
        }
        rounds.responses = payload.r;
        rounds.state = payload.s;
    }
    match params.get("inputResponses") {
        None | Some(Value::Null) => {}
        Some(Value::Object(responses)) => {
            for (key, response) in responses {
                rounds.responses.insert(key.clone(), response.clone());
            }
        }
        Some(other) => {
            return Err(RpcError::invalid_params(format!(
                "inputResponses must be an object keyed by input request, got {}",
                jsonrpc::kind_of(other)
            )))
        }
    }
    Ok(rounds)
}
