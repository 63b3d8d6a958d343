//! JSON-RPC message parsing: any bytes give a message, a batch, or an error to answer
//! with, never a panic; whatever is answered serializes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use remote_mcp_server::protocol::jsonrpc::{self, Payload};

fuzz_target!(|data: &[u8]| {
    match jsonrpc::parse(data) {
        Err(rejected) => {
            let _ = jsonrpc::failure(rejected.id.as_ref(), &rejected.error).to_string();
        }
        Ok(Payload::Single(message)) => check(message),
        Ok(Payload::Batch(items)) => items.into_iter().for_each(check),
    }
});

fn check(message: Result<jsonrpc::Message, jsonrpc::Rejected>) {
    if let Err(rejected) = message {
        assert!(rejected.error.code < 0, "error codes are negative");
        let _ = jsonrpc::failure(rejected.id.as_ref(), &rejected.error).to_string();
    }
}
