//! Rebuilding verifying keys and checking bundles against a market snapshot.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use halo2_proofs::plonk::{keygen_vk, verify_proof, SingleVerifier, VerifyingKey};
use halo2_proofs::poly::commitment::Params;
use halo2_proofs::transcript::{Blake2bRead, Challenge255};
use pasta_curves::vesta;
use zkmargin_circuits::circuit::{estimated_k, MarginCircuit};
use zkmargin_circuits::market::{Level, Market};
use zkmargin_circuits::shape::Shape;
use zkmargin_circuits::tables::MarketTables;
use zkmargin_circuits::with_lanes;

use crate::bundle::{Bundle, FORMAT};
use crate::params;
use crate::progress::{Progress, Silent};

/// Why a bundle is not a valid proof of what was asked (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The bundle is for another format version.
    #[error("unsupported bundle format {0:?} (this verifier implements {FORMAT:?}{hint})", hint = format_hint(.0))]
    Format(String),
    /// The bundle is about another market snapshot.
    #[error("the proof is about market {bundle_id:?} with digest {bundle_digest}, not market {market_id:?} with digest {market_digest}")]
    OtherMarket {
        /// Market id in the bundle.
        bundle_id: String,
        /// Digest in the bundle.
        bundle_digest: String,
        /// Market id given.
        market_id: String,
        /// Digest of the market given.
        market_digest: String,
    },
    /// The statement's threshold is below what was asked.
    #[error("the proof states an excess of at least {stated}, below the required {required}")]
    ThresholdTooLow {
        /// Stated threshold.
        stated: String,
        /// Required threshold.
        required: String,
    },
    /// The statement's nonce is not the one asked for.
    #[error("the proof carries nonce {stated:?}, not the expected {expected:?}")]
    Nonce {
        /// Nonce in the statement.
        stated: String,
        /// Nonce asked for.
        expected: String,
    },
    /// The statement or shape is malformed.
    #[error("invalid statement: {0}")]
    Statement(String),
    /// The proof does not verify.
    #[error("the proof does not verify for this statement and market")]
    Proof,
}

fn format_hint(format: &str) -> &'static str {
    if format == "zkmargin-proof/1" {
        "; format 1 used the first commitment encoding, which this version no longer proves or checks: prove again with this version"
    } else {
        ""
    }
}

/// Errors that are not about the proof (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    /// Parameters could not be loaded or written.
    #[error(transparent)]
    Params(#[from] params::ParamsError),
    /// Key generation failed.
    #[error("cannot rebuild the verifying key: {0}")]
    Keygen(String),
}

/// The outcome of a verification.
#[derive(Debug)]
pub enum Outcome {
    /// Valid.
    Valid,
    /// Invalid, with the reason.
    Invalid(Rejection),
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct KeyId {
    digest: [u8; 32],
    level: Level,
    shape: Shape,
}

/// A verifier: caches parameters and verifying keys in memory across bundles.
pub struct Verifier {
    params_dir: PathBuf,
    progress: Arc<dyn Progress>,
    params: Mutex<HashMap<u32, Arc<Params<vesta::Affine>>>>,
    keys: Mutex<HashMap<KeyId, Arc<VerifyingKey<vesta::Affine>>>>,
}

/// What a verifier is asked beyond the proof itself.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    /// Minimum threshold the statement must carry, in money units.
    pub min_threshold_units: Option<i128>,
    /// Nonce the statement must carry (hex, compared case-insensitively).
    pub nonce: Option<String>,
}

impl Verifier {
    /// A verifier reading parameters from `params_dir`.
    pub fn new(params_dir: PathBuf) -> Self {
        Verifier { params_dir, progress: Arc::new(Silent), params: Mutex::default(), keys: Mutex::default() }
    }

    /// The same verifier, announcing its stages (parameters, key rebuilding, verification)
    /// to `progress`.
    pub fn with_progress(self, progress: Arc<dyn Progress>) -> Self {
        Verifier { progress, ..self }
    }

    /// Parameters for k (cached in memory and on disk).
    pub fn params(&self, k: u32) -> Result<Arc<Params<vesta::Affine>>, VerifierError> {
        if let Some(p) = self.params.lock().expect("lock").get(&k) {
            return Ok(p.clone());
        }
        let (p, _) = params::load_or_create_with(&self.params_dir, k, self.progress.as_ref())?;
        let p = Arc::new(p);
        self.params.lock().expect("lock").insert(k, p.clone());
        Ok(p)
    }

