//! zkmargin-verifier: checks proof bundles against a market snapshot.
//!
//! - [`bundle`]: the proof bundle format (SPEC section 7);
//! - [`params`]: IPA parameters cached per k, hash-checked;
//! - [`verify`]: verifying-key rebuilding (cached in memory) and verification;
//! - [`progress`]: stages of long work, reported to whoever asks;
//! - [`trust`]: market signatures, venue attestations and verifier policies (SPEC 8).
//!
//! Light by design: no CLI, async or network dependencies.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod bundle;
pub mod params;
pub mod progress;
pub mod trust;
pub mod verify;
