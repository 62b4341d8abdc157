//! The trust layer (SPEC section 8): who vouches for the market and for each account.
//!
//! Keys are Ed25519 (ed25519-dalek); keys and signatures are written as hex. Every
//! signature covers a domain-separated message, so a signature of one kind can never be
//! replayed as another:
//!
//! - market signature: `zkmargin/market-signature/1` ‖ 0x00 ‖ market digest (32 bytes);
//! - attestation: `zkmargin/attestation/1` ‖ 0x00 ‖ compact JSON
//!   `{"venue", "account", "commitment", "as_of"}` in that key order.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use zkmargin_circuits::market::Market;
use zkmargin_circuits::time::parse_rfc3339;

use crate::bundle::Bundle;

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

/// What a verifier requires beyond a valid proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Public keys of trusted market publishers.
    #[serde(default)]
    pub publishers: Vec<String>,
    /// Trusted public keys per venue.
    #[serde(default)]
    pub venues: BTreeMap<String, Vec<String>>,
    /// Largest allowed distance between an attestation's and the market's `as_of`.
    #[serde(default)]
    pub max_age_seconds: Option<u64>,
    /// Whether the verifier must be given, and match, the statement's nonce.
    #[serde(default)]
    pub require_nonce: bool,
    /// How the prover may pool accounts into groups (default cross-venue).
    #[serde(default)]
    pub netting: crate::expect::Netting,
    /// How many distinct listed publishers must sign the market (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher_quorum: Option<u32>,
    /// Service (`serve`): how long a nonce from `POST /v1/challenges` stays usable
    /// (default [`DEFAULT_NONCE_TTL_SECONDS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce_ttl_seconds: Option<u64>,
    /// Service (`serve`): the largest circuit size k accepted; larger shapes are refused
    /// before any work (default [`DEFAULT_MAX_K`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_k: Option<u32>,
    /// Service (`serve`): how long after its receipt a valid proof counts for an
    /// account's standing (default: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standing_ttl_seconds: Option<u64>,
    /// Service (`serve --evm-key`): the EVM registry its verdicts are signed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evm: Option<EvmPolicy>,
}

/// The policy's `"evm"` section: where a service's EIP-712 verdicts are meant to be
/// submitted, how long they stay valid, and whether nonces a contract derives are taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvmPolicy {
    /// The chain id of the registry's chain (EIP-155; at least 1).
    pub chain_id: u64,
    /// The registry contract's address, `0x` and 40 hex characters.
    pub registry: String,
    /// A verdict is valid until the market's `as_of` plus this (every service of a quorum
    /// must use the same value, so that they sign the same verdict). At least 1.
    pub verdict_ttl_seconds: u64,
    /// Accept, on `POST /v1/proofs`, any 32-byte nonce this service did not issue (a
    /// lender's contract derives it): still used at most once, and never expiring.
    #[serde(default)]
    pub accept_external_nonces: bool,
}

/// Default lifetime of a service nonce, in seconds.
pub const DEFAULT_NONCE_TTL_SECONDS: u64 = 600;
/// Default largest circuit size k a service accepts: the verifier's own default.
pub use crate::expect::DEFAULT_MAX_K;

/// Longest lifetime a policy may give a service nonce: one year.
pub const MAX_NONCE_TTL_SECONDS: u64 = 365 * 24 * 3600;

