//! The chips of the margin circuit, each a Config + Chip + Instructions trait.
//!
//! - [`columns`]: the advice columns the margin chips share (each lays its rows there);
//! - [`market`]: the market's instrument and asset tables (fixed lookup tables);
//! - [`account`]: an account's positions and collateral, packed for its commitment and
//!   keyed into the netting argument;
//! - [`netting`]: a group's net positions (the logUp side), their market numbers and
//!   running sums, the scenario losses lane by lane;
//! - [`totals`]: a group's worst loss, requirement, equity, excess and ratio slack;
//! - [`classes`]: each risk class's losses and worst loss, where classes are margined
//!   apart;
//! - [`sums`]: weighted sums, the threshold, the covenant totals and the public inputs;
//! - [`range`]: 10-bit-word lookup range checks (a strict running sum), in lanes — every
//!   `a ≥ b` of the circuit;
//! - [`hash`]: Poseidon (P128Pow5T3) sponges, several in step in lanes — the account
//!   commitments, the net digests and the challenge.

pub mod account;
pub mod classes;
pub mod columns;
pub mod hash;
pub mod market;
pub mod netting;
pub mod range;
pub mod sums;
pub mod totals;
