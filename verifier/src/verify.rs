//! Rebuilding verifying keys and checking bundles against market snapshots, one at a
//! time or many at once.
//!
//! [`Verifier::verify_many`] works in three steps:
//!
//! 1. **cheap checks** for every bundle ([`precheck`]): format, the market it names, the
//!    lender's expectations ([`Expectations`]), a statement that states something, a
//!    shape no larger than `max_k` and than the statement can need. Nothing here loads
//!    parameters or builds keys, so a hostile bundle costs microseconds;
//! 2. the bundles that pass are grouped by (market, level, shape): one verifying key
//!    per group, built once and cached;
//! 3. each group is checked with one batched multi-scalar multiplication (halo2's
//!    `VerificationStrategy` returning each proof's MSM, combined with weights derived
//!    by hashing every proof and public input of the batch). A failed batch is bisected
//!    so that exactly the bundles whose own proof fails are named.
//!
//! With the `parallel` feature (native default), independent groups and the proofs
//! inside a group are processed with rayon.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ff::{FromUniformBytes, PrimeField};
use halo2_proofs::plonk::{keygen_vk, verify_proof, Error as PlonkError, VerificationStrategy, VerifyingKey};
use halo2_proofs::poly::commitment::{Guard, Params, MSM};
use halo2_proofs::transcript::{Blake2bRead, Challenge255, EncodedChallenge};
use pasta_curves::vesta;
use sha2::{Digest, Sha512};
use zkmargin_circuits::circuit::{estimated_k, size, MarginCircuit, Sizing};
use zkmargin_circuits::encoding::Fp;
use zkmargin_circuits::market::{Level, Market};
use zkmargin_circuits::shape::{Shape, SCENARIO_LANES};
use zkmargin_circuits::statement::Statement;
use zkmargin_circuits::tables::MarketTables;
use zkmargin_circuits::with_circuit;

use crate::bundle::{Bundle, FORMAT};
pub use crate::expect::{Expectations, Netting};
use crate::expect::{covenants_fall_short, level_satisfies, vacuous};
use crate::params;
use crate::progress::{Progress, Silent};

/// Largest number of proofs checked in one multi-scalar multiplication (memory: each
/// proof holds 2^k scalars until its batch is evaluated).
pub const MAX_BATCH: usize = 32;

/// Why a bundle is not a valid proof of what was asked (exit 1).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
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
    /// The bundle names a market that is not among those given.
    #[error("the proof is about market {id:?} with digest {digest}, which is not one of the markets given")]
    UnknownMarket {
        /// Market id in the bundle.
        id: String,
        /// Digest in the bundle.
        digest: String,
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
    #[error("the proof carries {}, not the expected nonce {expected:?}", stated_nonce(.stated))]
    Nonce {
        /// Nonce in the statement.
        stated: String,
        /// Nonce asked for.
        expected: String,
    },
    /// The statement is at another level than asked.
    #[error("the proof is at the {stated} level, not the required {required} level{}", if *.at_least { " or stricter" } else { "" })]
    Level {
        /// Level of the statement.
        stated: Level,
        /// Level asked for.
        required: Level,
        /// Whether a stricter level was acceptable.
        at_least: bool,
    },
    /// An initial-level statement offered for a maintenance request (`--level-at-least`)
    /// on a market whose initial margin is not at least as strict as its maintenance
    /// margin everywhere ([`Market::is_monotone`]): the one does not imply the other.
    #[error(
        "the proof is at the initial level and the required maintenance level may be taken from it only on a monotone market; \
         market {market:?} is not monotone (its initial loss factor, linear rates and short charges are not all at least \
         their maintenance values, or its initial class offset is above the maintenance one), so an initial-level proof \
         does not show maintenance margin"
    )]
    NotMonotone {
        /// The market's id.
        market: String,
    },
    /// The statement claims less of a covenant than was asked (or none), naming it.
    #[error("{0}")]
    Covenant(String),
    /// An account the lender asked for is not in the statement.
    #[error("account {venue}/{account} is not in the statement")]
    MissingAccount {
        /// Venue.
        venue: String,
        /// Account.
        account: String,
    },
    /// The statement states nothing: no account, or a group without one.
    #[error("vacuous statement: {0}")]
    Vacuous(String),
    /// A group pools more accounts than the netting rule allows.
    #[error("netting: {0}")]
    Netting(String),
    /// The shape is larger than the verifier will pay for, or than the statement needs.
    #[error("refused before any work: {0}")]
    TooCostly(String),
    /// The statement or shape is malformed.
    #[error("invalid statement: {0}")]
    Statement(String),
    /// The proof field is not a proof's encoding (not hex).
    #[error("malformed proof: {0}")]
    MalformedProof(String),
    /// The proof does not verify.
    #[error("the proof does not verify for this statement and market")]
    Proof,
}

