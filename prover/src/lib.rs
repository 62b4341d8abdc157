//! zkmargin-prover: the private side of zkmargin.
//!
//! - [`portfolio`]: the private portfolio model (SPEC section 4);
//! - [`engine`]: the exact margin engine (SPEC section 5), the reference for the circuit;
//! - [`report`]: the `margin` report, as text and as JSON (SPEC section 6);
//! - [`sample`]: realistic sample markets and portfolios;
//! - [`baseline`]: the bare halo2 proof that benchmarks are compared against.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod baseline;
pub mod engine;
pub mod portfolio;
pub mod prove;
pub mod report;
pub mod sample;
pub mod statement;
