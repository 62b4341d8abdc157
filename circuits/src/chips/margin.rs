//! The margin chip: every gate of SPEC section 5 over private positions.
//!
//! Regions, each a run of rows closed by one final row (`r = 0..n-1` then `n`). Values
//! cross regions only through the equality-enabled columns `val`, `mag`, `flag` and
//! `entry`, each on a row a gate ties to the column that uses it.
//!
//! **Account rows** (one region per account slot: 4 header rows, `P` position rows, a
//! closing row; then a collateral region of `C` rows and a closing row). The account's
//! commitment sponge ([`crate::sponges`], run by [`crate::chips::hash`]) absorbs the
//! `entry` column two rows at a time (header pairs always, a position or collateral pair
//! when the `flag` of its first row is 1: both copied into the hash lanes); its result is
//! the account's public commitment ([`crate::commitment`]).
//! ```text
//! row     | entry      | flag   | id | val          | mag       | inv          | chal          | logup   |
//! 0       | venue      |        |    |              |           |              |               |         |
//! 1       | account    |        |    |              |           |              |               |         |
//! 2       | salt       |        |    |              |           |              |               |         |
//! 3       | 0          |        |    | challenge c  | tag t     |              |               |         |
//! 4 + r   | e(i, q)    | active | i  | q            | q + 2^69  | 1/(b − i)    | b = c − t     | Σ q·inv |
//! 4 + P   |            |        |    | final logup  |           |              | b             | final   |
//! ```
//! (t = g·2^250 is the account's group tag, from the public inputs; c is linked to the
//! derived challenge; b, the logUp key base, is carried down every row.)
//! Position rows (`q_position`): `active ∈ {0,1}`; `active' ≤ active` (real entries
//! first); `(1−active)·q = 0`; `mag = q + 2^69` (range-checked to 70 bits);
//! `entry = active·(2^232 + i·2^72 + q + 2^70)`; `inv·(b − i) = 1`;
//! `logup' = logup + q·inv`; `b' = b`; lookup `i ∈ instrument ids`
//! (so i < 2^160 and the packing is injective). `q_start_position` sets `logup = 0`, the
//! header's fourth entry (the row above) to 0, and `b = c − t` from the row above;
//! `q_close_position` sets `val = logup` on the closing row (the region's result).
//!
//! **Collateral rows** (`q_collateral`):
//! ```text
//! | entry      | id | val | pos | neg | mag     | flag   | price | linear     | sum_a   |
//! | e(a, x)    | a  | x   | x⁺  | x⁻  | x⁺ + x⁻ | active | P_a   | 1e6 − h_a  | Σ value |
//! ```
//! `active ∈ {0,1}`; `active' ≤ active`; `(1−active)·x = 0`; `x = pos − neg`;
//! `pos·neg = 0`; `mag = pos + neg` (range-checked to 70 bits, so both parts are);
//! `entry = active·(2·2^232 + a·2^72 + x + 2^70)`;
//! `sum_a' = sum_a + price·(pos·linear − neg·10^6)`; lookup `(a, price, linear) ∈ assets`.
//! `q_start_collateral` sets `sum_a = 0` on row 0; `q_close_collateral` sets `val = sum_a`
//! on the closing row (the account's collateral value).
//!
//! **Net rows** (`q_net`, one region per group slot; fixed `group_tag` = g·2^250). Each
//! net slot takes `F = S / 8` rows: the S scenario lanes fold into 8 columns, lane s in
//! column `s mod 8` on row `s / 8` of its slot (F = 1, 2, 4 for S = 8, 16, 32):
//! ```text
//! | row     | idx | id | val | pos | neg | mag     | price | linear | short | pnl[c]       | inv | chal | logup | sum_a | sum_b | sum_c | loss[c]              |
//! | F·r     | k   | i  | n   | n⁺  | n⁻  | n⁺ + n⁻ | mark  | lin_L  | sc_L  | pnl_c        | 1/(chal−i−tag) | c | Σ n·inv | Σ n·mark | Σ |n|·lin | Σ n⁻·sc | Σ −n·pnl_c |
//! | F·r + j |     |    | n   |     |     |         |       |        |       | pnl_{8j+c}   |     |      |       |       |       |       | Σ −n·pnl_{8j+c}      |
//! ```
//! `n = pos − neg`; `pos·neg = 0`; `mag = pos + neg` (range-checked to 80 bits);
//! `inv·(chal − id − group_tag) = 1`; each running sum advances by its term to the next
//! slot (F rows down). The scenario lanes advance row by row (`q_lane`, every row of a
//! slot: `loss_c(+F) = loss_c − val·pnl_c` for each lane column c, with the slot's net
//! carried down its rows in `val` by `q_net_carry`: `val(+1) = val` on rows 0..F−2), so
//! that each lane column is queried at two rotations only (every query is a 32-byte
//! evaluation in the proof); lookup `(idx, id, price, linear, short,
//! pnl[0..S] + 2^60) ∈ instruments`, the P&L read across the slot's F rows (idx is the
//! market row + 1, < 2^20). The table holds each P&L shifted by 2^60 (|P&L| < 2^60, so
//! every entry is a non-negative number below 2^61: committing to small numbers is what
//! makes the 32 P&L columns cheap to rebuild in every verifier's key). The table's first
//! row is the padding instrument, all zeros (index 0, id 0, numbers 0, P&L −2^60:
//! [`crate::tables::PADDING_PNL`]), what a disabled row presents and halo2 repeats down
//! the unused rows; it is the only row with id 0. That matters: net rows keyed by id 0
//! are only forced (by the logUp balance) to sum to zero across rows, so with one tuple
//! for all of them they add nothing; a second id-0 tuple with another P&L would let nets
//! of −X and +X shift every scenario loss.
//! `q_start_net` zeroes the sums on row 0, `q_start_lanes` the lanes on rows 0..F−1. Every fourth slot (`q_net_absorb`) packs
//! four slots into two net words in `entry` (its row and the next), `k·2^81 + (n + 2^80)`
//! each (< 2^101), two per word; the net sponges absorb them ([`crate::sponges`]).
//!
//! **Group closing rows** (`q_group_total` on the final row of a net region, fixed
//! `loss_factor`; `q_slack` on it and the F − 1 rows below, where the final lanes sit):
//! ```text
//! | row                | mag             | pos   | val         | flag | neg | entry  | chal, logup, sum_a..c | loss[c] (final)   |
//! | close              | worst           | worst | collateral  | mode | req | excess | (final)               | loss[c]           |
//! | close + 1          | slack[0]        | worst | challenge   |      |     |        |                       | loss[8 + c]       |
//! | close + 2          | slack[8]        | worst | final logup |      |     |        |                       | loss[16 + c]      |
//! | close + j          | slack[8(j−1)]   | worst |             |      |     |        |                       | loss[8j + c]      |
//! | close + F          | slack[8(F−1)]   | worst |             |      |     |        |                       |                   |
//! | close + 1 + c·F + j| slack[8j + c]   |       |             |      |     |        |                       |                   |
//! ```
//! Lane s = 8j + c (final loss in column c, row `close + j`) has its slack
//! `worst − loss[s]` in `mag` at `close + 1 + c·F + j` ([`MarginConfig::slack_row`]): on
//! each closing row j, `q_slack` reads the slack of column c at the fixed rotation
//! `1 + c·F`, against the worst carried down in `pos` (`pos = mag` on the closing row,
//! `pos(+1) = pos` on each `q_slack` row). Each slack is range-checked, so worst ≥ every
//! loss; worst itself is range-checked, so worst ≥ 0; `mode ∈ {0,1}`;
//! `req = mode·(lf·worst + 10^6·sum_c) + (1 − mode)·10^6·sum_b`;
//! `excess = collateral + 10^6·sum_a − req` (range-checked: excess ≥ 0); the carried
//! `chal` equals the imported challenge and the final `logup` leaves through `val`.
//! A worst above the true maximum only raises the requirement, so it can never make a
//! false claim provable; the prover's honest value is the exact maximum.
//!
//! **Weighted sums** (`q_dot`): `| flag: w | val: v | mag: s |` with `s' = s + w·v`;
//! a plain term (`q_sum`, weight 1) has no weight cell: `s' = s + v`;
//! `q_start_dot` sets `s = 0` on row 0.
//!
//! **Threshold** (`q_threshold`): `| val: T | flag: total | mag: slack |` with
//! `slack = total − T` (range-checked: total ≥ T).
//!
//! **Public inputs** (`q_public`, the circuit's first region, so its row r is the
//! absolute row r): `val = instance` on the same row. Every public value (commitments,
//! group tags, memberships, modes, threshold, binding) reaches the rows that use it by a
//! copy of its `val` cell; the instance column itself takes no copies.
//!
//! Bounds (with the limits of [`crate::shape`]): |q|, |x| < 2^70; |n| < 2^80;
//! money < 2^60, rates < 2^30; every loss, worst and slack < 2^160; every group excess
//! < 2^200 (checked to 200 bits) and the total minus T < 2^205 (checked to 210 bits) —
//! all far below the field (≈ 2^254), so no comparison wraps.

