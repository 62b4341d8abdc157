//! `level_at_least` (an initial-level proof for a maintenance request) only on a monotone
//! market (SPEC section 3; issue 22, item 8), through the Rust API.

use std::path::Path;

use zkmargin_circuits::market::{Level, Market};
use zkmargin_verifier::bundle::Bundle;
use zkmargin_verifier::verify::{precheck, Expectations, Outcome, Rejection, Verifier};

fn example_market() -> Market {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/market.json");
    Market::from_json("market.json", &std::fs::read_to_string(path).unwrap()).unwrap()
}

fn stored_bundle() -> Bundle {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/example-initial-proof.json");
    Bundle::from_json("example-initial-proof.json", &std::fs::read_to_string(path).unwrap()).unwrap()
}

fn maintenance_at_least() -> Expectations {
    Expectations { level: Some(Level::Maintenance), level_at_least: true, ..Default::default() }
}

/// The bundle re-pointed at `market` (its proof no longer verifies there, but every check
/// before the proof's runs against that market).
fn about(bundle: &Bundle, market: &Market) -> Bundle {
    let mut b = bundle.clone();
    b.market.id = market.id.clone();
    b.market.digest = market.digest_hex();
    b
}

#[test]
fn is_monotone_compares_every_rate_of_both_levels() {
    let market = example_market();
    assert!(market.is_monotone(), "the example market makes initial the stricter level");
    let mut equal = market.clone();
    equal.loss_factor.maintenance = equal.loss_factor.initial;
    for i in &mut equal.instruments {
        i.linear.maintenance = i.linear.initial;
        i.short_charge.maintenance = i.short_charge.initial;
    }
    assert!(equal.is_monotone(), "equal levels are monotone");
    for broken in 0..3 {
        let mut m = market.clone();
        match broken {
            0 => m.loss_factor.maintenance = m.loss_factor.initial + 1,
            1 => m.instruments[1].linear.maintenance = m.instruments[1].linear.initial + 1,
            _ => m.instruments[2].short_charge.maintenance = m.instruments[2].short_charge.initial + 1,
        }
        assert!(!m.is_monotone(), "case {broken}");
    }
}

#[test]
fn an_initial_proof_answers_a_maintenance_request_only_on_a_monotone_market() {
    let market = example_market();
    let bundle = stored_bundle();
    // Monotone: the substitution is allowed, and the proof verifies.
    let outcome = Verifier::new(Path::new(env!("CARGO_TARGET_TMPDIR")).join("params"))
        .verify(&market, &bundle, &maintenance_at_least())
        .unwrap();
    assert_eq!(outcome, Outcome::Valid);

    // Initial linear rate below maintenance: refused before any work, with that reason.
    let mut lax = market.clone();
    lax.id = "lax-initial".into();
    lax.instruments[0].linear.initial = lax.instruments[0].linear.maintenance - 1;
    let err = precheck(&lax, &about(&bundle, &lax), &maintenance_at_least()).unwrap_err();
    assert_eq!(err, Rejection::NotMonotone { market: "lax-initial".into() });
    assert!(err.to_string().contains("not monotone"), "{err}");
    // The same market without the substitution: the level asked is the statement's own,
    // and nothing about monotonicity is asked.
    let exact = Expectations { level: Some(Level::Initial), level_at_least: true, ..Default::default() };
    assert!(precheck(&lax, &about(&bundle, &lax), &exact).is_ok());
    assert!(precheck(&lax, &about(&bundle, &lax), &Expectations::default()).is_ok());
}
