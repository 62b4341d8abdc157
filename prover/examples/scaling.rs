//! The scaling table of BENCHMARKS.md: cost against what is held (positions at a fixed
//! universe) and against the universe (instruments at fixed positions), beside the bare
//! k=14 baseline timed in the same process.
//!
//! `cargo run --release -p zkmargin-prover --example scaling [-- positions|universe]`
//!
//! Each point cuts the large sample's market to its first U instruments (31 scenarios)
//! and proves a portfolio of P positions on distinct instruments, one venue, accounts of
//! at most 128 positions in one cross-margined group, funded in USDC.

use std::time::Instant;

use serde_json::{json, Value};
use zkmargin_circuits::witness::Claim;
use zkmargin_circuits::market::{Level, Market};
use zkmargin_prover::baseline;
use zkmargin_prover::portfolio::Portfolio;
use zkmargin_prover::prove::prove;
use zkmargin_prover::sample::{generate, Profile};
use zkmargin_verifier::progress::Silent;
use zkmargin_verifier::verify::{Expectations, Outcome, Verifier};

fn point(base: &Value, positions: usize, universe: usize) -> (Market, Portfolio) {
    let mut market = base.clone();
    market["id"] = json!(format!("scaling-u{universe}"));
    let instruments: Vec<Value> = market["instruments"].as_array().expect("instruments")[..universe].to_vec();
    let ids: Vec<String> = instruments.iter().map(|i| i["id"].as_str().expect("id").to_string()).collect();
    market["instruments"] = Value::Array(instruments);
    let per_account = 128;
    let accounts: Vec<Value> = (0..positions.div_ceil(per_account))
        .map(|a| {
            let held: Vec<Value> = (a * per_account..((a + 1) * per_account).min(positions))
                .map(|i| json!({"instrument": ids[i], "qty": if i % 2 == 0 { "1" } else { "-1" }}))
                .collect();
            let collateral = if a == 0 { vec![json!({"asset": "USDC", "amount": "100000000000"})] } else { vec![] };
            json!({
                "venue": "deribit",
                "account": format!("acct-{a}"),
                "group": "cross",
                "salt": format!("{:064x}", a + 1),
                "positions": held,
                "collateral": collateral,
            })
        })
        .collect();
    let portfolio = json!({
        "version": 1,
        "owner": "scaling",
        "groups": [{"name": "cross", "mode": "portfolio"}],
        "accounts": accounts,
    });
    let market = Market::from_json("market", &market.to_string()).expect("market");
    let portfolio = Portfolio::from_json("portfolio", &portfolio.to_string()).expect("portfolio");
    (market, portfolio)
}

fn main() {
    let sweep = std::env::args().nth(1).unwrap_or_else(|| "both".into());
    let dir = zkmargin_verifier::params::default_dir();
    let base: Value = serde_json::from_str(&generate(Profile::Large, 1).market_json).expect("sample market");
    let mut points = Vec::new();
    if sweep != "universe" {
        points.extend([16, 64, 256, 1_024, 2_048].map(|p| (p, 2_048)));
    }
    if sweep != "positions" {
        points.extend([64, 512, 2_048, 8_192].map(|u| (64, u)));
    }
    println!("{}", baseline::run(14, &dir));
    println!("| positions | universe | k | prove (keygen + witness + proof) | cold verify | proof |");
    println!("|---|---|---|---|---|---|");
    for (positions, universe) in points {
        let (market, portfolio) = point(&base, positions, universe);
        let started = Instant::now();
        let proven = prove(&market, &portfolio, Level::Initial, &Claim::default(), "", &dir, &Silent).expect("prove");
        let prove_s = started.elapsed().as_secs_f64() - proven.timings.params.as_secs_f64();
        let started = Instant::now();
        let verifier = Verifier::new(dir.clone());
        let outcome = verifier.verify(&market, &proven.bundle, &Expectations::default()).expect("verify");
        assert!(matches!(outcome, Outcome::Valid), "{outcome:?}");
        println!(
            "| {positions} | {universe} | {} | {prove_s:.2} s | {:.2} s | {} B |",
            proven.bundle.circuit.k,
            started.elapsed().as_secs_f64(),
            proven.bundle.proof.len() / 2
        );
    }
    println!("{}", baseline::run(14, &dir));
}
