//! The margin chip: every gate of SPEC section 5 over private positions.
//!
//! Regions, each a run of rows closed by one final row (`r = 0..n-1` then `n`):
//!
//! **Position rows** (`q_position`, one region per account slot):
//! ```text
//! | id | val | pos        | flag   | inv | chal | tag  | logup | chain | hashed |
//! | i  | q   | q + 2^69   | active | 1/(chal−i−tag) | c | g·2^250 | Σ q·inv | c_r | H(c_r,H(i,q)) |
//! ```
//! `active ∈ {0,1}`; `(1−active)·q = 0`; `pos = q + 2^69` (range-checked to 70 bits);
//! `inv·(chal − id − tag) = 1`; `logup' = logup + q·inv`; `chal' = chal`; `tag' = tag`;
//! `chain' = chain + active·(hashed − chain)`; lookup `id ∈ instrument ids`.
//! `q_start_position` sets `logup = 0` on row 0.
//!
//! **Collateral rows** (`q_collateral`, one region per account slot):
//! ```text
//! | id | val | pos | neg | flag   | price | linear     | sum_a        | chain | hashed |
//! | a  | x   | x⁺  | x⁻  | active | P_a   | 1e6 − h_a  | Σ value      | c_r   | H(c_r,H(a,x)) |
//! ```
//! `active ∈ {0,1}`; `(1−active)·x = 0`; `x = pos − neg`; `pos·neg = 0` (both 70-bit);
//! `sum_a' = sum_a + price·(pos·linear − neg·10^6)`; the chain as above;
//! lookup `(id, price, linear) ∈ assets`. `q_start_collateral` sets `sum_a = 0` on row 0.
//!
//! **Net rows** (`q_net`, one region per group slot; fixed `group_tag` = g·2^250):
//! ```text
//! | id | val | pos | neg | price | linear | short | pnl[s] | inv | chal | logup | sum_a | sum_b | sum_c | loss[s] |
//! | i  | n   | n⁺  | n⁻  | mark  | lin_L  | sc_L  | pnl_s  | 1/(chal−i−tag) | c | Σ n·inv | Σ n·mark | Σ |n|·lin | Σ n⁻·sc | Σ −n·pnl_s |
//! ```
//! `n = pos − neg`; `pos·neg = 0` (both 80-bit); `inv·(chal − id − group_tag) = 1`;
//! each running sum advances by its term; lookup
//! `(id, price, linear, short, pnl[..]) ∈ instruments`. `q_start_net` zeroes every sum.
//!
//! **Group closing row** (`q_group_total`, the final row of a net region; fixed `loss_factor`):
//! ```text
//! | val   | pnl[s]          | pos        | flag | neg | price  | sum_a..c, loss[s] (final) |
//! | worst | worst − loss[s] | collateral | mode | req | excess |                           |
//! ```
//! `pnl[s] = worst − loss[s]` (each range-checked, so worst ≥ every loss; worst itself is
//! range-checked, so worst ≥ 0); `mode ∈ {0,1}`;
//! `req = mode·(lf·worst + 10^6·sum_c) + (1 − mode)·10^6·sum_b`;
//! `excess = collateral + 10^6·sum_a − req` (range-checked: excess ≥ 0).
//! A worst above the true maximum only raises the requirement, so it can never make a
//! false claim provable; the prover's honest value is the exact maximum.
//!
//! **Weighted sums** (`q_dot`): `| flag: w | val: v | sum_a: s |` with `s' = s + w·v`,
//! `q_start_dot` sets `s = 0` on row 0.
//!
//! **Threshold** (`q_threshold`): `| val: T | sum_a: total | pos: slack |` with
//! `slack = total − T` (range-checked: total ≥ T).
//!
//! Bounds (with the limits of [`crate::shape`]): |q|, |x| < 2^70; |n| < 2^80;
//! money < 2^60, rates < 2^30; every loss, worst and slack < 2^160; every group excess
//! < 2^200 (checked to 200 bits) and the total minus T < 2^205 (checked to 210 bits) —
//! all far below the field (≈ 2^254), so no comparison wraps.

