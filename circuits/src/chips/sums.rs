//! The sum chip: weighted and plain sums of cells from other regions, the threshold's
//! slack, and the public inputs' entry into the circuit.
//!
//! **Weighted sums** (`q_dot`): `| flag: w | val: v | mag: s |` with `s' = s + w·v`;
//! a plain term (`q_sum`, weight 1) has no weight cell: `s' = s + v`;
//! `q_start_dot` sets `s = 0` on row 0.
//!
//! **Threshold** (`q_threshold`): `| val: T | flag: total | mag: slack |` with
//! `slack = total − T` (range-checked: total ≥ T): the claim's threshold, the equity
//! floor, a class-margined joint worst against a scenario's summed class losses.
//!
//! **Leverage** (`q_leverage`): `| val: Σ equity | flag: λ | entry: Σ gross | mag: slack |`
//! with `slack = λ·Σ equity − 10^18·Σ gross` (range-checked: gross ≤ λ·equity; λ and the
//! gross are 0 when no cap is claimed).
//!
//! **Public inputs** (`q_public`, the circuit's first region, so its row r is the
//! absolute row r): `val = instance` on the same row. Every public value (commitments,
//! group tags, memberships, modes, threshold, binding) reaches the rows that use it by a
//! copy of its `val` cell; the instance column itself takes no copies.

use halo2_proofs::circuit::{AssignedCell, Layouter, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Constraints, Error, Expression, Instance, Selector};
use halo2_proofs::poly::Rotation;

use crate::chips::columns::{cur, next, zero_start, MarginColumns};
use crate::encoding::Fp;
use crate::fixed::MONEY_SCALE;

/// Selectors of the sum rows (over the shared [`MarginColumns`]) and the instance column.
#[derive(Clone, Debug)]
pub struct SumConfig {
    cols: MarginColumns,
    instance: Column<Instance>,
    q_dot: Selector,
    q_sum: Selector,
    q_threshold: Selector,
    q_leverage: Selector,
    q_public: Selector,
    q_start_dot: Selector,
}

/// A weight of a weighted sum.
#[derive(Clone, Copy, Debug)]
pub enum Weight<'a> {
    /// The constant 1 (a plain sum row).
    One,
    /// The value of this cell (a public input).
    Cell(&'a AssignedCell<Fp, Fp>),
}

/// What the circuit asks of the sum chip.
pub trait SumInstructions {
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
    /// λ·equity − 10^18·gross with λ the public `cap` cell, `slack` as planned; returns the
    /// slack cell to range-check.
    fn leverage_slack(
        &self,
        layouter: &mut impl Layouter<Fp>,
        equity: &AssignedCell<Fp, Fp>,
        cap: &AssignedCell<Fp, Fp>,
        gross: &AssignedCell<Fp, Fp>,
        slack: Option<Fp>,
    ) -> Result<AssignedCell<Fp, Fp>, Error>;
    /// The `count` public inputs as cells holding `values` (prover only; the gate ties
    /// each to its instance row): the first region of the circuit, so that its row r is
    /// instance row r.
    fn load_public(&self, layouter: &mut impl Layouter<Fp>, count: usize, values: Option<&[Fp]>)
        -> Result<Vec<AssignedCell<Fp, Fp>>, Error>;
}

/// The sum chip.
#[derive(Debug)]
pub struct SumChip {
    config: SumConfig,
}

impl SumChip {
    /// Configures the sum rows over `cols`; `instance` is the public column.
    pub fn configure(meta: &mut ConstraintSystem<Fp>, cols: &MarginColumns, instance: Column<Instance>) -> SumConfig {
        let config = SumConfig {
            cols: cols.clone(),
            instance,
            q_dot: meta.selector(),
            q_sum: meta.selector(),
            q_threshold: meta.selector(),
            q_leverage: meta.selector(),
            q_public: meta.selector(),
            q_start_dot: meta.selector(),
        };
        Self::create_gates(meta, &config);
        config
    }

