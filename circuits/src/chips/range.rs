//! Range checks: `0 ≤ x < 2^(10·words)` by a strict running-sum decomposition into
//! 10-bit words, each looked up in one shared table of 0..2^10.
//!
//! One check is one region of `words` rows in one lane (an advice column `z` beside a
//! fixed column `shift`):
//! ```text
//! row       | z (lane)                         | shift
//! 0         | z_0 = x (copied in)              | 2^10
//! i         | z_i = (z_{i−1} − w_{i−1}) / 2^10 | 2^10
//! words − 1 | z_{words−1}, the top word        | 0
//! ```
//! Lookup, on every row of the lane: `z − shift·z_next ∈ [0, 2^10)`. So
//! `x = Σ w_i·2^(10i)` with every `w_i < 2^10` (the last row's word is `z_{words−1}`
//! itself, nothing shifted out): `x < 2^(10·words)`. A row outside every check has
//! `shift = 0` and `z = 0` (or any word: it feeds nothing), so no selector is needed, the
//! top word needs no zero row below it, and no constant is copied in. The lookup's input
//! is of degree 2 (fixed × advice), which keeps the circuit at degree 5.
//!
//! Several lanes share the table and their checks are spread over the lanes in turn,
//! so that the floor planner lays them side by side.

use std::cell::Cell;

use ff::{Field, PrimeField};
use halo2_proofs::circuit::{AssignedCell, Layouter, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Fixed, TableColumn};
use halo2_proofs::poly::Rotation;

use crate::encoding::{pow2, Fp};

/// Bits per looked-up word.
pub const WORD_BITS: usize = 10;

/// One lane's running sums and its shifts (2^10 where a word is cut off, else 0).
#[derive(Clone, Debug)]
struct Lane {
    z: Column<Advice>,
    shift: Column<Fixed>,
}

/// Columns of the range-check chip.
#[derive(Clone, Debug)]
pub struct RangeCheckConfig {
    lanes: Vec<Lane>,
    table: TableColumn,
}

/// What the margin circuit asks of a range checker.
pub trait RangeInstructions {
    /// Constrains `value` to `[0, 2^(10·words))`.
    fn check_words(&self, layouter: &mut impl Layouter<Fp>, value: &AssignedCell<Fp, Fp>, words: usize) -> Result<(), Error>;
}

/// The range-check chip (lanes used round-robin).
#[derive(Debug)]
pub struct RangeCheckChip {
    config: RangeCheckConfig,
    next_lane: Cell<usize>,
}

impl RangeCheckChip {
    /// Configures one lane per given advice column, all sharing one 10-bit table.
    pub fn configure(meta: &mut ConstraintSystem<Fp>, lanes: &[Column<Advice>]) -> RangeCheckConfig {
        let table = meta.lookup_table_column();
        let lanes = lanes
            .iter()
            .map(|&z| {
                meta.enable_equality(z);
                let shift = meta.fixed_column();
                meta.lookup(|m| {
                    let word = m.query_advice(z, Rotation::cur()) - m.query_fixed(shift) * m.query_advice(z, Rotation::next());
                    vec![(word, table)]
                });
                Lane { z, shift }
            })
            .collect();
        RangeCheckConfig { lanes, table }
    }

    /// A chip for one synthesis pass.
    pub fn construct(config: RangeCheckConfig) -> Self {
        RangeCheckChip { config, next_lane: Cell::new(0) }
    }

    /// Loads the table 0..2^10.
    pub fn load_table(&self, layouter: &mut impl Layouter<Fp>) -> Result<(), Error> {
        layouter.assign_table(
            || "10-bit range table",
            |mut table| {
                for i in 0..(1usize << WORD_BITS) {
                    table.assign_cell(|| "word", self.config.table, i, || Value::known(Fp::from(i as u64)))?;
                }
                Ok(())
            },
        )
    }
}

/// The running sums `z_1..z_words` of `x` (`z_0 = x`): each the previous with its low
/// 10 bits removed, then divided by 2^10 (in the field, so a too-large x leaves a top
/// word `z_{words−1}` of 2^10 or more, or a wrapped one, which its lookup rejects).
fn running_sums(x: Fp, words: usize) -> Vec<Fp> {
    let inverse = pow2(WORD_BITS as u32).invert().expect("2^10 is invertible");
    let mut z = x;
    (0..words)
        .map(|_| {
            let repr = z.to_repr();
            let low = u64::from(repr[0]) | (u64::from(repr[1]) << 8);
            let word = Fp::from(low & ((1 << WORD_BITS) - 1));
            z = (z - word) * inverse;
            z
        })
        .collect()
}