fn stated_nonce(stated: &str) -> String {
    if stated.is_empty() {
        "no nonce".into()
    } else {
        format!("nonce {stated:?}")
    }
}

fn format_hint(format: &str) -> &'static str {
    match format {
        "zkmargin-proof/1" => {
            "; format 1 used the first commitment encoding, which this version no longer proves or checks: prove again with this version"
        }
        "zkmargin-proof/2" => {
            "; format 2 is the circuit before risk classes, tiered haircuts and covenants (same commitments: venues' attestations stay valid): prove again with this version"
        }
        _ => "",
    }
}

/// Errors that are not about the proof (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    /// Parameters could not be loaded or written.
    #[error(transparent)]
    Params(#[from] params::ParamsError),
    /// Parameters for this k were not supplied (in-memory verifier).
    #[error("no parameters for k = {0}: supply them with `Verifier::add_params`")]
    MissingParams(u32),
    /// Key generation failed.
    #[error("cannot rebuild the verifying key: {0}")]
    Keygen(String),
}

/// The outcome of a verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Valid.
    Valid,
    /// Invalid, with the reason.
    Invalid(Rejection),
}

impl Outcome {
    /// Whether the bundle is valid.
    pub fn is_valid(&self) -> bool {
        matches!(self, Outcome::Valid)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct KeyId {
    digest: [u8; 32],
    level: Level,
    shape: Shape,
}

enum Store {
    /// Parameter files under a directory, generated and cached when missing.
    Dir(PathBuf),
    /// Parameters handed in by the host ([`Verifier::add_params`]); missing ones are
    /// generated in memory up to this k, never written anywhere.
    Memory { generate_up_to: u32 },
}

/// A verifier: caches parameters and verifying keys in memory across bundles.
pub struct Verifier {
    store: Store,
    progress: Arc<dyn Progress>,
    params: Mutex<HashMap<u32, Arc<Params<vesta::Affine>>>>,
    keys: Mutex<HashMap<KeyId, Arc<VerifyingKey<vesta::Affine>>>>,
    sizings: Sizings,
}

type Msm<'p> = MSM<'p, vesta::Affine>;

/// A [`VerificationStrategy`] that hands back the proof's final MSM instead of
/// evaluating it, so that many can be checked with one multi-scalar multiplication.
struct Accumulate<'p> {
    msm: Msm<'p>,
}

impl<'p> VerificationStrategy<'p, vesta::Affine> for Accumulate<'p> {
    type Output = Msm<'p>;

