//! Range checks: `0 ≤ x < 2^(10·words)` by a strict running-sum decomposition into
//! 10-bit words, each looked up in one shared table of 0..2^10.
//!
//! One check is one region in one lane (an advice column):
//! ```text
//! row   | z (lane)                         | q_word
//! 0     | z_0 = x (copied in)              | 1
//! i     | z_i = (z_{i−1} − w_{i−1}) / 2^10 | 1
//! words | z_words = 0 (the constant)       |
//! ```
//! Lookup (`q_word`): `z_i − 2^10·z_{i+1} ∈ [0, 2^10)`. So `x = Σ w_i·2^(10i)` with
//! every `w_i < 2^10` and nothing left over: `x < 2^(10·words)`. The lookup's input is
//! of degree 2 (selector × a difference), which keeps the circuit at degree 5.
//!
//! Several lanes share the table and their checks are spread over the lanes in turn,
//! so that the floor planner lays them side by side.

use std::cell::Cell;

use ff::{Field, PrimeField};
use halo2_proofs::circuit::{AssignedCell, Layouter, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, Selector, TableColumn};
use halo2_proofs::poly::Rotation;

use crate::encoding::{pow2, Fp};

/// Bits per looked-up word.
pub const WORD_BITS: usize = 10;

/// One lane's column and selector.
#[derive(Clone, Debug)]
struct Lane {
    z: Column<Advice>,
    q_word: Selector,
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
                let q_word = meta.complex_selector();
                meta.lookup(|m| {
                    let q = m.query_selector(q_word);
                    let word = m.query_advice(z, Rotation::cur())
                        - m.query_advice(z, Rotation::next()) * Expression::Constant(pow2(WORD_BITS as u32));
                    vec![(q * word, table)]
                });
                Lane { z, q_word }
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
/// 10 bits removed, then divided by 2^10 (in the field, so a too-large x leaves a
/// non-zero or wrapped remainder that the lookups or the final zero reject).
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
                for i in 0..words {
                    lane.q_word.enable(&mut region, i)?;
                    if i + 1 < words {
                        region.assign_advice(|| "z", lane.z, i + 1, || sums.as_ref().map(|z| z[i]))?;
                    }
                }
                region.assign_advice_from_constant(|| "z_words = 0", lane.z, words, Fp::zero())?;
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
            let constants = meta.fixed_column();
            meta.enable_constant(constants);
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

    fn run(values: Vec<Fp>) -> Result<(), Vec<halo2_proofs::dev::VerifyFailure>> {
        MockProver::run(11, &TestCircuit { values, words: 3 }, vec![]).unwrap().verify()
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
