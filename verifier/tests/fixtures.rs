//! Pinned fixtures: the verifying key of the shared example's shape, and a stored proof.
//! An accidental change to the circuit, the tables or the encodings fails here loudly.
//! After an intended change, regenerate with `ZKMARGIN_UPDATE_FIXTURES=1 cargo test
//! -p zkmargin-verifier --test fixtures` and the proof with the command in
//! `tests/fixtures/README.md`.

use std::path::{Path, PathBuf};

use zkmargin_circuits::market::{Level, Market};
use zkmargin_verifier::bundle::Bundle;
use zkmargin_verifier::verify::{Expectations, Outcome, Verifier};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn example_market() -> Market {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/market.json");
    Market::from_json("market.json", &std::fs::read_to_string(path).unwrap()).unwrap()
}

fn verifier() -> Verifier {
    Verifier::new(Path::new(env!("CARGO_TARGET_TMPDIR")).join("params"))
}

fn stored_bundle() -> Bundle {
    let path = fixtures().join("example-initial-proof.json");
    Bundle::from_json("example-initial-proof.json", &std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn verifying_key_matches_the_pinned_fixture() {
    let market = example_market();
    let shape = stored_bundle().circuit;
    let vk = verifier().verifying_key(&market, Level::Initial, &shape).unwrap();
    let pinned = format!("{:#?}\n", vk.pinned());
    let path = fixtures().join("vk-example-initial.txt");
    if std::env::var_os("ZKMARGIN_UPDATE_FIXTURES").is_some() {
        std::fs::write(&path, &pinned).unwrap();
    }
    let expected = std::fs::read_to_string(&path).expect("fixture missing: run with ZKMARGIN_UPDATE_FIXTURES=1");
    assert!(pinned == expected, "the verifying key changed; if on purpose, regenerate the fixtures");
}

#[test]
fn stored_proof_still_verifies_and_rejects_what_it_does_not_state() {
    let market = example_market();
    let bundle = stored_bundle();
    let verifier = verifier();
    assert!(matches!(verifier.verify(&market, &bundle, &Expectations::default()).unwrap(), Outcome::Valid));
    let mut raised = bundle.clone();
    raised.statement.threshold = "73112.062501".into();
    assert!(matches!(verifier.verify(&market, &raised, &Expectations::default()).unwrap(), Outcome::Invalid(_)));
    let ask_more = Expectations { min_threshold_units: Some(73_112_062_501), ..Default::default() };
    assert!(matches!(verifier.verify(&market, &bundle, &ask_more).unwrap(), Outcome::Invalid(_)));
}

#[test]
fn bundles_of_the_first_format_are_refused_with_the_reason() {
    // Format 1 (another commitment encoding) and format 2 (the circuit before risk
    // classes, tiers and covenants): each refused, saying which and what to do.
    let market = example_market();
    for format in ["zkmargin-proof/1", "zkmargin-proof/2"] {
        let mut old = stored_bundle();
        old.format = format.into();
        match verifier().verify(&market, &old, &Expectations::default()).unwrap() {
            Outcome::Invalid(reason) => {
                let text = reason.to_string();
                assert!(text.contains(format) && text.contains("prove again"), "{text}");
            }
            Outcome::Valid => panic!("a {format} bundle must be refused"),
        }
    }
}
