//! The market's numbers as fixed lookup tables: what every verifier's key pins.
//!
//! **Instruments** (one row per market instrument, after the padding row; the `class`
//! column only in circuits that margin risk classes apart, [`crate::tables::MarketTables::class_mode`]):
//! ```text
//! | idx       | id  | mark | linear_L | short_L | notional   | class | pnl[0] + 2^60 | … | pnl[S−1] + 2^60 |
//! | 0         | 0   | 0    | 0        | 0       | 0          | 0     | 0             | … | 0               |   padding instrument
//! | row + 1   | i   | m_i  | lin_i(L) | sc_i(L) | N_i or 2^160 | c_i | p_i[0] + 2^60 | … | p_i[S−1] + 2^60 |
//! ```
//! The table holds each P&L shifted by 2^60 (|P&L| < 2^60, so every entry is a
//! non-negative number below 2^61: committing to small numbers is what makes the P&L
//! columns cheap to rebuild in every verifier's key). The first row is the padding
//! instrument, all zeros (index 0, id 0, numbers 0, P&L −2^60:
//! [`crate::tables::PADDING_PNL`]), what a disabled row presents and halo2 repeats down
//! the unused rows; it is the only row with id 0, and no position may name it (the
//! account chip), so net rows keyed by id 0 are only forced (by the logUp balance) to sum
//! to zero across rows, and with one tuple for all of them they add nothing. An
//! instrument without a notional carries 2^160 ([`crate::tables::MISSING_NOTIONAL_BITS`]).
//! `c_i` is the index of the instrument's risk class.
//!
//! **Assets**, T rows per asset (T the most tiers any asset has; tiers beyond an asset's
//! own have width 0), after T all-zero rows for padding slots:
//! ```text
//! | id | tier t | price | 10^6 − haircut_t | width_t |
//! ```
//!
//! Positions look up their id in the instrument ids ([`crate::chips::account`]), net rows
//! their whole tuple ([`crate::chips::netting`]), collateral tier rows their asset tuple.

use halo2_proofs::circuit::{Layouter, Value};
use halo2_proofs::plonk::{ConstraintSystem, Error, TableColumn};

use crate::chips::columns::fp;
use crate::encoding::{pow2, Fp};
use crate::tables::{MarketTables, PNL_SHIFT_BITS};

/// The instrument table's columns before the class and the P&L: index, id, mark, linear
/// rate, short charge, notional.
pub const INSTRUMENT_NUMBERS: usize = 6;

/// The market tables' columns.
#[derive(Clone, Debug)]
pub struct MarketTableConfig {
    /// idx, id, mark, linear, short, notional, [class,] then one column per scenario lane.
    pub(crate) instrument: Vec<TableColumn>,
    /// Whether the instrument table has the class column.
    pub(crate) classes: bool,
    /// id, tier, price, 10^6 − haircut, width.
    pub(crate) asset: [TableColumn; 5],
}

impl MarketTableConfig {
    /// The first P&L column of the instrument table.
    pub(crate) fn first_pnl(&self) -> usize {
        INSTRUMENT_NUMBERS + usize::from(self.classes)
    }
}

/// What the circuit asks of the market tables.
pub trait MarketTableInstructions {
    /// Loads the market's instrument and asset tables (at the statement's level).
    fn load_tables(&self, layouter: &mut impl Layouter<Fp>, tables: &MarketTables) -> Result<(), Error>;
}

/// The market table chip.
#[derive(Debug)]
pub struct MarketTableChip {
    config: MarketTableConfig,
}

impl MarketTableChip {
    /// Allocates the table columns for `lanes` scenario lanes, with the class column when
    /// `classes`.
    pub fn configure(meta: &mut ConstraintSystem<Fp>, lanes: usize, classes: bool) -> MarketTableConfig {
        let numbers = INSTRUMENT_NUMBERS + usize::from(classes);
        let instrument = (0..numbers + lanes).map(|_| meta.lookup_table_column()).collect();
        let asset = [(); 5].map(|_| meta.lookup_table_column());
        MarketTableConfig { instrument, classes, asset }
    }

    /// A chip for one synthesis pass.
    pub fn construct(config: MarketTableConfig) -> Self {
        MarketTableChip { config }
    }
}

impl MarketTableInstructions for MarketTableChip {
    fn load_tables(&self, layouter: &mut impl Layouter<Fp>, tables: &MarketTables) -> Result<(), Error> {
        let c = &self.config;
        layouter.assign_table(
            || "instruments",
            |mut table| {
                // Row 0 is the padding instrument, all zeros (its P&L −2^60 shifted to 0);
                // then the market's, P&L shifted (see the module doc).
                let shift = pow2(PNL_SHIFT_BITS);
                let padding = vec![Fp::zero(); c.instrument.len()];
                let rows = std::iter::once(padding).chain(tables.instruments.iter().map(|r| {
                    let numbers = [Fp::from(r.index), r.id, fp(r.mark), fp(r.linear), fp(r.short_charge), r.notional_cell()];
                    let class = c.classes.then(|| Fp::from(r.class));
                    numbers.into_iter().chain(class).chain(r.pnl.iter().map(|&p| fp(p) + shift)).collect()
                }));
                for (i, row) in rows.enumerate() {
                    for (&col, value) in c.instrument.iter().zip(row) {
                        table.assign_cell(|| "instrument", col, i, || Value::known(value))?;
                    }
                }
                Ok(())
            },
        )?;
        layouter.assign_table(
            || "assets",
            |mut table| {
                let padding = (0..tables.tiers).map(|t| [Fp::zero(), Fp::from(t as u64), Fp::zero(), Fp::zero(), Fp::zero()]);
                let rows = padding.chain(tables.assets.iter().flat_map(|r| {
                    r.tiers.iter().enumerate().map(|(t, tier)| {
                        [r.id, Fp::from(t as u64), fp(r.price), fp(tier.complement), tier.width_cell()]
                    })
                }));
                for (i, row) in rows.enumerate() {
                    for (col, value) in c.asset.iter().zip(row) {
                        table.assign_cell(|| "asset", *col, i, || Value::known(value))?;
                    }
                }
                Ok(())
            },
        )
    }
}
