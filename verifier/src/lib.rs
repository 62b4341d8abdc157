//! zkmargin-verifier: checks proof bundles against market snapshots.
//!
//! - [`bundle`]: the proof bundle format (SPEC section 7), parsed with bounded cost;
//! - [`expect`]: what a lender asks (level, accounts, threshold, nonce, netting, max k);
//! - [`params`]: IPA parameters cached per k, hash-checked;
//! - [`verify`]: verifying-key rebuilding (cached in memory), cheap checks, single and
//!   batch verification;
//! - [`api`]: the typed entry points (load a market, verify bundles, a verdict each);
//! - [`progress`]: stages of long work, reported to whoever asks;
//! - [`signatures`]: market signatures, venue attestations and keys (SPEC 8), below the
//!   bundle that carries attestations;
//! - [`trust`]: verifier policies over a bundle and those signatures (SPEC 8).
//!
//! Light by design: no CLI, async, network or database dependencies (a test checks the
//! dependency tree), and it builds for `wasm32-unknown-unknown` with
//! `--no-default-features`, where `wasm` exports a `verify` function.
//!
//! ```no_run
//! use zkmargin_verifier::api::{load_market, parse_bundle, Verdict};
//! use zkmargin_verifier::verify::{Expectations, Verifier};
//!
//! let market = load_market("market.json", &std::fs::read_to_string("market.json").unwrap()).unwrap();
//! let bundle = parse_bundle("proof.json", &std::fs::read_to_string("proof.json").unwrap()).unwrap();
//! let verifier = Verifier::new("params".into());
//! let expect = Expectations { min_threshold_units: Some(1_000_000_000_000), ..Default::default() };
//! let outcomes = verifier.verify_many(&[market], &[bundle.clone()], &expect).unwrap();
//! let verdict = Verdict::new(Some(&bundle), &outcomes[0]);
//! println!("{}", verdict.to_json("proof.json"));
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod api;
pub mod bundle;
pub mod expect;
pub mod params;
pub mod progress;
pub mod signatures;
pub mod trust;
pub mod verify;
#[cfg(target_arch = "wasm32")]
mod wasm;
