//! The margin circuit: collateral sufficiency over committed private positions.
//!
//! Public inputs are laid out by [`crate::statement::PublicLayout`]. The circuit proves:
//!
//! 1. each account slot's commitment opens to the positions and collateral laid out in
//!    its rows (Poseidon chain, [`crate::commitment`]), each quantity within ±2^69;
//! 2. each group slot's net rows hold, per instrument, the sum of the quantities its
//!    accounts hold (a logUp argument keyed by instrument id and group tag, with the
//!    challenge hashed from every commitment and every net row, so neither side can be
//!    chosen after it);
//! 3. each net row's mark, rates and scenario P&L are the market's (lookup into fixed
//!    tables built from the snapshot, so the verifying key pins the market);
//! 4. each group's equity, requirement and excess follow SPEC section 5 exactly, and
//!    the excess is ≥ 0; the sum of excesses is ≥ the threshold.
//!
//! The circuit is generic over the number of scenario lanes `S` (one of
//! [`crate::shape::SCENARIO_LANES`]), since halo2 fixes columns at configuration time.

use halo2_proofs::circuit::{AssignedCell, Cell, Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};

use crate::chips::hash::{HashChip, HashConfig, HashInstructions};
use crate::chips::margin::{MarginChip, MarginConfig, MarginInstructions, Weight};
use crate::chips::range::{RangeCheckChip, RangeCheckConfig, RangeInstructions, WORD_BITS};
use crate::encoding::Fp;
use crate::shape::Shape;
use crate::statement::{PublicLayout, BINDING, THRESHOLD};
use crate::tables::MarketTables;
use crate::witness::Plan;

/// Poseidon lanes laid side by side.
pub const HASH_LANES: usize = 8;
/// Range-check lanes laid side by side.
pub const RANGE_LANES: usize = 3;

/// Words (of 10 bits) of each range check; see the bounds in [`crate::chips::margin`].
pub mod words {
    /// qty + 2^69 < 2^70.
    pub const QUANTITY: usize = 7;
    /// Collateral parts < 2^70.
    pub const AMOUNT: usize = 7;
    /// Net parts < 2^80.
    pub const NET: usize = 8;
    /// worst and worst − loss < 2^160.
    pub const LOSS: usize = 16;
    /// Group excess < 2^200.
    pub const EXCESS: usize = 20;
    /// Total excess − threshold < 2^210.
    pub const TOTAL: usize = 21;
}

/// Columns of the whole circuit.
#[derive(Clone, Debug)]
pub struct MarginCircuitConfig {
    margin: MarginConfig,
    range: RangeCheckConfig,
    hash: HashConfig,
}

/// The margin circuit for a shape and a market at one level; `plan` is the witness
/// (absent for key generation).
#[derive(Clone, Debug)]
pub struct MarginCircuit<const S: usize> {
    /// Circuit shape.
    pub shape: Shape,
    /// Market tables at the statement's level.
    pub tables: MarketTables,
    /// Every cell value (prover only).
    pub plan: Option<Plan>,
}

/// Rows the layout of `shape` needs with `lanes` scenario lanes and tables of
/// `instruments` and `assets` rows, estimated from above for the margin and range
/// columns and closely for the hash lanes. The prover searches for k from here up, so a
/// proof's k is never below [`estimated_k`] of its shape.
pub fn estimated_rows(s: &Shape, lanes: usize, instruments: usize, assets: usize) -> usize {
    {
        let hashes = s.accounts * (2 + 2 * (s.positions + s.collateral)) + 2 * s.groups * s.nets + s.accounts;
        let hash_rows = hashes * 40 / HASH_LANES + 40;
        let range_rows = {
            let per_account = s.positions * (words::QUANTITY + 1) + 2 * s.collateral * (words::AMOUNT + 1);
            let per_group = 2 * s.nets * (words::NET + 1) + (lanes + 1) * (words::LOSS + 1) + words::EXCESS + 1;
            (s.accounts * per_account + s.groups * per_group + words::TOTAL + 1) / RANGE_LANES + words::TOTAL
        };
        let margin_rows = s.accounts * (s.positions + s.collateral + 5)
            + s.groups * (s.nets + 1 + s.accounts + 2)
            + 3 * (s.accounts.max(s.groups) + 2)
            + 4;
        let table_rows = (instruments.max(assets) + 1).max(1 << WORD_BITS);
        hash_rows.max(range_rows).max(margin_rows).max(table_rows)
    }
}

