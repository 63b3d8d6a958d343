//! Identifiers and store keys in hex: random ids (sessions, tasks, places, server→client
//! requests) and short SHA-256 digests of what may not appear in a key as it is
//! (principal ids, request ids, URIs, input keys).

use sha2::{Digest, Sha256};

use crate::host::Host;

/// `bytes` in lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `len` random bytes from the host, in hex.
pub fn random_hex(host: &dyn Host, len: usize) -> String {
    let mut bytes = vec![0u8; len];
    host.fill_random(&mut bytes);
    hex(&bytes)
}

/// The first `len` bytes of the SHA-256 of `text`, in hex.
pub fn sha256_hex(text: &str, len: usize) -> String {
    hex(&Sha256::digest(text.as_bytes())[..len])
}