use halo2_proofs::circuit::{AssignedCell, Layouter, Region, Value};
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Constraints, Error, Expression, Fixed, Instance, Selector, TableColumn,
};
use halo2_proofs::poly::Rotation;

use crate::encoding::{pow2, Fp};
use crate::fixed::MONEY_SCALE;
use crate::statement::group_tag;
use crate::tables::MarketTables;
use crate::witness::{CollateralRow, GroupTotals, NetRow, PositionRow, QTY_OFFSET_BITS};

/// Columns, selectors and tables of the margin chip.
#[derive(Clone, Debug)]
pub struct MarginConfig {
    id: Column<Advice>,
    val: Column<Advice>,
    pos: Column<Advice>,
    neg: Column<Advice>,
    flag: Column<Advice>,
    inv: Column<Advice>,
    chal: Column<Advice>,
    tag: Column<Advice>,
    logup: Column<Advice>,
    price: Column<Advice>,
    linear: Column<Advice>,
    short: Column<Advice>,
    sum_a: Column<Advice>,
    sum_b: Column<Advice>,
    sum_c: Column<Advice>,
    chain: Column<Advice>,
    hashed: Column<Advice>,
    pnl: Vec<Column<Advice>>,
    loss: Vec<Column<Advice>>,
    group_tag: Column<Fixed>,
    loss_factor: Column<Fixed>,
    instance: Column<Instance>,
    q_position: Selector,
    q_collateral: Selector,
    q_net: Selector,
    q_group_total: Selector,
    q_dot: Selector,
    q_threshold: Selector,
    q_start_position: Selector,
    q_start_collateral: Selector,
    q_start_net: Selector,
    q_start_dot: Selector,
    t_instrument: Vec<TableColumn>,
    t_asset: [TableColumn; 3],
}

impl MarginConfig {
    /// The public-input column.
    pub fn instance(&self) -> Column<Instance> {
        self.instance
    }
}

/// Cells of a position region that other regions use.
#[derive(Debug)]
pub struct PositionCells {
    /// Instrument id per slot.
    pub ids: Vec<AssignedCell<Fp, Fp>>,
    /// Quantity per slot.
    pub qtys: Vec<AssignedCell<Fp, Fp>>,
    /// qty + 2^69 per slot (to range-check).
    pub offsets: Vec<AssignedCell<Fp, Fp>>,
    /// Chain before each slot, then the chain after the last.
    pub chains: Vec<AssignedCell<Fp, Fp>>,
    /// H(chain, leaf) per slot.
    pub hashed: Vec<AssignedCell<Fp, Fp>>,
    /// Challenge cell of row 0.
    pub challenge: AssignedCell<Fp, Fp>,
    /// Final logUp sum.
    pub logup: AssignedCell<Fp, Fp>,
}

/// Cells of a collateral region that other regions use.
#[derive(Debug)]
pub struct CollateralCells {
    /// Asset id per slot.
    pub ids: Vec<AssignedCell<Fp, Fp>>,
    /// Amount per slot.
    pub amounts: Vec<AssignedCell<Fp, Fp>>,
    /// Positive and negative parts per slot (to range-check).
    pub parts: Vec<AssignedCell<Fp, Fp>>,
    /// Chain before each slot, then the final chain (the commitment).
    pub chains: Vec<AssignedCell<Fp, Fp>>,
    /// H(chain, leaf) per slot.
    pub hashed: Vec<AssignedCell<Fp, Fp>>,
    /// Σ collateral values.
    pub value: AssignedCell<Fp, Fp>,
}

/// Cells of a net region (with its closing row) that other regions use.
#[derive(Debug)]
pub struct GroupCells {
    /// Instrument id per slot.
    pub ids: Vec<AssignedCell<Fp, Fp>>,
    /// Net position per slot.
    pub nets: Vec<AssignedCell<Fp, Fp>>,
    /// Positive and negative parts per slot (80-bit range checks).
    pub parts: Vec<AssignedCell<Fp, Fp>>,
    /// Challenge cell of row 0.
    pub challenge: AssignedCell<Fp, Fp>,
    /// Final logUp sum.
    pub logup: AssignedCell<Fp, Fp>,
    /// worst (160-bit check).
    pub worst: AssignedCell<Fp, Fp>,
    /// worst − loss[s] per lane (160-bit checks).
    pub slack: Vec<AssignedCell<Fp, Fp>>,
    /// The group's excess (200-bit check).
    pub excess: AssignedCell<Fp, Fp>,
}

