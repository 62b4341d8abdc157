//! Agreement of the circuit with the exact engine on random portfolios: the claim holds
//! in the engine exactly when the circuit is satisfied (MockProver), including at the
//! boundary (threshold = exact total excess holds, one tick above does not); and for a
//! few cases, `prove` succeeds exactly when the engine says so and the proof verifies.

mod common;

use ethnum::I256;
use halo2_proofs::dev::MockProver;
use proptest::prelude::*;
use zkmargin_circuits::circuit::MarginCircuit;
use zkmargin_circuits::market::{Level, Market};
use zkmargin_circuits::tables::MarketTables;
use zkmargin_circuits::witness::{Claim, Plan};
use zkmargin_prover::engine::{self, money_to_common, COMMON_DECIMALS};
use zkmargin_prover::portfolio::{Mode, Portfolio};
use zkmargin_prover::prove::{prove, ProveError};
use zkmargin_prover::statement::{build, shape_for};
use zkmargin_verifier::progress::Silent;
use zkmargin_verifier::verify::{Expectations, Outcome, Verifier};

use common::{account, build as build_portfolio, market};

fn salted(mut portfolio: Portfolio) -> Portfolio {
    for (a, acc) in portfolio.accounts.iter_mut().enumerate() {
        acc.salt = Some([a as u8 + 1; 32]);
    }
    portfolio
}

fn portfolio() -> impl Strategy<Value = Portfolio> {
    (prop::collection::vec(account(), 1..4), prop::collection::vec(0usize..2, 3), prop_oneof![Just(Mode::Portfolio), Just(Mode::Standard)], any::<bool>(), any::<bool>())
        .prop_map(|(mut accounts, groups, mode, mixed, rich)| {
            if rich {
                // Well collateralised: most such claims hold (the boundary is still probed).
                for (_, collateral) in &mut accounts {
                    collateral[0] = Some(collateral[0].unwrap_or(0).abs() + 100_000_000_000_000);
                }
            }
            // Group indices must be dense: renumber those used.
            let mut used: Vec<usize> = groups[..accounts.len()].to_vec();
            let mut seen = vec![];
            for g in &mut used {
                let pos = seen.iter().position(|s| s == g).unwrap_or_else(|| {
                    seen.push(*g);
                    seen.len() - 1
                });
                *g = pos;
            }
            let mut p = build_portfolio(&accounts, &used, mode);
            if mixed && p.groups.len() > 1 {
                p.groups[1].mode = if mode == Mode::Portfolio { Mode::Standard } else { Mode::Portfolio };
            }
            salted(p)
        })
}

/// Total excess at `level` in money units, rounded down.
fn total_units(market: &Market, portfolio: &Portfolio, level: Level) -> i128 {
    let total = engine::compute(market, portfolio).total_excess(level);
    let unit = I256::from(10i128.pow(COMMON_DECIMALS - 6));
    let floor = if total < I256::ZERO && total % unit != I256::ZERO { total / unit - I256::ONE } else { total / unit };
    floor.as_i128()
}

fn circuit_accepts(market: &Market, portfolio: &Portfolio, level: Level, threshold: i128) -> bool {
    let claim = Claim { threshold_units: threshold, ..Claim::default() };
    let inputs = build(market, portfolio, level, &claim, "");
    let shape = shape_for(&inputs).unwrap();
    let tables = MarketTables::new(market, level, 8);
    let public = inputs.statement.public_inputs(&shape, &market.digest()).unwrap();
    let plan = Plan::new(&shape, &tables, &inputs.witness, &claim, &public).unwrap();
    let circuit = MarginCircuit::<8> { shape, tables, plan: Some(plan) };
    MockProver::run(circuit.min_k(), &circuit, vec![public]).unwrap().verify().is_ok()
}

fn level() -> impl Strategy<Value = Level> {
    prop_oneof![Just(Level::Initial), Just(Level::Maintenance)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn circuit_agrees_with_engine(market in market(), portfolio in portfolio(), level in level(), delta in -1i128..=1) {
        let threshold = (total_units(&market, &portfolio, level) + delta).max(0);
        let holds = engine::compute(&market, &portfolio).check_claim(level, money_to_common(threshold)).is_ok();
        prop_assert_eq!(circuit_accepts(&market, &portfolio, level, threshold), holds);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3))]

    #[test]
    fn prove_succeeds_exactly_when_the_claim_holds(market in market(), portfolio in portfolio(), level in level(), delta in -1i128..=1) {
        let threshold = (total_units(&market, &portfolio, level) + delta).max(0);
        let holds = engine::compute(&market, &portfolio).check_claim(level, money_to_common(threshold)).is_ok();
        let params = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("params");
        match prove(&market, &portfolio, level, &Claim { threshold_units: threshold, ..Claim::default() }, "", &params, &Silent) {
            Ok(proven) => {
                prop_assert!(holds);
                let outcome = Verifier::new(params).verify(&market, &proven.bundle, &Expectations::default()).unwrap();
                prop_assert!(matches!(outcome, Outcome::Valid));
            }
            Err(ProveError::ClaimDoesNotHold(_)) => prop_assert!(!holds),
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
}
