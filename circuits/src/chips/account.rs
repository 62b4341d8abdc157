//! The account chip: an account slot's positions and collateral, packed into the entries
//! its commitment sponge absorbs, each position keyed into the netting argument.
//!
//! **Position rows** (one region per account slot: 4 header rows, `P` position rows, a
//! closing row). The account's commitment sponge ([`crate::sponges`], run by
//! [`crate::chips::hash`]) absorbs the `entry` column two rows at a time (header pairs
//! always, a position or collateral pair when the `flag` of its first row is 1: both
//! copied into the hash lanes); its result is the account's public commitment
//! ([`crate::commitment`]).
//! ```text
//! row     | entry      | flag   | id | val          | mag       | inv          | chal          | logup   | price  |
//! 0       | venue      |        |    |              |           |              |               |         |        |
//! 1       | account    |        |    |              |           |              |               |         |        |
//! 2       | salt       |        |    |              |           |              |               |         |        |
//! 3       | 0          |        |    | challenge c  | tag t     |              |               |         |        |
//! 4 + r   | e(i, q)    | active | i  | q            | q + 2^69  | 1/(b − i)    | b = c − t     | Σ q·inv | 1/i    |
//! 4 + P   |            |        |    | final logup  |           |              | b             | final   |        |
//! ```
//! (t = g·2^250 is the account's group tag, from the public inputs; c is linked to the
//! derived challenge; b, the logUp key base, is carried down every row.)
//! Position rows (`q_position`): `active ∈ {0,1}`; `active' ≤ active` (real entries
//! first); `(1−active)·q = 0`; `mag = q + 2^69` (range-checked to 70 bits);
//! `entry = active·(2^232 + i·2^72 + q + 2^70)`; `inv·(b − i) = 1`;
//! `logup' = logup + q·inv`; `b' = b`; `active·(i·price − 1) = 0` (a real entry names a
//! real instrument, never the padding instrument's id 0); lookup `i ∈ instrument ids`
//! (so i < 2^160 and the packing is injective). `q_start_position` sets `logup = 0`, the
//! header's fourth entry (the row above) to 0, and `b = c − t` from the row above;
//! `q_close_position` sets `val = logup` on the closing row (the region's result).
//!
//! **Collateral rows** (a region of `C` slots of 1 + T rows each, T the market's tiers
//! per asset ([`crate::tables::MarketTables::tiers`]), and a closing row). A slot's head
//! row (`q_collateral`) holds the entry; its T tier rows (`q_tier`) the parts of the
//! holding that fall in each tier:
//! ```text
//! | row         | entry   | id | val  | mag    | flag   | price | linear     | short | logup (rem) | sum_a   | tier (fixed) |
//! | head        | e(a, x) | a  | x    | |x|    | active | P     |            |       | 0           | Σ value |              |
//! | tier t      |         | a  | p_t  | w − p_t| active | P     | 1e6 − h_t  | w_t   | rem         | Σ value | t            |
//! | closing     |         |    | Σ    |        | 0      |       |            |       | 0           | Σ value |              |
//! ```
//! Head: `active ∈ {0,1}`; `(1−active)·x = 0`; `mag² = x²` with `mag` range-checked to
//! 70 bits, so `mag = |x|` (for x ≠ 0 the other root, −|x|, is a field element near
//! 2^254); `entry = active·(2·2^232 + a·2^72 + x + 2^70)`; the debt at full price,
//! `sum_a' = sum_a − P·(mag − x)/2·10^6`; `rem = 0` (the slot above is wholly split);
//! `rem' = (mag + x)/2`, the holding x⁺ to split into tiers (mag ± x is even).
//! Tier row t: lookup `(a, t, P, 1e6 − h_t, w_t) ∈ assets` (t from the fixed `tier`
//! column: each tier once, in order); `mag = w_t − p_t`; `sum_a' = sum_a +
//! P·p_t·(1e6 − h_t)`; `rem' = rem − p_t`. Every row carries `a`, `P` and `active` to the
//! next row of its slot, and `active' ≤ active` holds from row to row (real entries
//! first). The closing row: `rem = 0`, `val = sum_a` (the account's collateral value).
//! With T ≥ 2 each `p_t` and `w_t − p_t` is range-checked to 70 bits: 0 ≤ p_t ≤ w_t.
//! Since Σ p_t = x⁺ and the haircuts do not decrease from tier to tier, the greedy split
//! (fill the cheapest tier first, SPEC section 5) is the largest value any such split
//! reaches: moving δ of a part from tier t to a later tier u changes the value by
//! P·δ·(h_t − h_u) ≤ 0. So a prover can only undervalue a holding, never overvalue it.
//! With T = 1 the one part is x⁺ itself (0 ≤ x⁺ < 2^70 ≤ w + 1), and no check is needed.

