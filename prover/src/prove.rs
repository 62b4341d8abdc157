//! Proving: check the claim, size the circuit, make the proof, write the bundle.

use std::path::Path;

use halo2_proofs::plonk::{create_proof, keygen_pk, keygen_vk};
use halo2_proofs::transcript::{Blake2bWrite, Challenge255};
use pasta_curves::vesta;
use zkmargin_circuits::circuit::{size, Layout, MarginCircuit, Sizing};
use zkmargin_circuits::market::{Level, Market};
use zkmargin_circuits::shape::MAX_K;
use zkmargin_circuits::tables::MarketTables;
use zkmargin_circuits::witness::{Claim, Forgery, Plan};
use zkmargin_circuits::with_circuit;
use zkmargin_verifier::bundle::{Bundle, MarketRef, FORMAT};
use zkmargin_verifier::params;
use zkmargin_verifier::progress::Progress;

use crate::engine::{self, money_to_common, ClaimFailure};
use crate::portfolio::Portfolio;
use crate::statement::{build, shape_for};

/// Why no proof was made.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// The claim does not hold (exit 1); nothing was proven.
    #[error("the claim does not hold: {0}")]
    ClaimDoesNotHold(ClaimFailure),
    /// The portfolio does not fit any supported shape (exit 2).
    #[error("the portfolio is too large to prove: {0}")]
    TooLarge(String),
    /// The claim cannot be made on this book (exit 2): a leverage cap over an instrument
    /// the market gives no notional (SPEC section 10), whether or not it would hold.
    #[error("cannot claim this on the book: {0}")]
    InvalidClaim(String),
    /// Parameters could not be loaded or written (exit 3).
    #[error(transparent)]
    Params(#[from] params::ParamsError),
    /// The proving system failed (exit 3).
    #[error("proving failed: {0}")]
    Proving(String),
}

/// Time spent in each step, for people who want to know.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    /// Sizing the circuit (exact row count) and loading or generating parameters.
    pub params: std::time::Duration,
    /// Key generation (vk and pk).
    pub keygen: std::time::Duration,
    /// Witness planning and proof creation.
    pub prove: std::time::Duration,
}

/// A made proof.
#[derive(Debug)]
pub struct Proven {
    /// The bundle to hand out.
    pub bundle: Bundle,
    /// Where the time went.
    pub timings: Timings,
}

/// Proves that `portfolio` meets `level` with at least `claim.threshold_units` (money
/// units) of total excess against `market`, and every covenant of `claim`, with the
/// statement carrying `nonce` (hex).
///
/// The portfolio must have been checked against the market and carry salts. Stages
/// (parameters, keys, witness, proof) are announced to `progress` as they start.
pub fn prove(
    market: &Market,
    portfolio: &Portfolio,
    level: Level,
    claim: &Claim,
    nonce: &str,
    params_dir: &Path,
    progress: &dyn Progress,
) -> Result<Proven, ProveError> {
    progress.stage("checking the claim with the exact engine");
    let report = engine::compute(market, portfolio);
    report.check_covenant_inputs(&claim.covenants).map_err(|m| ProveError::InvalidClaim(m.to_string()))?;
    report
        .check_claim_with(level, money_to_common(claim.threshold_units), &claim.covenants)
        .map_err(ProveError::ClaimDoesNotHold)?;
    let inputs = build(market, portfolio, level, claim, nonce);
    let shape = shape_for(&inputs).map_err(ProveError::TooLarge)?;
    let digest = market.digest();
    let public = inputs.statement.public_inputs(&shape, &digest).map_err(ProveError::Proving)?;
    let tables = MarketTables::new(market, level, shape.scenarios);
    let mut timings = Timings::default();
    let started = std::time::Instant::now();
    // The exact row count of each layout (passes that commit nothing) fixes k and the layout.
    progress.stage("sizing the circuit (row count)");
    let Sizing { k, layout } = size(&shape, &tables);
    with_circuit!(tables, layout, S, L, C => {
        let mut circuit = MarginCircuit::<S, L, C> { shape, tables, plan: None };
        if k > MAX_K {
            return Err(ProveError::TooLarge(format!("the circuit needs 2^{k} rows, above 2^{MAX_K}")));
        }
        circuit.shape.k = k;
        let (params, _) = params::load_or_create_with(params_dir, k, progress)?;
        timings.params = started.elapsed();
        let started = std::time::Instant::now();
        progress.stage(&format!("verifying key (k={k})"));
        let vk = keygen_vk(&params, &circuit).map_err(|e| ProveError::Proving(format!("{e:?}")))?;
        progress.stage("proving key");
        let pk = keygen_pk(&params, vk, &circuit).map_err(|e| ProveError::Proving(format!("{e:?}")))?;
        timings.keygen = started.elapsed();
        let started = std::time::Instant::now();
        progress.stage("witness");
        let hash_lanes = Layout::ALL[layout].hash_lanes;
        let plan = Plan::in_lanes(hash_lanes, &circuit.shape, &circuit.tables, &inputs.witness, claim, &public, &Forgery::default())
            .map_err(|e| ProveError::Proving(e.to_string()))?;
        circuit.plan = Some(plan);
        progress.stage("proof (create_proof)");
        let mut transcript = Blake2bWrite::<_, vesta::Affine, Challenge255<_>>::init(vec![]);
        create_proof(&params, &pk, std::slice::from_ref(&circuit), &[&[&public[..]]], rand::rng(), &mut transcript)
            .map_err(|e| ProveError::Proving(format!("{e:?}")))?;
        let proof = transcript.finalize();
        timings.prove = started.elapsed();
        let bundle = Bundle {
            format: FORMAT.to_string(),
            market: MarketRef { id: market.id.clone(), digest: hex::encode(digest) },
            statement: inputs.statement,
            circuit: circuit.shape,
            attestations: vec![],
            proof: hex::encode(proof),
        };
        Ok(Proven { bundle, timings })
    })
}
