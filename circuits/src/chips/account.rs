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
//! **Collateral rows** (`q_collateral`; a region of `C` rows and a closing row):
//! ```text
//! | entry      | id | val | mag | flag   | price | linear     | sum_a   |
//! | e(a, x)    | a  | x   | |x| | active | P_a   | 1e6 − h_a  | Σ value |
//! ```
//! `active ∈ {0,1}`; `active' ≤ active`; `(1−active)·x = 0`; `mag² = x²` with `mag`
//! range-checked to 70 bits, so `mag = |x|` (for x ≠ 0 the other root, −|x|, is a field
//! element near 2^254); `entry = active·(2·2^232 + a·2^72 + x + 2^70)`;
//! `sum_a' = sum_a + price·((mag + x)/2·linear − (mag − x)/2·10^6)` (the positive and
//! negative parts of x, exact: mag ± x is even); lookup `(a, price, linear) ∈ assets`.
//! `q_start_collateral` sets `sum_a = 0` on row 0; `q_close_collateral` sets `val = sum_a`
//! on the closing row (the account's collateral value).

use halo2_proofs::circuit::{AssignedCell, Layouter, Value};
use halo2_proofs::plonk::{ConstraintSystem, Constraints, Error, Expression, Selector};
use halo2_proofs::poly::Rotation;

use crate::chips::columns::{assign_column, cur, fp, half, next, one, pairs, prev, zero_start, MarginColumns};
use crate::chips::hash::{Absorption, Active, Word};
use crate::chips::market::MarketTableConfig;
use crate::commitment::{EntryKind, ID_SHIFT, KIND_SHIFT, VALUE_OFFSET_BITS};
use crate::encoding::{pow2, Fp};
use crate::fixed::MONEY_SCALE;
use crate::sponges::HEADER_ROWS;
use crate::witness::{AccountPlan, Crossing, QTY_OFFSET_BITS};

/// Selectors of the account rows (over the shared [`MarginColumns`]).
#[derive(Clone, Debug)]
pub struct AccountConfig {
    cols: MarginColumns,
    q_position: Selector,
    q_collateral: Selector,
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
    /// Lays out one account slot's collateral rows.
    fn assign_collateral(&self, layouter: &mut impl Layouter<Fp>, slots: usize, account: Option<&AccountPlan>)
        -> Result<CollateralCells, Error>;
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
            q_position: meta.complex_selector(),
            q_collateral: meta.complex_selector(),
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
            let q = m.query_selector(config.q_position);
            vec![(q * m.query_advice(c.id, Rotation::cur()), market.instrument[1])]
        });

        meta.create_gate("collateral row", |m| {
            let q = m.query_selector(config.q_collateral);
            let (id, amount, mag, active, price, complement, sum, entry) = (
                cur(m, c.id), cur(m, c.val), cur(m, c.mag), cur(m, c.flag),
                cur(m, c.price), cur(m, c.linear), cur(m, c.sum_a), cur(m, c.entry),
            );
            let (long, short) = ((mag.clone() + amount.clone()) * half(), (mag.clone() - amount.clone()) * half());
            let (sum_n, active_n) = (next(m, c.sum_a), next(m, c.flag));
            let million = Expression::Constant(fp(MONEY_SCALE));
            Constraints::with_selector(
                q,
                [
                    ("active is boolean", active.clone() * (one() - active.clone())),
                    ("real entries first", active_n * (one() - active.clone())),
                    ("padding holds nothing", (one() - active.clone()) * amount.clone()),
                    ("magnitude", mag.clone() * mag - amount.clone() * amount.clone()),
                    ("packed entry", entry - packed(EntryKind::Collateral, active, id, amount)),
                    ("collateral value", sum_n - sum - price * (long * complement - short * million)),
                ],
            )
        });

        meta.lookup(|m| {
            let q = m.query_selector(config.q_collateral);
            [c.id, c.price, c.linear]
                .iter()
                .zip(market.asset)
                .map(|(&col, t)| (q.clone() * m.query_advice(col, Rotation::cur()), t))
                .collect::<Vec<_>>()
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
        zero_start(meta, "collateral sum starts at zero", config.q_start_collateral, vec![c.sum_a]);
        // A region's result leaves through `val` on its closing row (so that only `val`,
        // `mag`, `flag` and `entry` are equality-enabled).
        meta.create_gate("position result", |m| {
            let q = m.query_selector(config.q_close_position);
            Constraints::with_selector(q, [("logUp exported", cur(m, c.val) - cur(m, c.logup))])
        });
        meta.create_gate("collateral result", |m| {
            let q = m.query_selector(config.q_close_collateral);
            Constraints::with_selector(q, [("value exported", cur(m, c.val) - cur(m, c.sum_a))])
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

    fn assign_collateral(&self, layouter: &mut impl Layouter<Fp>, slots: usize, account: Option<&AccountPlan>)
        -> Result<CollateralCells, Error> {
        let (q, c) = (&self.config, &self.config.cols);
        layouter.assign_region(
            || "collateral",
            |mut region| {
                let rows = account.map(|a| &a.collateral[..]);
                q.q_start_collateral.enable(&mut region, 0)?;
                for r in 0..slots {
                    q.q_collateral.enable(&mut region, r)?;
                }
                let all = slots + 1;
                assign_column(&mut region, c.id, rows, slots, 0, |x| x.id)?;
                assign_column(&mut region, c.val, rows, slots, 0, |x| x.amount)?;
                let mags = assign_column(&mut region, c.mag, rows, slots, 0, |x| x.mag)?;
                let flags = assign_column(&mut region, c.flag, rows, slots, 0, |x| x.active)?;
                assign_column(&mut region, c.price, rows, slots, 0, |x| x.price)?;
                assign_column(&mut region, c.linear, rows, slots, 0, |x| x.haircut_complement)?;
                let entries = assign_column(&mut region, c.entry, rows, slots, 0, |x| x.entry)?;
                assign_column(&mut region, c.sum_a, rows, all, 0, |x| x.value_sum)?;
                q.q_close_collateral.enable(&mut region, slots)?;
                let out = account.map_or(Value::unknown(), |a| Value::known(a.crossing.value));
                let value = region.assign_advice(|| "value out", c.val, slots, || out)?;
                region.assign_advice(|| "closing flag", c.flag, slots, || Value::known(Fp::zero()))?;
                let absorptions = pairs(&entries, |j| Active::If(Word::Cell(flags[2 * j].clone())));
                Ok(CollateralCells { mags, absorptions, value })
            },
        )
    }
}