impl Policy {
    /// Checks every value a policy file may hold beyond its JSON types: each listed key
    /// 64 hex characters (an Ed25519 public key's form), a quorum of at least 1, a nonce
    /// lifetime of at most [`MAX_NONCE_TTL_SECONDS`], a `max_k` of at least 1 (one above
    /// what the circuits support refuses nothing more). The error is (the JSON path of
    /// the field, what is wrong with its value).
    pub fn validate(&self) -> Result<(), (String, String)> {
        // The form of a key, not its curve point: a listed key that is no point simply
        // never matches a signer (every signature is checked with its signer's key).
        let key_form = |key: &str| match hex::decode(key.trim()) {
            Ok(bytes) if bytes.len() == 32 => Ok(()),
            _ => Err(format!("public key {key:?} is not 64 hex characters")),
        };
        for (i, key) in self.publishers.iter().enumerate() {
            key_form(key).map_err(|e| (format!("publishers[{i}]"), e))?;
        }
        for (venue, keys) in &self.venues {
            for (i, key) in keys.iter().enumerate() {
                key_form(key).map_err(|e| (format!("venues.{venue}[{i}]"), e))?;
            }
        }
        if self.publisher_quorum == Some(0) {
            return Err(("publisher_quorum".into(), "must be at least 1 (got 0)".into()));
        }
        if let Some(ttl) = self.nonce_ttl_seconds.filter(|&t| t > MAX_NONCE_TTL_SECONDS) {
            return Err(("nonce_ttl_seconds".into(), format!("must be at most {MAX_NONCE_TTL_SECONDS} (one year; got {ttl})")));
        }
        if self.max_k == Some(0) {
            return Err(("max_k".into(), "must be at least 1 (got 0)".into()));
        }
        if let Some(evm) = &self.evm {
            if evm.chain_id == 0 {
                return Err(("evm.chain_id".into(), "must be at least 1 (got 0)".into()));
            }
            let address = evm.registry.strip_prefix("0x").filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()));
            if address.is_none() {
                return Err(("evm.registry".into(), format!("expected 0x and 40 hex characters (got {:?})", evm.registry)));
            }
            if evm.verdict_ttl_seconds == 0 {
                return Err(("evm.verdict_ttl_seconds".into(), "must be at least 1 (got 0)".into()));
            }
        }
        Ok(())
    }

    /// The publisher quorum K: how many distinct listed publishers must sign the market.
    pub fn quorum(&self) -> u32 {
        self.publisher_quorum.unwrap_or(1)
    }

    /// How many distinct keys signed among `sigs` (the same key twice counts once;
    /// keys compare case-insensitively).
    pub fn distinct_signers(&self, sigs: &[&MarketSignature]) -> usize {
        sigs.iter().map(|s| s.signer.to_ascii_lowercase()).collect::<BTreeSet<_>>().len()
    }

    /// Checks the market's signatures: each given signature (its file named in
    /// messages) must be by a listed publisher, over this market's digest, and valid;
    /// together they must come from at least [`Policy::quorum`] distinct publishers.
    pub fn check_market_signatures(&self, market: &Market, sigs: &[(&str, &MarketSignature)]) -> Result<(), String> {
        let quorum = self.quorum();
        if quorum == 0 {
            return Err("the policy's publisher_quorum must be at least 1".into());
        }
        if sigs.is_empty() {
            return Err("the policy requires a market signature (--market-sig)".into());
        }
        let digest = market.digest_hex();
        for &(file, sig) in sigs {
            if !self.publishers.iter().any(|p| p.eq_ignore_ascii_case(&sig.signer)) {
                return Err(format!("{file}: signer {} is not a listed publisher", sig.signer));
            }
            if !sig.digest.eq_ignore_ascii_case(&digest) {
                return Err(format!("{file}: signs market digest {}, not this market's {digest}", sig.digest));
            }
            sig.check().map_err(|e| format!("{file}: {e}"))?;
        }
        let distinct = self.distinct_signers(&sigs.iter().map(|s| s.1).collect::<Vec<_>>());
        if distinct < quorum as usize {
            return Err(format!(
                "the market is signed by {distinct} distinct listed publisher(s); the policy's publisher_quorum requires {quorum} (repeat --market-sig)"
            ));
        }
        Ok(())
    }

    /// Checks a (proof-valid) bundle against the policy. `market_sigs` are the market's
    /// signatures, each with its file name for messages; `nonce` is the verifier's
    /// expected nonce, if any. The error names the account, venue or file at fault.
    pub fn check(
        &self,
        market: &Market,
        bundle: &Bundle,
        market_sigs: &[(&str, &MarketSignature)],
        nonce: Option<&str>,
    ) -> Result<(), String> {
        self.netting.check(&bundle.statement).map_err(|e| format!("netting: {e}"))?;
        self.check_market_signatures(market, market_sigs)?;
        let market_time = parse_rfc3339(&market.as_of).map_err(|e| format!("market as_of: {e}"))?;
        for acc in &bundle.statement.accounts {
            let who = format!("account {}/{}", acc.venue, acc.account);
            let keys = self.venues.get(&acc.venue).ok_or_else(|| format!("{who}: venue {:?} has no trusted key in the policy", acc.venue))?;
            let candidates: Vec<&Attestation> = bundle
                .attestations
                .iter()
                .filter(|a| a.venue == acc.venue && a.account == acc.account)
                .collect();
            if candidates.is_empty() {
                return Err(format!("{who}: no attestation in the bundle"));
            }
            let mut last_error = String::new();
            let ok = candidates.iter().any(|a| {
                let result = (|| {
                    if !a.commitment.eq_ignore_ascii_case(&acc.commitment) {
                        return Err(format!("attests commitment {}, not the statement's {}", a.commitment, acc.commitment));
                    }
                    if !keys.iter().any(|k| k.eq_ignore_ascii_case(&a.signer)) {
                        return Err(format!("signed by {}, not a key listed for venue {:?}", a.signer, acc.venue));
                    }
                    a.check()?;
                    if let Some(max) = self.max_age_seconds {
                        let at = parse_rfc3339(&a.as_of)?;
                        if at.abs_diff(market_time) > max {
                            return Err(format!("as_of {} is more than {max} s from the market's {}", a.as_of, market.as_of));
                        }
                    }
                    Ok(())
                })();
                if let Err(e) = &result {
                    last_error = e.clone();
                }
                result.is_ok()
            });
            if !ok {
                return Err(format!("{who}: attestation rejected: {last_error}"));
            }
        }
        if self.require_nonce {
            match nonce {
                None => return Err("the policy requires a nonce (--nonce)".into()),
                Some(n) if !n.eq_ignore_ascii_case(&bundle.statement.nonce) => {
                    return Err(format!("the statement's nonce {:?} is not the expected {n:?}", bundle.statement.nonce))
                }
                Some(_) => {}
            }
        }
        Ok(())
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

    fn market() -> Market {
        let text = r#"{"version": 1, "id": "q", "as_of": "2026-11-25T08:00:00Z", "quote": "USD",
            "scenarios": ["down", "up"], "loss_factor": {"initial": "1", "maintenance": "0.8"},
            "instruments": [{"id": "BTC-PERP", "mark": "0", "pnl": ["-9100", "9100"],
              "linear": {"initial": "4550", "maintenance": "2275"}, "short_charge": {"initial": "0", "maintenance": "0"}}],
            "assets": [{"id": "USDC", "price": "1", "haircut": "0"}]}"#;
        Market::from_json("market.json", text).unwrap()
    }

    /// A policy as its file would give it (other fields at their defaults).
    fn policy(publishers: &[&SigningKey], quorum: Option<u32>) -> Policy {
        let keys: Vec<String> = publishers.iter().map(|k| hex::encode(k.verifying_key().to_bytes())).collect();
        let mut text = serde_json::json!({"publishers": keys});
        if let Some(k) = quorum {
            text["publisher_quorum"] = k.into();
        }
        serde_json::from_value(text).unwrap()
    }

    #[test]
    fn publisher_quorum() {
        let market = market();
        let keys: Vec<SigningKey> = (1..=4u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
        let sigs: Vec<MarketSignature> = keys.iter().map(|k| MarketSignature::sign(k, &market)).collect();
        let named = |which: &[usize]| -> Vec<(&str, &MarketSignature)> { which.iter().map(|&i| ("sig", &sigs[i])).collect() };
        let listed = policy(&[&keys[0], &keys[1], &keys[2]], Some(2));
        // K − 1 distinct signatures are refused, K accepted, more too.
        let err = listed.check_market_signatures(&market, &named(&[0])).unwrap_err();
        assert!(err.contains("1 distinct") && err.contains("requires 2"), "{err}");
        assert_eq!(listed.check_market_signatures(&market, &named(&[0, 1])), Ok(()));
        assert_eq!(listed.check_market_signatures(&market, &named(&[2, 0, 1])), Ok(()));
        // The same key twice counts once, even with its hex in another case.
        assert!(listed.check_market_signatures(&market, &named(&[1, 1])).is_err());
        let mut upper = sigs[1].clone();
        upper.signer = upper.signer.to_ascii_uppercase();
        assert!(listed.check_market_signatures(&market, &[("a", &sigs[1]), ("b", &upper)]).is_err());
        // A key listed twice in the policy is still one publisher.
        let doubled = policy(&[&keys[0], &keys[0]], Some(2));
        assert!(doubled.check_market_signatures(&market, &named(&[0, 0])).is_err());
        // An unlisted signer is named, even when the others make the quorum.
        let err = listed.check_market_signatures(&market, &[("a.sig", &sigs[0]), ("b.sig", &sigs[1]), ("mallory.sig", &sigs[3])]).unwrap_err();
        assert!(err.contains("mallory.sig") && err.contains("not a listed publisher"), "{err}");
        // The default quorum is 1; a quorum of 0 is refused; no signature at all is refused.
        let default = policy(&[&keys[0]], None);
        assert_eq!(default.quorum(), 1);
        assert_eq!(default.check_market_signatures(&market, &named(&[0])), Ok(()));
        assert!(default.check_market_signatures(&market, &[]).unwrap_err().contains("--market-sig"));
        assert!(policy(&[&keys[0]], Some(0)).check_market_signatures(&market, &named(&[0])).is_err());
        // A quorum cannot be met with signatures of another market.
        let other = Market { id: "other".into(), ..market.clone() };
        let foreign = MarketSignature::sign(&keys[1], &other);
        assert!(listed.check_market_signatures(&market, &[("a", &sigs[0]), ("b", &foreign)]).unwrap_err().contains("digest"));
    }

    #[test]
    fn policy_quorum_field_is_optional_and_strict() {
        let p: Policy = serde_json::from_str(r#"{"publishers": [], "publisher_quorum": 3}"#).unwrap();
        assert_eq!(p.quorum(), 3);
        let p: Policy = serde_json::from_str(r#"{"publishers": []}"#).unwrap();
        assert_eq!(p.quorum(), 1);
        assert!(serde_json::from_str::<Policy>(r#"{"publisher_qorum": 2}"#).is_err());
    }

    #[test]
    fn the_evm_section_is_optional_and_strict() {
        let p: Policy = serde_json::from_str(r#"{"publishers": []}"#).unwrap();
        assert_eq!(p.evm, None);
        let text = r#"{"evm": {"chain_id": 8453, "registry": "0xe3a207e4225D459095491Ea75D30B31968dfF887", "verdict_ttl_seconds": 3600}}"#;
        let p: Policy = serde_json::from_str(text).unwrap();
        assert_eq!(p.validate(), Ok(()));
        let evm = p.evm.unwrap();
        assert_eq!((evm.chain_id, evm.verdict_ttl_seconds, evm.accept_external_nonces), (8453, 3600, false));
        assert!(serde_json::from_str::<Policy>(r#"{"evm": {"chain_id": 1, "registry": "0x", "verdict_ttl_seconds": 1, "ttl": 2}}"#).is_err());
        assert!(serde_json::from_str::<Policy>(r#"{"evm": {"chain_id": 1, "registry": "0x"}}"#).is_err());
        for (edit, field) in [
            (r#""chain_id": 0, "registry": "0xe3a207e4225D459095491Ea75D30B31968dfF887", "verdict_ttl_seconds": 1"#, "evm.chain_id"),
            (r#""chain_id": 1, "registry": "e3a207e4225D459095491Ea75D30B31968dfF887", "verdict_ttl_seconds": 1"#, "evm.registry"),
            (r#""chain_id": 1, "registry": "0xe3a207e4", "verdict_ttl_seconds": 1"#, "evm.registry"),
            (r#""chain_id": 1, "registry": "0xe3a207e4225D459095491Ea75D30B31968dfF887", "verdict_ttl_seconds": 0"#, "evm.verdict_ttl_seconds"),
        ] {
            let p: Policy = serde_json::from_str(&format!(r#"{{"evm": {{{edit}}}}}"#)).unwrap();
            assert_eq!(p.validate().unwrap_err().0, field);
        }
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