    fn process<E: EncodedChallenge<vesta::Affine>>(
        self,
        f: impl FnOnce(Msm<'p>) -> Result<Guard<'p, vesta::Affine, E>, PlonkError>,
    ) -> Result<Self::Output, PlonkError> {
        Ok(f(self.msm)?.use_challenges())
    }
}

/// The verifying key of the margin circuit for (market, level, shape): the one place
/// that knows how a key is rebuilt from what a bundle carries.
pub fn build_verifying_key(
    params: &Params<vesta::Affine>,
    market: &Market,
    level: Level,
    shape: &Shape,
) -> Result<VerifyingKey<vesta::Affine>, String> {
    let tables = MarketTables::new(market, level, shape.scenarios);
    let layout = size(shape, &tables).layout;
    keygen_in_layout(params, &tables, shape, layout)
}

/// [`build_verifying_key`] with the tables built and the layout sized.
fn keygen_in_layout(params: &Params<vesta::Affine>, tables: &MarketTables, shape: &Shape, layout: usize)
    -> Result<VerifyingKey<vesta::Affine>, String> {
    with_circuit!(tables, layout, S, L, C => {
        let circuit = MarginCircuit::<S, L, C> { shape: *shape, tables: tables.clone(), plan: None };
        keygen_vk(params, &circuit)
    })
    .map_err(|e| format!("{e:?}"))
}

/// The scenario lanes a market's circuits use.
fn lanes_for(market: &Market) -> Option<usize> {
    SCENARIO_LANES.iter().copied().find(|&l| l >= market.scenarios.len())
}

/// The ladder size of n (as [`Shape::fitting`] rounds), for n ≥ 1.
fn ladder(n: usize, floor: usize) -> usize {
    n.max(floor).next_power_of_two()
}

/// Bundles checked together: the market's index, their key, and each bundle's index
/// with its prechecked inputs.
type BatchGroup = (usize, KeyId, Vec<(usize, Prechecked)>);

/// A bundle that passed the cheap checks: its public inputs and proof bytes.
#[derive(Clone, Debug)]
pub struct Prechecked {
    /// The circuit's public inputs.
    pub public: Vec<Fp>,
    /// The proof bytes.
    pub proof: Vec<u8>,
}

/// The sizing (exact k and layout) of each (market, level, shape) met so far: the layout
/// passes run once per key, not once per bundle (23 ms for the medium sample, 0.2 s for
/// the large one, against tens of ms to check a proof).
#[derive(Debug, Default)]
struct Sizings(Mutex<HashMap<KeyId, Sizing>>);

impl Sizings {
    /// The sizing of `key`, sized now over `tables()` (its market's tables, built only
    /// then) if it is new.
    fn get<T: Borrow<MarketTables>>(&self, key: &KeyId, tables: impl FnOnce() -> T) -> Sizing {
        if let Some(sizing) = self.0.lock().expect("lock").get(key) {
            return *sizing;
        }
        let sizing = size(&key.shape, tables().borrow());
        self.0.lock().expect("lock").insert(key.clone(), sizing);
        sizing
    }
}

/// Every check of `bundle` against `market` and `expect` that needs no parameters and
/// no key: format, market, expectations, statement, shape and cost bounds.
pub fn precheck(market: &Market, bundle: &Bundle, expect: &Expectations) -> Result<Prechecked, Rejection> {
    precheck_with_digest(market, &market.digest(), bundle, expect, &Sizings::default())
}

/// What the statement alone decides of the lender's expectations: level, threshold,
/// nonce, accounts and netting (no market, key or proof; [`precheck`] starts with it, and
/// a service can ask it before queueing any work).
pub fn check_statement(statement: &Statement, expect: &Expectations) -> Result<(), Rejection> {
    if let Some(required) = expect.level {
        if !level_satisfies(statement.level, required, expect.level_at_least) {
            return Err(Rejection::Level { stated: statement.level, required, at_least: expect.level_at_least });
        }
    }
    if let Some(required) = expect.min_threshold_units {
        if statement.threshold_units().map_err(Rejection::Statement)? < required {
            return Err(Rejection::ThresholdTooLow {
                stated: statement.threshold.clone(),
                required: zkmargin_circuits::fixed::format_units(required, 6),
            });
        }
    }
    if let Some(why) = covenants_fall_short(statement, &expect.covenants).map_err(Rejection::Statement)? {
        return Err(Rejection::Covenant(why));
    }
    if let Some(nonce) = &expect.nonce {
        if !nonce.eq_ignore_ascii_case(&statement.nonce) {
            return Err(Rejection::Nonce { stated: statement.nonce.clone(), expected: nonce.clone() });
        }
    }
    for (venue, account) in &expect.accounts {
        if !statement.accounts.iter().any(|a| &a.venue == venue && &a.account == account) {
            return Err(Rejection::MissingAccount { venue: venue.clone(), account: account.clone() });
        }
    }
    expect.netting.check(statement).map_err(Rejection::Netting)
}

/// What the market decides of the lender's level request: an initial-level statement
/// satisfies a maintenance request (`level_at_least`) only on a monotone market (SPEC
/// section 3). [`precheck`] asks it right after [`check_statement`].
pub fn check_level_substitution(market: &Market, statement: &Statement, expect: &Expectations) -> Result<(), Rejection> {
    let substituted = expect.level_at_least && expect.level.is_some_and(|required| required != statement.level);
    if substituted && !market.is_monotone() {
        return Err(Rejection::NotMonotone { market: market.id.clone() });
    }
    Ok(())
}

/// [`precheck`] with the market's digest already computed (it hashes the whole snapshot)
/// and the sizings of earlier bundles.
fn precheck_with_digest(market: &Market, digest: &[u8; 32], bundle: &Bundle, expect: &Expectations, sizings: &Sizings)
    -> Result<Prechecked, Rejection> {
    if bundle.format != FORMAT {
        return Err(Rejection::Format(bundle.format.clone()));
    }
    let digest = *digest;
    if bundle.market.digest != hex::encode(digest) || bundle.market.id != market.id {
        return Err(Rejection::OtherMarket {
            bundle_id: bundle.market.id.clone(),
            bundle_digest: bundle.market.digest.clone(),
            market_id: market.id.clone(),
            market_digest: hex::encode(digest),
        });
    }
    let statement = &bundle.statement;
    statement.threshold_units().map_err(Rejection::Statement)?;
    if let Some(why) = vacuous(statement) {
        return Err(Rejection::Vacuous(why));
    }
    check_statement(statement, expect)?;
    check_level_substitution(market, statement, expect)?;

    // Cost bounds: decided from the bundle's numbers alone.
    let shape = &bundle.circuit;
    if shape.k > expect.max_k {
        return Err(Rejection::TooCostly(format!("circuit k = {} is above the verifier's limit of {}", shape.k, expect.max_k)));
    }
    shape.check_limits().map_err(|e| Rejection::Statement(format!("circuit shape: {e}")))?;
    let lanes = lanes_for(market).ok_or_else(|| Rejection::Statement("the market has more scenarios than any circuit".into()))?;
    if shape.scenarios != lanes {
        return Err(Rejection::Statement(format!(
            "circuit shape has {} scenario lanes; this market's circuits have {lanes}",
            shape.scenarios
        )));
    }
    let (need_accounts, need_groups) = (ladder(statement.accounts.len(), 2), ladder(statement.groups.len(), 1));
    if shape.accounts > need_accounts || shape.groups > need_groups {
        return Err(Rejection::TooCostly(format!(
            "circuit shape has {} account and {} group slots; a statement of {} accounts and {} groups needs {} and {}",
            shape.accounts,
            shape.groups,
            statement.accounts.len(),
            statement.groups.len(),
            need_accounts,
            need_groups
        )));
    }
    // The cheap bound first (no layout), then the exact k the prover uses: a layout pass
    // that counts rows and commits nothing.
    let tiers = market.assets.iter().map(|a| a.bands().len()).max().unwrap_or(1);
    let floor = estimated_k(market.instruments.len(), market.assets.len() * tiers);
    if shape.k < floor {
        return Err(Rejection::Statement(format!("circuit shape: k = {} is too small for this market (at least {floor})", shape.k)));
    }
    let key = KeyId { digest, level: statement.level, shape: *shape };
    let exact_k = sizings.get(&key, || MarketTables::new(market, statement.level, shape.scenarios)).k;
    if shape.k < exact_k {
        return Err(Rejection::Statement(format!("circuit shape: k = {} is too small for its slots (they need {exact_k})", shape.k)));
    }
    if shape.k > exact_k {
        return Err(Rejection::TooCostly(format!("circuit k = {} is above what its shape needs ({exact_k})", shape.k)));
    }
    let public = statement.public_inputs(shape, &digest).map_err(Rejection::Statement)?;
    let proof = hex::decode(&bundle.proof).map_err(|e| Rejection::MalformedProof(format!("the proof field is not hex: {e}")))?;
    Ok(Prechecked { public, proof })
}

/// One proof of a batch.
struct Item<'a> {
    public: &'a [Fp],
    proof: &'a [u8],
}