    /// The verifying key of the margin circuit for (market, level, shape).
    pub fn verifying_key(&self, market: &Market, level: Level, shape: &Shape)
        -> Result<Arc<VerifyingKey<vesta::Affine>>, VerifierError> {
        let id = KeyId { digest: market.digest(), level, shape: *shape };
        if let Some(vk) = self.keys.lock().expect("lock").get(&id) {
            return Ok(vk.clone());
        }
        let params = self.params(shape.k)?;
        self.progress.stage(&format!("verifying key (rebuilt from market {:?} at k={})", market.id, shape.k));
        let tables = MarketTables::new(market, level, shape.scenarios);
        let vk = with_lanes!(shape.scenarios, S => {
            let circuit = MarginCircuit::<S> { shape: *shape, tables, plan: None };
            keygen_vk(&params, &circuit)
        })
        .map_err(|e| VerifierError::Keygen(format!("{e:?}")))?;
        let vk = Arc::new(vk);
        self.keys.lock().expect("lock").insert(id, vk.clone());
        Ok(vk)
    }

    /// Checks `bundle` against `market` and the expectations.
    pub fn verify(&self, market: &Market, bundle: &Bundle, expect: &Expectations) -> Result<Outcome, VerifierError> {
        match self.check(market, bundle, expect) {
            Ok(Ok(())) => Ok(Outcome::Valid),
            Ok(Err(rejection)) => Ok(Outcome::Invalid(rejection)),
            Err(e) => Err(e),
        }
    }

    fn check(&self, market: &Market, bundle: &Bundle, expect: &Expectations) -> Result<Result<(), Rejection>, VerifierError> {
        let reject = |r| Ok(Err(r));
        if bundle.format != FORMAT {
            return reject(Rejection::Format(bundle.format.clone()));
        }
        let digest = market.digest();
        if bundle.market.digest != hex::encode(digest) || bundle.market.id != market.id {
            return reject(Rejection::OtherMarket {
                bundle_id: bundle.market.id.clone(),
                bundle_digest: bundle.market.digest.clone(),
                market_id: market.id.clone(),
                market_digest: hex::encode(digest),
            });
        }
        let statement = &bundle.statement;
        let stated = match statement.threshold_units() {
            Ok(t) => t,
            Err(e) => return reject(Rejection::Statement(e)),
        };
        if let Some(required) = expect.min_threshold_units {
            if stated < required {
                return reject(Rejection::ThresholdTooLow {
                    stated: statement.threshold.clone(),
                    required: zkmargin_circuits::fixed::format_units(required, 6),
                });
            }
        }
        if let Some(nonce) = &expect.nonce {
            if !nonce.eq_ignore_ascii_case(&statement.nonce) {
                return reject(Rejection::Nonce { stated: statement.nonce.clone(), expected: nonce.clone() });
            }
        }
        let shape = &bundle.circuit;
        if let Err(e) = shape.check_limits() {
            return reject(Rejection::Statement(format!("circuit shape: {e}")));
        }
        if shape.scenarios < market.scenarios.len() {
            return reject(Rejection::Statement("circuit shape has fewer scenario lanes than the market".into()));
        }
        let min_k = estimated_k(market.instruments.len(), market.assets.len());
        if shape.k < min_k {
            return reject(Rejection::Statement(format!("circuit shape: k = {} is too small for its slots (at least {min_k})", shape.k)));
        }
        let public = match statement.public_inputs(shape, &digest) {
            Ok(p) => p,
            Err(e) => return reject(Rejection::Statement(e)),
        };
        let proof = match hex::decode(&bundle.proof) {
            Ok(p) => p,
            Err(_) => return reject(Rejection::Statement("proof is not hex".into())),
        };
        let vk = match self.verifying_key(market, statement.level, shape) {
            Ok(vk) => vk,
            Err(VerifierError::Keygen(why)) => return reject(Rejection::Statement(format!("circuit shape cannot be built: {why}"))),
            Err(other) => return Err(other),
        };
        let params = self.params(shape.k)?;
        self.progress.stage("verifying the proof");
        let mut reader = std::io::Cursor::new(&proof[..]);
        let mut transcript = Blake2bRead::<_, vesta::Affine, Challenge255<_>>::init(&mut reader);
        let strategy = SingleVerifier::new(&params);
        let ok = verify_proof(&params, &vk, strategy, &[&[&public[..]]], &mut transcript).is_ok();
        if !ok || reader.position() as usize != proof.len() {
            return reject(Rejection::Proof);
        }
        Ok(Ok(()))
    }
}