use halo2_proofs::circuit::{AssignedCell, Layouter, Region, Value};
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Constraints, Error, Expression, Fixed, Instance, Selector, TableColumn,
    VirtualCells,
};
use halo2_proofs::poly::Rotation;

use crate::chips::hash::{Absorption, Active, Word};
use crate::commitment::{EntryKind, ID_SHIFT, KIND_SHIFT, VALUE_OFFSET_BITS};
use crate::encoding::{pow2, Fp};
use crate::fixed::MONEY_SCALE;
use crate::sponges::{net_element, HEADER_ROWS, NET_ELEMENT_BITS};
use crate::statement::group_tag;
use crate::tables::{MarketTables, PNL_SHIFT_BITS};
use crate::witness::{AccountPlan, Crossing, GroupTotals, NetRow, QTY_OFFSET_BITS};

/// Scenario-lane columns: S lanes fold into S / 8 rows per net slot (S ≥ 8).
pub const LANE_COLUMNS: usize = 8;


/// Columns, selectors and tables of the margin chip.
#[derive(Clone, Debug)]
pub struct MarginConfig {
    idx: Column<Advice>,
    id: Column<Advice>,
    val: Column<Advice>,
    pos: Column<Advice>,
    neg: Column<Advice>,
    mag: Column<Advice>,
    flag: Column<Advice>,
    inv: Column<Advice>,
    chal: Column<Advice>,
    logup: Column<Advice>,
    price: Column<Advice>,
    linear: Column<Advice>,
    short: Column<Advice>,
    sum_a: Column<Advice>,
    sum_b: Column<Advice>,
    sum_c: Column<Advice>,
    pnl: Vec<Column<Advice>>,
    loss: Vec<Column<Advice>>,
    /// Scenario lanes S.
    lanes: usize,
    /// The packed entry (account rows) or net word (net rows) a sponge absorbs.
    entry: Column<Advice>,
    group_tag: Column<Fixed>,
    loss_factor: Column<Fixed>,
    instance: Column<Instance>,
    q_position: Selector,
    q_collateral: Selector,
    q_net: Selector,
    q_lane: Selector,
    q_net_carry: Selector,
    q_net_absorb: Selector,
    q_group_total: Selector,
    q_slack: Selector,
    q_dot: Selector,
    q_sum: Selector,
    q_threshold: Selector,
    q_public: Selector,
    q_start_position: Selector,
    q_start_collateral: Selector,
    q_close_position: Selector,
    q_close_collateral: Selector,
    q_start_net: Selector,
    q_start_lanes: Selector,
    q_start_dot: Selector,
    t_instrument: Vec<TableColumn>,
    t_asset: [TableColumn; 3],
}

impl MarginConfig {
    /// Rows per net slot: the S scenario lanes fold into rows of [`LANE_COLUMNS`].
    fn fold(&self) -> usize {
        self.lanes / self.pnl.len()
    }

    /// Lane s's P&L of the net slot whose first row is `rotation` rows below.
    fn pnl_at(&self, m: &mut VirtualCells<Fp>, s: usize, rotation: i32) -> Expression<Fp> {
        let width = self.pnl.len();
        m.query_advice(self.pnl[s % width], Rotation(rotation + (s / width) as i32))
    }

