//! The class chip: each risk class's scenario losses and worst loss, for circuits that
//! margin classes apart ([`crate::tables::MarketTables::class_mode`], SPEC section 5).
//!
//! The net rows ([`crate::chips::netting`]) leave in lane s, for every class c at once,
//! the weighted sum `A_s = Σ_c L_{c,s}·β_c` with `β_c = 1/(χ − c)` (χ the logUp
//! challenge, c the class index from the market table, so no row can claim another
//! class). The prover states each class's losses `X_{c,s}` in K class blocks; the lanes
//! run on through them, `R ← R − β_c·X_{c,s}`, and must end at zero:
//! `Σ_c β_c·(L_{c,s} − X_{c,s}) = 0`. Every `X_{c,s}` of a market scenario is hashed
//! into χ (as its class's worst and slack, [`crate::sponges`]) before χ exists, so this
//! holds for a random χ only if `X_{c,s} = L_{c,s}` for every class (the β_c are the
//! partial fractions of distinct poles: a nonzero difference leaves a nonzero rational
//! function of χ with at most K − 1 roots). Net rows of one class are never merged with
//! another's: the weight follows the table's class, not the prover's order of rows.
//!
//! **Class weights** (`q_class_weight`, one region, row c for class c, fixed
//! `class_index = c`): `| val: χ (copied in) | mag: β_c |` with `β_c·(χ − c) = 1`.
//!
//! **Class blocks**, after a group's closing rows (`close`, itself S + 1 rows:
//! [`crate::chips::totals`]), block c from row `b = close + (c + 1)·(S + 1)`:
//! ```text
//! | row                  | pnl[col]         | loss[col] | val  | id      | mag                      |
//! | b + j, j < F         | X_{c, jW + col}  | R         | β_c  | worst_c | (row b) worst_c          |
//! | b + 1 + col·F + j    |                  |           |      |         | D_{c,jW+col} = worst_c − X |
//! ```
//! `q_class_bridge` on the closing's F lane rows: `loss(+B) = loss` (B = S + 1: the
//! weighted sums reach block 0 unchanged); `q_class_lane` on each block's F lane rows:
//! `loss(+B) = loss − val·pnl`, β_c carried down them in `val` (the netting chip's carry,
//! whose weight in `flag` is 0 here); `q_class_worst` on row b: `id = mag`; `q_class_slack`
//! on each lane row: `mag(1 + col·F) = id − pnl[col]`, `id(+1) = id`; `q_lanes_end` on the
//! F rows after the last block: `loss = 0`. The circuit range-checks worst_c and each
//! slack `D_{c,s}` of a market scenario to 160 bits: worst_c ≥ 0 and worst_c ≥ L_{c,s}.
//! A worst above the true maximum only raises the requirement.

use halo2_proofs::circuit::{AssignedCell, Layouter, Region, Value};
use halo2_proofs::plonk::{Column, ConstraintSystem, Constraints, Error, Fixed, Selector};
use halo2_proofs::poly::Rotation;

use crate::chips::columns::{cur, next, one, MarginColumns};
use crate::chips::netting::NettingConfig;
use crate::encoding::Fp;
use crate::witness::{ClassPlan, GroupPlan};

/// Selectors and the class-index column of the class rows (over [`MarginColumns`]).
#[derive(Clone, Debug)]
pub struct ClassConfig {
    cols: MarginColumns,
    carry: Selector,
    class_index: Column<Fixed>,
    q_class_weight: Selector,
    q_class_bridge: Selector,
    q_class_lane: Selector,
    q_class_worst: Selector,
    q_class_slack: Selector,
    q_lanes_end: Selector,
}

/// Cells of a group's class blocks that other regions use.
#[derive(Debug)]
pub struct ClassCells {
    /// worst_c per class (160-bit checks; summed into W).
    pub worsts: Vec<AssignedCell<Fp, Fp>>,
    /// D_{c,s} = worst_c − X_{c,s} per class, for each market scenario s (160-bit checks).
    pub slacks: Vec<Vec<AssignedCell<Fp, Fp>>>,
}

