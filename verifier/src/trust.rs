//! The trust layer (SPEC section 8): who vouches for the market and for each account.
//!
//! The signed documents themselves (market signatures, venue attestations, keys) are in
//! [`crate::signatures`], below the bundle that carries attestations; this module holds
//! the verifier's policy, which checks a bundle against them. Their names are re-exported
//! here, where callers have always found them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use zkmargin_circuits::market::Market;
use zkmargin_circuits::time::{format_rfc3339, parse_rfc3339};

use crate::bundle::Bundle;
pub use crate::signatures::{key_pair, signing_key, Attestation, MarketSignature};

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
    /// Largest age of the market at verification: its `as_of` against the verifier's
    /// clock (the service's at submission; `verify`'s now or `--at`). Absent: not
    /// limited. When set, a market dated more than [`MAX_MARKET_LEAD_SECONDS`] after that
    /// clock is refused too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_market_age_seconds: Option<u64>,
    /// Largest time an attestation may be dated after the market's `as_of` (default
    /// [`DEFAULT_ATTESTATION_SKEW_SECONDS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attestation_skew_seconds: Option<u64>,
    /// Largest time between the earliest and the latest attestation a bundle carries
    /// (absent: not limited). Collateral moved from an account attested early to one
    /// attested later counts in both; a common cut-off closes that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attestation_spread_seconds: Option<u64>,
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

/// Default of [`Policy::max_attestation_skew_seconds`]: an attestation may be dated at
/// most this long after the market's `as_of` (clocks differ a little; books taken later
/// than the prices they are margined at do not).
pub const DEFAULT_ATTESTATION_SKEW_SECONDS: u64 = 300;