    /// Row of lane s's slack below a group's closing row: the slacks of lane column c
    /// sit in a run of `fold` rows, so that one gate per closing row reads each at a
    /// fixed rotation (`1 + c·fold`, see the module doc).
    pub fn slack_row(&self, s: usize) -> usize {
        let width = self.loss.len();
        1 + (s % width) * self.fold() + s / width
    }
}

/// Cells of an account's position region that other regions use.
#[derive(Debug)]
pub struct PositionCells {
    /// qty + 2^69 per slot (to range-check to 70 bits).
    pub offsets: Vec<AssignedCell<Fp, Fp>>,
    /// The commitment sponge's absorptions: header pairs, then position pairs.
    pub absorptions: Vec<Absorption>,
    /// Challenge cell of the first position row.
    pub challenge: AssignedCell<Fp, Fp>,
    /// Final logUp sum.
    pub logup: AssignedCell<Fp, Fp>,
}

/// Cells of an account's collateral region that other regions use.
#[derive(Debug)]
pub struct CollateralCells {
    /// |x| per slot (to range-check to 70 bits).
    pub mags: Vec<AssignedCell<Fp, Fp>>,
    /// The commitment sponge's collateral pairs (after the position pairs).
    pub absorptions: Vec<Absorption>,
    /// Σ collateral values.
    pub value: AssignedCell<Fp, Fp>,
}

/// Cells of a net region (with its closing row) that other regions use.
#[derive(Debug)]
pub struct GroupCells {
    /// |n| per slot (80-bit range checks).
    pub mags: Vec<AssignedCell<Fp, Fp>>,
    /// The net words, one absorption per four slots (always active).
    pub absorptions: Vec<Absorption>,
    /// Challenge cell of row 0.
    pub challenge: AssignedCell<Fp, Fp>,
    /// Final logUp sum.
    pub logup: AssignedCell<Fp, Fp>,
    /// worst (160-bit check).
    pub worst: AssignedCell<Fp, Fp>,
    /// worst − loss_s per lane s (160-bit checks).
    pub slack: Vec<AssignedCell<Fp, Fp>>,
    /// The group's excess (200-bit check).
    pub excess: AssignedCell<Fp, Fp>,
}