/// What the circuit asks of the class chip.
pub trait ClassInstructions {
    /// The class weights β_c = 1/(χ − c) for c < `classes`, from the challenge cell
    /// (`weights` as planned, prover only).
    fn assign_weights(
        &self,
        layouter: &mut impl Layouter<Fp>,
        challenge: &AssignedCell<Fp, Fp>,
        classes: usize,
        weights: Option<&[Fp]>,
    ) -> Result<Vec<AssignedCell<Fp, Fp>>, Error>;
    /// Lays out a group's class blocks after its closing rows at `close`, for the
    /// market's `scenarios`.
    fn assign_blocks(
        &self,
        region: &mut Region<'_, Fp>,
        close: usize,
        weights: &[AssignedCell<Fp, Fp>],
        scenarios: usize,
        group: Option<&GroupPlan>,
    ) -> Result<ClassCells, Error>;
}

/// The class chip.
#[derive(Debug)]
pub struct ClassChip {
    config: ClassConfig,
}

impl ClassChip {
    /// Configures the class rows over `cols`; class blocks carry their weight down with
    /// the netting chip's carry.
    pub fn configure(meta: &mut ConstraintSystem<Fp>, cols: &MarginColumns, netting: &NettingConfig) -> ClassConfig {
        let config = ClassConfig {
            cols: cols.clone(),
            carry: netting.carry(),
            class_index: meta.fixed_column(),
            q_class_weight: meta.selector(),
            q_class_bridge: meta.selector(),
            q_class_lane: meta.selector(),
            q_class_worst: meta.selector(),
            q_class_slack: meta.selector(),
            q_lanes_end: meta.selector(),
        };
        Self::create_gates(meta, &config);
        config
    }

    fn create_gates(meta: &mut ConstraintSystem<Fp>, config: &ClassConfig) {
        let c = &config.cols;
        let block = Rotation(c.block_rows() as i32);
        meta.create_gate("class weight", |m| {
            let q = m.query_selector(config.q_class_weight);
            let class = m.query_fixed(config.class_index);
            Constraints::with_selector(q, [("class weight", cur(m, c.mag) * (cur(m, c.val) - class) - one())])
        });
        meta.create_gate("class bridge", |m| {
            let q = m.query_selector(config.q_class_bridge);
            let constraints: Vec<_> =
                c.loss.iter().map(|&loss| ("lanes reach the class blocks", m.query_advice(loss, block) - cur(m, loss))).collect();
            Constraints::with_selector(q, constraints)
        });
        meta.create_gate("class lane", |m| {
            let q = m.query_selector(config.q_class_lane);
            let weight = cur(m, c.val);
            let constraints: Vec<_> = c
                .pnl
                .iter()
                .zip(&c.loss)
                .map(|(&x, &loss)| {
                    ("class losses taken out", m.query_advice(loss, block) - cur(m, loss) + weight.clone() * cur(m, x))
                })
                .collect();
            Constraints::with_selector(q, constraints)
        });
        meta.create_gate("class worst", |m| {
            let q = m.query_selector(config.q_class_worst);
            Constraints::with_selector(q, [("class worst carried in", cur(m, c.id) - cur(m, c.mag))])
        });
        meta.create_gate("class slack", |m| {
            let q = m.query_selector(config.q_class_slack);
            let worst = cur(m, c.id);
            let f = c.fold() as i32;
            let mut constraints: Vec<_> = c
                .pnl
                .iter()
                .enumerate()
                .map(|(col, &x)| {
                    let slack = m.query_advice(c.mag, Rotation(1 + col as i32 * f));
                    ("class slack", slack - (worst.clone() - cur(m, x)))
                })
                .collect();
            constraints.push(("class worst carried", next(m, c.id) - worst));
            Constraints::with_selector(q, constraints)
        });
        meta.create_gate("lanes end at zero", |m| {
            let q = m.query_selector(config.q_lanes_end);
            let constraints: Vec<_> = c.loss.iter().map(|&loss| ("every class's losses taken out", cur(m, loss))).collect();
            Constraints::with_selector(q, constraints)
        });
    }

