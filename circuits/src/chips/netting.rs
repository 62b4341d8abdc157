//! The netting chip: a group slot's net position per instrument (the logUp side that
//! balances the accounts' positions), the market's numbers for it (a lookup), its running
//! sums, and its scenario losses, lane by lane.
//!
//! **Net rows** (`q_net`, one region per group slot, before its closing rows
//! ([`crate::chips::totals`]); fixed `group_tag` = g·2^250). Each net slot takes
//! F rows: the S scenario lanes fold into W = min(8, S/2) columns, lane s in column
//! `s mod W` on row `s / W` of its slot (F = 2, 2, 4 for S = 8, 16, 32):
//! ```text
//! | row     | idx | id | val | mag | flag | price    | linear | short | pnl[c]     | inv | chal | logup | sum_a    | sum_b | sum_c | loss[c]     |
//! | F·r     | k   | i  | n   | |n| | w    | mark     | lin_L  | sc_L  | pnl_c      | 1/(chal−i−tag) | c | Σ n·inv | Σ n·mark | Σ |n|·lin | Σ n⁻·sc | Σ −n·pnl_c |
//! | F·r + 1 |     |    | n   |     | w    | notional | class  |       | pnl_{W+c}  |     |      |       | Σ |n|·N |       |       | Σ −n·pnl_{W+c} |
//! | F·r + j |     |    | n   |     | w    |          |        |       | pnl_{jW+c} |     |      |       |          |       |       | Σ −n·pnl_{jW+c} |
//! ```
//! `mag² = n²` with `mag` range-checked to 80 bits, so `mag = |n|`, and `n⁻ = (mag − n)/2`
//! exactly;
//! `inv·(chal − id − group_tag) = 1`; each running sum advances by its term to the next
//! slot (F rows down); the gross notional Σ |n|·N advances on the slot's second row
//! (`q_gross`: `sum_a(+F) = sum_a + mag(−1)·price`). The scenario lanes advance row by
//! row (`q_lane`, every row of a slot: `loss_c(+F) = loss_c − val·pnl_c` for each lane
//! column c, with the slot's net carried down its rows in `val` by `q_net_carry`:
//! `val(+1) = val` on rows 0..F−2), so that each lane column is queried at two rotations
//! only (every query is a 32-byte evaluation in the proof); lookup `(idx, id, price,
//! linear, short, price(+1), [linear(+1),] pnl[0..S] + 2^60) ∈ instruments`
//! ([`crate::chips::market`]), the notional and class read on the slot's second row and
//! the P&L across its F rows (idx is the market row + 1, < 2^20).
//!
//! **Risk classes** (circuits that margin each class on its own,
//! [`crate::tables::MarketTables::class_mode`]): the slot's weight `w = 1/(chal − c)`
//! with c its class (`flag·(chal − linear(+1)) = 1`), carried down the slot in `flag`,
//! and the lanes accumulate the weighted losses: `loss_c(+F) = loss_c − flag·val·pnl_c`.
//! After the last slot lane s holds `Σ_c L_{c,s}/(chal − c)` with `L_{c,s}` class c's
//! loss in scenario s; the class chip ([`crate::chips::classes`]) recovers each `L_{c,s}`
//! from it. Without classes `flag` is unused and the lanes hold the losses themselves.
//!
//! `q_start_net` zeroes the sums on row 0, `q_start_lanes` the lanes and `sum_a` on rows
//! 0..F−1 (the mark sum and the gross notional start at zero).
//! Every second slot (`q_net_word`) packs itself and the next slot into a net word in
//! `entry` on its first row, `e(r) + e(r + 1)·2^101` with `e = k·2^81 + (n + 2^80)`
//! (< 2^101); the net sponges absorb the words two at a time, slots 4j..4j+3 in one
//! absorption ([`crate::sponges`]).

use halo2_proofs::circuit::{AssignedCell, Region, Value};
use halo2_proofs::plonk::{Column, ConstraintSystem, Constraints, Error, Expression, Fixed, Selector, VirtualCells};
use halo2_proofs::poly::Rotation;

