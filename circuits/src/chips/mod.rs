//! The chips of the margin circuit, each a Config + Chip + Instructions trait.
//!
//! - [`range`]: 10-bit-word lookup range checks (a strict running sum), in lanes;
//! - [`hash`]: Poseidon (P128Pow5T3) sponges, several in step in lanes;
//! - [`margin`]: the margin gates: position, collateral and net rows, group totals,
//!   weighted sums and the threshold.

pub mod hash;
pub mod margin;
pub mod range;