/// The smallest k whose usable rows hold [`estimated_rows`].
pub fn estimated_k(s: &Shape, lanes: usize, instruments: usize, assets: usize) -> u32 {
    let needed = estimated_rows(s, lanes, instruments, assets) + 10; // blinding rows and the last-row margin
    needed.next_power_of_two().trailing_zeros()
}

impl<const S: usize> MarginCircuit<S> {
    /// [`estimated_k`] of this circuit's shape and tables.
    pub fn estimated_k(&self) -> u32 {
        estimated_k(&self.shape, S, self.tables.instruments.len(), self.tables.assets.len())
    }
}

/// Terms of a plain sum: every cell with weight 1.
fn ones(cells: &[AssignedCell<Fp, Fp>]) -> Vec<(Weight, &AssignedCell<Fp, Fp>)> {
    cells.iter().map(|x| (Weight::One, x)).collect()
}

fn known(plan: Option<&Plan>, f: impl FnOnce(&Plan) -> Fp) -> Value<Fp> {
    plan.map_or(Value::unknown(), |p| Value::known(f(p)))
}

impl<const S: usize> Circuit<Fp> for MarginCircuit<S> {
    type Config = MarginCircuitConfig;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        MarginCircuit { shape: self.shape, tables: self.tables.clone(), plan: None }
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> Self::Config {
        let instance = meta.instance_column();
        let constants = meta.fixed_column();
        meta.enable_constant(constants);
        let margin = MarginChip::configure(meta, S, instance);
        let range_lanes: Vec<_> = (0..RANGE_LANES).map(|_| meta.advice_column()).collect();
        let range = RangeCheckChip::configure(meta, &range_lanes);
        let hash = HashChip::configure(meta, HASH_LANES);
        MarginCircuitConfig { margin, range, hash }
    }