impl RangeInstructions for RangeCheckChip {
    fn check_words(&self, layouter: &mut impl Layouter<Fp>, value: &AssignedCell<Fp, Fp>, words: usize) -> Result<(), Error> {
        let lane = self.next_lane.get();
        self.next_lane.set((lane + 1) % self.config.lanes.len());
        let lane = &self.config.lanes[lane];
        layouter.assign_region(
            || "range check",
            |mut region| {
                value.copy_advice(|| "z_0", &mut region, lane.z, 0)?;
                let sums = value.value().map(|&x| running_sums(x, words));
                let cut = pow2(WORD_BITS as u32);
                for i in 0..words {
                    let shift = if i + 1 < words { cut } else { Fp::zero() };
                    region.assign_fixed(|| "shift", lane.shift, i, || Value::known(shift))?;
                    if i + 1 < words {
                        region.assign_advice(|| "z", lane.z, i + 1, || sums.as_ref().map(|z| z[i]))?;
                    }
                }
                Ok(())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use halo2_proofs::circuit::SimpleFloorPlanner;
    use halo2_proofs::dev::MockProver;
    use halo2_proofs::plonk::Circuit;

    use super::*;

    /// Checks each value to `words` words, over two lanes.
    #[derive(Clone, Default)]
    struct TestCircuit {
        values: Vec<Fp>,
        words: usize,
    }

    impl Circuit<Fp> for TestCircuit {
        type Config = (RangeCheckConfig, Column<Advice>);
        type FloorPlanner = SimpleFloorPlanner;
        fn without_witnesses(&self) -> Self {
            self.clone()
        }
        fn configure(meta: &mut ConstraintSystem<Fp>) -> Self::Config {
            let load = meta.advice_column();
            meta.enable_equality(load);
            let lanes = [meta.advice_column(), meta.advice_column()];
            (RangeCheckChip::configure(meta, &lanes), load)
        }
        fn synthesize(&self, (config, load): Self::Config, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
            let chip = RangeCheckChip::construct(config);
            chip.load_table(&mut layouter)?;
            let cells = layouter.assign_region(
                || "load",
                |mut region| {
                    (0..self.values.len())
                        .map(|i| region.assign_advice(|| "x", load, i, || Value::known(self.values[i])))
                        .collect::<Result<Vec<_>, _>>()
                },
            )?;
            for cell in &cells {
                chip.check_words(&mut layouter, cell, self.words)?;
            }
            Ok(())
        }
    }

    fn run_words(values: Vec<Fp>, words: usize) -> Result<(), Vec<halo2_proofs::dev::VerifyFailure>> {
        MockProver::run(11, &TestCircuit { values, words }, vec![]).unwrap().verify()
    }

    fn run(values: Vec<Fp>) -> Result<(), Vec<halo2_proofs::dev::VerifyFailure>> {
        run_words(values, 3)
    }

    #[test]
    fn a_one_word_check_is_the_top_word_alone() {
        assert_eq!(run_words(vec![Fp::zero(), Fp::from(1023)], 1), Ok(()));
        for bad in [Fp::from(1024), -Fp::one()] {
            assert!(run_words(vec![Fp::from(5), bad], 1).is_err());
        }
    }

    #[test]
    fn values_below_the_bound_pass() {
        let top = pow2(30) - Fp::one();
        assert_eq!(run(vec![Fp::zero(), Fp::one(), Fp::from(1023), Fp::from(1024), Fp::from(123_456_789), top]), Ok(()));
    }

    #[test]
    fn values_at_or_above_the_bound_or_negative_are_rejected() {
        for bad in [pow2(30), pow2(30) + Fp::one(), pow2(40), -Fp::one(), -pow2(29)] {
            let failures = run(vec![Fp::from(7), bad]).expect_err("out of range");
            assert!(failures.iter().all(|f| format!("{f:?}").contains("range check")), "{failures:?}");
        }
    }
}
