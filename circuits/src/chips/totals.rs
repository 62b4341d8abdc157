//! The group total chip: a group's worst scenario loss (a maximum, by range-checked
//! slacks), its requirement at the level, its equity, excess and margin-ratio slack, on
//! the closing rows of its net region ([`crate::chips::netting`]). All its figures are at
//! 10^-26 (quantity × money × rate × rate).
//!
//! **Group closing rows** (`q_group_total` on the final row of a net region, fixed
//! `a = lf·o` and `b = lf·(10^6 − o)` with lf the loss factor and o the class offset at
//! the level (o = 10^6 in circuits without risk classes: `b = 0`); `q_slack` on it and the
//! F − 1 rows below, where the final lanes sit):
//! ```text
//! | row                 | mag           | id    | val         | flag | idx | entry           | chal, logup, sum_a..c | loss[c]          |
//! | close               | worst         | worst | collateral  | mode | req | excess          | final                 | final loss[c]    |
//! | close + 1           | slack[0]      | worst | challenge in| W    |     | equity          | sum_a: final gross    | final loss[W+c]  |
//! | close + 2           | slack[…]      | worst | logUp out   | ρ    |     | ratio slack     |                       | …                |
//! | close + 3           | slack[…]      | …     |             |      |     | gross           |                       |                  |
//! | close + 1 + c·F + j | slack[jW + c] |       |             |      |     |                 |                       |                  |
//! ```
//! Lane s = jW + c (final loss in column c, row `close + j`) has its slack
//! `worst − loss[s]` in `mag` at `close + 1 + c·F + j`
//! ([`crate::chips::columns::MarginColumns::slack_row`]): on each closing row j,
//! `q_slack` reads the slack of column c at the fixed rotation `1 + c·F`, against the
//! worst carried down in `id` (`id = mag` on the closing row, `id(+1) = id` on each
//! `q_slack` row). Each slack of a market scenario is range-checked, so worst ≥ every
//! loss; worst itself is range-checked, so worst ≥ 0; `mode ∈ {0,1}`;
//! `req = mode·(a·worst + b·W + 10^12·sum_c) + (1 − mode)·10^12·sum_b` (W = Σ_c worst_c,
//! the class worsts, copied in by the class chip; 0 without classes, where b = 0);
//! `equity = 10^6·collateral + 10^12·sum_a`; `excess = equity − req` (range-checked:
//! excess ≥ 0); `ratio slack = 10^6·equity − ρ·req` (ρ the statement's margin ratio,
//! 0 when not claimed; range-checked: equity ≥ ρ·req); the final gross notional leaves in
//! `entry` at `close + 3`. The region's crossings: the carried `chal` equals the
//! challenge imported in `val` at `close + 1`, the final `logup` leaves through `val` at
//! `close + 2`. With risk classes the lanes hold weighted sums, not losses: `q_slack` is
//! off and the class chip checks the worst against the class losses instead.
//! A worst above the true maximum only raises the requirement (a, b ≥ 0), so it can
//! never make a false claim provable; the prover's honest value is the exact maximum.

use halo2_proofs::circuit::{AssignedCell, Region, Value};
use halo2_proofs::plonk::{Column, ConstraintSystem, Constraints, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;

use crate::chips::columns::{cur, fp, next, one, MarginColumns};
use crate::encoding::Fp;
use crate::fixed::MONEY_SCALE;
use crate::tables::Factors;
use crate::witness::{Crossing, GroupPlan, GroupTotals};

/// Selectors and the loss-factor columns of the closing rows (over [`MarginColumns`]).
#[derive(Clone, Debug)]
pub struct GroupTotalConfig {
    cols: MarginColumns,
    joint_factor: Column<Fixed>,
    class_factor: Column<Fixed>,
    q_group_total: Selector,
    q_slack: Selector,
}

/// The values a group's closing takes in from other regions.
#[derive(Debug)]
pub struct ClosingInputs<'a> {
    /// The group's collateral value (10^-20).
    pub collateral: &'a AssignedCell<Fp, Fp>,
    /// The group's public mode bit.
    pub mode: &'a AssignedCell<Fp, Fp>,
    /// The statement's margin ratio (public; 0 when not claimed).
    pub ratio: &'a AssignedCell<Fp, Fp>,
    /// Whether risk classes are margined apart (W then comes in from the class chip's
    /// sum, linked to [`TotalCells::class_worsts`]).
    pub classes: bool,
}