use halo2_proofs::circuit::{AssignedCell, Layouter, Value};
use halo2_proofs::plonk::{Column, ConstraintSystem, Constraints, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;

use crate::chips::columns::{assign_column, cur, fp, half, next, one, pairs, prev, zero_start, MarginColumns};
use crate::chips::hash::{Absorption, Active, Word};
use crate::chips::market::MarketTableConfig;
use crate::commitment::{EntryKind, ID_SHIFT, KIND_SHIFT, VALUE_OFFSET_BITS};
use crate::encoding::{pow2, Fp};
use crate::fixed::MONEY_SCALE;
use crate::sponges::HEADER_ROWS;
use crate::witness::{AccountPlan, CollateralRow, Crossing, QTY_OFFSET_BITS};

/// Selectors of the account rows (over the shared [`MarginColumns`]) and the tier column.
#[derive(Clone, Debug)]
pub struct AccountConfig {
    cols: MarginColumns,
    tier: Column<Fixed>,
    q_position: Selector,
    q_collateral: Selector,
    q_tier: Selector,
    q_carry: Selector,
    q_start_position: Selector,
    q_start_collateral: Selector,
    q_close_position: Selector,
    q_close_collateral: Selector,
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
    /// Each tier's part and the width left above it, per slot (to range-check to 70
    /// bits when the market has tiers; empty otherwise).
    pub parts: Vec<AssignedCell<Fp, Fp>>,
    /// The commitment sponge's collateral pairs (after the position pairs).
    pub absorptions: Vec<Absorption>,
    /// Σ collateral values.
    pub value: AssignedCell<Fp, Fp>,
}

/// What the circuit asks of the account chip.
pub trait AccountInstructions {
    /// Lays out one account slot's header and position rows; `tag` is its group tag's
    /// public cell.
    fn assign_positions(
        &self,
        layouter: &mut impl Layouter<Fp>,
        slots: usize,
        account: Option<&AccountPlan>,
        tag: &AssignedCell<Fp, Fp>,
    ) -> Result<PositionCells, Error>;
    /// Lays out one account slot's collateral rows, `tiers` tier rows per slot.
    fn assign_collateral(
        &self,
        layouter: &mut impl Layouter<Fp>,
        slots: usize,
        tiers: usize,
        account: Option<&AccountPlan>,
    ) -> Result<CollateralCells, Error>;
}

/// The account chip.
#[derive(Debug)]
pub struct AccountChip {
    config: AccountConfig,
}

impl AccountChip {
    /// Configures the account rows over `cols`, looking ids up in `market`.
    pub fn configure(meta: &mut ConstraintSystem<Fp>, cols: &MarginColumns, market: &MarketTableConfig) -> AccountConfig {
        let config = AccountConfig {
            cols: cols.clone(),
            tier: meta.fixed_column(),
            q_position: meta.complex_selector(),
            q_collateral: meta.selector(),
            q_tier: meta.complex_selector(),
            q_carry: meta.selector(),
            q_start_position: meta.selector(),
            q_start_collateral: meta.selector(),
            q_close_position: meta.selector(),
            q_close_collateral: meta.selector(),
        };
        Self::create_gates(meta, &config, market);
        config
    }

    fn create_gates(meta: &mut ConstraintSystem<Fp>, config: &AccountConfig, market: &MarketTableConfig) {
        let c = &config.cols;
        let constant = Expression::Constant;
        // entry = active·(kind·2^232 + id·2^72 + v + 2^70)
        let packed = move |kind: EntryKind, active: Expression<Fp>, id: Expression<Fp>, v: Expression<Fp>| {
            active
                * (constant(Fp::from(kind as u64) * pow2(KIND_SHIFT) + pow2(VALUE_OFFSET_BITS))
                    + id * constant(pow2(ID_SHIFT))
                    + v)
        };

        meta.create_gate("position row", |m| {
            let q = m.query_selector(config.q_position);
            let (id, qty, offset, active, inv, base, logup, entry, id_inverse) = (
                cur(m, c.id), cur(m, c.val), cur(m, c.mag), cur(m, c.flag), cur(m, c.inv),
                cur(m, c.chal), cur(m, c.logup), cur(m, c.entry), cur(m, c.price),
            );
            let (active_n, base_n, logup_n) = (next(m, c.flag), next(m, c.chal), next(m, c.logup));
            Constraints::with_selector(
                q,
                [
                    ("active is boolean", active.clone() * (one() - active.clone())),
                    ("real entries first", active_n * (one() - active.clone())),
                    ("padding holds nothing", (one() - active.clone()) * qty.clone()),
                    ("a real entry names a real instrument", active.clone() * (id.clone() * id_inverse - one())),
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
            let q = m.query_selector(config.q_position);
            vec![(q * m.query_advice(c.id, Rotation::cur()), market.instrument[1])]
        });

        let million = || Expression::Constant(fp(MONEY_SCALE));
        meta.create_gate("collateral head", |m| {
            let q = m.query_selector(config.q_collateral);
            let (amount, mag, active, price, sum, entry, rem) =
                (cur(m, c.val), cur(m, c.mag), cur(m, c.flag), cur(m, c.price), cur(m, c.sum_a), cur(m, c.entry), cur(m, c.logup));
            let id = cur(m, c.id);
            let (long, short) = ((mag.clone() + amount.clone()) * half(), (mag.clone() - amount.clone()) * half());
            Constraints::with_selector(
                q,
                [
                    ("active is boolean", active.clone() * (one() - active.clone())),
                    ("real entries first", next(m, c.flag) * (one() - active.clone())),
                    ("padding holds nothing", (one() - active.clone()) * amount.clone()),
                    ("magnitude", mag.clone() * mag - amount.clone() * amount.clone()),
                    ("packed entry", entry - packed(EntryKind::Collateral, active, id, amount)),
                    ("debt at full price", next(m, c.sum_a) - sum + price * short * million()),
                    ("previous holding wholly split", rem),
                    ("holding to split", next(m, c.logup) - long),
                ],
            )
        });

        meta.create_gate("collateral tier", |m| {
            let q = m.query_selector(config.q_tier);
            let (part, left, price, complement, width, sum, rem) = (
                cur(m, c.val), cur(m, c.mag), cur(m, c.price), cur(m, c.linear), cur(m, c.short), cur(m, c.sum_a),
                cur(m, c.logup),
            );
            let active = cur(m, c.flag);
            Constraints::with_selector(
                q,
                [
                    ("real entries first", next(m, c.flag) * (one() - active)),
                    ("width left", left - (width - part.clone())),
                    ("tier value", next(m, c.sum_a) - sum - price * part.clone() * complement),
                    ("holding split", next(m, c.logup) - rem + part),
                ],
            )
        });

        // Every row of a slot but its last hands the asset, its price and the active flag
        // to the next; active never rises from one row to the next (real entries first).
        meta.create_gate("collateral carried", |m| {
            let q = m.query_selector(config.q_carry);
            Constraints::with_selector(
                q,
                [
                    ("asset carried", next(m, c.id) - cur(m, c.id)),
                    ("price carried", next(m, c.price) - cur(m, c.price)),
                    ("active carried", next(m, c.flag) - cur(m, c.flag)),
                ],
            )
        });

        meta.lookup(|m| {
            let q = m.query_selector(config.q_tier);
            let tier = m.query_fixed(config.tier);
            let inputs = [cur(m, c.id), tier, cur(m, c.price), cur(m, c.linear), cur(m, c.short)];
            inputs.into_iter().zip(market.asset).map(|(x, t)| (q.clone() * x, t)).collect::<Vec<_>>()
        });

        meta.create_gate("position sums start at zero", |m| {
            let q = m.query_selector(config.q_start_position);
            Constraints::with_selector(
                q,
                [
                    ("logUp starts at zero", cur(m, c.logup)),
                    ("header pad is zero", m.query_advice(c.entry, Rotation::prev())),
                    ("key base imported", cur(m, c.chal) - prev(m, c.val) + prev(m, c.mag)),
                ],
            )
        });
        zero_start(meta, "collateral sum starts at zero", config.q_start_collateral, vec![c.sum_a, c.logup]);
        // A region's result leaves through `val` on its closing row (so that only `val`,
        // `mag`, `flag` and `entry` are equality-enabled).
        meta.create_gate("position result", |m| {
            let q = m.query_selector(config.q_close_position);
            Constraints::with_selector(q, [("logUp exported", cur(m, c.val) - cur(m, c.logup))])
        });
        meta.create_gate("collateral result", |m| {
            let q = m.query_selector(config.q_close_collateral);
            Constraints::with_selector(
                q,
                [("value exported", cur(m, c.val) - cur(m, c.sum_a)), ("last holding wholly split", cur(m, c.logup))],
            )
        });
    }

    /// A chip for one synthesis pass.
    pub fn construct(config: AccountConfig) -> Self {
        AccountChip { config }
    }
}

impl AccountInstructions for AccountChip {
    fn assign_positions(
        &self,
        layouter: &mut impl Layouter<Fp>,
        slots: usize,
        account: Option<&AccountPlan>,
        tag: &AssignedCell<Fp, Fp>,
    ) -> Result<PositionCells, Error> {
        let (q, c) = (&self.config, &self.config.cols);
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
                q.q_start_position.enable(&mut region, h)?;
                for r in 0..slots {
                    q.q_position.enable(&mut region, h + r)?;
                }
                let all = slots + 1;
                assign_column(&mut region, c.id, rows, slots, h, |p| p.id)?;
                assign_column(&mut region, c.val, rows, slots, h, |p| p.qty)?;
                let offsets = assign_column(&mut region, c.mag, rows, slots, h, |p| p.qty_offset)?;
                let flags = assign_column(&mut region, c.flag, rows, slots, h, |p| p.active)?;
                assign_column(&mut region, c.inv, rows, slots, h, |p| p.inv)?;
                assign_column(&mut region, c.price, rows, slots, h, |p| p.id_inverse)?;
                let entries = assign_column(&mut region, c.entry, rows, slots, h, |p| p.entry)?;
                assign_column(&mut region, c.logup, rows, all, h, |p| p.logup)?;
                // The challenge (linked to the derived one) and the group tag (from the
                // public inputs) come in on the last header row; every row carries their
                // difference, the logUp key base.
                let crossing = |f: fn(&Crossing) -> Fp| account.map_or(Value::unknown(), |a| Value::known(f(&a.crossing)));
                let challenge = region.assign_advice(|| "challenge", c.val, h - 1, || crossing(|x| x.challenge))?;
                tag.copy_advice(|| "group tag", &mut region, c.mag, h - 1)?;
                assign_column(&mut region, c.chal, rows, all, h, |p| p.challenge - p.tag)?;
                q.q_close_position.enable(&mut region, h + slots)?;
                let logup = region.assign_advice(|| "logUp out", c.val, h + slots, || crossing(|x| x.logup))?;
                // The closing row's flag (read by the last row's "real entries first").
                region.assign_advice(|| "closing flag", c.flag, h + slots, || Value::known(Fp::zero()))?;
                // The header pairs always count; a position pair counts when its first slot does.
                let mut absorptions = pairs(&header, |_| Active::Always);
                absorptions.extend(pairs(&entries, |j| Active::If(Word::Cell(flags[2 * j].clone()))));
                Ok(PositionCells { offsets, absorptions, challenge, logup })
            },
        )
    }

    fn assign_collateral(
        &self,
        layouter: &mut impl Layouter<Fp>,
        slots: usize,
        tiers: usize,
        account: Option<&AccountPlan>,
    ) -> Result<CollateralCells, Error> {
        let (q, c) = (&self.config, &self.config.cols);
        let stride = 1 + tiers;
        layouter.assign_region(
            || "collateral",
            |mut region| {
                // Row r of the region: slot r / stride, head (r % stride = 0) or tier r % stride − 1.
                let rows: Option<&[CollateralRow]> = account.map(|a| &a.collateral[..]);
                let all = slots * stride + 1;
                q.q_start_collateral.enable(&mut region, 0)?;
                for r in 0..slots {
                    let head = r * stride;
                    q.q_collateral.enable(&mut region, head)?;
                    for t in 0..tiers {
                        q.q_tier.enable(&mut region, head + 1 + t)?;
                        region.assign_fixed(|| "tier", q.tier, head + 1 + t, || Value::known(Fp::from(t as u64)))?;
                    }
                    for j in 0..tiers {
                        q.q_carry.enable(&mut region, head + j)?;
                    }
                }
                let mut column =
                    |col, count, value: fn(&CollateralRow) -> Fp| assign_column(&mut region, col, rows, count, 0, value);
                column(c.id, all - 1, |x| x.id)?;
                let vals = column(c.val, all - 1, |x| x.val)?;
                let mags = column(c.mag, all - 1, |x| x.mag)?;
                let flag_cells = column(c.flag, all, |x| x.active)?;
                column(c.price, all - 1, |x| x.price)?;
                column(c.linear, all - 1, |x| x.complement)?;
                column(c.short, all - 1, |x| x.width)?;
                column(c.logup, all, |x| x.rem)?;
                column(c.sum_a, all, |x| x.value_sum)?;
                let entries = (0..slots)
                    .map(|r| {
                        let entry = rows.map_or(Value::unknown(), |rows| Value::known(rows[r * stride].entry));
                        region.assign_advice(|| "entry", c.entry, r * stride, || entry)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                q.q_close_collateral.enable(&mut region, all - 1)?;
                let out = account.map_or(Value::unknown(), |a| Value::known(a.crossing.value));
                let value = region.assign_advice(|| "value out", c.val, all - 1, || out)?;
                let heads: Vec<usize> = (0..slots).map(|r| r * stride).collect();
                let head_mags = heads.iter().map(|&h| mags[h].clone()).collect();
                // Tier parts (val) and widths left (mag) of every tier row, to range-check.
                let parts = if tiers > 1 {
                    (0..slots)
                        .flat_map(|r| (1..=tiers).map(move |t| r * stride + t))
                        .flat_map(|row| [vals[row].clone(), mags[row].clone()])
                        .collect()
                } else {
                    Vec::new()
                };
                // A collateral pair counts when its first slot does.
                let absorptions = pairs(&entries, |j| Active::If(Word::Cell(flag_cells[heads[2 * j]].clone())));
                Ok(CollateralCells { mags: head_mags, parts, absorptions, value })
            },
        )
    }
}
