//! The group total chip: a group's worst scenario loss (a maximum, by range-checked
//! slacks), its requirement at the level and its excess, on the closing rows of its net
//! region ([`crate::chips::netting`]).
//!
//! **Group closing rows** (`q_group_total` on the final row of a net region, fixed
//! `loss_factor`; `q_slack` on it and the F − 1 rows below, where the final lanes sit):
//! ```text
//! | row                 | mag           | id    | val         | flag | idx | entry  | chal, logup, sum_a..c | loss[c]          |
//! | close               | worst         | worst | collateral  | mode | req | excess | final                 | final loss[c]    |
//! | close + j, 0 < j < F| slack[8(j−1)] | worst | (see below) |      |     |        |                       | final loss[8j+c] |
//! | close + F           | slack[8(F−1)] | worst |             |      |     |        |                       |                  |
//! | close + 1 + c·F + j | slack[8j + c] |       |             |      |     |        |                       |                  |
//! ```
//! Lane s = 8j + c (final loss in column c, row `close + j`) has its slack
//! `worst − loss[s]` in `mag` at `close + 1 + c·F + j` ([`GroupTotalConfig::slack_row`]):
//! on each closing row j, `q_slack` reads the slack of column c at the fixed rotation
//! `1 + c·F`, against the worst carried down in `id` (`id = mag` on the closing row,
//! `id(+1) = id` on each `q_slack` row). Each slack is range-checked, so worst ≥ every
//! loss; worst itself is range-checked, so worst ≥ 0; `mode ∈ {0,1}`;
//! `req = mode·(lf·worst + 10^6·sum_c) + (1 − mode)·10^6·sum_b`;
//! `excess = collateral + 10^6·sum_a − req` (range-checked: excess ≥ 0). The region's
//! crossings: the carried `chal` equals the challenge imported in `val` at `close + 1`,
//! and the final `logup` leaves through `val` at `close + 2`.
//! A worst above the true maximum only raises the requirement, so it can never make a
//! false claim provable; the prover's honest value is the exact maximum.

use halo2_proofs::circuit::{AssignedCell, Region, Value};
use halo2_proofs::plonk::{Column, ConstraintSystem, Constraints, Error, Expression, Fixed, Selector};
use halo2_proofs::poly::Rotation;

use crate::chips::columns::{cur, fp, next, one, MarginColumns};
use crate::encoding::Fp;
use crate::fixed::MONEY_SCALE;
use crate::witness::{Crossing, GroupPlan, GroupTotals};

/// Selectors and the loss-factor column of the closing rows (over [`MarginColumns`]).
#[derive(Clone, Debug)]
pub struct GroupTotalConfig {
    cols: MarginColumns,
    loss_factor: Column<Fixed>,
    q_group_total: Selector,
    q_slack: Selector,
}

impl GroupTotalConfig {
    /// Row of lane s's slack below a group's closing row: the slacks of lane column c
    /// sit in a run of F rows, so that one gate per closing row reads each at a fixed
    /// rotation (`1 + c·F`, see the module doc).
    pub fn slack_row(&self, s: usize) -> usize {
        let width = self.cols.loss.len();
        1 + (s % width) * self.cols.fold() + s / width
    }
}

/// Cells of a group's closing rows that other regions use.
#[derive(Debug)]
pub struct TotalCells {
    /// worst (160-bit check).
    pub worst: AssignedCell<Fp, Fp>,
    /// worst − loss_s per lane s (160-bit checks).
    pub slack: Vec<AssignedCell<Fp, Fp>>,
    /// The group's excess (200-bit check).
    pub excess: AssignedCell<Fp, Fp>,
    /// The challenge imported.
    pub challenge: AssignedCell<Fp, Fp>,
    /// The net rows' final logUp sum exported.
    pub logup: AssignedCell<Fp, Fp>,
}

/// What the circuit asks of the group total chip.
pub trait GroupTotalInstructions {
    /// Lays out the closing rows from row `close` of a group's net region; `collateral`
    /// is the group's collateral value, `mode` its public mode cell.
    fn assign_totals(
        &self,
        region: &mut Region<'_, Fp>,
        close: usize,
        group: Option<&GroupPlan>,
        loss_factor: i128,
        collateral: &AssignedCell<Fp, Fp>,
        mode: &AssignedCell<Fp, Fp>,
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
            loss_factor: meta.fixed_column(),
            q_group_total: meta.selector(),
            q_slack: meta.selector(),
        };
        Self::create_gates(meta, &config);
        config
    }

    fn create_gates(meta: &mut ConstraintSystem<Fp>, config: &GroupTotalConfig) {
        let c = &config.cols;
        let million = || Expression::Constant(fp(MONEY_SCALE));
        meta.create_gate("group total", |m| {
            let q = m.query_selector(config.q_group_total);
            let (worst, collateral, mode, req, excess) =
                (cur(m, c.mag), cur(m, c.val), cur(m, c.flag), cur(m, c.idx), cur(m, c.entry));
            let (mark_sum, linear_sum, short_sum) = (cur(m, c.sum_a), cur(m, c.sum_b), cur(m, c.sum_c));
            let lf = m.query_fixed(config.loss_factor);
            Constraints::with_selector(
                q,
                [
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
                    ("worst carried in", cur(m, c.id) - worst),
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
        loss_factor: i128,
        collateral: &AssignedCell<Fp, Fp>,
        mode: &AssignedCell<Fp, Fp>,
    ) -> Result<TotalCells, Error> {
        let (q, c) = (&self.config, &self.config.cols);
        let f = c.fold();
        q.q_group_total.enable(region, close)?;
        region.assign_fixed(|| "loss factor", q.loss_factor, close, || Value::known(fp(loss_factor)))?;
        let known = |f: &dyn Fn(&GroupTotals) -> Fp| group.map_or(Value::unknown(), |x| Value::known(f(&x.totals)));
        let worst = region.assign_advice(|| "worst", c.mag, close, || known(&|t| t.worst))?;
        for j in 0..f {
            q.q_slack.enable(region, close + j)?;
        }
        for j in 0..=f {
            region.assign_advice(|| "worst carried", c.id, close + j, || known(&|t| t.carried_worst[j]))?;
        }
        let slack = (0..c.lanes)
            .map(|s| region.assign_advice(|| "slack", c.mag, close + q.slack_row(s), || known(&|t| t.slack[s])))
            .collect::<Result<Vec<_>, _>>()?;
        collateral.copy_advice(|| "collateral", region, c.val, close)?;
        mode.copy_advice(|| "mode", region, c.flag, close)?;
        region.assign_advice(|| "requirement", c.idx, close, || known(&|t| t.requirement))?;
        let excess = region.assign_advice(|| "excess", c.entry, close, || known(&|t| t.excess))?;
        // The challenge comes in, and the final logUp sum leaves, through `val` below.
        let crossing = |f: fn(&Crossing) -> Fp| group.map_or(Value::unknown(), |x| Value::known(f(&x.crossing)));
        let challenge = region.assign_advice(|| "challenge", c.val, close + 1, || crossing(|x| x.challenge))?;
        let logup = region.assign_advice(|| "logUp out", c.val, close + 2, || crossing(|x| x.logup))?;
        Ok(TotalCells { worst, slack, excess, challenge, logup })
    }
}
