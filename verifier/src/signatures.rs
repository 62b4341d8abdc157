//! Signed documents of the trust layer (SPEC section 8): publishers' market signatures,
//! venues' attestations of account commitments, and the keys that make them.
//!
//! Keys are Ed25519 (ed25519-dalek); keys and signatures are written as hex. Every
//! signature covers a domain-separated message, so a signature of one kind can never be
//! replayed as another:
//!
//! - market signature: `zkmargin/market-signature/1` ‖ 0x00 ‖ market digest (32 bytes);
//! - attestation: `zkmargin/attestation/1` ‖ 0x00 ‖ compact JSON
//!   `{"venue", "account", "commitment", "as_of"}` in that key order.
//!
//! The bottom of the verifier's trust layers: a bundle carries [`Attestation`]s, and the
//! policy (the `trust` module, above the bundle) checks a bundle against them.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use zkmargin_circuits::market::Market;
use zkmargin_circuits::time::parse_rfc3339;

const MARKET_DOMAIN: &[u8] = b"zkmargin/market-signature/1\0";
const ATTESTATION_DOMAIN: &[u8] = b"zkmargin/attestation/1\0";

/// A fresh key pair from 32 random bytes: (secret hex, public hex).
pub fn key_pair(secret: [u8; 32]) -> (String, String) {
    let key = SigningKey::from_bytes(&secret);
    (hex::encode(key.to_bytes()), hex::encode(key.verifying_key().to_bytes()))
}

/// Reads a secret key written by [`key_pair`] (hex, surrounding whitespace ignored).
pub fn signing_key(text: &str) -> Result<SigningKey, String> {
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("not a secret key: expected 64 hex characters")?;
    Ok(SigningKey::from_bytes(&bytes))
}

fn verifying_key(hex_key: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("public key {hex_key:?} is not 64 hex characters"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| format!("public key {hex_key:?} is not a valid Ed25519 key"))
}

fn verify_signature(signer: &str, message: &[u8], signature: &str) -> Result<(), String> {
    let key = verifying_key(signer)?;
    let bytes: [u8; 64] = hex::decode(signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("signature is not 128 hex characters")?;
    key.verify_strict(message, &Signature::from_bytes(&bytes)).map_err(|_| "signature does not verify".to_string())
}

/// A publisher's signature over a market digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketSignature {
    /// Publisher's public key, hex.
    pub signer: String,
    /// Market digest, hex.
    pub digest: String,
    /// Signature, hex.
    pub signature: String,
}

impl MarketSignature {
    /// Signs `market`'s digest.
    pub fn sign(key: &SigningKey, market: &Market) -> MarketSignature {
        let digest = market.digest();
        let message = [MARKET_DOMAIN, &digest].concat();
        MarketSignature {
            signer: hex::encode(key.verifying_key().to_bytes()),
            digest: hex::encode(digest),
            signature: hex::encode(key.sign(&message).to_bytes()),
        }
    }

    /// Checks the signature over the digest it names.
    pub fn check(&self) -> Result<(), String> {
        let digest = hex::decode(&self.digest).map_err(|_| "digest is not hex".to_string())?;
        verify_signature(&self.signer, &[MARKET_DOMAIN, &digest].concat(), &self.signature)
    }
}

/// A venue's signature over one account's commitment at a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// Venue.
    pub venue: String,
    /// Account at the venue.
    pub account: String,
    /// The account's commitment, hex.
    pub commitment: String,
    /// When the venue took the account's books (RFC 3339).
    pub as_of: String,
    /// Venue's public key, hex.
    pub signer: String,
    /// Signature, hex.
    pub signature: String,
}

fn attestation_message(venue: &str, account: &str, commitment: &str, as_of: &str) -> Vec<u8> {
    let body = serde_json::json!({"venue": venue, "account": account, "commitment": commitment, "as_of": as_of});
    [ATTESTATION_DOMAIN, body.to_string().as_bytes()].concat()
}

impl Attestation {
    /// Signs an attestation; `as_of` must be RFC 3339 and `commitment` hex.
    pub fn sign(key: &SigningKey, venue: &str, account: &str, commitment: &str, as_of: &str) -> Result<Attestation, String> {
        parse_rfc3339(as_of).map_err(|e| format!("as-of {as_of:?}: {e}"))?;
        if hex::decode(commitment).map(|b| b.len()) != Ok(32) {
            return Err(format!("commitment {commitment:?} is not 64 hex characters"));
        }
        let commitment = commitment.to_ascii_lowercase();
        let signature = key.sign(&attestation_message(venue, account, &commitment, as_of));
        Ok(Attestation {
            venue: venue.to_string(),
            account: account.to_string(),
            commitment,
            as_of: as_of.to_string(),
            signer: hex::encode(key.verifying_key().to_bytes()),
            signature: hex::encode(signature.to_bytes()),
        })
    }

    /// Checks the signature over the attested fields.
    pub fn check(&self) -> Result<(), String> {
        let message = attestation_message(&self.venue, &self.account, &self.commitment, &self.as_of);
        verify_signature(&self.signer, &message, &self.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attestations_verify_and_bind_every_field() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let a = Attestation::sign(&key, "deribit", "sub-1", &"ab".repeat(32), "2026-11-25T07:30:00Z").unwrap();
        assert_eq!(a.check(), Ok(()));
        for edit in 0..4 {
            let mut b = a.clone();
            match edit {
                0 => b.venue = "okx".into(),
                1 => b.account = "sub-2".into(),
                2 => b.commitment = "cd".repeat(32),
                _ => b.as_of = "2026-11-25T07:31:00Z".into(),
            }
            assert!(b.check().is_err(), "edit {edit}");
        }
        assert!(Attestation::sign(&key, "v", "a", "xyz", "2026-11-25T07:30:00Z").is_err());
        assert!(Attestation::sign(&key, "v", "a", &"ab".repeat(32), "soon").is_err());
    }

    #[test]
    fn a_market_signature_is_not_an_attestation() {
        let key = SigningKey::from_bytes(&[9; 32]);
        // Sign the attestation message's bytes as if they were a market digest: the
        // domains differ, so the signature cannot be reused either way.
        let digest = [3u8; 32];
        let market_sig = key.sign(&[MARKET_DOMAIN, &digest].concat());
        let forged = Attestation {
            venue: "v".into(),
            account: "a".into(),
            commitment: hex::encode(digest),
            as_of: "2026-11-25T07:30:00Z".into(),
            signer: hex::encode(key.verifying_key().to_bytes()),
            signature: hex::encode(market_sig.to_bytes()),
        };
        assert!(forged.check().is_err());
    }
}