fn par_map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync + Send) -> Vec<U> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        items.par_iter().map(f).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        items.iter().map(f).collect()
    }
}

/// Weights of the random linear combination of a batch, derived from everything the
/// batch holds (Fiat–Shamir): a prover cannot choose proofs after seeing the weights,
/// and no randomness source is needed (WebAssembly has none).
fn batch_weights(items: &[Item<'_>]) -> Vec<Fp> {
    let mut seed = Sha512::new();
    seed.update(b"zkmargin/batch-weights/1\0");
    for item in items {
        seed.update((item.public.len() as u64).to_le_bytes());
        for x in item.public {
            seed.update(x.to_repr());
        }
        seed.update((item.proof.len() as u64).to_le_bytes());
        seed.update(item.proof);
    }
    let seed = seed.finalize();
    (0..items.len() as u64)
        .map(|i| {
            let wide: [u8; 64] = Sha512::new().chain_update(seed).chain_update(i.to_le_bytes()).finalize().into();
            Fp::from_uniform_bytes(&wide)
        })
        .collect()
}

/// Checks the proofs of one (market, level, shape) group; `true` per valid proof.
fn check_batch(params: &Params<vesta::Affine>, vk: &VerifyingKey<vesta::Affine>, items: &[Item<'_>]) -> Vec<bool> {
    // Each proof's transcript is read to the end (nothing may follow it) and reduced to
    // its final MSM; a proof that fails here is invalid on its own.
    let msms: Vec<Option<Msm<'_>>> = par_map(items, |item| {
        let mut reader = std::io::Cursor::new(item.proof);
        let mut transcript = Blake2bRead::<_, vesta::Affine, Challenge255<_>>::init(&mut reader);
        let msm = verify_proof(params, vk, Accumulate { msm: MSM::new(params) }, &[&[item.public]], &mut transcript).ok()?;
        (reader.position() as usize == item.proof.len()).then_some(msm)
    });
    let weights = batch_weights(items);
    let mut valid = vec![false; items.len()];
    let candidates: Vec<usize> = (0..items.len()).filter(|&i| msms[i].is_some()).collect();
    let combined_ok = |indices: &[usize]| {
        let mut acc = params.empty_msm();
        for &i in indices {
            let mut m = msms[i].clone().expect("only candidates");
            m.scale(weights[i]);
            acc.add_msm(&m);
        }
        acc.eval()
    };
    // Returns whether every proof of `indices` is valid; `known_bad` when some is.
    fn bisect(indices: &[usize], known_bad: bool, ok: &dyn Fn(&[usize]) -> bool, valid: &mut [bool]) -> bool {
        if indices.is_empty() {
            return true;
        }
        if !known_bad && ok(indices) {
            for &i in indices {
                valid[i] = true;
            }
            return true;
        }
        if indices.len() == 1 {
            return false;
        }
        let (left, right) = indices.split_at(indices.len() / 2);
        let left_ok = bisect(left, false, ok, valid);
        // If the whole failed and the left half is fine, the bad proof is on the right.
        bisect(right, known_bad && left_ok, ok, valid);
        false
    }
    bisect(&candidates, false, &combined_ok, &mut valid);
    valid
}

