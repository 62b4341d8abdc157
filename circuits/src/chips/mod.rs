//! The chips of the margin circuit, each a Config + Chip + Instructions trait.
//!
//! - [`range`]: 10-bit-word lookup range checks (a strict running sum), in lanes;
//! - [`hash`]: Poseidon (P128Pow5T3) permutations and two-to-one hashing, in lanes;
//! - [`sponge`]: the sponge rows that absorb packed entries beside the rows they hash;
//! - [`margin`]: the margin gates: position, collateral and net rows, group totals,
//!   weighted sums and the threshold.

pub mod hash;
pub mod margin;
pub mod range;
pub mod sponge;
