//! `static` mode: the token's SHA-256 is compared with every configured hash in constant
//! time, and every entry is visited whatever matches, so timing says nothing about which
//! (or whether any) entry matched.

use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::policy::StaticToken;

pub fn find<'a>(tokens: &'a [StaticToken], token: &str) -> Option<&'a StaticToken> {
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let mut found = 0u32;
    let mut matched = subtle::Choice::from(0);
    for (i, entry) in tokens.iter().enumerate() {
        let equal = entry.sha256.ct_eq(&digest);
        found.conditional_assign(&(i as u32), equal);
        matched |= equal;
    }
    bool::from(matched).then(|| &tokens[found as usize])
}