impl Verifier {
    /// A verifier reading parameters from `params_dir` (generating and caching there
    /// the ones that are missing).
    pub fn new(params_dir: PathBuf) -> Self {
        Verifier {
            store: Store::Dir(params_dir),
            progress: Arc::new(Silent),
            params: Mutex::default(),
            keys: Mutex::default(),
            sizings: Sizings::default(),
        }
    }

    /// The same verifier, announcing its stages (parameters, key rebuilding, verification)
    /// to `progress`.
    pub fn with_progress(self, progress: Arc<dyn Progress>) -> Self {
        Verifier { progress, ..self }
    }

    /// A verifier that touches no file: parameters come from [`Verifier::add_params`];
    /// one that was not supplied is generated in memory if k ≤ `generate_up_to`
    /// (deterministic, but slow: seconds from k = 12), else the bundle cannot be checked.
    pub fn in_memory(generate_up_to: u32) -> Self {
        Verifier {
            store: Store::Memory { generate_up_to },
            progress: Arc::new(Silent),
            params: Mutex::default(),
            keys: Mutex::default(),
            sizings: Sizings::default(),
        }
    }

    /// Supplies the bytes of a parameter file (as `Params::write` and the `params/`
    /// cache hold them); they must match the pinned SHA-256 for their k. Returns k.
    pub fn add_params(&self, bytes: &[u8]) -> Result<u32, String> {
        let params = Params::<vesta::Affine>::read(&mut &bytes[..]).map_err(|e| format!("parameters do not parse: {e}"))?;
        let k = params.k();
        params::check_pinned(k, bytes)?;
        self.params.lock().expect("lock").insert(k, Arc::new(params));
        Ok(k)
    }

