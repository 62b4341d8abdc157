//! The one place the service calls the verifier library: proof verification and the
//! trust policy, for one bundle against one stored market. Kept small so that a change of
//! the verifier's API (batch verification, typed verdicts, lender expectations) is
//! re-pointed here and nowhere else.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use zkmargin_circuits::market::Market;
use zkmargin_verifier::bundle::Bundle;
use zkmargin_verifier::trust::{MarketSignature, Policy};
use zkmargin_verifier::verify::{Expectations, Outcome, Verifier};

/// Verifies bundles for the service. Thread-safe; meant to be shared by the blocking
/// workers (the verifier caches parameters and verifying keys).
pub struct Checker {
    verifier: Verifier,
    policy: Policy,
    policy_hash: String,
    markets: Mutex<HashMap<String, Arc<Market>>>,
}

/// SHA-256 (hex) of a policy as the service holds it (every field, in its type's order):
/// what a verdict depended on, recorded with it.
pub fn policy_hash(policy: &Policy) -> String {
    let text = serde_json::to_string(policy).expect("a policy always serializes");
    hex::encode(Sha256::new().chain_update(b"zkmargin-policy/1\n").chain_update(text).finalize())
}

/// SHA-256 (hex) of a stored market's signature set (`signatures_json`): the signers
/// and signatures, in lower case, sorted, whatever their order in the row.
pub fn signatures_hash(signatures_json: &str) -> String {
    let mut h = Sha256::new().chain_update(b"zkmargin-signature-set/1\n");
    match serde_json::from_str::<Vec<MarketSignature>>(signatures_json) {
        Ok(sigs) => {
            let mut set: Vec<String> =
                sigs.iter().map(|s| format!("{}:{}\n", s.signer.to_ascii_lowercase(), s.signature.to_ascii_lowercase())).collect();
            set.sort();
            set.dedup();
            set.iter().for_each(|line| h.update(line));
        }
        Err(_) => h.update(signatures_json),
    }
    hex::encode(h.finalize())
}

/// Parsed markets kept by [`Checker::market`] (a market is immutable under its digest).
const CACHED_MARKETS: usize = 16;

impl Checker {
    /// A checker reading parameters from `params_dir`, applying `policy`.
    pub fn new(params_dir: PathBuf, policy: Policy) -> Checker {
        Checker { verifier: Verifier::new(params_dir), policy_hash: policy_hash(&policy), policy, markets: Mutex::new(HashMap::new()) }
    }

    /// The stored market with this digest, parsed from `json` once and then kept (the
    /// most recent ones, up to `CACHED_MARKETS`). CPU work: call it from a worker.
    pub fn market(&self, digest: &str, json: &str) -> Result<Arc<Market>, String> {
        if let Some(m) = self.markets.lock().map_err(|e| e.to_string())?.get(digest) {
            return Ok(m.clone());
        }
        let market = Arc::new(Market::from_json("stored market", json).map_err(|e| e.to_string())?);
        let mut markets = self.markets.lock().map_err(|e| e.to_string())?;
        if markets.len() >= CACHED_MARKETS {
            markets.clear();
        }
        markets.insert(digest.to_string(), market.clone());
        Ok(market)
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// [`policy_hash`] of the policy in force.
    pub fn policy_hash(&self) -> &str {
        &self.policy_hash
    }

    /// Checks `bundle` against `market` (signed by `signatures`), the policy and the nonce
    /// the service issued, at `now` (Unix seconds: the service's clock at submission,
    /// which the policy's market age is measured against) (a lender's `?threshold`/`?level` are checked before, on the
    /// statement alone: [`zkmargin_verifier::verify::check_statement`]). `Ok(None)`: valid; `Ok(Some(reason))`: invalid; `Err`: the verifier
    /// itself failed (parameters, keys), no verdict.
    /// Blocking and CPU-heavy: call it from a blocking worker only.
    pub fn check(
        &self,
        market: &Market,
        signatures: &[MarketSignature],
        bundle: &Bundle,
        nonce: &str,
        now: i64,
    ) -> Result<Option<String>, String> {
        let expect = Expectations {
            nonce: Some(nonce.to_string()),
            max_k: self.policy.max_k.unwrap_or(zkmargin_verifier::trust::DEFAULT_MAX_K),
            ..Expectations::default()
        };
        match self.verifier.verify(market, bundle, &expect).map_err(|e| e.to_string())? {
            Outcome::Valid => {}
            Outcome::Invalid(reason) => return Ok(Some(reason.to_string())),
        }
        // Every stored signature was checked on POST /v1/markets; the policy checks them
        // again together, with its publisher quorum.
        let sigs: Vec<(&str, &MarketSignature)> = signatures.iter().map(|s| ("market signature", s)).collect();
        match self.policy.check(market, bundle, &sigs, Some(nonce), now) {
            Ok(()) => Ok(None),
            Err(why) => Ok(Some(format!("invalid under the policy: {why}"))),
        }
    }
}

/// Checks a posted market signature against the policy: the signer is a listed
/// publisher, the digest is this market's, the signature verifies.
pub fn check_market_signature(policy: &Policy, market: &Market, sig: &MarketSignature) -> Result<(), String> {
    if !policy.publishers.iter().any(|p| p.eq_ignore_ascii_case(&sig.signer)) {
        return Err(format!("signer {} is not a listed publisher", sig.signer));
    }
    let digest = market.digest_hex();
    if !sig.digest.eq_ignore_ascii_case(&digest) {
        return Err(format!("the signature is over market digest {}, not this market's {digest}", sig.digest));
    }
    sig.check()
}

/// Checks the signatures posted with a market together: each by a listed publisher, over
/// this market, valid (`errors` gets each one that is not), and together from at least the
/// policy's publisher quorum of distinct publishers. Returns the good ones, deduplicated
/// by signer.
pub fn accepted_signatures(policy: &Policy, market: &Market, posted: Vec<MarketSignature>) -> Result<Vec<MarketSignature>, String> {
    let mut accepted: Vec<MarketSignature> = Vec::new();
    let mut errors = Vec::new();
    for sig in posted {
        match check_market_signature(policy, market, &sig) {
            Ok(()) if !accepted.iter().any(|a| a.signer.eq_ignore_ascii_case(&sig.signer)) => accepted.push(sig),
            Ok(()) => {}
            Err(why) => errors.push(why),
        }
    }
    if accepted.is_empty() {
        return Err(format!("not signed by a publisher the policy lists: {}", errors.join("; ")));
    }
    let sigs: Vec<(&str, &MarketSignature)> = accepted.iter().map(|s| ("market signature", s)).collect();
    policy.check_market_signatures(market, &sigs)?;
    Ok(accepted)
}
