//! Range checks: `0 ≤ x < 2^(10·words)` by a strict running-sum decomposition into
//! 10-bit words, each looked up in one shared table of 0..2^10 (halo2_gadgets'
//! `LookupRangeCheckConfig`).
//!
//! Several lanes (each its own advice column) share the table; checks are spread over
//! the lanes in turn so that the floor planner lays them side by side.

use std::cell::Cell;

use halo2_gadgets::utilities::lookup_range_check::{LookupRangeCheck, LookupRangeCheckConfig};
use halo2_proofs::circuit::{AssignedCell, Layouter, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, TableColumn};

use crate::encoding::Fp;

/// Bits per looked-up word.
pub const WORD_BITS: usize = 10;

/// Columns of the range-check chip.
#[derive(Clone, Debug)]
pub struct RangeCheckConfig {
    lanes: Vec<LookupRangeCheckConfig<Fp, WORD_BITS>>,
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
        let lanes = lanes.iter().map(|&col| LookupRangeCheckConfig::configure(meta, col, table)).collect();
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

impl RangeInstructions for RangeCheckChip {
    fn check_words(&self, layouter: &mut impl Layouter<Fp>, value: &AssignedCell<Fp, Fp>, words: usize) -> Result<(), Error> {
        let lane = self.next_lane.get();
        self.next_lane.set((lane + 1) % self.config.lanes.len());
        self.config.lanes[lane]
            .copy_check(layouter.namespace(|| "range check"), value.clone(), words, true)
            .map(|_| ())
    }
}