    /// Reads the parameters for k into memory when its directory already holds them
    /// (never generates them), so that a caller can overlap the read with other work; a
    /// later [`Verifier::params`] finds them there.
    pub fn preload(&self, k: u32) {
        if let Store::Dir(dir) = &self.store {
            if self.params.lock().expect("lock").contains_key(&k) {
                return;
            }
            if let Some(p) = params::load_cached(dir, k) {
                self.params.lock().expect("lock").entry(k).or_insert_with(|| Arc::new(p));
            }
        }
    }

    /// Parameters for k (cached in memory, and on disk for a directory verifier).
    pub fn params(&self, k: u32) -> Result<Arc<Params<vesta::Affine>>, VerifierError> {
        if let Some(p) = self.params.lock().expect("lock").get(&k) {
            return Ok(p.clone());
        }
        let p = match &self.store {
            Store::Dir(dir) => params::load_or_create_with(dir, k, self.progress.as_ref())?.0,
            Store::Memory { generate_up_to } if k <= *generate_up_to => Params::<vesta::Affine>::new(k),
            Store::Memory { .. } => return Err(VerifierError::MissingParams(k)),
        };
        let p = Arc::new(p);
        self.params.lock().expect("lock").insert(k, p.clone());
        Ok(p)
    }

    /// The verifying key of the margin circuit for (market, level, shape), built once.
    pub fn verifying_key(&self, market: &Market, level: Level, shape: &Shape)
        -> Result<Arc<VerifyingKey<vesta::Affine>>, VerifierError> {
        self.verifying_key_for(market, market.digest(), level, shape)
    }

    /// The key for (market, level, shape), built once (the market's tables are built only
    /// to rebuild it).
    fn verifying_key_for(&self, market: &Market, digest: [u8; 32], level: Level, shape: &Shape)
        -> Result<Arc<VerifyingKey<vesta::Affine>>, VerifierError> {
        let id = KeyId { digest, level, shape: *shape };
        if let Some(vk) = self.keys.lock().expect("lock").get(&id) {
            return Ok(vk.clone());
        }
        let params = self.params(shape.k)?;
        self.progress.stage(&format!("verifying key (rebuilt from market {:?} at k={})", market.id, shape.k));
        let tables = MarketTables::new(market, level, shape.scenarios);
        let layout = self.sizings.get(&id, || &tables).layout;
        let vk = Arc::new(keygen_in_layout(&params, &tables, shape, layout).map_err(VerifierError::Keygen)?);
        self.keys.lock().expect("lock").insert(id, vk.clone());
        Ok(vk)
    }

    /// Checks `bundle` against `market` and the expectations.
    pub fn verify(&self, market: &Market, bundle: &Bundle, expect: &Expectations) -> Result<Outcome, VerifierError> {
        let mut outcomes = self.verify_many(std::slice::from_ref(market), std::slice::from_ref(bundle), expect)?;
        Ok(outcomes.pop().expect("one outcome per bundle"))
    }

    /// Checks every bundle against the given market whose digest it names, with one
    /// batch per (market, level, shape). One outcome per bundle, in order. A bundle
    /// naming a market that was not given is invalid; with one market given, the
    /// reason names both.
    pub fn verify_many(&self, markets: &[Market], bundles: &[Bundle], expect: &Expectations) -> Result<Vec<Outcome>, VerifierError> {
        let raw: Vec<[u8; 32]> = markets.iter().map(Market::digest).collect();
        self.verify_many_digested(markets, &raw, bundles, expect)
    }

