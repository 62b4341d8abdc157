//! zkmargin-publisher: the risk publisher's side of zkmargin.
//!
//! A publisher (a venue's risk desk, a clearing house, an oracle network) turns
//! instrument definitions, a scenario grid and margin rates into a market snapshot
//! (SPEC section 3): per-instrument marks, per-scenario P&L of one long unit, linear
//! rates and short charges, risk classes and notionals, the class offset, asset prices
//! and haircuts (flat or tiered). Independent publishers computing
//! from the same inputs get the same bytes, so they can co-sign the snapshot.
//!
//! - [`black76`]: Black-76 prices and Greeks on the forward (the one implementation the
//!   sample generator uses too);
//! - [`surface`]: volatility surfaces (flat, a strike × expiry grid, SVI slices);
//! - [`scenario`]: scenario shocks and grids (spot × vol, extreme moves with a cover
//!   fraction, the Deribit-style grid, named scenarios, and per-underlying moves: move
//!   scales, joint scenarios such as historical days, pairwise spread scenarios);
//! - [`rounding`]: decimals in and out, and the one rounding procedure of every figure;
//! - [`input`]: the three strict input files (instruments, grid, rates);
//! - [`build`]: `market build`: full revaluation or Greeks, and the snapshot's bytes.
//!
//! No proving dependency: this crate knows nothing of circuits or proofs.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod black76;
pub mod build;
pub mod input;
pub mod rounding;
pub mod scenario;
pub mod surface;
