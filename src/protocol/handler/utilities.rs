//! Utilities: `completion/complete`, and the legacy `logging/setLevel`.

use serde_json::{json, Map, Value};

use super::string_param;
use crate::protocol::call::LogLevel;
use crate::protocol::exchange::Exchange;
use crate::protocol::jsonrpc::RpcError;
use crate::store::session::Sessions;

/// At most this many completion values are returned.
const MAX_COMPLETIONS: usize = 100;

pub fn complete(exchange: &Exchange<'_>, params: &Map<String, Value>) -> Result<Value, RpcError> {
    let reference = params
        .get("ref")
        .and_then(Value::as_object)
        .ok_or_else(|| RpcError::invalid_params("completion/complete needs params.ref"))?;
    let argument = params
        .get("argument")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            RpcError::invalid_params("completion/complete needs params.argument {name, value}")
        })?;
    let argument_name = string_param(argument, "name", "completion/complete argument")?;
    let prefix = string_param(argument, "value", "completion/complete argument")?;
    let catalog = exchange.catalog()?;
    let values = match reference.get("type").and_then(Value::as_str) {
        Some("ref/prompt") => {
            let name = string_param(reference, "name", "completion/complete ref")?;
            let prompt = catalog
                .prompt(name)
                .ok_or_else(|| RpcError::invalid_params(format!("unknown prompt {name:?}")))?;
            (prompt.complete)(argument_name, prefix)
        }
        Some("ref/resource") => {
            let uri = string_param(reference, "uri", "completion/complete ref")?;
            let template = catalog
                .templates()
                .find(|t| t.uri_template == uri)
                .ok_or_else(|| {
                    RpcError::invalid_params(format!("no resource template is {uri:?}"))
                })?;
            (template.complete)(argument_name, prefix)
        }
        _ => {
            return Err(RpcError::invalid_params(
                "completion/complete: ref.type must be ref/prompt or ref/resource",
            ))
        }
    };
    let total = values.len();
    let shown: Vec<String> = values.into_iter().take(MAX_COMPLETIONS).collect();
    Ok(json!({"completion": {"values": shown, "total": total, "hasMore": total > MAX_COMPLETIONS}}))
}

/// `logging/setLevel` (legacy): remembered for the session.
pub async fn set_level(
    exchange: &Exchange<'_>,
    params: &Map<String, Value>,
) -> Result<Value, RpcError> {
    let level = string_param(params, "level", "logging/setLevel")?;
    if LogLevel::parse(level).is_none() {
        let names: Vec<&str> = LogLevel::ALL.iter().map(|l| l.as_str()).collect();
        return Err(RpcError::invalid_params(format!(
            "unknown log level {level:?}; expected one of {}",
            names.join(", ")
        )));
    }
    if let Some((link, record)) = &exchange.session {
        let mut record = record.clone();
        record.log_level = Some(level.to_string());
        Sessions::new(exchange.host, link.store, exchange.settings)?
            .save(&link.id, &record)
            .await
            .map_err(|e| RpcError::internal(format!("could not record the log level: {e}")))?;
    }
    Ok(json!({}))
}