    fn create_gates(meta: &mut ConstraintSystem<Fp>, config: &SumConfig) {
        let c = &config.cols;
        meta.create_gate("weighted sum", |m| {
            let q = m.query_selector(config.q_dot);
            let (w, v, s) = (cur(m, c.flag), cur(m, c.val), cur(m, c.mag));
            let s_next = next(m, c.mag);
            Constraints::with_selector(q, [("accumulate", s_next - s - w * v)])
        });

        meta.create_gate("plain sum", |m| {
            let q = m.query_selector(config.q_sum);
            let (v, s, s_next) = (cur(m, c.val), cur(m, c.mag), next(m, c.mag));
            Constraints::with_selector(q, [("accumulate", s_next - s - v)])
        });

        // The public inputs enter on the rows of the first region, row r of `val` equal to
        // instance row r (so the instance column needs no equality: its values reach the
        // rest of the circuit by copies of these `val` cells).
        meta.create_gate("public input", |m| {
            let q = m.query_selector(config.q_public);
            let public = m.query_instance(config.instance, Rotation::cur());
            Constraints::with_selector(q, [("val is the instance", cur(m, c.val) - public)])
        });

        meta.create_gate("threshold", |m| {
            let q = m.query_selector(config.q_threshold);
            let (threshold, total, slack) = (cur(m, c.val), cur(m, c.flag), cur(m, c.mag));
            Constraints::with_selector(q, [("slack", slack - (total - threshold))])
        });

        meta.create_gate("leverage", |m| {
            let q = m.query_selector(config.q_leverage);
            let (equity, cap, gross, slack) = (cur(m, c.val), cur(m, c.flag), cur(m, c.entry), cur(m, c.mag));
            let scale = Expression::Constant(crate::chips::columns::fp(MONEY_SCALE * MONEY_SCALE * MONEY_SCALE));
            Constraints::with_selector(q, [("slack", slack - (cap * equity - scale * gross))])
        });

        zero_start(meta, "weighted sum starts at zero", config.q_start_dot, vec![c.mag]);
    }

    /// A chip for one synthesis pass.
    pub fn construct(config: SumConfig) -> Self {
        SumChip { config }
    }

    /// One row under `selector`: each cell copied into its column, and the `slack`
    /// witnessed in `mag` (the row's result, which the caller range-checks).
    fn slack_row(
        &self,
        layouter: &mut impl Layouter<Fp>,
        name: &str,
        selector: Selector,
        copies: &[(Column<Advice>, &AssignedCell<Fp, Fp>)],
        slack: Option<Fp>,
    ) -> Result<AssignedCell<Fp, Fp>, Error> {
        let mag = self.config.cols.mag;
        layouter.assign_region(
            || name,
            |mut region| {
                selector.enable(&mut region, 0)?;
                for &(column, cell) in copies {
                    cell.copy_advice(|| name, &mut region, column, 0)?;
                }
                region.assign_advice(|| "slack", mag, 0, || slack.map_or(Value::unknown(), Value::known))
            },
        )
    }
}

impl SumInstructions for SumChip {
    fn weighted_sum(&self, layouter: &mut impl Layouter<Fp>, terms: &[(Weight<'_>, &AssignedCell<Fp, Fp>)], sums: Option<&[Fp]>)
        -> Result<AssignedCell<Fp, Fp>, Error> {
        let (q, c) = (&self.config, &self.config.cols);
        layouter.assign_region(
            || "weighted sum",
            |mut region| {
                q.q_start_dot.enable(&mut region, 0)?;
                let mut sum = region.assign_advice(|| "sum", c.mag, 0, || Value::known(Fp::zero()))?;
                for (r, (weight, value)) in terms.iter().enumerate() {
                    match weight {
                        Weight::One => q.q_sum.enable(&mut region, r)?,
                        Weight::Cell(w) => {
                            q.q_dot.enable(&mut region, r)?;
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
        let c = &self.config.cols;
        self.slack_row(layouter, "threshold", self.config.q_threshold, &[(c.val, threshold), (c.flag, total)], slack)
    }

    fn leverage_slack(
        &self,
        layouter: &mut impl Layouter<Fp>,
        equity: &AssignedCell<Fp, Fp>,
        cap: &AssignedCell<Fp, Fp>,
        gross: &AssignedCell<Fp, Fp>,
        slack: Option<Fp>,
    ) -> Result<AssignedCell<Fp, Fp>, Error> {
        let c = &self.config.cols;
        self.slack_row(layouter, "leverage", self.config.q_leverage, &[(c.val, equity), (c.flag, cap), (c.entry, gross)], slack)
    }

    fn load_public(&self, layouter: &mut impl Layouter<Fp>, count: usize, values: Option<&[Fp]>)
        -> Result<Vec<AssignedCell<Fp, Fp>>, Error> {
        let (q, c) = (&self.config, &self.config.cols);
        layouter.assign_region(
            || "public inputs",
            |mut region| {
                (0..count)
                    .map(|r| {
                        q.q_public.enable(&mut region, r)?;
                        let value = values.map_or(Value::unknown(), |v| Value::known(v[r]));
                        region.assign_advice(|| "public", c.val, r, || value)
                    })
                    .collect()
            },
        )
    }
}
