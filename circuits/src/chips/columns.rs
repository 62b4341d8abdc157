//! The advice columns the margin chips share, and the helpers they lay rows out with.
//!
//! The account ([`crate::chips::account`]), netting ([`crate::chips::netting`]), group
//! total ([`crate::chips::totals`]) and sum ([`crate::chips::sums`]) chips lay their rows
//! into one set of columns: each region kind uses the columns its gates name, so no
//! column sits empty beside another chip's rows. Each chip's module doc gives the layout
//! of its rows.
//!
//! Regions are runs of rows closed by one final row (`r = 0..n-1` then `n`). Values
//! cross regions only through the equality-enabled columns `val`, `mag`, `flag` and
//! `entry`, each on a row a gate ties to the column that uses it.
//!
//! Bounds (with the limits of [`crate::shape`]): |q|, |x| < 2^70; |n| < 2^80;
//! money < 2^60, rates < 2^30; every loss, worst, class worst and slack checked below
//! 2^160, and a group's sum of class worsts too. Group figures are at 10^-26 (quantity ×
//! money × rate × rate): |equity| < 2^193 (collateral < 2^168 at 10^-20, marks < 2^152 at
//! 10^-14), requirement < 2^212 (lf·o·worst and lf·(1 − o)·Σ worst_c < 2^210, charges
//! < 2^192), so excess = equity − requirement is checked to 220 bits, the ratio slack
//! 10^6·equity − ρ·requirement (|·| < 2^243) to 250, the total excess minus T (< 2^198)
//! to 220, total equity minus the floor to 200 and λ·equity − 10^18·gross (< 2^228) to
//! 230 bits: all below the field (> 2^253), so a negative figure can never pass as a
//! small positive one.

use halo2_proofs::circuit::{AssignedCell, Region, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error, Expression, VirtualCells};
use halo2_proofs::poly::Rotation;
use ff::Field;

use crate::chips::hash::{Absorption, Active, Word};
use crate::encoding::Fp;
pub use crate::shape::{fold_rows, lane_columns, LANE_COLUMNS};

/// The shared advice columns (their roles per row kind are in each chip's layout).
#[derive(Clone, Debug)]
pub struct MarginColumns {
    pub(crate) idx: Column<Advice>,
    pub(crate) id: Column<Advice>,
    pub(crate) val: Column<Advice>,
    pub(crate) mag: Column<Advice>,
    pub(crate) flag: Column<Advice>,
    pub(crate) inv: Column<Advice>,
    pub(crate) chal: Column<Advice>,
    pub(crate) logup: Column<Advice>,
    pub(crate) price: Column<Advice>,
    pub(crate) linear: Column<Advice>,
    pub(crate) short: Column<Advice>,
    pub(crate) sum_a: Column<Advice>,
    pub(crate) sum_b: Column<Advice>,
    pub(crate) sum_c: Column<Advice>,
    pub(crate) pnl: Vec<Column<Advice>>,
    pub(crate) loss: Vec<Column<Advice>>,
    /// Scenario lanes S.
    pub(crate) lanes: usize,
    /// The packed entry (account rows) or net word (net rows) a sponge absorbs.
    pub(crate) entry: Column<Advice>,
}

impl MarginColumns {
    /// Allocates the columns for `lanes` scenario lanes; `val`, `mag`, `flag` and `entry`
    /// take copies.
    pub fn configure(meta: &mut ConstraintSystem<Fp>, lanes: usize) -> MarginColumns {
        let mut advice = || meta.advice_column();
        let (idx, id, val, mag, flag, inv, chal) = (advice(), advice(), advice(), advice(), advice(), advice(), advice());
        let (logup, price, linear, short, sum_a, sum_b, sum_c) = (advice(), advice(), advice(), advice(), advice(), advice(), advice());
        let width = lane_columns(lanes);
        assert!(width > 0 && lanes.is_multiple_of(width), "scenario lanes fold into whole rows");
        let pnl: Vec<_> = (0..width).map(|_| meta.advice_column()).collect();
        let loss: Vec<_> = (0..width).map(|_| meta.advice_column()).collect();
        // Every value another region or a range check reads sits in one of these; the rest
        // are local to their rows.
        let entry = meta.advice_column();
        for col in [val, mag, flag, entry] {
            meta.enable_equality(col);
        }
        MarginColumns {
            idx, id, val, mag, flag, inv, chal, logup, price, linear, short, sum_a, sum_b, sum_c, pnl, loss, lanes, entry,
        }
    }