/// What the margin circuit asks of the margin chip.
pub trait MarginInstructions {
    /// Loads the market's instrument and asset tables.
    fn load_tables(&self, layouter: &mut impl Layouter<Fp>, tables: &MarketTables) -> Result<(), Error>;
    /// Lays out one account slot's position rows; `tag_offset` is its group tag's instance row.
    fn assign_positions(
        &self,
        layouter: &mut impl Layouter<Fp>,
        slots: usize,
        rows: Option<&[PositionRow]>,
        tag_offset: usize,
    ) -> Result<PositionCells, Error>;
    /// Lays out one account slot's collateral rows.
    fn assign_collateral(&self, layouter: &mut impl Layouter<Fp>, slots: usize, rows: Option<&[CollateralRow]>)
        -> Result<CollateralCells, Error>;
    /// Lays out group slot `g`'s net rows and its closing row.
    #[allow(clippy::too_many_arguments)]
    fn assign_group(
        &self,
        layouter: &mut impl Layouter<Fp>,
        g: usize,
        slots: usize,
        rows: Option<&[NetRow]>,
        totals: Option<&GroupTotals>,
        loss_factor: i128,
        collateral: &AssignedCell<Fp, Fp>,
        mode_offset: usize,
    ) -> Result<GroupCells, Error>;
    /// Σ w_i·v_i with each weight either an instance row or the constant 1; `sums` are
    /// the planned running sums after each term (prover only).
    fn weighted_sum(&self, layouter: &mut impl Layouter<Fp>, terms: &[(Weight, &AssignedCell<Fp, Fp>)], sums: Option<&[Fp]>)
        -> Result<AssignedCell<Fp, Fp>, Error>;
    /// total − T from the instance row `threshold_offset`, `slack` as planned; returns the
    /// slack cell to range-check.
    fn threshold_slack(
        &self,
        layouter: &mut impl Layouter<Fp>,
        total: &AssignedCell<Fp, Fp>,
        threshold_offset: usize,
        slack: Option<Fp>,
    ) -> Result<AssignedCell<Fp, Fp>, Error>;
    /// Witnesses free values (names and salt of an opening), one per row of `id`.
    fn witness_values(&self, layouter: &mut impl Layouter<Fp>, values: &[Value<Fp>]) -> Result<Vec<AssignedCell<Fp, Fp>>, Error>;
    /// A cell holding the constant 0.
    fn zero(&self, layouter: &mut impl Layouter<Fp>) -> Result<AssignedCell<Fp, Fp>, Error>;
    /// Copies an instance row into a fresh cell (so the value is bound to the proof).
    fn bind_instance(&self, layouter: &mut impl Layouter<Fp>, offset: usize) -> Result<AssignedCell<Fp, Fp>, Error>;
}

/// A weight of a weighted sum.
#[derive(Clone, Copy, Debug)]
pub enum Weight {
    /// The constant 1.
    One,
    /// The value at this instance row.
    Instance(usize),
}

/// The margin chip.
#[derive(Debug)]
pub struct MarginChip {
    config: MarginConfig,
}

fn fp(x: i128) -> Fp {
    crate::encoding::signed_to_field(x)
}