/// What the margin circuit asks of the margin chip.
pub trait MarginInstructions {
    /// Loads the market's instrument and asset tables.
    fn load_tables(&self, layouter: &mut impl Layouter<Fp>, tables: &MarketTables) -> Result<(), Error>;
    /// Lays out one account slot's header and position rows; `tag` is its group tag's
    /// public cell.
    fn assign_positions(
        &self,
        layouter: &mut impl Layouter<Fp>,
        slots: usize,
        account: Option<&AccountPlan>,
        tag: &AssignedCell<Fp, Fp>,
    ) -> Result<PositionCells, Error>;
    /// Lays out one account slot's collateral rows.
    fn assign_collateral(&self, layouter: &mut impl Layouter<Fp>, slots: usize, account: Option<&AccountPlan>)
        -> Result<CollateralCells, Error>;
    /// Lays out group slot `g`'s net rows and its closing row.
    #[allow(clippy::too_many_arguments)]
    fn assign_group(
        &self,
        layouter: &mut impl Layouter<Fp>,
        g: usize,
        slots: usize,
        group: Option<&crate::witness::GroupPlan>,
        loss_factor: i128,
        collateral: &AssignedCell<Fp, Fp>,
        mode: &AssignedCell<Fp, Fp>,
    ) -> Result<GroupCells, Error>;
    /// Σ w_i·v_i with each weight either the constant 1 or a cell; `sums` are the planned
    /// running sums after each term (prover only).
    fn weighted_sum(&self, layouter: &mut impl Layouter<Fp>, terms: &[(Weight<'_>, &AssignedCell<Fp, Fp>)], sums: Option<&[Fp]>)
        -> Result<AssignedCell<Fp, Fp>, Error>;
    /// total − T with T the public `threshold` cell, `slack` as planned; returns the
    /// slack cell to range-check.
    fn threshold_slack(
        &self,
        layouter: &mut impl Layouter<Fp>,
        total: &AssignedCell<Fp, Fp>,
        threshold: &AssignedCell<Fp, Fp>,
        slack: Option<Fp>,
    ) -> Result<AssignedCell<Fp, Fp>, Error>;
    /// The `count` public inputs as cells holding `values` (prover only; the gate ties
    /// each to its instance row): the first region of the circuit, so that its row r is
    /// instance row r.
    fn load_public(&self, layouter: &mut impl Layouter<Fp>, count: usize, values: Option<&[Fp]>)
        -> Result<Vec<AssignedCell<Fp, Fp>>, Error>;
}

/// A weight of a weighted sum.
#[derive(Clone, Copy, Debug)]
pub enum Weight<'a> {
    /// The constant 1 (a plain sum row).
    One,
    /// The value of this cell (a public input).
    Cell(&'a AssignedCell<Fp, Fp>),
}

/// The margin chip.
#[derive(Debug)]
pub struct MarginChip {
    config: MarginConfig,
}

fn fp(x: i128) -> Fp {
    crate::encoding::signed_to_field(x)
}

fn cur(m: &mut VirtualCells<Fp>, col: Column<Advice>) -> Expression<Fp> {
    m.query_advice(col, Rotation::cur())
}

fn next(m: &mut VirtualCells<Fp>, col: Column<Advice>) -> Expression<Fp> {
    m.query_advice(col, Rotation::next())
}

fn prev(m: &mut VirtualCells<Fp>, col: Column<Advice>) -> Expression<Fp> {
    m.query_advice(col, Rotation::prev())
}

impl MarginChip {
    /// Configures the chip with `lanes` scenario lanes; `instance` is the public column.
    pub fn configure(meta: &mut ConstraintSystem<Fp>, lanes: usize, instance: Column<Instance>) -> MarginConfig {
        let mut advice = || meta.advice_column();
        let (idx, id, val, pos, neg, mag, flag, inv, chal) =
            (advice(), advice(), advice(), advice(), advice(), advice(), advice(), advice(), advice());
        let (logup, price, linear, short, sum_a, sum_b, sum_c) = (advice(), advice(), advice(), advice(), advice(), advice(), advice());
        let width = lanes.min(LANE_COLUMNS);
        assert_eq!(lanes % width, 0, "scenario lanes fold into whole rows");
        let pnl: Vec<_> = (0..width).map(|_| meta.advice_column()).collect();
        let loss: Vec<_> = (0..width).map(|_| meta.advice_column()).collect();
        // Every value another region or a range check reads sits in one of these; the rest
        // are local to their rows.
        let entry = meta.advice_column();
        for col in [val, mag, flag, entry] {
            meta.enable_equality(col);
        }
        let group_tag = meta.fixed_column();
        let loss_factor = meta.fixed_column();
        let t_instrument: Vec<TableColumn> = (0..5 + lanes).map(|_| meta.lookup_table_column()).collect();
        let t_asset = [meta.lookup_table_column(), meta.lookup_table_column(), meta.lookup_table_column()];
        let config = MarginConfig {
            idx,
            id,
            val,
            pos,
            neg,
            mag,
            flag,
            inv,
            chal,
            logup,
            price,
            linear,
            short,
            sum_a,
            sum_b,
            sum_c,
            pnl,
            loss,
            lanes,
            entry,
            group_tag,
            loss_factor,
            instance,
            q_position: meta.complex_selector(),
            q_collateral: meta.complex_selector(),
            q_net: meta.complex_selector(),
            q_lane: meta.selector(),
            q_net_carry: meta.selector(),
            q_net_absorb: meta.selector(),
            q_group_total: meta.selector(),
            q_slack: meta.selector(),
            q_dot: meta.selector(),
            q_sum: meta.selector(),
            q_threshold: meta.selector(),
            q_public: meta.selector(),
            q_start_position: meta.selector(),
            q_start_collateral: meta.selector(),
            q_close_position: meta.selector(),
            q_close_collateral: meta.selector(),
            q_start_net: meta.selector(),
            q_start_lanes: meta.selector(),
            q_start_dot: meta.selector(),
            t_instrument,
            t_asset,
        };
        Self::create_gates(meta, &config);
        config
    }

    fn create_gates(meta: &mut ConstraintSystem<Fp>, c: &MarginConfig) {
        let one = || Expression::Constant(Fp::one());
        let million = || Expression::Constant(fp(MONEY_SCALE));
        let constant = Expression::Constant;
        // entry = active·(kind·2^232 + id·2^72 + v + 2^70)
        let packed = move |kind: EntryKind, active: Expression<Fp>, id: Expression<Fp>, v: Expression<Fp>| {
            active
                * (constant(Fp::from(kind as u64) * pow2(KIND_SHIFT) + pow2(VALUE_OFFSET_BITS))
                    + id * constant(pow2(ID_SHIFT))
                    + v)
        };

        meta.create_gate("position row", |m| {
            let q = m.query_selector(c.q_position);
            let (id, qty, offset, active, inv, base, logup, entry) = (
                cur(m, c.id), cur(m, c.val), cur(m, c.mag), cur(m, c.flag), cur(m, c.inv),
                cur(m, c.chal), cur(m, c.logup), cur(m, c.entry),
            );
            let (active_n, base_n, logup_n) = (next(m, c.flag), next(m, c.chal), next(m, c.logup));
            Constraints::with_selector(
                q,
                [
                    ("active is boolean", active.clone() * (one() - active.clone())),
                    ("real entries first", active_n * (one() - active.clone())),
                    ("padding holds nothing", (one() - active.clone()) * qty.clone()),
                    ("offset quantity", offset - qty.clone() - Expression::Constant(pow2(QTY_OFFSET_BITS))),
                    ("packed entry", entry - packed(EntryKind::Position, active, id.clone(), qty.clone())),
                    ("logUp inverse", inv.clone() * (base.clone() - id) - one()),
                    ("logUp sum", logup_n - logup - qty * inv),
                    ("key base carried", base_n - base),
                ],
            )
        });

        // A position names a market instrument (or 0 in a padding slot): its id is then
        // < 2^160 (so its packing is injective), and its logUp key id + tag can only be
        // that instrument's in its own group (ids < 2^160 < the tag shift).
        meta.lookup(|m| {
            let q = m.query_selector(c.q_position);
            vec![(q * m.query_advice(c.id, Rotation::cur()), c.t_instrument[1])]
        });

        meta.create_gate("collateral row", |m| {
            let q = m.query_selector(c.q_collateral);
            let (id, amount, pos, neg, mag, active, price, complement, sum, entry) = (
                cur(m, c.id), cur(m, c.val), cur(m, c.pos), cur(m, c.neg), cur(m, c.mag), cur(m, c.flag),
                cur(m, c.price), cur(m, c.linear), cur(m, c.sum_a), cur(m, c.entry),
            );
            let (sum_n, active_n) = (next(m, c.sum_a), next(m, c.flag));
            Constraints::with_selector(
                q,
                [
                    ("active is boolean", active.clone() * (one() - active.clone())),
                    ("real entries first", active_n * (one() - active.clone())),
                    ("padding holds nothing", (one() - active.clone()) * amount.clone()),
                    ("sign split", amount.clone() - pos.clone() + neg.clone()),
                    ("one sign", pos.clone() * neg.clone()),
                    ("magnitude", mag - pos.clone() - neg.clone()),
                    ("packed entry", entry - packed(EntryKind::Collateral, active, id, amount)),
                    ("collateral value", sum_n - sum - price * (pos * complement - neg * million())),
                ],
            )
        });

        meta.lookup(|m| {
            let q = m.query_selector(c.q_collateral);
            [c.id, c.price, c.linear]
                .iter()
                .zip(c.t_asset)
                .map(|(&col, t)| (q.clone() * m.query_advice(col, Rotation::cur()), t))
                .collect::<Vec<_>>()
        });

        meta.create_gate("net row", |m| {
            let q = m.query_selector(c.q_net);
            let (id, net, pos, neg, mag, mark, linear, short, inv, chal, logup) = (
                cur(m, c.id), cur(m, c.val), cur(m, c.pos), cur(m, c.neg), cur(m, c.mag), cur(m, c.price),
                cur(m, c.linear), cur(m, c.short), cur(m, c.inv), cur(m, c.chal), cur(m, c.logup),
            );
            let tag = m.query_fixed(c.group_tag);
            let f = c.fold() as i32;
            let next = |m: &mut VirtualCells<Fp>, col| m.query_advice(col, Rotation(f));
            let constraints = vec![
                ("sign split", net.clone() - pos.clone() + neg.clone()),
                ("one sign", pos.clone() * neg.clone()),
                ("magnitude", mag.clone() - pos - neg.clone()),
                ("logUp inverse", inv.clone() * (chal.clone() - id - tag) - one()),
                ("logUp sum", next(m, c.logup) - logup - net.clone() * inv),
                ("challenge carried", next(m, c.chal) - chal),
                ("mark sum", next(m, c.sum_a) - cur(m, c.sum_a) - net.clone() * mark),
                ("linear sum", next(m, c.sum_b) - cur(m, c.sum_b) - mag * linear),
                ("short sum", next(m, c.sum_c) - cur(m, c.sum_c) - neg * short),
            ];
            Constraints::with_selector(q, constraints)
        });

        // Every row of a net slot advances its lanes by the slot's net, read from `val`
        // on the same row: each lane column is queried at two rotations only.
        meta.create_gate("scenario row", |m| {
            let q = m.query_selector(c.q_lane);
            let net = cur(m, c.val);
            let f = Rotation(c.fold() as i32);
            let constraints: Vec<_> = c
                .pnl
                .iter()
                .zip(&c.loss)
                .map(|(&pnl, &loss)| {
                    let step = m.query_advice(loss, f) - cur(m, loss) + net.clone() * cur(m, pnl);
                    ("scenario loss", step)
                })
                .collect();
            Constraints::with_selector(q, constraints)
        });

        // The slot's net repeated on its further rows (where the gate above reads it).
        meta.create_gate("net carried", |m| {
            let q = m.query_selector(c.q_net_carry);
            Constraints::with_selector(q, [("net carried", next(m, c.val) - cur(m, c.val))])
        });

        meta.lookup(|m| {
            let q = m.query_selector(c.q_net);
            let mut inputs: Vec<Expression<Fp>> =
                [c.idx, c.id, c.price, c.linear, c.short].iter().map(|&col| m.query_advice(col, Rotation::cur())).collect();
            let shift = Expression::Constant(pow2(PNL_SHIFT_BITS));
            inputs.extend((0..c.lanes).map(|s| c.pnl_at(m, s, 0) + shift.clone()));
            inputs.into_iter().zip(c.t_instrument.iter()).map(|(x, &t)| (q.clone() * x, t)).collect::<Vec<_>>()
        });

        // Four net rows, two per rate word, into the entry column for the net sponges (no
        // skipping: every net slot, padding included, is hashed before the challenge).
        meta.create_gate("net words", |m| {
            let q = m.query_selector(c.q_net_absorb);
            let f = c.fold() as i32;
            let row = |m: &mut VirtualCells<Fp>, r: i32| {
                net_element(m.query_advice(c.idx, Rotation(r * f)), m.query_advice(c.val, Rotation(r * f)))
            };
            let shift = || Expression::Constant(pow2(NET_ELEMENT_BITS));
            let (e0, e1, e2, e3) = (row(m, 0), row(m, 1), row(m, 2), row(m, 3));
            Constraints::with_selector(
                q,
                [("net word 0", cur(m, c.entry) - e0 - e1 * shift()), ("net word 1", next(m, c.entry) - e2 - e3 * shift())],
            )
        });

        meta.create_gate("group total", |m| {
            let q = m.query_selector(c.q_group_total);
            let (worst, collateral, mode, req, excess) =
                (cur(m, c.mag), cur(m, c.val), cur(m, c.flag), cur(m, c.neg), cur(m, c.entry));
            let (mark_sum, linear_sum, short_sum) = (cur(m, c.sum_a), cur(m, c.sum_b), cur(m, c.sum_c));
            let lf = m.query_fixed(c.loss_factor);
            let constraints = vec![
                ("mode is boolean", mode.clone() * (one() - mode.clone())),
                (
                    "requirement",
                    req.clone()
                        - mode.clone() * (lf * worst.clone() + million() * short_sum)
                        - (one() - mode) * million() * linear_sum,
                ),
                ("excess", excess - (collateral + million() * mark_sum - req)),
                ("challenge imported", cur(m, c.chal) - next(m, c.val)),
                ("logUp exported", m.query_advice(c.val, Rotation(2)) - cur(m, c.logup)),
                ("worst carried in", cur(m, c.pos) - worst),
            ];
            Constraints::with_selector(q, constraints)
        });

        // On each of the F closing rows (the final lanes), the slack of lane column c sits
        // 1 + c·F rows below, under the worst loss in `mag` (every range-checked value of the
        // region in one equality-enabled column); `pos` carries the worst down these rows.
        meta.create_gate("worst slack", |m| {
            let q = m.query_selector(c.q_slack);
            let worst = cur(m, c.pos);
            let f = c.fold() as i32;
            let mut constraints: Vec<_> = c
                .loss
                .iter()
                .enumerate()
                .map(|(col, &loss)| {
                    let slack = m.query_advice(c.mag, Rotation(1 + col as i32 * f));
                    ("worst slack", slack - (worst.clone() - cur(m, loss)))
                })
                .collect();
            constraints.push(("worst carried", next(m, c.pos) - worst));
            Constraints::with_selector(q, constraints)
        });

        meta.create_gate("weighted sum", |m| {
            let q = m.query_selector(c.q_dot);
            let (w, v, s) = (cur(m, c.flag), cur(m, c.val), cur(m, c.mag));
            let s_next = next(m, c.mag);
            Constraints::with_selector(q, [("accumulate", s_next - s - w * v)])
        });

        meta.create_gate("plain sum", |m| {
            let q = m.query_selector(c.q_sum);
            let (v, s, s_next) = (cur(m, c.val), cur(m, c.mag), next(m, c.mag));
            Constraints::with_selector(q, [("accumulate", s_next - s - v)])
        });

        // The public inputs enter on the rows of the first region, row r of `val` equal to
        // instance row r (so the instance column needs no equality: its values reach the
        // rest of the circuit by copies of these `val` cells).
        meta.create_gate("public input", |m| {
            let q = m.query_selector(c.q_public);
            let public = m.query_instance(c.instance, Rotation::cur());
            Constraints::with_selector(q, [("val is the instance", cur(m, c.val) - public)])
        });

        meta.create_gate("threshold", |m| {
            let q = m.query_selector(c.q_threshold);
            let (threshold, total, slack) = (cur(m, c.val), cur(m, c.flag), cur(m, c.mag));
            Constraints::with_selector(q, [("slack", slack - (total - threshold))])
        });

        // Each region's running sums start at zero (one gate per selector, so that a
        // region is only asked for the cells its own sums use).
        let zero_start = |meta: &mut ConstraintSystem<Fp>, name: &'static str, q: Selector, cols: Vec<Column<Advice>>| {
            meta.create_gate(name, |m| {
                let q = m.query_selector(q);
                Constraints::with_selector(q, cols.iter().map(|&col| m.query_advice(col, Rotation::cur())).collect::<Vec<_>>())
            });
        };
        meta.create_gate("position sums start at zero", |m| {
            let q = m.query_selector(c.q_start_position);
            Constraints::with_selector(
                q,
                [
                    ("logUp starts at zero", cur(m, c.logup)),
                    ("header pad is zero", m.query_advice(c.entry, Rotation::prev())),
                    ("key base imported", cur(m, c.chal) - prev(m, c.val) + prev(m, c.mag)),
                ],
            )
        });
        zero_start(meta, "collateral sum starts at zero", c.q_start_collateral, vec![c.sum_a]);
        zero_start(meta, "weighted sum starts at zero", c.q_start_dot, vec![c.mag]);
        // A region's result leaves through `val` on its closing row (so that only `val`,
        // `mag`, `flag` and `entry` of this chip are equality-enabled).
        meta.create_gate("position result", |m| {
            let q = m.query_selector(c.q_close_position);
            Constraints::with_selector(q, [("logUp exported", cur(m, c.val) - cur(m, c.logup))])
        });
        meta.create_gate("collateral result", |m| {
            let q = m.query_selector(c.q_close_collateral);
            Constraints::with_selector(q, [("value exported", cur(m, c.val) - cur(m, c.sum_a))])
        });
        zero_start(meta, "net sums start at zero", c.q_start_net, vec![c.logup, c.sum_a, c.sum_b, c.sum_c]);
        zero_start(meta, "scenario losses start at zero", c.q_start_lanes, c.loss.clone());
    }

    /// A chip for one synthesis pass.
    pub fn construct(config: MarginConfig) -> Self {
        MarginChip { config }
    }
}

/// Consecutive cells two by two as absorptions, `active(j)` whether pair j counts.
fn pairs(cells: &[AssignedCell<Fp, Fp>], active: impl Fn(usize) -> Active) -> Vec<Absorption> {
    cells
        .chunks(2)
        .enumerate()
        .map(|(j, p)| Absorption { words: [Word::Cell(p[0].clone()), Word::Cell(p[1].clone())], active: active(j) })
        .collect()
}

/// Assigns `f(row)` of each planned row (or an unknown value) into `col`, from `start`.
fn assign_column<T>(
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
fn assign_strided<T>(
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

impl MarginInstructions for MarginChip {
    fn load_tables(&self, layouter: &mut impl Layouter<Fp>, tables: &MarketTables) -> Result<(), Error> {
        let c = &self.config;
        layouter.assign_table(
            || "instruments",
            |mut table| {
                // Row 0 is the padding instrument, all zeros (its P&L −2^60 shifted to 0):
                // the tuple a disabled row presents and the one halo2 repeats down the
                // unused rows; then the market's, P&L shifted (see the module doc).
                let shift = pow2(PNL_SHIFT_BITS);
                let padding = vec![Fp::zero(); 5 + tables.lanes];
                let rows = std::iter::once(padding).chain(tables.instruments.iter().map(|r| {
                    [Fp::from(r.index), r.id, fp(r.mark), fp(r.linear), fp(r.short_charge)]
                        .into_iter()
                        .chain(r.pnl.iter().map(|&p| fp(p) + shift))
                        .collect()
                }));
                for (i, row) in rows.enumerate() {
                    for (&col, value) in c.t_instrument.iter().zip(row) {
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
                    for (col, value) in c.t_asset.iter().zip(row) {
                        table.assign_cell(|| "asset", *col, i, || Value::known(value))?;
                    }
                }
                Ok(())
            },
        )
    }

    fn assign_positions(
        &self,
        layouter: &mut impl Layouter<Fp>,
        slots: usize,
        account: Option<&AccountPlan>,
        tag: &AssignedCell<Fp, Fp>,
    ) -> Result<PositionCells, Error> {
        let c = &self.config;
        layouter.assign_region(
            || "positions",
            |mut region| {
                // Header: venue, account, salt, 0, absorbed as two always-active pairs.
                let values = account.map(|a| [a.venue, a.account, a.salt]);
                let mut header = Vec::with_capacity(HEADER_ROWS);
                for (r, name) in ["venue", "account", "salt"].into_iter().enumerate() {
                    let value = values.map_or(Value::unknown(), |h| Value::known(h[r]));
                    header.push(region.assign_advice(|| name, c.entry, r, || value)?);
                }
                // The header's fourth entry is 0 (the gate of `q_start_position`).
                let pad = account.map_or(Value::unknown(), |a| Value::known(a.header_pad));
                header.push(region.assign_advice(|| "header pad", c.entry, 3, || pad)?);
                let h = HEADER_ROWS;
                let rows = account.map(|a| &a.positions[..]);
                c.q_start_position.enable(&mut region, h)?;
                for r in 0..slots {
                    c.q_position.enable(&mut region, h + r)?;
                }
                let all = slots + 1;
                assign_column(&mut region, c.id, rows, slots, h, |p| p.id)?;
                assign_column(&mut region, c.val, rows, slots, h, |p| p.qty)?;
                let offsets = assign_column(&mut region, c.mag, rows, slots, h, |p| p.qty_offset)?;
                let flags = assign_column(&mut region, c.flag, rows, slots, h, |p| p.active)?;
                assign_column(&mut region, c.inv, rows, slots, h, |p| p.inv)?;
                let entries = assign_column(&mut region, c.entry, rows, slots, h, |p| p.entry)?;
                assign_column(&mut region, c.logup, rows, all, h, |p| p.logup)?;
                // The challenge (linked to the derived one) and the group tag (from the
                // public inputs) come in on the last header row; every row carries their
                // difference, the logUp key base.
                let crossing = |f: fn(&Crossing) -> Fp| account.map_or(Value::unknown(), |a| Value::known(f(&a.crossing)));
                let challenge = region.assign_advice(|| "challenge", c.val, h - 1, || crossing(|x| x.challenge))?;
                tag.copy_advice(|| "group tag", &mut region, c.mag, h - 1)?;
                assign_column(&mut region, c.chal, rows, all, h, |p| p.challenge - p.tag)?;
                c.q_close_position.enable(&mut region, h + slots)?;
                let logup = region.assign_advice(|| "logUp out", c.val, h + slots, || crossing(|x| x.logup))?;
                // The closing row's flag (read by the last row's "real entries first").
                region.assign_advice(|| "closing flag", c.flag, h + slots, || Value::known(Fp::zero()))?;
                // The header pairs always count; a position pair counts when its first slot does.
                let mut absorptions = pairs(&header, |_| Active::Always);
                absorptions.extend(pairs(&entries, |j| Active::If(Word::Cell(flags[2 * j].clone()))));
                Ok(PositionCells {
                    offsets,
                    absorptions,
                    challenge,
                    logup,
                })
            },
        )
    }

    fn assign_collateral(&self, layouter: &mut impl Layouter<Fp>, slots: usize, account: Option<&AccountPlan>)
        -> Result<CollateralCells, Error> {
        let c = &self.config;
        layouter.assign_region(
            || "collateral",
            |mut region| {
                let rows = account.map(|a| &a.collateral[..]);
                c.q_start_collateral.enable(&mut region, 0)?;
                for r in 0..slots {
                    c.q_collateral.enable(&mut region, r)?;
                }
                let all = slots + 1;
                assign_column(&mut region, c.id, rows, slots, 0, |x| x.id)?;
                assign_column(&mut region, c.val, rows, slots, 0, |x| x.amount)?;
                assign_column(&mut region, c.pos, rows, slots, 0, |x| x.pos)?;
                assign_column(&mut region, c.neg, rows, slots, 0, |x| x.neg)?;
                let mags = assign_column(&mut region, c.mag, rows, slots, 0, |x| x.mag)?;
                let flags = assign_column(&mut region, c.flag, rows, slots, 0, |x| x.active)?;
                assign_column(&mut region, c.price, rows, slots, 0, |x| x.price)?;
                assign_column(&mut region, c.linear, rows, slots, 0, |x| x.haircut_complement)?;
                let entries = assign_column(&mut region, c.entry, rows, slots, 0, |x| x.entry)?;
                assign_column(&mut region, c.sum_a, rows, all, 0, |x| x.value_sum)?;
                c.q_close_collateral.enable(&mut region, slots)?;
                let out = account.map_or(Value::unknown(), |a| Value::known(a.crossing.value));
                let value = region.assign_advice(|| "value out", c.val, slots, || out)?;
                region.assign_advice(|| "closing flag", c.flag, slots, || Value::known(Fp::zero()))?;
                let absorptions = pairs(&entries, |j| Active::If(Word::Cell(flags[2 * j].clone())));
                Ok(CollateralCells { mags, absorptions, value })
            },
        )
    }

    fn assign_group(
        &self,
        layouter: &mut impl Layouter<Fp>,
        g: usize,
        slots: usize,
        group: Option<&crate::witness::GroupPlan>,
        loss_factor: i128,
        collateral: &AssignedCell<Fp, Fp>,
        mode: &AssignedCell<Fp, Fp>,
    ) -> Result<GroupCells, Error> {
        let c = &self.config;
        let rows: Option<&[NetRow]> = group.map(|x| &x.rows[..]);
        let totals: Option<&GroupTotals> = group.map(|x| &x.totals);
        layouter.assign_region(
            || format!("group {g}"),
            |mut region| {
                let f = c.fold();
                c.q_start_net.enable(&mut region, 0)?;
                for j in 0..f {
                    c.q_start_lanes.enable(&mut region, j)?;
                }
                for r in 0..slots {
                    c.q_net.enable(&mut region, f * r)?;
                    region.assign_fixed(|| "group tag", c.group_tag, f * r, || Value::known(group_tag(g)))?;
                    for j in 0..f {
                        c.q_lane.enable(&mut region, f * r + j)?;
                    }
                    for j in 1..f {
                        c.q_net_carry.enable(&mut region, f * r + j - 1)?;
                        let net = rows.map_or(Value::unknown(), |rows| Value::known(rows[r].carried_net));
                        region.assign_advice(|| "net carried", c.val, f * r + j, || net)?;
                    }
                }
                for r in (0..slots).step_by(4) {
                    c.q_net_absorb.enable(&mut region, f * r)?;
                }
                let all = slots + 1;
                let column = |region: &mut Region<'_, Fp>, col, count, value: fn(&NetRow) -> Fp| {
                    assign_strided(region, col, rows, count, 0, f, value)
                };
                column(&mut region, c.idx, slots, |n| n.idx)?;
                column(&mut region, c.id, slots, |n| n.id)?;
                column(&mut region, c.val, slots, |n| n.net)?;
                column(&mut region, c.pos, slots, |n| n.pos)?;
                column(&mut region, c.neg, slots, |n| n.neg)?;
                let mags = column(&mut region, c.mag, slots, |n| n.mag)?;
                column(&mut region, c.price, slots, |n| n.mark)?;
                column(&mut region, c.linear, slots, |n| n.linear)?;
                column(&mut region, c.short, slots, |n| n.short_charge)?;
                column(&mut region, c.inv, slots, |n| n.inv)?;
                column(&mut region, c.logup, all, |n| n.logup)?;
                column(&mut region, c.sum_a, all, |n| n.mark_sum)?;
                column(&mut region, c.sum_b, all, |n| n.linear_sum)?;
                column(&mut region, c.sum_c, all, |n| n.short_sum)?;
                column(&mut region, c.chal, all, |n| n.challenge)?;
                // Lane s of slot r sits in column s mod W, row f·r + s / W.
                let width = c.pnl.len();
                for r in 0..all {
                    for s in 0..c.lanes {
                        let (row, col) = (f * r + s / width, s % width);
                        let known = |v: &dyn Fn(&NetRow) -> Fp| rows.map_or(Value::unknown(), |rows| Value::known(v(&rows[r])));
                        if r < slots {
                            region.assign_advice(|| "pnl", c.pnl[col], row, || known(&|n| n.pnl[s]))?;
                        }
                        region.assign_advice(|| "loss", c.loss[col], row, || known(&|n| n.loss[s]))?;
                    }
                }
                // Net words: two per absorption, on the first two rows of every fourth slot.
                let mut words = Vec::with_capacity(slots / 2);
                for j in 0..slots / 4 {
                    for w in 0..2 {
                        let value = group.map_or(Value::unknown(), |x| Value::known(x.words[j][w]));
                        words.push(region.assign_advice(|| "net word", c.entry, 4 * f * j + w, || value)?);
                    }
                }
                let absorptions = pairs(&words, |_| Active::Always);
                // Closing row.
                let close = f * slots;
                c.q_group_total.enable(&mut region, close)?;
                region.assign_fixed(|| "loss factor", c.loss_factor, close, || Value::known(fp(loss_factor)))?;
                let known = |f: &dyn Fn(&GroupTotals) -> Fp| totals.map_or(Value::unknown(), |t| Value::known(f(t)));
                let worst = region.assign_advice(|| "worst", c.mag, close, || known(&|t| t.worst))?;
                for j in 0..f {
                    c.q_slack.enable(&mut region, close + j)?;
                }
                for j in 0..=f {
                    region.assign_advice(|| "worst carried", c.pos, close + j, || known(&|t| t.carried_worst))?;
                }
                let slack = (0..c.lanes)
                    .map(|s| region.assign_advice(|| "slack", c.mag, close + c.slack_row(s), || known(&|t| t.slack[s])))
                    .collect::<Result<Vec<_>, _>>()?;
                collateral.copy_advice(|| "collateral", &mut region, c.val, close)?;
                mode.copy_advice(|| "mode", &mut region, c.flag, close)?;
                region.assign_advice(|| "requirement", c.neg, close, || known(&|t| t.requirement))?;
                let excess = region.assign_advice(|| "excess", c.entry, close, || known(&|t| t.excess))?;
                // The challenge comes in, and the final logUp sum leaves, through `val` below.
                let crossing = |f: fn(&Crossing) -> Fp| group.map_or(Value::unknown(), |x| Value::known(f(&x.crossing)));
                let challenge = region.assign_advice(|| "challenge", c.val, close + 1, || crossing(|x| x.challenge))?;
                let logup = region.assign_advice(|| "logUp out", c.val, close + 2, || crossing(|x| x.logup))?;
                Ok(GroupCells {
                    mags,
                    absorptions,
                    challenge,
                    logup,
                    worst,
                    slack,
                    excess,
                })
            },
        )
    }

    fn weighted_sum(&self, layouter: &mut impl Layouter<Fp>, terms: &[(Weight<'_>, &AssignedCell<Fp, Fp>)], sums: Option<&[Fp]>)
        -> Result<AssignedCell<Fp, Fp>, Error> {
        let c = &self.config;
        layouter.assign_region(
            || "weighted sum",
            |mut region| {
                c.q_start_dot.enable(&mut region, 0)?;
                let mut sum = region.assign_advice(|| "sum", c.mag, 0, || Value::known(Fp::zero()))?;
                for (r, (weight, value)) in terms.iter().enumerate() {
                    match weight {
                        Weight::One => c.q_sum.enable(&mut region, r)?,
                        Weight::Cell(w) => {
                            c.q_dot.enable(&mut region, r)?;
                            w.copy_advice(|| "weight", &mut region, c.flag, r)?;
                        }
                    }
                    value.copy_advice(|| "value", &mut region, c.val, r)?;
                    let next = sums.map_or(Value::unknown(), |s| Value::known(s[r]));
                    sum = region.assign_advice(|| "sum", c.mag, r + 1, || next)?;
                }
                Ok(sum)
            },
        )
    }

    fn threshold_slack(
        &self,
        layouter: &mut impl Layouter<Fp>,
        total: &AssignedCell<Fp, Fp>,
        threshold: &AssignedCell<Fp, Fp>,
        slack: Option<Fp>,
    ) -> Result<AssignedCell<Fp, Fp>, Error> {
        let c = &self.config;
        layouter.assign_region(
            || "threshold",
            |mut region| {
                c.q_threshold.enable(&mut region, 0)?;
                threshold.copy_advice(|| "threshold", &mut region, c.val, 0)?;
                total.copy_advice(|| "total", &mut region, c.flag, 0)?;
                region.assign_advice(|| "slack", c.mag, 0, || slack.map_or(Value::unknown(), Value::known))
            },
        )
    }

    fn load_public(&self, layouter: &mut impl Layouter<Fp>, count: usize, values: Option<&[Fp]>)
        -> Result<Vec<AssignedCell<Fp, Fp>>, Error> {
        let c = &self.config;
        layouter.assign_region(
            || "public inputs",
            |mut region| {
                (0..count)
                    .map(|r| {
                        c.q_public.enable(&mut region, r)?;
                        let value = values.map_or(Value::unknown(), |v| Value::known(v[r]));
                        region.assign_advice(|| "public", c.val, r, || value)
                    })
                    .collect()
            },
        )
    }
}