/// Cells of a group's closing rows that other regions use.
#[derive(Debug)]
pub struct TotalCells {
    /// worst (160-bit check).
    pub worst: AssignedCell<Fp, Fp>,
    /// worst − loss_s per lane s (160-bit checks; without classes only).
    pub slack: Vec<AssignedCell<Fp, Fp>>,
    /// The group's excess (220-bit check).
    pub excess: AssignedCell<Fp, Fp>,
    /// The group's equity (10^-26).
    pub equity: AssignedCell<Fp, Fp>,
    /// 10^6·equity − ρ·requirement (250-bit check).
    pub ratio_slack: AssignedCell<Fp, Fp>,
    /// The group's gross notional Σ |n|·N (10^-14).
    pub gross: AssignedCell<Fp, Fp>,
    /// The challenge imported.
    pub challenge: AssignedCell<Fp, Fp>,
    /// The net rows' final logUp sum exported.
    pub logup: AssignedCell<Fp, Fp>,
    /// The cell that takes in Σ_c worst_c (with risk classes).
    pub class_worsts: Option<AssignedCell<Fp, Fp>>,
}

/// What the circuit asks of the group total chip.
pub trait GroupTotalInstructions {
    /// Lays out the closing rows from row `close` of a group's net region.
    fn assign_totals(
        &self,
        region: &mut Region<'_, Fp>,
        close: usize,
        group: Option<&GroupPlan>,
        factors: Factors,
        inputs: &ClosingInputs<'_>,
    ) -> Result<TotalCells, Error>;
}

/// The group total chip.
#[derive(Debug)]
pub struct GroupTotalChip {
    config: GroupTotalConfig,
}

impl GroupTotalChip {
    /// Configures the closing rows over `cols`.
    pub fn configure(meta: &mut ConstraintSystem<Fp>, cols: &MarginColumns) -> GroupTotalConfig {
        let config = GroupTotalConfig {
            cols: cols.clone(),
            joint_factor: meta.fixed_column(),
            class_factor: meta.fixed_column(),
            q_group_total: meta.selector(),
            q_slack: meta.selector(),
        };
        Self::create_gates(meta, &config);
        config
    }

    fn create_gates(meta: &mut ConstraintSystem<Fp>, config: &GroupTotalConfig) {
        let c = &config.cols;
        let million = || Expression::Constant(fp(MONEY_SCALE));
        let trillion = || Expression::Constant(fp(MONEY_SCALE * MONEY_SCALE));
        meta.create_gate("group total", |m| {
            let q = m.query_selector(config.q_group_total);
            let (worst, collateral, mode, req, excess) =
                (cur(m, c.mag), cur(m, c.val), cur(m, c.flag), cur(m, c.idx), cur(m, c.entry));
            let (mark_sum, linear_sum, short_sum) = (cur(m, c.sum_a), cur(m, c.sum_b), cur(m, c.sum_c));
            let class_worsts = next(m, c.flag);
            let (equity, ratio_slack, ratio) =
                (next(m, c.entry), m.query_advice(c.entry, Rotation(2)), m.query_advice(c.flag, Rotation(2)));
            let (a, b) = (m.query_fixed(config.joint_factor), m.query_fixed(config.class_factor));
            Constraints::with_selector(
                q,
                [
                    ("mode is boolean", mode.clone() * (one() - mode.clone())),
                    (
                        "requirement",
                        req.clone()
                            - mode.clone() * (a * worst.clone() + b * class_worsts + trillion() * short_sum)
                            - (one() - mode) * trillion() * linear_sum,
                    ),
                    ("equity", equity.clone() - (million() * collateral + trillion() * mark_sum)),
                    ("excess", excess - (equity.clone() - req.clone())),
                    ("ratio slack", ratio_slack - (million() * equity - ratio * req)),
                    ("challenge imported", cur(m, c.chal) - next(m, c.val)),
                    ("logUp exported", m.query_advice(c.val, Rotation(2)) - cur(m, c.logup)),
                    ("worst carried in", cur(m, c.id) - worst),
                    ("gross exported", m.query_advice(c.entry, Rotation(3)) - next(m, c.sum_a)),
                ],
            )
        });

        // On each of the F closing rows (the final lanes), the slack of lane column c sits
        // 1 + c·F rows below, under the worst loss in `mag` (every range-checked value of the
        // region in one equality-enabled column); `id` carries the worst down these rows.
        meta.create_gate("worst slack", |m| {
            let q = m.query_selector(config.q_slack);
            let worst = cur(m, c.id);
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
            constraints.push(("worst carried", next(m, c.id) - worst));
            Constraints::with_selector(q, constraints)
        });
    }