    fn synthesize(&self, config: Self::Config, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        assert_eq!(self.tables.lanes, S, "market tables must have S lanes");
        let shape = &self.shape;
        let layout = PublicLayout::new(shape);
        let plan = self.plan.as_ref();
        let instance = config.margin.instance();
        let margin = MarginChip::construct(config.margin);
        let range = RangeCheckChip::construct(config.range);
        let hash = HashChip::construct(config.hash);
        let layouter = &mut layouter;
        margin.load_tables(layouter, &self.tables)?;
        range.load_table(layouter)?;
        let binding = margin.bind_instance(layouter, BINDING)?;

        // Cells that must be equal, linked in one region at the end.
        let mut links: Vec<(Cell, Cell)> = Vec::new();
        let mut challenge_cells = Vec::new();
        let mut commitments = Vec::with_capacity(shape.accounts);
        let mut account_values = Vec::with_capacity(shape.accounts);
        let mut account_logups = Vec::with_capacity(shape.accounts);

        for a in 0..shape.accounts {
            let account = plan.map(|p| &p.accounts[a]);
            let names = margin.witness_values(
                layouter,
                &[
                    known(plan, |p| p.accounts[a].venue),
                    known(plan, |p| p.accounts[a].account),
                    known(plan, |p| p.accounts[a].salt),
                ],
            )?;
            let positions =
                margin.assign_positions(layouter, shape.positions, account.map(|x| &x.positions[..]), layout.group_tag(a))?;
            let collateral = margin.assign_collateral(layouter, shape.collateral, account.map(|x| &x.collateral[..]))?;

            // The commitment chain: names and salt, then every position and collateral slot.
            let start = hash.hash3(layouter, [&names[0], &names[1], &names[2]])?;
            links.push((start.cell(), positions.chains[0].cell()));
            for r in 0..shape.positions {
                let leaf = hash.hash2(layouter, &positions.ids[r], &positions.qtys[r])?;
                let next = hash.hash2(layouter, &positions.chains[r], &leaf)?;
                links.push((next.cell(), positions.hashed[r].cell()));
                range.check_words(layouter, &positions.offsets[r], words::QUANTITY)?;
            }
            links.push((positions.chains[shape.positions].cell(), collateral.chains[0].cell()));
            for r in 0..shape.collateral {
                let leaf = hash.hash2(layouter, &collateral.ids[r], &collateral.amounts[r])?;
                let next = hash.hash2(layouter, &collateral.chains[r], &leaf)?;
                links.push((next.cell(), collateral.hashed[r].cell()));
            }
            for part in &collateral.parts {
                range.check_words(layouter, part, words::AMOUNT)?;
            }
            let commitment = collateral.chains[shape.collateral].clone();
            layouter.constrain_instance(commitment.cell(), instance, layout.commitment(a))?;
            commitments.push(commitment);
            account_values.push(collateral.value);
            account_logups.push(positions.logup);
            challenge_cells.push(positions.challenge);
        }

        let mut net_chain = margin.zero(layouter)?;
        let mut excesses = Vec::with_capacity(shape.groups);
        let mut group_logups = Vec::with_capacity(shape.groups);
        for g in 0..shape.groups {
            let terms: Vec<(Weight, &AssignedCell<Fp, Fp>)> =
                account_values.iter().enumerate().map(|(a, v)| (Weight::Instance(layout.membership(a, g)), v)).collect();
            let group = plan.map(|p| &p.groups[g]);
            let collateral = margin.weighted_sum(layouter, &terms, group.map(|x| &x.collateral_sums[..]))?;
            let cells = margin.assign_group(
                layouter,
                g,
                shape.nets,
                group.map(|x| &x.rows[..]),
                group.map(|x| &x.totals),
                self.tables.loss_factor,
                &collateral,
                layout.mode(g),
            )?;
            for r in 0..shape.nets {
                let leaf = hash.hash2(layouter, &cells.ids[r], &cells.nets[r])?;
                net_chain = hash.hash2(layouter, &net_chain, &leaf)?;
            }
            for part in &cells.parts {
                range.check_words(layouter, part, words::NET)?;
            }
            range.check_words(layouter, &cells.worst, words::LOSS)?;
            for slack in &cells.slack {
                range.check_words(layouter, slack, words::LOSS)?;
            }
            range.check_words(layouter, &cells.excess, words::EXCESS)?;
            excesses.push(cells.excess);
            group_logups.push(cells.logup);
            challenge_cells.push(cells.challenge);
        }

        // Σ excess ≥ T.
        let terms = ones(&excesses);
        let total = margin.weighted_sum(layouter, &terms, plan.map(|p| &p.excess_sums[..]))?;
        let slack = margin.threshold_slack(layouter, &total, THRESHOLD, plan.map(|p| p.threshold_slack))?;
        range.check_words(layouter, &slack, words::TOTAL)?;

        // logUp balance: Σ over position rows = Σ over net rows.
        let terms = ones(&account_logups);
        let from_positions = margin.weighted_sum(layouter, &terms, plan.map(|p| &p.position_logup_sums[..]))?;
        let terms = ones(&group_logups);
        let from_nets = margin.weighted_sum(layouter, &terms, plan.map(|p| &p.net_logup_sums[..]))?;
        links.push((from_positions.cell(), from_nets.cell()));

        // The challenge: H(H(commitment chain, net chain), binding), used by every region.
        let mut com_chain = commitments[0].clone();
        for c in &commitments[1..] {
            com_chain = hash.hash2(layouter, &com_chain, c)?;
        }
        let derived = hash.hash2(layouter, &com_chain, &net_chain)?;
        let derived = hash.hash2(layouter, &derived, &binding)?;
        for cell in &challenge_cells {
            links.push((derived.cell(), cell.cell()));
        }

        layouter.assign_region(
            || "links",
            |mut region| {
                for (x, y) in &links {
                    region.constrain_equal(*x, *y)?;
                }
                Ok(())
            },
        )
    }
}

/// Runs `$body` with `$lanes` (a runtime lane count) bound as the const `$S`.
///
/// ```ignore
/// with_lanes!(shape.scenarios, S => MarginCircuit::<S> { .. })
/// ```
#[macro_export]
macro_rules! with_lanes {
    ($lanes:expr, $S:ident => $body:expr) => {
        match $lanes {
            8 => {
                const $S: usize = 8;
                $body
            }
            16 => {
                const $S: usize = 16;
                $body
            }
            32 => {
                const $S: usize = 32;
                $body
            }
            other => panic!("unsupported scenario lane count {other}"),
        }
    };
}
