//! Criterion benches of the sample workloads: proving and verifying the small and medium
//! samples (and the large one with `ZKMARGIN_BENCH_LARGE=1`), the medium one with its
//! underlyings margined apart as risk classes (class offset 0; the large one too with
//! `ZKMARGIN_BENCH_LARGE=1`) and with all three covenants claimed over tiered haircuts,
//! beside the bare k=14 halo2 proof that BENCHMARKS.md divides by (this machine is
//! shared: compare ratios measured in the same run). Parameters are cached under
//! `target/bench-params`.
//!
//! `cargo bench --bench proving` runs all; `cargo bench --bench proving -- small` one.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use zkmargin_circuits::witness::Claim;
use zkmargin_circuits::market::{Level, Market};
use zkmargin_circuits::circuit::{layout_rows, Layout};
use zkmargin_circuits::tables::MarketTables;
use zkmargin_prover::baseline;
use zkmargin_prover::engine;
use zkmargin_prover::portfolio::Portfolio;
use zkmargin_prover::prove::prove;
use zkmargin_circuits::market::PerLevel;
use zkmargin_circuits::statement::Covenants;
use zkmargin_prover::sample::{generate_with, Profile, SampleOptions};
use zkmargin_verifier::progress::Silent;
use zkmargin_verifier::verify::{Expectations, Outcome, Verifier};

fn params_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-params")
}

/// What a workload adds to the plain sample.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// The sample as generated (its classes at offset 1: the joint figure).
    Plain,
    /// Every underlying margined on its own (class offset 0).
    ClassesApart,
    /// BTC and ETH haircut by tiers, and all three covenants claimed at their exact bounds.
    Covenants,
}

impl Variant {
    fn name(self, profile: Profile) -> String {
        match self {
            Variant::Plain => profile.as_str().to_string(),
            Variant::ClassesApart => format!("{} classes apart", profile.as_str()),
            Variant::Covenants => format!("{} covenants and tiers", profile.as_str()),
        }
    }
}

fn workload(profile: Profile, variant: Variant) -> (Market, Portfolio, Claim) {
    let options = SampleOptions {
        class_offset: (variant == Variant::ClassesApart).then_some(PerLevel { initial: 0, maintenance: 0 }),
        tiers: variant == Variant::Covenants,
    };
    let sample = generate_with(profile, 1, &options);
    let market = Market::from_json("market.json", &sample.market_json).unwrap();
    let portfolio = Portfolio::from_json("portfolio.json", &sample.portfolio_json).unwrap();
    let report = engine::compute(&market, &portfolio);
    let threshold_units = engine::common_to_money(report.total_excess(Level::Initial), engine::Rounding::Down);
    let covenants = if variant == Variant::Covenants { report.strongest_covenants(Level::Initial) } else { Covenants::default() };
    (market, portfolio, Claim { threshold_units, covenants })
}

fn bench_profile(c: &mut Criterion, profile: Profile) {
    bench_workload(c, profile, Variant::Plain);
}

fn bench_workload(c: &mut Criterion, profile: Profile, variant: Variant) {
    let (market, portfolio, claim) = workload(profile, variant);
    let dir = params_dir();
    let bundle = prove(&market, &portfolio, Level::Initial, &claim, "", &dir, &Silent).unwrap().bundle;
    let shape = bundle.circuit;
    let (rows, layout) = layout_rows(&shape, &MarketTables::new(&market, Level::Initial, shape.scenarios));
    eprintln!(
        "{}: k = {} ({} layout), rows used {} of {} (reserved {}), proof {} bytes",
        variant.name(profile),
        shape.k,
        Layout::NAMES[layout],
        rows.used,
        1usize << shape.k,
        rows.reserved,
        bundle.proof.len() / 2
    );
    let mut group = c.benchmark_group(variant.name(profile));
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    // End to end as `zkmargin prove` runs it: parameters read from the cache, keys
    // generated, witness planned, proof created.
    group.bench_function("prove (keygen + proof)", |b| {
        b.iter(|| prove(&market, &portfolio, Level::Initial, &claim, "", &dir, &Silent).unwrap())
    });
    let verifier = Verifier::new(dir.clone());
    group.bench_function("verify (cached key)", |b| {
        b.iter(|| assert!(matches!(verifier.verify(&market, &bundle, &Expectations::default()).unwrap(), Outcome::Valid)))
    });
    group.bench_function("verify (rebuilding the key)", |b| {
        b.iter(|| {
            let fresh = Verifier::new(dir.clone());
            assert!(matches!(fresh.verify(&market, &bundle, &Expectations::default()).unwrap(), Outcome::Valid))
        })
    });
    group.finish();
}

fn bare(c: &mut Criterion) {
    let dir = params_dir();
    let mut group = c.benchmark_group("baseline");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("bare k=14 (keygen + create_proof + verify)", |b| b.iter(|| baseline::run(14, &dir)));
    group.finish();
}

fn large(c: &mut Criterion) {
    if std::env::var_os("ZKMARGIN_BENCH_LARGE").is_some() {
        bench_profile(c, Profile::Large);
    }
}

fn small(c: &mut Criterion) {
    bench_profile(c, Profile::Small);
}

fn medium(c: &mut Criterion) {
    bench_profile(c, Profile::Medium);
}

fn classes(c: &mut Criterion) {
    bench_workload(c, Profile::Medium, Variant::ClassesApart);
    if std::env::var_os("ZKMARGIN_BENCH_LARGE").is_some() {
        bench_workload(c, Profile::Large, Variant::ClassesApart);
    }
}

fn covenants(c: &mut Criterion) {
    bench_workload(c, Profile::Medium, Variant::Covenants);
}

/// The lender's batch: one `verify_many` call over n copies of the medium bundle with the
/// key already built (each copy is a full transcript pass; the proofs share one final
/// multi-scalar multiplication). The cost of each further bundle is the slope.
fn batch(c: &mut Criterion) {
    let (market, portfolio, claim) = workload(Profile::Medium, Variant::Plain);
    let dir = params_dir();
    let bundle = prove(&market, &portfolio, Level::Initial, &claim, "", &dir, &Silent).unwrap().bundle;
    let verifier = Verifier::new(dir);
    let expect = Expectations::default();
    assert!(matches!(verifier.verify(&market, &bundle, &expect).unwrap(), Outcome::Valid));
    let mut group = c.benchmark_group("medium batch");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    for n in [1usize, 2, 4, 8] {
        let bundles = vec![bundle.clone(); n];
        let markets = std::slice::from_ref(&market);
        group.bench_function(format!("verify_many x{n} (cached key)"), |b| {
            b.iter(|| assert!(verifier.verify_many(markets, &bundles, &expect).unwrap().iter().all(Outcome::is_valid)))
        });
    }
    group.finish();
}

criterion_group!(benches, bare, small, medium, large, classes, covenants, batch);
criterion_main!(benches);