use crate::chips::columns::{assign_strided, cur, half, next, one, pairs, prev, zero_start, MarginColumns};
use crate::chips::hash::{Absorption, Active};
use crate::chips::market::MarketTableConfig;
use crate::encoding::{pow2, Fp};
use crate::sponges::{net_element, NET_ELEMENT_BITS};
use crate::statement::group_tag;
use crate::tables::PNL_SHIFT_BITS;
use crate::witness::{GroupPlan, NetRow};

/// Selectors and the group-tag column of the net rows (over the shared [`MarginColumns`]).
#[derive(Clone, Debug)]
pub struct NettingConfig {
    cols: MarginColumns,
    classes: bool,
    group_tag: Column<Fixed>,
    q_net: Selector,
    q_gross: Selector,
    q_lane: Selector,
    q_net_carry: Selector,
    q_net_word: Selector,
    q_start_net: Selector,
    q_start_lanes: Selector,
}

impl NettingConfig {
    /// The selector that carries `val` (and, with classes, `flag`) one row down: the
    /// class chip carries its weights down a class block with it.
    pub(crate) fn carry(&self) -> Selector {
        self.q_net_carry
    }
}

/// Cells of a group's net rows that other regions use.
#[derive(Debug)]
pub struct NetCells {
    /// |n| per slot (80-bit range checks).
    pub mags: Vec<AssignedCell<Fp, Fp>>,
    /// The net words, one absorption per four slots (always active).
    pub absorptions: Vec<Absorption>,
    /// The region's row after the last slot, where its closing rows start.
    pub close: usize,
}

/// What the circuit asks of the netting chip.
pub trait NettingInstructions {
    /// Lays out group slot `g`'s `slots` net rows from the top of `region`.
    fn assign_net_rows(&self, region: &mut Region<'_, Fp>, g: usize, slots: usize, group: Option<&GroupPlan>)
        -> Result<NetCells, Error>;
}

/// The netting chip.
#[derive(Debug)]
pub struct NettingChip {
    config: NettingConfig,
}

impl NettingChip {
    /// Configures the net rows over `cols`, their numbers looked up in `market`; with
    /// `classes`, the lanes weigh each slot by its risk class.
    pub fn configure(meta: &mut ConstraintSystem<Fp>, cols: &MarginColumns, market: &MarketTableConfig) -> NettingConfig {
        let config = NettingConfig {
            cols: cols.clone(),
            classes: market.classes,
            group_tag: meta.fixed_column(),
            q_net: meta.complex_selector(),
            q_gross: meta.selector(),
            q_lane: meta.selector(),
            q_net_carry: meta.selector(),
            q_net_word: meta.selector(),
            q_start_net: meta.selector(),
            q_start_lanes: meta.selector(),
        };
        Self::create_gates(meta, &config, market);
        config
    }