impl MarginChip {
    /// Configures the chip with `lanes` scenario lanes; `instance` is the public column.
    pub fn configure(meta: &mut ConstraintSystem<Fp>, lanes: usize, instance: Column<Instance>) -> MarginConfig {
        let mut advice = || meta.advice_column();
        let (id, val, pos, neg, flag, inv, chal, tag) =
            (advice(), advice(), advice(), advice(), advice(), advice(), advice(), advice());
        let (logup, price, linear, short, sum_a, sum_b, sum_c, chain, hashed) =
            (advice(), advice(), advice(), advice(), advice(), advice(), advice(), advice(), advice());
        let pnl: Vec<_> = (0..lanes).map(|_| meta.advice_column()).collect();
        let loss: Vec<_> = (0..lanes).map(|_| meta.advice_column()).collect();
        for col in [id, val, pos, neg, flag, chal, tag, logup, price, sum_a, chain, hashed].iter().chain(&pnl) {
            meta.enable_equality(*col);
        }
        meta.enable_equality(instance);
        let group_tag = meta.fixed_column();
        let loss_factor = meta.fixed_column();
        let t_instrument: Vec<TableColumn> = (0..4 + lanes).map(|_| meta.lookup_table_column()).collect();
        let t_asset = [meta.lookup_table_column(), meta.lookup_table_column(), meta.lookup_table_column()];
        let config = MarginConfig {
            id,
            val,
            pos,
            neg,
            flag,
            inv,
            chal,
            tag,
            logup,
            price,
            linear,
            short,
            sum_a,
            sum_b,
            sum_c,
            chain,
            hashed,
            pnl,
            loss,
            group_tag,
            loss_factor,
            instance,
            q_position: meta.complex_selector(),
            q_collateral: meta.complex_selector(),
            q_net: meta.complex_selector(),
            q_group_total: meta.selector(),
            q_dot: meta.selector(),
            q_threshold: meta.selector(),
            q_start_position: meta.selector(),
            q_start_collateral: meta.selector(),
            q_start_net: meta.selector(),
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

        meta.create_gate("position row", |m| {
            let q = m.query_selector(c.q_position);
            let cur = |m: &mut halo2_proofs::plonk::VirtualCells<Fp>, col| m.query_advice(col, Rotation::cur());
            let next = |m: &mut halo2_proofs::plonk::VirtualCells<Fp>, col| m.query_advice(col, Rotation::next());
            let (id, qty, offset, active, inv, chal, tag, logup, chain, hashed) = (
                cur(m, c.id), cur(m, c.val), cur(m, c.pos), cur(m, c.flag), cur(m, c.inv),
                cur(m, c.chal), cur(m, c.tag), cur(m, c.logup), cur(m, c.chain), cur(m, c.hashed),
            );
            let (chal_n, tag_n, logup_n, chain_n) = (next(m, c.chal), next(m, c.tag), next(m, c.logup), next(m, c.chain));
            Constraints::with_selector(
                q,
                [
                    ("active is boolean", active.clone() * (one() - active.clone())),
                    ("padding holds nothing", (one() - active.clone()) * qty.clone()),
                    ("offset quantity", offset - qty.clone() - Expression::Constant(pow2(QTY_OFFSET_BITS))),
                    ("logUp inverse", inv.clone() * (chal.clone() - id - tag.clone()) - one()),
                    ("logUp sum", logup_n - logup - qty * inv),
                    ("challenge carried", chal_n - chal),
                    ("tag carried", tag_n - tag),
                    ("chain", chain_n - chain.clone() - active * (hashed - chain)),
                ],
            )
        });

        // A position names a market instrument (or 0 in a padding slot): its logUp key
        // id + tag can then only be that instrument's in its own group (ids < 2^248 <
        // the tag shift), so no quantity can be moved into another group's nets.
        meta.lookup(|m| {
            let q = m.query_selector(c.q_position);
            vec![(q * m.query_advice(c.id, Rotation::cur()), c.t_instrument[0])]
        });

        meta.create_gate("collateral row", |m| {
            let q = m.query_selector(c.q_collateral);
            let cur = |m: &mut halo2_proofs::plonk::VirtualCells<Fp>, col| m.query_advice(col, Rotation::cur());
            let (amount, pos, neg, active, price, complement, sum, chain, hashed) = (
                cur(m, c.val), cur(m, c.pos), cur(m, c.neg), cur(m, c.flag), cur(m, c.price),
                cur(m, c.linear), cur(m, c.sum_a), cur(m, c.chain), cur(m, c.hashed),
            );
            let sum_n = m.query_advice(c.sum_a, Rotation::next());
            let chain_n = m.query_advice(c.chain, Rotation::next());
            Constraints::with_selector(
                q,
                [
                    ("active is boolean", active.clone() * (one() - active.clone())),
                    ("padding holds nothing", (one() - active.clone()) * amount.clone()),
                    ("sign split", amount - pos.clone() + neg.clone()),
                    ("one sign", pos.clone() * neg.clone()),
                    ("collateral value", sum_n - sum - price * (pos * complement - neg * million())),
                    ("chain", chain_n - chain.clone() - active * (hashed - chain)),
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
            let cur = |m: &mut halo2_proofs::plonk::VirtualCells<Fp>, col| m.query_advice(col, Rotation::cur());
            let next = |m: &mut halo2_proofs::plonk::VirtualCells<Fp>, col| m.query_advice(col, Rotation::next());
            let (id, net, pos, neg, mark, linear, short, inv, chal, logup) = (
                cur(m, c.id), cur(m, c.val), cur(m, c.pos), cur(m, c.neg), cur(m, c.price),
                cur(m, c.linear), cur(m, c.short), cur(m, c.inv), cur(m, c.chal), cur(m, c.logup),
            );
            let tag = m.query_fixed(c.group_tag);
            let mut constraints = vec![
                ("sign split", net.clone() - pos.clone() + neg.clone()),
                ("one sign", pos.clone() * neg.clone()),
                ("logUp inverse", inv.clone() * (chal.clone() - id - tag) - one()),
                ("logUp sum", next(m, c.logup) - logup - net.clone() * inv),
                ("challenge carried", next(m, c.chal) - chal),
                ("mark sum", next(m, c.sum_a) - cur(m, c.sum_a) - net.clone() * mark),
                ("linear sum", next(m, c.sum_b) - cur(m, c.sum_b) - (pos + neg.clone()) * linear),
                ("short sum", next(m, c.sum_c) - cur(m, c.sum_c) - neg * short),
            ];
            for (&pnl, &loss) in c.pnl.iter().zip(&c.loss) {
                constraints.push(("scenario loss", next(m, loss) - cur(m, loss) + net.clone() * cur(m, pnl)));
            }
            Constraints::with_selector(q, constraints)
        });

        meta.lookup(|m| {
            let q = m.query_selector(c.q_net);
            [c.id, c.price, c.linear, c.short]
                .iter()
                .chain(&c.pnl)
                .zip(&c.t_instrument)
                .map(|(&col, &t)| (q.clone() * m.query_advice(col, Rotation::cur()), t))
                .collect::<Vec<_>>()
        });

        meta.create_gate("group total", |m| {
            let q = m.query_selector(c.q_group_total);
            let cur = |m: &mut halo2_proofs::plonk::VirtualCells<Fp>, col| m.query_advice(col, Rotation::cur());
            let (worst, collateral, mode, req, excess) =
                (cur(m, c.val), cur(m, c.pos), cur(m, c.flag), cur(m, c.neg), cur(m, c.price));
            let (mark_sum, linear_sum, short_sum) = (cur(m, c.sum_a), cur(m, c.sum_b), cur(m, c.sum_c));
            let lf = m.query_fixed(c.loss_factor);
            let mut constraints = vec![
                ("mode is boolean", mode.clone() * (one() - mode.clone())),
                (
                    "requirement",
                    req.clone()
                        - mode.clone() * (lf * worst.clone() + million() * short_sum)
                        - (one() - mode) * million() * linear_sum,
                ),
                ("excess", excess - (collateral + million() * mark_sum - req)),
            ];
            for (&slack, &loss) in c.pnl.iter().zip(&c.loss) {
                constraints.push(("worst slack", cur(m, slack) - (worst.clone() - cur(m, loss))));
            }
            Constraints::with_selector(q, constraints)
        });

        meta.create_gate("weighted sum", |m| {
            let q = m.query_selector(c.q_dot);
            let (w, v, s) = (
                m.query_advice(c.flag, Rotation::cur()),
                m.query_advice(c.val, Rotation::cur()),
                m.query_advice(c.sum_a, Rotation::cur()),
            );
            let s_next = m.query_advice(c.sum_a, Rotation::next());
            Constraints::with_selector(q, [("accumulate", s_next - s - w * v)])
        });

        meta.create_gate("threshold", |m| {
            let q = m.query_selector(c.q_threshold);
            let (threshold, total, slack) = (
                m.query_advice(c.val, Rotation::cur()),
                m.query_advice(c.sum_a, Rotation::cur()),
                m.query_advice(c.pos, Rotation::cur()),
            );
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
        zero_start(meta, "position sums start at zero", c.q_start_position, vec![c.logup]);
        zero_start(meta, "collateral sum starts at zero", c.q_start_collateral, vec![c.sum_a]);
        zero_start(meta, "weighted sum starts at zero", c.q_start_dot, vec![c.sum_a]);
        let mut net_sums = vec![c.logup, c.sum_a, c.sum_b, c.sum_c];
        net_sums.extend(&c.loss);
        zero_start(meta, "net sums start at zero", c.q_start_net, net_sums);
    }

    /// A chip for one synthesis pass.
    pub fn construct(config: MarginConfig) -> Self {
        MarginChip { config }
    }
}

/// Assigns `f(row)` of each planned row (or an unknown value) into `col`.
fn assign_column<T>(
    region: &mut Region<'_, Fp>,
    col: Column<Advice>,
    rows: Option<&[T]>,
    count: usize,
    f: impl Fn(&T) -> Fp,
) -> Result<Vec<AssignedCell<Fp, Fp>>, Error> {
    (0..count)
        .map(|r| {
            let value = rows.map_or(Value::unknown(), |rows| Value::known(f(&rows[r])));
            region.assign_advice(|| "cell", col, r, || value)
        })
        .collect()
}

impl MarginInstructions for MarginChip {
    fn load_tables(&self, layouter: &mut impl Layouter<Fp>, tables: &MarketTables) -> Result<(), Error> {
        let c = &self.config;
        layouter.assign_table(
            || "instruments",
            |mut table| {
                // Row 0 is all zeros: the tuple a disabled lookup row presents.
                let zero_row = std::iter::repeat_n(Fp::zero(), 4 + tables.lanes).collect::<Vec<_>>();
                let rows = std::iter::once(zero_row).chain(tables.instruments.iter().map(|r| {
                    [r.id, fp(r.mark), fp(r.linear), fp(r.short_charge)]
                        .into_iter()
                        .chain(r.pnl.iter().map(|&p| fp(p)))
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
        rows: Option<&[PositionRow]>,
        tag_offset: usize,
    ) -> Result<PositionCells, Error> {
        let c = &self.config;
        layouter.assign_region(
            || "positions",
            |mut region| {
                c.q_start_position.enable(&mut region, 0)?;
                for r in 0..slots {
                    c.q_position.enable(&mut region, r)?;
                }
                let all = slots + 1;
                let ids = assign_column(&mut region, c.id, rows, slots, |p| p.id)?;
                let qtys = assign_column(&mut region, c.val, rows, slots, |p| p.qty)?;
                let offsets = assign_column(&mut region, c.pos, rows, slots, |p| p.qty_offset)?;
                assign_column(&mut region, c.flag, rows, slots, |p| p.active)?;
                assign_column(&mut region, c.inv, rows, slots, |p| p.inv)?;
                let hashed = assign_column(&mut region, c.hashed, rows, slots, |p| p.hashed)?;
                let chains = assign_column(&mut region, c.chain, rows, all, |p| p.chain)?;
                let logups = assign_column(&mut region, c.logup, rows, all, |p| p.logup)?;
                region.assign_advice_from_instance(|| "group tag", c.instance, tag_offset, c.tag, 0)?;
                for r in 1..all {
                    let value = rows.map_or(Value::unknown(), |rows| Value::known(rows[r].tag));
                    region.assign_advice(|| "tag", c.tag, r, || value)?;
                }
                let challenges = assign_column(&mut region, c.chal, rows, all, |p| p.challenge)?;
                let challenge_cell = challenges.into_iter().next();
                Ok(PositionCells {
                    ids,
                    qtys,
                    offsets,
                    chains,
                    hashed,
                    challenge: challenge_cell.expect("at least one row"),
                    logup: logups[slots].clone(),
                })
            },
        )
    }

    fn assign_collateral(&self, layouter: &mut impl Layouter<Fp>, slots: usize, rows: Option<&[CollateralRow]>)
        -> Result<CollateralCells, Error> {
        let c = &self.config;
        layouter.assign_region(
            || "collateral",
            |mut region| {
                c.q_start_collateral.enable(&mut region, 0)?;
                for r in 0..slots {
                    c.q_collateral.enable(&mut region, r)?;
                }
                let all = slots + 1;
                let ids = assign_column(&mut region, c.id, rows, slots, |x| x.id)?;
                let amounts = assign_column(&mut region, c.val, rows, slots, |x| x.amount)?;
                let pos = assign_column(&mut region, c.pos, rows, slots, |x| x.pos)?;
                let neg = assign_column(&mut region, c.neg, rows, slots, |x| x.neg)?;
                assign_column(&mut region, c.flag, rows, slots, |x| x.active)?;
                assign_column(&mut region, c.price, rows, slots, |x| x.price)?;
                assign_column(&mut region, c.linear, rows, slots, |x| x.haircut_complement)?;
                let hashed = assign_column(&mut region, c.hashed, rows, slots, |x| x.hashed)?;
                let chains = assign_column(&mut region, c.chain, rows, all, |x| x.chain)?;
                let sums = assign_column(&mut region, c.sum_a, rows, all, |x| x.value_sum)?;
                Ok(CollateralCells {
                    ids,
                    amounts,
                    parts: pos.into_iter().chain(neg).collect(),
                    chains,
                    hashed,
                    value: sums[slots].clone(),
                })
            },
        )
    }

    fn assign_group(
        &self,
        layouter: &mut impl Layouter<Fp>,
        g: usize,
        slots: usize,
        rows: Option<&[NetRow]>,
        totals: Option<&GroupTotals>,
        loss_factor: i128,
        collateral: &AssignedCell<Fp, Fp>,
        mode_offset: usize,
    ) -> Result<GroupCells, Error> {
        let c = &self.config;
        layouter.assign_region(
            || format!("group {g}"),
            |mut region| {
                c.q_start_net.enable(&mut region, 0)?;
                for r in 0..slots {
                    c.q_net.enable(&mut region, r)?;
                    region.assign_fixed(|| "group tag", c.group_tag, r, || Value::known(group_tag(g)))?;
                }
                let all = slots + 1;
                let ids = assign_column(&mut region, c.id, rows, slots, |n| n.id)?;
                let nets = assign_column(&mut region, c.val, rows, slots, |n| n.net)?;
                let pos = assign_column(&mut region, c.pos, rows, slots, |n| n.pos)?;
                let neg = assign_column(&mut region, c.neg, rows, slots, |n| n.neg)?;
                assign_column(&mut region, c.price, rows, slots, |n| n.mark)?;
                assign_column(&mut region, c.linear, rows, slots, |n| n.linear)?;
                assign_column(&mut region, c.short, rows, slots, |n| n.short_charge)?;
                assign_column(&mut region, c.inv, rows, slots, |n| n.inv)?;
                for (s, &col) in c.pnl.iter().enumerate() {
                    assign_column(&mut region, col, rows, slots, |n| n.pnl[s])?;
                }
                let logups = assign_column(&mut region, c.logup, rows, all, |n| n.logup)?;
                assign_column(&mut region, c.sum_a, rows, all, |n| n.mark_sum)?;
                assign_column(&mut region, c.sum_b, rows, all, |n| n.linear_sum)?;
                assign_column(&mut region, c.sum_c, rows, all, |n| n.short_sum)?;
                for (s, &col) in c.loss.iter().enumerate() {
                    assign_column(&mut region, col, rows, all, |n| n.loss[s])?;
                }
                let challenge_cell = assign_column(&mut region, c.chal, rows, all, |n| n.challenge)?.into_iter().next();
                // Closing row.
                let close = slots;
                c.q_group_total.enable(&mut region, close)?;
                region.assign_fixed(|| "loss factor", c.loss_factor, close, || Value::known(fp(loss_factor)))?;
                let known = |f: &dyn Fn(&GroupTotals) -> Fp| totals.map_or(Value::unknown(), |t| Value::known(f(t)));
                let worst = region.assign_advice(|| "worst", c.val, close, || known(&|t| t.worst))?;
                let slack = c
                    .pnl
                    .iter()
                    .enumerate()
                    .map(|(s, &col)| region.assign_advice(|| "slack", col, close, || known(&|t| t.slack[s])))
                    .collect::<Result<Vec<_>, _>>()?;
                collateral.copy_advice(|| "collateral", &mut region, c.pos, close)?;
                region.assign_advice_from_instance(|| "mode", c.instance, mode_offset, c.flag, close)?;
                region.assign_advice(|| "requirement", c.neg, close, || known(&|t| t.requirement))?;
                let excess = region.assign_advice(|| "excess", c.price, close, || known(&|t| t.excess))?;
                Ok(GroupCells {
                    ids,
                    nets,
                    parts: pos.into_iter().chain(neg).collect(),
                    challenge: challenge_cell.expect("at least one row"),
                    logup: logups[slots].clone(),
                    worst,
                    slack,
                    excess,
                })
            },
        )
    }

    fn weighted_sum(&self, layouter: &mut impl Layouter<Fp>, terms: &[(Weight, &AssignedCell<Fp, Fp>)], sums: Option<&[Fp]>)
        -> Result<AssignedCell<Fp, Fp>, Error> {
        let c = &self.config;
        layouter.assign_region(
            || "weighted sum",
            |mut region| {
                c.q_start_dot.enable(&mut region, 0)?;
                let mut sum = region.assign_advice(|| "sum", c.sum_a, 0, || Value::known(Fp::zero()))?;
                for (r, (weight, value)) in terms.iter().enumerate() {
                    c.q_dot.enable(&mut region, r)?;
                    match weight {
                        Weight::One => region.assign_advice_from_constant(|| "one", c.flag, r, Fp::one())?,
                        Weight::Instance(offset) => {
                            region.assign_advice_from_instance(|| "weight", c.instance, *offset, c.flag, r)?
                        }
                    };
                    value.copy_advice(|| "value", &mut region, c.val, r)?;
                    let next = sums.map_or(Value::unknown(), |s| Value::known(s[r]));
                    sum = region.assign_advice(|| "sum", c.sum_a, r + 1, || next)?;
                }
                Ok(sum)
            },
        )
    }

    fn threshold_slack(
        &self,
        layouter: &mut impl Layouter<Fp>,
        total: &AssignedCell<Fp, Fp>,
        threshold_offset: usize,
        slack: Option<Fp>,
    ) -> Result<AssignedCell<Fp, Fp>, Error> {
        let c = &self.config;
        layouter.assign_region(
            || "threshold",
            |mut region| {
                c.q_threshold.enable(&mut region, 0)?;
                region.assign_advice_from_instance(|| "threshold", c.instance, threshold_offset, c.val, 0)?;
                total.copy_advice(|| "total", &mut region, c.sum_a, 0)?;
                region.assign_advice(|| "slack", c.pos, 0, || slack.map_or(Value::unknown(), Value::known))
            },
        )
    }

    fn witness_values(&self, layouter: &mut impl Layouter<Fp>, values: &[Value<Fp>]) -> Result<Vec<AssignedCell<Fp, Fp>>, Error> {
        let c = &self.config;
        layouter.assign_region(
            || "free witnesses",
            |mut region| {
                values.iter().enumerate().map(|(r, v)| region.assign_advice(|| "value", c.id, r, || *v)).collect()
            },
        )
    }

    fn zero(&self, layouter: &mut impl Layouter<Fp>) -> Result<AssignedCell<Fp, Fp>, Error> {
        let c = &self.config;
        layouter.assign_region(|| "zero", |mut region| region.assign_advice_from_constant(|| "0", c.id, 0, Fp::zero()))
    }

    fn bind_instance(&self, layouter: &mut impl Layouter<Fp>, offset: usize) -> Result<AssignedCell<Fp, Fp>, Error> {
        let c = &self.config;
        layouter.assign_region(
            || "bind instance",
            |mut region| region.assign_advice_from_instance(|| "public", c.instance, offset, c.id, 0),
        )
    }
}
