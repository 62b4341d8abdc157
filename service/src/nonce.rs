//! Stateless challenges: a nonce that proves by itself that this service issued it and
//! until when it is usable, so that `POST /v1/challenges` needs no database write.
//!
//! A nonce is 32 bytes, written as 64 lowercase hex characters like every nonce before
//! it (the statement's nonce is a hex string; the `challenge` command prints 32 bytes):
//!
//! ```text
//! bytes  0..12  random (fresh per nonce)
//!       12..16  expiry, Unix seconds, big-endian u32 (good until 2106)
//!       16..32  HMAC-SHA256(secret, "zkmargin-challenge/1" || bytes 0..16), first 16 bytes
//! ```
//!
//! The secret is 32 random bytes kept in the database (`service_secrets`, created by the
//! first process that needs it), so every replica sharing one PostgreSQL issues nonces
//! the others accept, and nonces survive a restart. A nonce whose tag does not verify was
//! not issued here. Its single use is still recorded durably, in the transaction that
//! stores the accepted verdict (see [`crate::store::Store::record`]).

use hmac::{KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = hmac::Hmac<Sha256>;

/// Name of the nonce key's secret in the `service_secrets` table (hex of 32 bytes).
pub const SECRET_NAME: &str = "challenge-hmac-sha256";

const DOMAIN: &[u8] = b"zkmargin-challenge/1";
const RANDOM_BYTES: usize = 12;
const EXPIRY_BYTES: usize = 4;
const BODY_BYTES: usize = RANDOM_BYTES + EXPIRY_BYTES;
/// Bytes of the truncated tag (128 bits: a forgery succeeds with probability 2^-128).
const TAG_BYTES: usize = 16;
/// Bytes of a nonce.
pub const NONCE_BYTES: usize = BODY_BYTES + TAG_BYTES;

/// The key that issues and checks nonces.
#[derive(Clone)]
pub struct NonceKey {
    mac: HmacSha256,
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

impl NonceKey {
    /// The key for a secret (any length; the service uses 32 random bytes).
    pub fn new(secret: &[u8]) -> NonceKey {
        NonceKey { mac: <HmacSha256 as KeyInit>::new_from_slice(secret).expect("HMAC accepts keys of any length") }
    }

    fn tagger(&self, body: &[u8]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(DOMAIN);
        mac.update(body);
        mac
    }

    /// A fresh nonce (64 hex characters) usable until `expires_at` (Unix seconds), or
    /// `None` when `expires_at` does not fit the format (after 2106).
    pub fn issue(&self, expires_at: i64) -> Option<String> {
        let expiry = u32::try_from(expires_at).ok()?;
        let mut nonce = [0u8; NONCE_BYTES];
        rand::fill(&mut nonce[..RANDOM_BYTES]);
        nonce[RANDOM_BYTES..BODY_BYTES].copy_from_slice(&expiry.to_be_bytes());
        let tag = self.tagger(&nonce[..BODY_BYTES]).finalize().into_bytes();
        nonce[BODY_BYTES..].copy_from_slice(&tag[..TAG_BYTES]);
        Some(hex::encode(nonce))
    }

    /// When a nonce issued with this key expires (Unix seconds); `None` if it was not
    /// issued with this key (wrong length, not hex, or its tag does not verify; the tag
    /// is compared in constant time).
    pub fn expiry(&self, nonce: &str) -> Option<i64> {
        let mut bytes = [0u8; NONCE_BYTES];
        hex::decode_to_slice(nonce, &mut bytes).ok()?;
        self.tagger(&bytes[..BODY_BYTES]).verify_truncated_left(&bytes[BODY_BYTES..]).ok()?;
        let expiry: [u8; EXPIRY_BYTES] = bytes[RANDOM_BYTES..BODY_BYTES].try_into().ok()?;
        Some(u32::from_be_bytes(expiry) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_distinct_nonces_that_open_to_their_expiry() {
        let key = NonceKey::new(&[7; 32]);
        let a = key.issue(1_900_000_000).unwrap();
        let b = key.issue(1_900_000_000).unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(key.expiry(&a), Some(1_900_000_000));
        assert_eq!(key.expiry(&a.to_ascii_uppercase()), Some(1_900_000_000), "hex is case-insensitive");
        assert_eq!(key.issue(1 << 32), None);
    }

    #[test]
    fn refuses_forged_altered_and_foreign_nonces() {
        let key = NonceKey::new(&[7; 32]);
        let nonce = key.issue(1_900_000_000).unwrap();
        assert_eq!(NonceKey::new(&[8; 32]).expiry(&nonce), None, "another service's secret");
        let mut bytes = hex::decode(&nonce).unwrap();
        bytes[RANDOM_BYTES + EXPIRY_BYTES - 1] ^= 1; // a later expiry
        assert_eq!(key.expiry(&hex::encode(&bytes)), None);
        bytes[RANDOM_BYTES + EXPIRY_BYTES - 1] ^= 1;
        bytes[NONCE_BYTES - 1] ^= 0x80; // a damaged tag
        assert_eq!(key.expiry(&hex::encode(&bytes)), None);
        assert_eq!(key.expiry(&"ab".repeat(32)), None);
        assert_eq!(key.expiry(&nonce[..62]), None);
        assert_eq!(key.expiry("zz"), None);
    }
}