    fn create_gates(meta: &mut ConstraintSystem<Fp>, config: &NettingConfig, market: &MarketTableConfig) {
        let c = &config.cols;
        meta.create_gate("net row", |m| {
            let q = m.query_selector(config.q_net);
            let (id, net, mag, mark, linear, short, inv, chal, logup) = (
                cur(m, c.id), cur(m, c.val), cur(m, c.mag), cur(m, c.price),
                cur(m, c.linear), cur(m, c.short), cur(m, c.inv), cur(m, c.chal), cur(m, c.logup),
            );
            let negative_part = (mag.clone() - net.clone()) * half();
            let tag = m.query_fixed(config.group_tag);
            let f = c.fold() as i32;
            let next = |m: &mut VirtualCells<Fp>, col| m.query_advice(col, Rotation(f));
            let mut constraints = vec![
                ("magnitude", mag.clone() * mag.clone() - net.clone() * net.clone()),
                ("logUp inverse", inv.clone() * (chal.clone() - id - tag) - one()),
                ("logUp sum", next(m, c.logup) - logup - net.clone() * inv),
                ("challenge carried", next(m, c.chal) - chal.clone()),
                ("mark sum", next(m, c.sum_a) - cur(m, c.sum_a) - net * mark),
                ("linear sum", next(m, c.sum_b) - cur(m, c.sum_b) - mag * linear),
                ("short sum", next(m, c.sum_c) - cur(m, c.sum_c) - negative_part * short),
            ];
            if config.classes {
                let class = m.query_advice(c.linear, Rotation::next());
                constraints.push(("class weight", cur(m, c.flag) * (chal - class) - one()));
            }
            Constraints::with_selector(q, constraints)
        });

        // The gross notional advances on each slot's second row, where the notional sits.
        meta.create_gate("gross notional", |m| {
            let q = m.query_selector(config.q_gross);
            let f = Rotation(c.fold() as i32);
            let step = m.query_advice(c.sum_a, f) - cur(m, c.sum_a) - prev(m, c.mag) * cur(m, c.price);
            Constraints::with_selector(q, [("gross sum", step)])
        });

        // Every row of a net slot advances its lanes by the slot's (weighted) net, read from
        // `val` (and `flag`) on the same row: each lane column is queried at two rotations.
        meta.create_gate("scenario row", |m| {
            let q = m.query_selector(config.q_lane);
            let net = if config.classes { cur(m, c.flag) * cur(m, c.val) } else { cur(m, c.val) };
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

        // The slot's net (and class weight) repeated on its further rows.
        meta.create_gate("net carried", |m| {
            let q = m.query_selector(config.q_net_carry);
            let mut constraints = vec![("net carried", next(m, c.val) - cur(m, c.val))];
            if config.classes {
                constraints.push(("weight carried", next(m, c.flag) - cur(m, c.flag)));
            }
            Constraints::with_selector(q, constraints)
        });

        meta.lookup(|m| {
            let q = m.query_selector(config.q_net);
            let mut inputs: Vec<Expression<Fp>> =
                [c.idx, c.id, c.price, c.linear, c.short].iter().map(|&col| m.query_advice(col, Rotation::cur())).collect();
            inputs.push(m.query_advice(c.price, Rotation::next()));
            if config.classes {
                inputs.push(m.query_advice(c.linear, Rotation::next()));
            }
            let shift = Expression::Constant(pow2(PNL_SHIFT_BITS));
            inputs.extend((0..c.lanes).map(|s| c.pnl_at(m, s, 0) + shift.clone()));
            debug_assert_eq!(inputs.len(), market.first_pnl() + c.lanes);
            inputs.into_iter().zip(market.instrument.iter()).map(|(x, &t)| (q.clone() * x, t)).collect::<Vec<_>>()
        });

        // Two net slots per rate word, into the entry column for the net sponges (no
        // skipping: every net slot, padding included, is hashed before the challenge).
        meta.create_gate("net word", |m| {
            let q = m.query_selector(config.q_net_word);
            let f = Rotation(c.fold() as i32);
            let this = net_element(cur(m, c.idx), cur(m, c.val));
            let following = net_element(m.query_advice(c.idx, f), m.query_advice(c.val, f));
            let shift = Expression::Constant(pow2(NET_ELEMENT_BITS));
            Constraints::with_selector(q, [("net word", cur(m, c.entry) - this - following * shift)])
        });

        zero_start(meta, "net sums start at zero", config.q_start_net, vec![c.logup, c.sum_b, c.sum_c]);
        let mut lanes = c.loss.clone();
        lanes.push(c.sum_a);
        zero_start(meta, "scenario losses start at zero", config.q_start_lanes, lanes);
    }

    /// A chip for one synthesis pass.
    pub fn construct(config: NettingConfig) -> Self {
        NettingChip { config }
    }
}

impl NettingInstructions for NettingChip {
    fn assign_net_rows(&self, region: &mut Region<'_, Fp>, g: usize, slots: usize, group: Option<&GroupPlan>)
        -> Result<NetCells, Error> {
        let (q, c) = (&self.config, &self.config.cols);
        let rows: Option<&[NetRow]> = group.map(|x| &x.rows[..]);
        let f = c.fold();
        q.q_start_net.enable(region, 0)?;
        for j in 0..f {
            q.q_start_lanes.enable(region, j)?;
        }
        let known = |r: usize, v: &dyn Fn(&NetRow) -> Fp| rows.map_or(Value::unknown(), |rows| Value::known(v(&rows[r])));
        for r in 0..slots {
            q.q_net.enable(region, f * r)?;
            q.q_gross.enable(region, f * r + 1)?;
            region.assign_fixed(|| "group tag", q.group_tag, f * r, || Value::known(group_tag(g)))?;
            for j in 0..f {
                q.q_lane.enable(region, f * r + j)?;
            }
            for j in 1..f {
                q.q_net_carry.enable(region, f * r + j - 1)?;
                region.assign_advice(|| "net carried", c.val, f * r + j, || known(r, &|n| n.carried_net[j - 1]))?;
            }
            if q.classes {
                region.assign_advice(|| "weight", c.flag, f * r, || known(r, &|n| n.weight))?;
                for j in 1..f {
                    region.assign_advice(|| "weight carried", c.flag, f * r + j, || known(r, &|n| n.carried_weight[j - 1]))?;
                }
                region.assign_advice(|| "class", c.linear, f * r + 1, || known(r, &|n| n.class))?;
            }
            region.assign_advice(|| "notional", c.price, f * r + 1, || known(r, &|n| n.notional))?;
        }
        for r in (0..slots).step_by(2) {
            q.q_net_word.enable(region, f * r)?;
        }
        let all = slots + 1;
        let mut column =
            |col, count, value: fn(&NetRow) -> Fp| assign_strided(region, col, rows, count, 0, f, value);
        column(c.idx, slots, |n| n.idx)?;
        column(c.id, slots, |n| n.id)?;
        column(c.val, slots, |n| n.net)?;
        let mags = column(c.mag, slots, |n| n.mag)?;
        column(c.price, slots, |n| n.mark)?;
        column(c.linear, slots, |n| n.linear)?;
        column(c.short, slots, |n| n.short_charge)?;
        column(c.inv, slots, |n| n.inv)?;
        column(c.logup, all, |n| n.logup)?;
        column(c.sum_a, all, |n| n.mark_sum)?;
        column(c.sum_b, all, |n| n.linear_sum)?;
        column(c.sum_c, all, |n| n.short_sum)?;
        column(c.chal, all, |n| n.challenge)?;
        assign_strided(region, c.sum_a, rows, all, 1, f, |n| n.gross_sum)?;
        // The unused sum_a cells of each start row (rows 2..F−1 are zeroed by q_start_lanes).
        for j in 2..f {
            region.assign_advice(|| "sum_a start", c.sum_a, j, || Value::known(Fp::zero()))?;
        }
        // Lane s of slot r sits in column s mod W, row f·r + s / W (slot `slots` is the
        // closing rows' final lanes).
        for r in 0..all {
            for s in 0..c.lanes {
                let (lane_row, col) = c.lane_cell(s);
                let row = f * r + lane_row;
                if r < slots {
                    region.assign_advice(|| "pnl", c.pnl[col], row, || known(r, &|n| n.pnl[s]))?;
                }
                region.assign_advice(|| "loss", c.loss[col], row, || known(r, &|n| n.loss[s]))?;
            }
        }
        // Net words: on the first row of every second slot, two per absorption.
        let mut words = Vec::with_capacity(slots / 2);
        for j in 0..slots / 4 {
            for w in 0..2 {
                let value = group.map_or(Value::unknown(), |x| Value::known(x.words[j][w]));
                words.push(region.assign_advice(|| "net word", c.entry, f * (4 * j + 2 * w), || value)?);
            }
        }
        let absorptions = pairs(&words, |_| Active::Always);
        Ok(NetCells { mags, absorptions, close: f * slots })
    }
}
