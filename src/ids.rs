//! Identifiers in hex: random ids (sessions, tasks, places, server→client requests) and
//! short SHA-256 digests of what may not appear in a store key as it is (principal ids,
//! request ids, URIs, input keys).

use sha2::{Digest, Sha256};

use crate::host::Host;

/// `bytes` in lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
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

/// Random bytes in a session id: 160 bits, more than the 128 the issue of ids needs.
const ID_BYTES: usize = 20;

/// A session id: 40 lowercase hex characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    pub fn generate(host: &dyn Host) -> SessionId {
        SessionId(random_hex(host, ID_BYTES))
    }

    /// Accepts only ids this server could have issued, so nothing else reaches the store.
    pub fn parse(text: &str) -> Option<SessionId> {
        let well_formed = text.len() == ID_BYTES * 2
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| SessionId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
