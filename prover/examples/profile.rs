//! One line per figure of BENCHMARKS.md for a sample profile, beside the bare k=14
//! baseline timed in the same process:
//! `cargo run --release -p zkmargin-prover --example profile -- medium [--class-offset R]
//! [--tiers] [--covenants] [PARAMS_DIR]`: with a class offset the underlyings are
//! margined as risk classes (0: each apart); with `--tiers` BTC and ETH are haircut by
//! tiers; with `--covenants` the claim adds all three covenants at their exact bounds.

use std::time::Instant;

use zkmargin_circuits::witness::Claim;
use zkmargin_circuits::circuit::{layout_rows, Layout};
use zkmargin_circuits::market::{Level, Market};
use zkmargin_circuits::tables::MarketTables;
use zkmargin_prover::portfolio::Portfolio;
use zkmargin_prover::prove::prove;
use zkmargin_circuits::fixed::{parse_units, DecimalKind};
use zkmargin_circuits::market::PerLevel;
use zkmargin_circuits::statement::Covenants;
use zkmargin_prover::sample::{generate_with, Profile, SampleOptions};
use zkmargin_prover::{baseline, engine};
use zkmargin_verifier::verify::{Expectations, Outcome, Verifier};

fn count(pinned: &str, field: &str) -> String {
    pinned
        .lines()
        .find(|l| l.trim_start().starts_with(field))
        .map_or("?".into(), |l| l.trim().trim_start_matches(field).trim_start_matches(':').trim().trim_end_matches(',').to_string())
}

/// Column queries in the pinned constraint system's `advice_queries` (each opens as one
/// 32-byte evaluation in the proof).
fn advice_queries(pinned: &str) -> usize {
    let start = pinned.find("advice_queries").unwrap_or(0);
    let end = pinned[start..].find("instance_queries").map_or(pinned.len(), |e| start + e);
    pinned[start..end].matches("column_type: Advice").count()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let profile: Profile = args.next().unwrap_or_else(|| "medium".into()).parse().expect("profile");
    let (mut options, mut covenants, mut dir) = (SampleOptions::default(), false, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--class-offset" => {
                let rate = parse_units(&args.next().expect("--class-offset R"), DecimalKind::Rate).expect("a rate");
                options.class_offset = Some(PerLevel { initial: rate, maintenance: rate });
            }
            "--tiers" => options.tiers = true,
            "--covenants" => covenants = true,
            other => dir = Some(other.into()),
        }
    }
    let dir = dir.unwrap_or_else(zkmargin_verifier::params::default_dir);
    let sample = generate_with(profile, 1, &options);
    let market = Market::from_json("market.json", &sample.market_json).unwrap();
    let portfolio = Portfolio::from_json("portfolio.json", &sample.portfolio_json).unwrap();
    let report = engine::compute(&market, &portfolio);
    let threshold = engine::common_to_money(report.total_excess(Level::Initial), engine::Rounding::Down);
    // Each covenant at its exact bound (the lowest group ratio, the total equity, the leverage).
    let covenants = if covenants { report.strongest_covenants(Level::Initial) } else { Covenants::default() };

    println!("{}", baseline::run(14, &dir));
    let proven = prove(&market, &portfolio, Level::Initial, &Claim { threshold_units: threshold, covenants }, "", &dir, &zkmargin_verifier::progress::Silent).unwrap();
    let t = &proven.timings;
    let bundle = proven.bundle;
    let shape = bundle.circuit;
    let (rows, layout) = layout_rows(&shape, &MarketTables::new(&market, Level::Initial, shape.scenarios));
    let started = Instant::now();
    let verifier = Verifier::new(dir.clone());
    let vk = verifier.verifying_key(&market, Level::Initial, &shape).unwrap();
    let keygen_vk = started.elapsed();
    assert!(matches!(verifier.verify(&market, &bundle, &Expectations::default()).unwrap(), Outcome::Valid));
    let cold = started.elapsed();
    let started = Instant::now();
    for _ in 0..5 {
        assert!(matches!(verifier.verify(&market, &bundle, &Expectations::default()).unwrap(), Outcome::Valid));
    }
    let warm = started.elapsed() / 5;
    let pinned = format!("{:#?}", vk.pinned());
    println!(
        "{}{}: k={} ({}) advice={} (queries {}) fixed={} lookups={} rows used {}/{} | sizing+params {:.2} s, keygen vk+pk {:.2} s, witness+create_proof {:.2} s | cold verify {:.2} s (keygen_vk {:.2} s), further bundle {:.0} ms | proof {} B",
        profile.as_str(),
        market.id.strip_prefix(&format!("sample-{}-seed1", profile.as_str())).unwrap_or(""),
        shape.k,
        Layout::NAMES[layout],
        count(&pinned, "num_advice_columns"),
        advice_queries(&pinned),
        count(&pinned, "num_fixed_columns"),
        pinned.matches("Argument {").count(),
        rows.used,
        1usize << shape.k,
        t.params.as_secs_f64(),
        t.keygen.as_secs_f64(),
        t.prove.as_secs_f64(),
        cold.as_secs_f64(),
        keygen_vk.as_secs_f64(),
        warm.as_secs_f64() * 1e3,
        bundle.proof.len() / 2,
    );
    println!("{}", baseline::run(14, &dir));
}