    /// A chip for one synthesis pass.
    pub fn construct(config: GroupTotalConfig) -> Self {
        GroupTotalChip { config }
    }
}

impl GroupTotalInstructions for GroupTotalChip {
    fn assign_totals(
        &self,
        region: &mut Region<'_, Fp>,
        close: usize,
        group: Option<&GroupPlan>,
        factors: Factors,
        inputs: &ClosingInputs<'_>,
    ) -> Result<TotalCells, Error> {
        let (q, c) = (&self.config, &self.config.cols);
        let f = c.fold();
        q.q_group_total.enable(region, close)?;
        region.assign_fixed(|| "lf·o", q.joint_factor, close, || Value::known(fp(factors.joint)))?;
        region.assign_fixed(|| "lf·(1 − o)", q.class_factor, close, || Value::known(fp(factors.classes)))?;
        let known = |f: &dyn Fn(&GroupTotals) -> Fp| group.map_or(Value::unknown(), |x| Value::known(f(&x.totals)));
        let worst = region.assign_advice(|| "worst", c.mag, close, || known(&|t| t.worst))?;
        let slack = if inputs.classes {
            // With classes the lanes hold weighted sums: the class chip checks the worst.
            region.assign_advice(|| "worst carried", c.id, close, || known(&|t| t.worst))?;
            Vec::new()
        } else {
            for j in 0..f {
                q.q_slack.enable(region, close + j)?;
            }
            for j in 0..=f {
                region.assign_advice(|| "worst carried", c.id, close + j, || known(&|t| t.carried_worst[j]))?;
            }
            (0..c.lanes)
                .map(|s| region.assign_advice(|| "slack", c.mag, close + c.slack_row(s), || known(&|t| t.slack[s])))
                .collect::<Result<Vec<_>, _>>()?
        };
        inputs.collateral.copy_advice(|| "collateral", region, c.val, close)?;
        inputs.mode.copy_advice(|| "mode", region, c.flag, close)?;
        let w = if inputs.classes { known(&|t| t.class_worsts) } else { Value::known(Fp::zero()) };
        let w = region.assign_advice(|| "class worsts", c.flag, close + 1, || w)?;
        let class_worsts = inputs.classes.then_some(w);
        inputs.ratio.copy_advice(|| "ratio", region, c.flag, close + 2)?;
        region.assign_advice(|| "requirement", c.idx, close, || known(&|t| t.requirement))?;
        let excess = region.assign_advice(|| "excess", c.entry, close, || known(&|t| t.excess))?;
        let equity = region.assign_advice(|| "equity", c.entry, close + 1, || known(&|t| t.equity))?;
        let ratio_slack = region.assign_advice(|| "ratio slack", c.entry, close + 2, || known(&|t| t.ratio_slack))?;
        let gross = region.assign_advice(|| "gross", c.entry, close + 3, || known(&|t| t.gross))?;
        // The challenge comes in, and the final logUp sum leaves, through `val` below.
        let crossing = |f: fn(&Crossing) -> Fp| group.map_or(Value::unknown(), |x| Value::known(f(&x.crossing)));
        let challenge = region.assign_advice(|| "challenge", c.val, close + 1, || crossing(|x| x.challenge))?;
        let logup = region.assign_advice(|| "logUp out", c.val, close + 2, || crossing(|x| x.logup))?;
        Ok(TotalCells { worst, slack, excess, equity, ratio_slack, gross, challenge, logup, class_worsts })
    }
}
