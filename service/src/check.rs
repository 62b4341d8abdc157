//! The one place the service calls the verifier library: proof verification and the
//! trust policy, for one bundle against one stored market. Kept small so that a change of
//! the verifier's API (batch verification, typed verdicts, lender expectations) is
//! re-pointed here and nowhere else.

use std::path::PathBuf;

use zkmargin_circuits::market::Market;
use zkmargin_verifier::bundle::Bundle;
use zkmargin_verifier::trust::{MarketSignature, Policy};
use zkmargin_verifier::verify::{Expectations, Outcome, Verifier};

/// What the lender asks of a bundle beyond the policy (optional query parameters of
/// `POST /v1/proofs`).
#[derive(Clone, Debug, Default)]
pub struct Requirements {
    /// Minimum threshold in money units.
    pub min_threshold_units: Option<i128>,
    /// Required level (`initial` or `maintenance`).
    pub level: Option<zkmargin_circuits::market::Level>,
}

/// Verifies bundles for the service. Thread-safe; meant to be shared by the blocking
/// workers (the verifier caches parameters and verifying keys).
pub struct Checker {
    verifier: Verifier,
    policy: Policy,
}

impl Checker {
    /// A checker reading parameters from `params_dir`, applying `policy`.
    pub fn new(params_dir: PathBuf, policy: Policy) -> Checker {
        Checker { verifier: Verifier::new(params_dir), policy }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Checks `bundle` against `market` (signed by `signatures`), the policy, the nonce
    /// the service issued and the requirements. `Ok(None)`: valid; `Ok(Some(reason))`:
    /// invalid; `Err`: the verifier itself failed (parameters, keys), no verdict.
    /// Blocking and CPU-heavy: call it from a blocking worker only.
    pub fn check(
        &self,
        market: &Market,
        signatures: &[MarketSignature],
        bundle: &Bundle,
        nonce: &str,
        req: &Requirements,
    ) -> Result<Option<String>, String> {
        if let Some(level) = req.level {
            if bundle.statement.level != level {
                return Ok(Some(format!("the proof is at level {}, not the required {level}", bundle.statement.level)));
            }
        }
        let expect = Expectations { min_threshold_units: req.min_threshold_units, nonce: Some(nonce.to_string()) };
        match self.verifier.verify(market, bundle, &expect).map_err(|e| e.to_string())? {
            Outcome::Valid => {}
            Outcome::Invalid(reason) => return Ok(Some(reason.to_string())),
        }
        // The policy takes one signature; any listed publisher's will do (stored
        // signatures were all checked on POST /v1/markets).
        let mut last = String::from("the market has no publisher signature");
        for sig in signatures {
            match self.policy.check(market, bundle, Some(("market signature", sig)), Some(nonce)) {
                Ok(()) => return Ok(None),
                Err(why) => last = why,
            }
        }
        Ok(Some(format!("invalid under the policy: {last}")))
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
