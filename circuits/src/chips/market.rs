//! The market's numbers as fixed lookup tables: what every verifier's key pins.
//!
//! **Instruments** (one row per market instrument, after the padding row):
//! ```text
//! | idx       | id  | mark | linear_L | short_L | pnl[0] + 2^60 | … | pnl[S−1] + 2^60 |
//! | 0         | 0   | 0    | 0        | 0       | 0             | … | 0               |   padding instrument
//! | row + 1   | i   | m_i  | lin_i(L) | sc_i(L) | p_i[0] + 2^60 | … | p_i[S−1] + 2^60 |
//! ```
//! The table holds each P&L shifted by 2^60 (|P&L| < 2^60, so every entry is a
//! non-negative number below 2^61: committing to small numbers is what makes the P&L
//! columns cheap to rebuild in every verifier's key). The first row is the padding
//! instrument, all zeros (index 0, id 0, numbers 0, P&L −2^60:
//! [`crate::tables::PADDING_PNL`]), what a disabled row presents and halo2 repeats down
//! the unused rows; it is the only row with id 0. That matters: net rows keyed by id 0
//! are only forced (by the logUp balance) to sum to zero across rows, so with one tuple
//! for all of them they add nothing; a second id-0 tuple with another P&L would let nets
//! of −X and +X shift every scenario loss.
//!
//! **Assets**: `| id | price | 10^6 − haircut |`, after an all-zero row.
//!
//! Positions look up their id in the instrument ids ([`crate::chips::account`]), net rows
//! their whole tuple ([`crate::chips::netting`]), collateral rows their asset tuple.

use halo2_proofs::circuit::{Layouter, Value};
use halo2_proofs::plonk::{ConstraintSystem, Error, TableColumn};

use crate::chips::columns::fp;
use crate::encoding::{pow2, Fp};
use crate::tables::{MarketTables, PNL_SHIFT_BITS};

/// The instrument table's columns before the P&L: index, id, mark, linear rate, short charge.
pub const INSTRUMENT_NUMBERS: usize = 5;

/// The market tables' columns.
#[derive(Clone, Debug)]
pub struct MarketTableConfig {
    /// idx, id, mark, linear, short, then one column per scenario lane.
    pub(crate) instrument: Vec<TableColumn>,
    /// id, price, 10^6 − haircut.
    pub(crate) asset: [TableColumn; 3],
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
    /// Allocates the table columns for `lanes` scenario lanes.
    pub fn configure(meta: &mut ConstraintSystem<Fp>, lanes: usize) -> MarketTableConfig {
        let instrument = (0..INSTRUMENT_NUMBERS + lanes).map(|_| meta.lookup_table_column()).collect();
        let asset = [meta.lookup_table_column(), meta.lookup_table_column(), meta.lookup_table_column()];
        MarketTableConfig { instrument, asset }
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
                let padding = vec![Fp::zero(); INSTRUMENT_NUMBERS + tables.lanes];
                let rows = std::iter::once(padding).chain(tables.instruments.iter().map(|r| {
                    [Fp::from(r.index), r.id, fp(r.mark), fp(r.linear), fp(r.short_charge)]
                        .into_iter()
                        .chain(r.pnl.iter().map(|&p| fp(p) + shift))
                        .collect()
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
                let rows = std::iter::once([Fp::zero(); 3])
                    .chain(tables.assets.iter().map(|r| [r.id, fp(r.price), fp(r.haircut_complement)]));
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