    /// A chip for one synthesis pass.
    pub fn construct(config: ClassConfig) -> Self {
        ClassChip { config }
    }
}

impl ClassInstructions for ClassChip {
    fn assign_weights(
        &self,
        layouter: &mut impl Layouter<Fp>,
        challenge: &AssignedCell<Fp, Fp>,
        classes: usize,
        weights: Option<&[Fp]>,
    ) -> Result<Vec<AssignedCell<Fp, Fp>>, Error> {
        let (q, c) = (&self.config, &self.config.cols);
        layouter.assign_region(
            || "class weights",
            |mut region| {
                (0..classes)
                    .map(|k| {
                        q.q_class_weight.enable(&mut region, k)?;
                        region.assign_fixed(|| "class index", q.class_index, k, || Value::known(Fp::from(k as u64)))?;
                        challenge.copy_advice(|| "challenge", &mut region, c.val, k)?;
                        let weight = weights.map_or(Value::unknown(), |w| Value::known(w[k]));
                        region.assign_advice(|| "class weight", c.mag, k, || weight)
                    })
                    .collect()
            },
        )
    }

    fn assign_blocks(
        &self,
        region: &mut Region<'_, Fp>,
        close: usize,
        weights: &[AssignedCell<Fp, Fp>],
        scenarios: usize,
        group: Option<&GroupPlan>,
    ) -> Result<ClassCells, Error> {
        let (q, c) = (&self.config, &self.config.cols);
        let (f, b) = (c.fold(), c.block_rows());
        let classes: Option<&[ClassPlan]> = group.map(|x| &x.classes[..]);
        for j in 0..f {
            q.q_class_bridge.enable(region, close + j)?;
        }
        let mut worsts = Vec::with_capacity(weights.len());
        let mut slacks = Vec::with_capacity(weights.len());
        for (k, weight) in weights.iter().enumerate() {
            let row = close + (k + 1) * b;
            let known = |v: &dyn Fn(&ClassPlan) -> Fp| classes.map_or(Value::unknown(), |p| Value::known(v(&p[k])));
            q.q_class_worst.enable(region, row)?;
            weight.copy_advice(|| "class weight", region, c.val, row)?;
            for j in 0..f {
                q.q_class_lane.enable(region, row + j)?;
                q.q_class_slack.enable(region, row + j)?;
                region.assign_advice(|| "no net weight", c.flag, row + j, || Value::known(Fp::zero()))?;
                if j + 1 < f {
                    q.carry.enable(region, row + j)?;
                    region.assign_advice(|| "class weight carried", c.val, row + j + 1, || known(&|p| p.weight))?;
                }
            }
            region.assign_advice(|| "no net weight", c.flag, row + f, || Value::known(Fp::zero()))?;
            for j in 0..=f {
                region.assign_advice(|| "class worst carried", c.id, row + j, || known(&|p| p.worst))?;
            }
            worsts.push(region.assign_advice(|| "class worst", c.mag, row, || known(&|p| p.worst))?);
            let mut class_slacks = Vec::with_capacity(scenarios);
            for s in 0..c.lanes {
                let (lane_row, col) = c.lane_cell(s);
                region.assign_advice(|| "class loss", c.pnl[col], row + lane_row, || known(&|p| p.losses[s]))?;
                region.assign_advice(|| "lane", c.loss[col], row + lane_row, || known(&|p| p.lanes[s]))?;
                let slack = region.assign_advice(|| "class slack", c.mag, row + c.slack_row(s), || known(&|p| p.slacks[s]))?;
                if s < scenarios {
                    class_slacks.push(slack);
                }
            }
            slacks.push(class_slacks);
        }
        let end = close + (weights.len() + 1) * b;
        for s in 0..c.lanes {
            let (lane_row, col) = c.lane_cell(s);
            region.assign_advice(|| "lane end", c.loss[col], end + lane_row, || Value::known(Fp::zero()))?;
        }
        for j in 0..f {
            q.q_lanes_end.enable(region, end + j)?;
        }
        Ok(ClassCells { worsts, slacks })
    }
}