    /// [`Verifier::verify_many`] with each market's digest already computed (`raw[m]` is
    /// `markets[m].digest()`; hashing a large snapshot takes milliseconds).
    pub fn verify_many_digested(&self, markets: &[Market], raw: &[[u8; 32]], bundles: &[Bundle], expect: &Expectations)
        -> Result<Vec<Outcome>, VerifierError> {
        assert_eq!(markets.len(), raw.len(), "one digest per market");
        let digests: Vec<String> = raw.iter().map(hex::encode).collect();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; bundles.len()];
        // (market index, key) -> bundle indices with their prechecked inputs.
        let mut groups: Vec<BatchGroup> = Vec::new();
        for (i, bundle) in bundles.iter().enumerate() {
            let m = match digests.iter().position(|d| *d == bundle.market.digest) {
                Some(m) => m,
                None if markets.len() == 1 => 0, // precheck names both markets
                None => {
                    outcomes[i] = Some(Outcome::Invalid(Rejection::UnknownMarket {
                        id: bundle.market.id.clone(),
                        digest: bundle.market.digest.clone(),
                    }));
                    continue;
                }
            };
            match precheck_with_digest(&markets[m], &raw[m], bundle, expect, &self.sizings) {
                Err(r) => outcomes[i] = Some(Outcome::Invalid(r)),
                Ok(ready) => {
                    let key = KeyId { digest: raw[m], level: bundle.statement.level, shape: bundle.circuit };
                    match groups.iter_mut().find(|g| g.1 == key) {
                        Some(g) => g.2.push((i, ready)),
                        None => groups.push((m, key, vec![(i, ready)])),
                    }
                }
            }
        }
        // Parameters once per k, before anything runs in parallel.
        let mut ks: Vec<u32> = groups.iter().map(|g| g.1.shape.k).collect();
        ks.sort_unstable();
        ks.dedup();
        for k in ks {
            self.params(k)?;
        }
        // Work units: (group, chunk of at most MAX_BATCH proofs).
        let units: Vec<(usize, &[(usize, Prechecked)])> =
            groups.iter().enumerate().flat_map(|(g, group)| group.2.chunks(MAX_BATCH).map(move |c| (g, c))).collect();
        // Keys once per group (in parallel across groups).
        let keys: Vec<Result<Arc<VerifyingKey<vesta::Affine>>, VerifierError>> =
            par_map(&groups, |(m, key, _)| self.verifying_key_for(&markets[*m], key.digest, key.level, &key.shape));
        if !units.is_empty() {
            let proofs: usize = units.iter().map(|u| u.1.len()).sum();
            self.progress.stage(&match proofs {
                1 => "verifying the proof".to_string(),
                n => format!("verifying the proofs ({n} in {} batch(es))", units.len()),
            });
        }
        let results: Vec<Result<Vec<(usize, Outcome)>, VerifierError>> = par_map(&units, |(g, chunk)| {
            let vk = match &keys[*g] {
                Ok(vk) => vk.clone(),
                Err(VerifierError::Keygen(why)) => {
                    let r = Rejection::Statement(format!("circuit shape cannot be built: {why}"));
                    return Ok(chunk.iter().map(|(i, _)| (*i, Outcome::Invalid(r.clone()))).collect());
                }
                Err(e) => return Err(VerifierError::Keygen(e.to_string())),
            };
            let params = self.params(groups[*g].1.shape.k)?;
            let items: Vec<Item<'_>> = chunk.iter().map(|(_, p)| Item { public: &p.public, proof: &p.proof }).collect();
            let valid = check_batch(&params, &vk, &items);
            Ok(chunk
                .iter()
                .zip(valid)
                .map(|((i, _), ok)| (*i, if ok { Outcome::Valid } else { Outcome::Invalid(Rejection::Proof) }))
                .collect())
        });
        for result in results {
            for (i, outcome) in result? {
                outcomes[i] = Some(outcome);
            }
        }
        Ok(outcomes.into_iter().map(|o| o.expect("every bundle has an outcome")).collect())
    }
}