    /// Rows per net slot: the S scenario lanes fold into rows of [`LANE_COLUMNS`].
    pub fn fold(&self) -> usize {
        fold_rows(self.lanes)
    }

    /// Lane s's P&L of the net slot whose first row is `rotation` rows below.
    pub(crate) fn pnl_at(&self, m: &mut VirtualCells<Fp>, s: usize, rotation: i32) -> Expression<Fp> {
        let width = self.pnl.len();
        m.query_advice(self.pnl[s % width], Rotation(rotation + (s / width) as i32))
    }

    /// Where lane s sits in a run of F lane rows: (row, column).
    pub fn lane_cell(&self, s: usize) -> (usize, usize) {
        (s / self.pnl.len(), s % self.pnl.len())
    }

    /// Row below a closing or class block's first row of lane s's slack in `mag`: the
    /// slacks of lane column c sit in a run of F rows, so that one gate per lane row reads
    /// each at a fixed rotation (`1 + c·F`).
    pub fn slack_row(&self, s: usize) -> usize {
        let (row, col) = self.lane_cell(s);
        1 + col * self.fold() + row
    }

    /// Rows of a group closing or a class block: its first row and the S slack rows.
    pub fn block_rows(&self) -> usize {
        self.lanes + 1
    }
}

pub(crate) fn fp(x: i128) -> Fp {
    crate::encoding::signed_to_field(x)
}

pub(crate) fn one() -> Expression<Fp> {
    Expression::Constant(Fp::one())
}

/// 1/2 in the field: `(|v| − v)/2` is the negative part of v, exactly (|v| − v is even).
pub(crate) fn half() -> Expression<Fp> {
    Expression::Constant(Fp::from(2).invert().expect("2 is invertible"))
}

pub(crate) fn cur(m: &mut VirtualCells<Fp>, col: Column<Advice>) -> Expression<Fp> {
    m.query_advice(col, Rotation::cur())
}

pub(crate) fn next(m: &mut VirtualCells<Fp>, col: Column<Advice>) -> Expression<Fp> {
    m.query_advice(col, Rotation::next())
}

pub(crate) fn prev(m: &mut VirtualCells<Fp>, col: Column<Advice>) -> Expression<Fp> {
    m.query_advice(col, Rotation::prev())
}

/// Consecutive cells two by two as absorptions, `active(j)` whether pair j counts.
pub(crate) fn pairs(cells: &[AssignedCell<Fp, Fp>], active: impl Fn(usize) -> Active) -> Vec<Absorption> {
    cells
        .chunks(2)
        .enumerate()
        .map(|(j, p)| Absorption { words: [Word::Cell(p[0].clone()), Word::Cell(p[1].clone())], active: active(j) })
        .collect()
}

/// Assigns `f(row)` of each planned row (or an unknown value) into `col`, from `start`.
pub(crate) fn assign_column<T>(
    region: &mut Region<'_, Fp>,
    col: Column<Advice>,
    rows: Option<&[T]>,
    count: usize,
    start: usize,
    f: impl Fn(&T) -> Fp,
) -> Result<Vec<AssignedCell<Fp, Fp>>, Error> {
    assign_strided(region, col, rows, count, start, 1, f)
}

/// Assigns `f(row)` of each planned row (or an unknown value) into `col`, one every
/// `stride` rows from `start`.
pub(crate) fn assign_strided<T>(
    region: &mut Region<'_, Fp>,
    col: Column<Advice>,
    rows: Option<&[T]>,
    count: usize,
    start: usize,
    stride: usize,
    f: impl Fn(&T) -> Fp,
) -> Result<Vec<AssignedCell<Fp, Fp>>, Error> {
    (0..count)
        .map(|r| {
            let value = rows.map_or(Value::unknown(), |rows| Value::known(f(&rows[r])));
            region.assign_advice(|| "cell", col, start + stride * r, || value)
        })
        .collect()
}

/// A gate `name` that sets each of `cols` to zero on the rows of `q` (a running sum's
/// start), one gate per selector so that a region is only asked for the cells its own
/// sums use.
pub(crate) fn zero_start(meta: &mut ConstraintSystem<Fp>, name: &'static str, q: halo2_proofs::plonk::Selector, cols: Vec<Column<Advice>>) {
    meta.create_gate(name, |m| {
        let q = m.query_selector(q);
        halo2_proofs::plonk::Constraints::with_selector(q, cols.iter().map(|&col| cur(m, col)).collect::<Vec<_>>())
    });
}
