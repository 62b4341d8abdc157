//! Criterion benches of the sample workloads: proving and verifying the small and medium
//! samples (keys built once per workload; parameters cached under `target/bench-params`).
//!
//! `cargo bench --bench proving` runs all; `cargo bench --bench proving -- small` one.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use zkmargin_circuits::market::{Level, Market};
use zkmargin_prover::engine;
use zkmargin_prover::portfolio::Portfolio;
use zkmargin_prover::prove::prove;
use zkmargin_prover::sample::{generate, Profile};
use zkmargin_verifier::progress::Silent;
use zkmargin_verifier::verify::{Expectations, Outcome, Verifier};

fn params_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-params")
}

fn workload(profile: Profile) -> (Market, Portfolio, i128) {
    let sample = generate(profile, 1);
    let market = Market::from_json("market.json", &sample.market_json).unwrap();
    let portfolio = Portfolio::from_json("portfolio.json", &sample.portfolio_json).unwrap();
    let total = engine::compute(&market, &portfolio).total_excess(Level::Initial);
    let threshold = (total / ethnum::I256::from(10i128.pow(14))).as_i128();
    (market, portfolio, threshold)
}

fn bench_profile(c: &mut Criterion, profile: Profile) {
    let (market, portfolio, threshold) = workload(profile);
    let dir = params_dir();
    let mut group = c.benchmark_group(profile.as_str());
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    // End to end as `zkmargin prove` runs it: parameters read from the cache, keys
    // generated, witness planned, proof created.
    group.bench_function("prove (keygen + proof)", |b| {
        b.iter(|| prove(&market, &portfolio, Level::Initial, threshold, "", &dir, &Silent).unwrap())
    });
    let bundle = prove(&market, &portfolio, Level::Initial, threshold, "", &dir, &Silent).unwrap().bundle;
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

fn small(c: &mut Criterion) {
    bench_profile(c, Profile::Small);
}

fn medium(c: &mut Criterion) {
    bench_profile(c, Profile::Medium);
}

criterion_group!(benches, small, medium);
criterion_main!(benches);
