//! Agreement of the circuit with the exact engine on random portfolios: the claim holds
//! in the engine exactly when the circuit is satisfied (MockProver), including at the
//! boundary (threshold = exact total excess holds, one tick above does not), also with
//! risk classes (1 to 6, offsets between 0 and 1), tiered haircuts and each covenant at
//! its exact bound; and for a few cases, `prove` succeeds exactly when the engine says so
//! and the proof verifies.

mod common;

use ethnum::I256;
use halo2_proofs::dev::MockProver;
use proptest::prelude::*;
use zkmargin_circuits::circuit::MarginCircuit;
use zkmargin_circuits::market::{Level, Market};
use zkmargin_circuits::tables::MarketTables;
use zkmargin_circuits::witness::{Claim, Plan};
use zkmargin_circuits::statement::Covenants;
use zkmargin_prover::engine::{self, common_to_money, money_to_common, Rounding, COMMON_DECIMALS};
use zkmargin_prover::portfolio::{Mode, Portfolio};
use zkmargin_prover::prove::{prove, ProveError};
use zkmargin_prover::statement::{build, shape_for};
use zkmargin_verifier::progress::Silent;
use zkmargin_verifier::verify::{Expectations, Outcome, Verifier};

use common::{account, build as build_portfolio, market, risk_market};

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

fn circuit_accepts(market: &Market, portfolio: &Portfolio, level: Level, claim: &Claim) -> bool {
    let inputs = build(market, portfolio, level, claim, "");
    let shape = shape_for(&inputs).unwrap();
    let tables = MarketTables::new(market, level, 8);
    let public = inputs.statement.public_inputs(&shape, &market.digest()).unwrap();
    let plan = Plan::new(&shape, &tables, &inputs.witness, claim, &public).unwrap();
    zkmargin_circuits::with_circuit!(tables, zkmargin_circuits::circuit::COMPACT, S, W, C => {
        let circuit = MarginCircuit::<S, W, C> { shape, tables: tables.clone(), plan: Some(plan) };
        MockProver::run(circuit.min_k(), &circuit, vec![public]).unwrap().verify().is_ok()
    })
}

/// One in rate units.
const RATE: i128 = 1_000_000;

fn threshold(threshold_units: i128) -> Claim {
    Claim { threshold_units, ..Claim::default() }
}

/// A claim at the exact bound of one figure (`which`: 0 the threshold, 1 the margin
/// ratio, 2 the equity floor, 3 the leverage cap), moved by `delta` units; `None` where
/// the figure does not exist for the book (no requirement, no positive equity).
fn boundary_claim(market: &Market, portfolio: &Portfolio, level: Level, which: usize, delta: i128) -> Option<Claim> {
    let report = engine::compute(market, portfolio);
    let covenants = match which {
        0 => return Some(threshold((total_units(market, portfolio, level) + delta).max(0))),
        1 => {
            let ratio = report.groups.iter().filter_map(|g| g.ratio(level)).min()?.as_i128();
            // A statement's ratio is a rate in [1, 1000].
            Covenants { min_ratio: Some((ratio + delta).clamp(RATE, 1_000 * RATE)), ..Covenants::default() }
        }
        2 => Covenants { min_equity: Some(common_to_money(report.total_equity(), Rounding::Down) + delta), ..Covenants::default() },
        _ => Covenants { max_leverage: Some((report.leverage()?.as_i128() - delta).clamp(1, 1_000 * RATE)), ..Covenants::default() },
    };
    Some(Claim { threshold_units: 0, covenants })
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
        prop_assert_eq!(circuit_accepts(&market, &portfolio, level, &self::threshold(threshold)), holds);
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn circuit_agrees_with_engine_on_classes_tiers_and_covenants(
        market in risk_market(), portfolio in portfolio(), level in level(), which in 0usize..4, delta in -1i128..=1,
    ) {
        if let Some(claim) = boundary_claim(&market, &portfolio, level, which, delta) {
            let report = engine::compute(&market, &portfolio);
            let holds = report.check_claim_with(level, money_to_common(claim.threshold_units), &claim.covenants).is_ok();
            prop_assert_eq!(circuit_accepts(&market, &portfolio, level, &claim), holds, "{:?}", claim);
        }
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