/// With [`Policy::max_market_age_seconds`] set, how far a market's `as_of` may lie ahead
/// of the verifier's clock (clock skew between publisher and verifier); a market dated
/// later is refused.
pub const MAX_MARKET_LEAD_SECONDS: u64 = 300;

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

    /// How long an attestation may be dated after the market's `as_of`.
    pub fn attestation_skew(&self) -> u64 {
        self.max_attestation_skew_seconds.unwrap_or(DEFAULT_ATTESTATION_SKEW_SECONDS)
    }

    /// Checks the market's age against `now` (Unix seconds, the verifier's clock) when the
    /// policy limits it: at most `max_market_age_seconds` old, at most
    /// [`MAX_MARKET_LEAD_SECONDS`] in the future. The error names the market.
    pub fn check_market_age(&self, market: &Market, now: i64) -> Result<(), String> {
        let Some(max) = self.max_market_age_seconds else { return Ok(()) };
        let (id, as_of) = (&market.id, &market.as_of);
        let at = parse_rfc3339(as_of).map_err(|e| format!("market {id:?}: as_of: {e}"))?;
        let (ahead, clock) = (at as i128 - now as i128, format_rfc3339(now));
        if ahead > MAX_MARKET_LEAD_SECONDS as i128 {
            let limit = format!("a market dated more than {MAX_MARKET_LEAD_SECONDS} s ahead is refused");
            return Err(format!("market {id:?}: as_of {as_of} is {ahead} s after the verifier's clock ({clock}); {limit}"));
        }
        if -ahead > max as i128 {
            let limit = format!("more than the policy's max_market_age_seconds ({max})");
            return Err(format!("market {id:?}: as_of {as_of} is {} s old at {clock}, {limit}", -ahead));
        }
        Ok(())
    }

    /// Checks that all of the bundle's attestations lie within the policy's
    /// `max_attestation_spread_seconds` of each other (when set); the error names the
    /// earliest and the latest.
    pub fn check_attestation_spread(&self, bundle: &Bundle) -> Result<(), String> {
        let Some(max) = self.max_attestation_spread_seconds else { return Ok(()) };
        let mut dated = Vec::with_capacity(bundle.attestations.len());
        for a in &bundle.attestations {
            let at = parse_rfc3339(&a.as_of).map_err(|e| format!("attestation of {}/{}: as_of {:?}: {e}", a.venue, a.account, a.as_of))?;
            dated.push((at, a));
        }
        let (Some(first), Some(last)) = (dated.iter().min_by_key(|d| d.0), dated.iter().max_by_key(|d| d.0)) else { return Ok(()) };
        let spread = last.0.abs_diff(first.0);
        if spread > max {
            let name = |a: &Attestation| format!("{}/{} as of {}", a.venue, a.account, a.as_of);
            return Err(format!(
                "the attestations span {spread} s ({} to {}), more than the policy's max_attestation_spread_seconds ({max}): \
                 collateral moved between accounts attested at different times could count twice",
                name(first.1),
                name(last.1)
            ));
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
    /// expected nonce, if any; `now` is the verifier's clock (Unix seconds) that the
    /// market's age is measured against. The error names the account, venue, market or
    /// file at fault.
    pub fn check(
        &self,
        market: &Market,
        bundle: &Bundle,
        market_sigs: &[(&str, &MarketSignature)],
        nonce: Option<&str>,
        now: i64,
    ) -> Result<(), String> {
        self.netting.check(&bundle.statement).map_err(|e| format!("netting: {e}"))?;
        self.check_market_signatures(market, market_sigs)?;
        self.check_market_age(market, now)?;
        let market_time = parse_rfc3339(&market.as_of).map_err(|e| format!("market as_of: {e}"))?;
        let skew = self.attestation_skew();
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
                    let at = parse_rfc3339(&a.as_of)?;
                    if let Some(max) = self.max_age_seconds {
                        if at.abs_diff(market_time) > max {
                            return Err(format!("as_of {} is more than {max} s from the market's {}", a.as_of, market.as_of));
                        }
                    }
                    if at > market_time && at.abs_diff(market_time) > skew {
                        return Err(format!(
                            "as_of {} is {} s after the market's {}, more than the policy's max_attestation_skew_seconds ({skew})",
                            a.as_of,
                            at - market_time,
                            market.as_of
                        ));
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
        self.check_attestation_spread(bundle)?;
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
    use ed25519_dalek::SigningKey;

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

    const MARKET_TIME: i64 = 1_795_593_600; // 2026-11-25T08:00:00Z, the test market's as_of

    /// A bundle of two accounts (not a proof: the policy checks what is beside it), each
    /// attested by its venue's key at the given time.
    fn attested_bundle(as_of: [&str; 2]) -> (Bundle, Policy) {
        let venue_keys = [SigningKey::from_bytes(&[21; 32]), SigningKey::from_bytes(&[22; 32])];
        let names = [("deribit", "sub-1"), ("okx", "main")];
        let attestations: Vec<Attestation> = (0..2)
            .map(|i| Attestation::sign(&venue_keys[i], names[i].0, names[i].1, &format!("{:02x}", i + 1).repeat(32), as_of[i]).unwrap())
            .collect();
        let bundle: Bundle = serde_json::from_value(serde_json::json!({
            "format": crate::bundle::FORMAT,
            "market": {"id": "q", "digest": market().digest_hex()},
            "statement": {"level": "initial", "threshold": "0.000000", "nonce": "",
                "groups": [{"name": "g", "mode": "portfolio"}],
                "accounts": names.iter().zip(&attestations).map(|((v, a), att)| serde_json::json!(
                    {"venue": v, "account": a, "group": "g", "commitment": att.commitment})).collect::<Vec<_>>()},
            "circuit": {"k": 11, "accounts": 2, "positions": 2, "collateral": 2, "groups": 1, "nets": 2, "scenarios": 8},
            "attestations": attestations,
            "proof": ""
        }))
        .unwrap();
        let mut policy = policy(&[&SigningKey::from_bytes(&[1; 32])], None);
        for (i, (venue, _)) in names.iter().enumerate() {
            policy.venues.insert(venue.to_string(), vec![hex::encode(venue_keys[i].verifying_key().to_bytes())]);
        }
        (bundle, policy)
    }

    /// `policy.check` of the bundle with the market signed by the policy's publisher.
    fn check_at(policy: &Policy, bundle: &Bundle, now: i64) -> Result<(), String> {
        let sig = MarketSignature::sign(&SigningKey::from_bytes(&[1; 32]), &market());
        policy.check(&market(), bundle, &[("market.sig", &sig)], None, now)
    }

    #[test]
    fn the_market_age_is_limited_only_when_the_policy_says_so() {
        let (bundle, mut policy) = attested_bundle(["2026-11-25T07:30:00Z", "2026-11-25T07:31:00Z"]);
        let year_later = MARKET_TIME + 365 * 86_400;
        // Absent: any age, and a market ahead of the clock, pass (old policies keep working).
        assert_eq!(check_at(&policy, &bundle, year_later), Ok(()));
        assert_eq!(check_at(&policy, &bundle, MARKET_TIME - 86_400), Ok(()));
        policy.max_market_age_seconds = Some(3600);
        assert_eq!(check_at(&policy, &bundle, MARKET_TIME + 3600), Ok(()));
        let err = check_at(&policy, &bundle, MARKET_TIME + 3601).unwrap_err();
        assert!(err.contains("market \"q\"") && err.contains("3601 s old") && err.contains("max_market_age_seconds"), "{err}");
        assert!(check_at(&policy, &bundle, year_later).is_err());
        // A market dated ahead of the verifier's clock: up to 300 s of skew, no more.
        assert_eq!(check_at(&policy, &bundle, MARKET_TIME - 300), Ok(()));
        let err = check_at(&policy, &bundle, MARKET_TIME - 301).unwrap_err();
        assert!(err.contains("301 s after the verifier's clock (2026-11-25T07:54:59Z)"), "{err}");
    }

    #[test]
    fn attestations_dated_after_the_market_are_refused_beyond_the_skew() {
        // Five minutes after the market: within the default skew.
        let (bundle, mut policy) = attested_bundle(["2026-11-25T07:30:00Z", "2026-11-25T08:05:00Z"]);
        assert_eq!(check_at(&policy, &bundle, MARKET_TIME), Ok(()));
        // One second more: refused by default, naming the account.
        let (late, _) = attested_bundle(["2026-11-25T07:30:00Z", "2026-11-25T08:05:01Z"]);
        let err = check_at(&policy, &late, MARKET_TIME).unwrap_err();
        assert!(err.contains("okx/main") && err.contains("301 s after the market's") && err.contains("max_attestation_skew_seconds (300)"), "{err}");
        // A policy may allow more, or less.
        policy.max_attestation_skew_seconds = Some(600);
        assert_eq!(check_at(&policy, &late, MARKET_TIME), Ok(()));
        policy.max_attestation_skew_seconds = Some(0);
        assert!(check_at(&policy, &bundle, MARKET_TIME).unwrap_err().contains("okx/main"));
        // Attestations before the market are the age limit's business, not the skew's.
        let (early, _) = attested_bundle(["2026-11-20T08:00:00Z", "2026-11-25T08:00:00Z"]);
        assert_eq!(check_at(&policy, &early, MARKET_TIME), Ok(()));
        policy.max_age_seconds = Some(86_400);
        assert!(check_at(&policy, &early, MARKET_TIME).unwrap_err().contains("deribit/sub-1"));
    }

    #[test]
    fn the_attestations_of_a_bundle_must_lie_within_the_spread() {
        let (bundle, mut policy) = attested_bundle(["2026-11-25T07:30:00Z", "2026-11-25T07:40:00Z"]);
        assert_eq!(check_at(&policy, &bundle, MARKET_TIME), Ok(()), "absent: not limited");
        policy.max_attestation_spread_seconds = Some(600);
        assert_eq!(check_at(&policy, &bundle, MARKET_TIME), Ok(()));
        policy.max_attestation_spread_seconds = Some(599);
        let err = check_at(&policy, &bundle, MARKET_TIME).unwrap_err();
        assert!(
            err.contains("600 s") && err.contains("deribit/sub-1 as of 2026-11-25T07:30:00Z") && err.contains("okx/main as of 2026-11-25T07:40:00Z"),
            "{err}"
        );
        assert!(err.contains("max_attestation_spread_seconds (599)") && err.contains("count twice"), "{err}");
        // A common cut-off passes a spread of 0, whatever the offsets it is written with.
        let (same, _) = attested_bundle(["2026-11-25T07:30:00Z", "2026-11-25T08:30:00+01:00"]);
        policy.max_attestation_spread_seconds = Some(0);
        assert_eq!(check_at(&policy, &same, MARKET_TIME), Ok(()));
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
}
