//! The margin circuit: collateral sufficiency over committed private positions.
//!
//! Public inputs are laid out by [`crate::statement::PublicLayout`]. The circuit proves:
//!
//! 1. each account slot's commitment opens to the positions and collateral laid out in
//!    its rows (a Poseidon sponge over packed entries, two per permutation,
//!    [`crate::commitment`]), each quantity within ±2^69;
//! 2. each group slot's net rows hold, per instrument, the sum of the quantities its
//!    accounts hold (a logUp argument keyed by instrument id and group tag, with the
//!    challenge hashed from every commitment and every packed net row, so neither side
//!    can be chosen after it);
//! 3. each net row's mark, rates and scenario P&L are the market's (lookup into fixed
//!    tables built from the snapshot, so the verifying key pins the market);
//! 4. each group's equity, requirement and excess follow SPEC section 5 exactly, and
//!    the excess is ≥ 0; the sum of excesses is ≥ the threshold.
//!
//! The circuit is generic over the number of scenario lanes `S` (one of
//! [`crate::shape::SCENARIO_LANES`]), since halo2 fixes columns at configuration time.

use halo2_proofs::circuit::{AssignedCell, Cell, Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::plonk::{
    Advice, Any, Assigned, Assignment, Circuit, Column, ConstraintSystem, Error, Fixed, FloorPlanner, Instance, Selector,
};

use crate::chips::hash::{Absorption, Active, Geometry, HashChip, HashConfig, HashInstructions, SpongeRun, Word};
use crate::chips::account::{AccountChip, AccountConfig, AccountInstructions};
use crate::chips::columns::MarginColumns;
use crate::chips::market::{MarketTableChip, MarketTableConfig, MarketTableInstructions};
use crate::chips::netting::{NettingChip, NettingConfig, NettingInstructions};
use crate::chips::sums::{SumChip, SumConfig, SumInstructions, Weight};
use crate::chips::totals::{GroupTotalChip, GroupTotalConfig, GroupTotalInstructions};
use crate::chips::range::{RangeCheckChip, RangeCheckConfig, RangeInstructions, WORD_BITS};
use crate::encoding::Fp;
use crate::commitment::{challenge_capacity, commit_capacity, nets_capacity};
use crate::shape::Shape;
use crate::sponges::SpongePlan;
use crate::statement::{PublicLayout, BINDING, THRESHOLD};
use crate::tables::MarketTables;
use crate::witness::Plan;

/// Poseidon lanes laid side by side.
pub const HASH_LANES: usize = 3;

/// The lanes beside the margin rows: how many range-check lanes, and how the hash lanes
/// lay out a permutation. Halo2 fixes columns before it sees a shape, so the circuit
/// type carries the choice (`MarginCircuit<S, WIDE>`) and [`size`] makes it per shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Range-check lanes.
    pub range_lanes: usize,
    /// Partial rounds per hash row.
    pub geometry: Geometry,
}

impl Layout {
    /// Fewest columns: 2 range lanes, 38-row hash blocks (small and medium books).
    pub const COMPACT: Layout = Layout { range_lanes: 2, geometry: Geometry::COMPACT };
    /// Fewest rows: 3 range lanes, 29-row hash blocks (a large book one k lower).
    pub const WIDE: Layout = Layout { range_lanes: 3, geometry: Geometry::WIDE };

    /// The layout of `MarginCircuit<S, wide>`.
    pub const fn of(wide: bool) -> Layout {
        if wide {
            Layout::WIDE
        } else {
            Layout::COMPACT
        }
    }
}

/// The rows of the layout [`size`] picks for `shape` over `tables`, and whether it is the
/// wide one (for reports).
pub fn layout_rows(shape: &Shape, tables: &MarketTables) -> (Rows, bool) {
    let wide = size(shape, tables).wide;
    let rows = crate::with_circuit!(tables.lanes, wide, S, W => {
        MarginCircuit::<S, W> { shape: *shape, tables: tables.clone(), plan: None }.rows()
    });
    (rows, wide)
}

/// How a shape is laid out: its k and whether in the wide layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizing {
    /// Rows are 2^k.
    pub k: u32,
    /// The wide layout ([`Layout::WIDE`]).
    pub wide: bool,
}

/// The k and layout of `shape` (its own k ignored) over `tables`: the compact layout
/// unless the wide one needs a smaller k. Exact (layout passes that commit nothing: the
/// wide one only where the compact one needs more rows than the tables), and the same
/// for the prover and every verifier.
pub fn size(shape: &Shape, tables: &MarketTables) -> Sizing {
    crate::with_lanes!(tables.lanes, S => {
        let compact = MarginCircuit::<S, false> { shape: *shape, tables: tables.clone(), plan: None }.min_k();
        // The wide layout saves lane rows, not table rows: no gain where the tables set k.
        if compact <= estimated_k(tables.instruments.len(), tables.assets.len()) {
            return Sizing { k: compact, wide: false };
        }
        let wide = MarginCircuit::<S, true> { shape: *shape, tables: tables.clone(), plan: None }.min_k();
        if wide < compact {
            Sizing { k: wide, wide: true }
        } else {
            Sizing { k: compact, wide: false }
        }
    })
}

/// Words (of 10 bits) of each range check; see the bounds in [`crate::chips::columns`].
pub mod words {
    /// qty + 2^69 < 2^70.
    pub const QUANTITY: usize = 7;
    /// Collateral |x| < 2^70 (so both sign parts are).
    pub const AMOUNT: usize = 7;
    /// Net |n| < 2^80 (so both sign parts are).
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
    market: MarketTableConfig,
    accounts: AccountConfig,
    netting: NettingConfig,
    totals: GroupTotalConfig,
    sums: SumConfig,
    range: RangeCheckConfig,
    hash: HashConfig,
}

/// The margin circuit for a shape and a market at one level; `plan` is the witness
/// (absent for key generation).
#[derive(Clone, Debug)]
pub struct MarginCircuit<const S: usize, const WIDE: bool = false> {
    /// Circuit shape.
    pub shape: Shape,
    /// Market tables at the statement's level.
    pub tables: MarketTables,
    /// Every cell value (prover only).
    pub plan: Option<Plan>,
}

/// A layout pass that commits nothing: it records the highest row any region or table
/// touches.
#[derive(Default)]
struct RowCounter {
    rows: usize,
}

impl RowCounter {
    fn touch(&mut self, row: usize) {
        self.rows = self.rows.max(row + 1);
    }
}

impl Assignment<Fp> for RowCounter {
    fn enter_region<NR: Into<String>, N: FnOnce() -> NR>(&mut self, _: N) {}
    fn exit_region(&mut self) {}
    fn enable_selector<A: FnOnce() -> AR, AR: Into<String>>(&mut self, _: A, _: &Selector, row: usize) -> Result<(), Error> {
        self.touch(row);
        Ok(())
    }
    fn query_instance(&self, _: Column<Instance>, _: usize) -> Result<Value<Fp>, Error> {
        Ok(Value::unknown())
    }
    fn assign_advice<V, VR, A, AR>(&mut self, _: A, _: Column<Advice>, row: usize, _: V) -> Result<(), Error>
    where
        V: FnOnce() -> Value<VR>,
        VR: Into<Assigned<Fp>>,
        A: FnOnce() -> AR,
        AR: Into<String>,
    {
        self.touch(row);
        Ok(())
    }
    fn assign_fixed<V, VR, A, AR>(&mut self, _: A, _: Column<Fixed>, row: usize, _: V) -> Result<(), Error>
    where
        V: FnOnce() -> Value<VR>,
        VR: Into<Assigned<Fp>>,
        A: FnOnce() -> AR,
        AR: Into<String>,
    {
        self.touch(row);
        Ok(())
    }
    fn copy(&mut self, _: Column<Any>, left: usize, _: Column<Any>, right: usize) -> Result<(), Error> {
        self.touch(left.max(right));
        Ok(())
    }
    fn fill_from_row(&mut self, _: Column<Fixed>, row: usize, _: Value<Assigned<Fp>>) -> Result<(), Error> {
        self.touch(row);
        Ok(())
    }
    fn push_namespace<NR: Into<String>, N: FnOnce() -> NR>(&mut self, _: N) {}
    fn pop_namespace(&mut self, _: Option<String>) {}
}

/// The exact size of a circuit's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rows {
    /// Rows the layout uses (regions and tables).
    pub used: usize,
    /// Rows halo2 reserves at the end (blinding factors and the last row).
    pub reserved: usize,
    /// Smallest total the constraint system accepts.
    pub minimum: usize,
}

impl Rows {
    /// The smallest k whose 2^k rows hold the layout.
    pub fn k(&self) -> u32 {
        let needed = (self.used + self.reserved).max(self.minimum);
        needed.next_power_of_two().trailing_zeros()
    }
}

/// A lower bound on k from the market alone: the instrument table (one row per
/// instrument and the padding row) and the 10-bit range table must fit. Cheap, so a
/// verifier refuses an impossible shape before any work; [`MarginCircuit::rows`] gives
/// the exact figure.
pub fn estimated_k(instruments: usize, assets: usize) -> u32 {
    let table_rows = (instruments.max(assets) + 1).max(1 << WORD_BITS);
    (table_rows + 8).next_power_of_two().trailing_zeros()
}

impl<const S: usize, const WIDE: bool> MarginCircuit<S, WIDE> {
    /// The exact rows of this circuit's layout (a synthesis pass that commits nothing).
    pub fn rows(&self) -> Rows {
        let mut cs = ConstraintSystem::default();
        let config = Self::configure(&mut cs);
        let mut counter = RowCounter::default();
        let circuit = self.without_witnesses();
        SimpleFloorPlanner::synthesize(&mut counter, &circuit, config, vec![]).expect("a layout pass cannot fail");
        Rows { used: counter.rows, reserved: cs.blinding_factors() + 1, minimum: cs.minimum_rows() }
    }

    /// The smallest k that holds this circuit ([`Rows::k`]).
    pub fn min_k(&self) -> u32 {
        self.rows().k()
    }
}

/// Terms of a plain sum: every cell with weight 1.
fn ones(cells: &[AssignedCell<Fp, Fp>]) -> Vec<(Weight<'_>, &AssignedCell<Fp, Fp>)> {
    cells.iter().map(|x| (Weight::One, x)).collect()
}


impl<const S: usize, const WIDE: bool> Circuit<Fp> for MarginCircuit<S, WIDE> {
    type Config = MarginCircuitConfig;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        MarginCircuit { shape: self.shape, tables: self.tables.clone(), plan: None }
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> Self::Config {
        // No constants column: zeros and ones come from gates (see the chips), and the
        // public inputs enter through one region (so neither column needs equality).
        let instance = meta.instance_column();
        let columns = MarginColumns::configure(meta, S);
        let market = MarketTableChip::configure(meta, S);
        let accounts = AccountChip::configure(meta, &columns, &market);
        let netting = NettingChip::configure(meta, &columns, &market);
        let totals = GroupTotalChip::configure(meta, &columns);
        let sums = SumChip::configure(meta, &columns, instance);
        let layout = Layout::of(WIDE);
        let range_lanes: Vec<_> = (0..layout.range_lanes).map(|_| meta.advice_column()).collect();
        let range = RangeCheckChip::configure(meta, &range_lanes);
        let hash = HashChip::configure(meta, HASH_LANES, layout.geometry);
        MarginCircuitConfig { market, accounts, netting, totals, sums, range, hash }
    }

    fn synthesize(&self, config: Self::Config, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        assert_eq!(self.tables.lanes, S, "market tables must have S lanes");
        // Every slot must sit in an absorption (see Shape::check_limits).
        if self.shape.check_limits().is_err() {
            return Err(Error::Synthesis);
        }
        let shape = &self.shape;
        let layout = PublicLayout::new(shape);
        let plan = self.plan.as_ref();
        let market = MarketTableChip::construct(config.market);
        let accounts = AccountChip::construct(config.accounts);
        let netting = NettingChip::construct(config.netting);
        let totals = GroupTotalChip::construct(config.totals);
        let sums = SumChip::construct(config.sums);
        let range = RangeCheckChip::construct(config.range);
        let hash = HashChip::construct(config.hash);
        let layouter = &mut layouter;
        // The public inputs first: the region must start at row 0 (see `load_public`).
        let public = sums.load_public(layouter, layout.len(), plan.map(|p| &p.public[..]))?;
        market.load_tables(layouter, &self.tables)?;
        range.load_table(layouter)?;
        let binding = public[BINDING].clone();

        // Cells that must be equal, linked in one region at the end.
        let mut links: Vec<(Cell, Cell)> = Vec::new();
        // The sponges (crate::sponges), run in the hash lanes once every absorbed cell exists.
        let sponges = SpongePlan::new(shape, HASH_LANES);
        let mut runs: Vec<SpongeRun> = Vec::with_capacity(shape.accounts + sponges.net_chunks.len() + 1);
        let mut net_absorptions: Vec<Absorption> = Vec::new();
        let mut challenge_cells = Vec::new();
        let mut account_values = Vec::with_capacity(shape.accounts);
        let mut account_logups = Vec::with_capacity(shape.accounts);

        // 1. Account commitments: header, positions and collateral through the sponge.
        for a in 0..shape.accounts {
            let account = plan.map(|p| &p.accounts[a]);
            let positions = accounts.assign_positions(layouter, shape.positions, account, &public[layout.group_tag(a)])?;
            for offset in &positions.offsets {
                range.check_words(layouter, offset, words::QUANTITY)?;
            }
            let collateral = accounts.assign_collateral(layouter, shape.collateral, account)?;
            for mag in &collateral.mags {
                range.check_words(layouter, mag, words::AMOUNT)?;
            }
            let absorptions = positions.absorptions.into_iter().chain(collateral.absorptions).collect();
            runs.push(SpongeRun { capacity: commit_capacity(), absorptions });
            account_values.push(collateral.value);
            account_logups.push(positions.logup);
            challenge_cells.push(positions.challenge);
        }

        // 2. Net rows per group: netting (logUp), market lookups, scenario losses, the
        //    worst loss, requirement and excess ≥ 0; every net row goes into a net sponge.
        let mut excesses = Vec::with_capacity(shape.groups);
        let mut group_logups = Vec::with_capacity(shape.groups);
        for g in 0..shape.groups {
            let terms: Vec<(Weight<'_>, &AssignedCell<Fp, Fp>)> =
                account_values.iter().enumerate().map(|(a, v)| (Weight::Cell(&public[layout.membership(a, g)]), v)).collect();
            let group = plan.map(|p| &p.groups[g]);
            let collateral = sums.weighted_sum(layouter, &terms, group.map(|x| &x.collateral_sums[..]))?;
            // One region: the net rows, then the closing rows that read their final sums.
            let (nets, closing) = layouter.assign_region(
                || format!("group {g}"),
                |mut region| {
                    let nets = netting.assign_net_rows(&mut region, g, shape.nets, group)?;
                    let mode = &public[layout.mode(g)];
                    let closing = totals.assign_totals(&mut region, nets.close, group, self.tables.loss_factor, &collateral, mode)?;
                    Ok((nets, closing))
                },
            )?;
            net_absorptions.extend(nets.absorptions);
            for mag in &nets.mags {
                range.check_words(layouter, mag, words::NET)?;
            }
            range.check_words(layouter, &closing.worst, words::LOSS)?;
            for slack in &closing.slack {
                range.check_words(layouter, slack, words::LOSS)?;
            }
            range.check_words(layouter, &closing.excess, words::EXCESS)?;
            excesses.push(closing.excess);
            group_logups.push(closing.logup);
            challenge_cells.push(closing.challenge);
        }

        // 3. Σ excess ≥ T.
        let terms = ones(&excesses);
        let total = sums.weighted_sum(layouter, &terms, plan.map(|p| &p.excess_sums[..]))?;
        let slack = sums.threshold_slack(layouter, &total, &public[THRESHOLD], plan.map(|p| p.threshold_slack))?;
        range.check_words(layouter, &slack, words::TOTAL)?;

        // 4. logUp balance: Σ over position rows = Σ over net rows.
        let terms = ones(&account_logups);
        let from_positions = sums.weighted_sum(layouter, &terms, plan.map(|p| &p.position_logup_sums[..]))?;
        let terms = ones(&group_logups);
        let from_nets = sums.weighted_sum(layouter, &terms, plan.map(|p| &p.net_logup_sums[..]))?;
        links.push((from_positions.cell(), from_nets.cell()));

        // 5. The sponges: each account's commitment (a public input), the net chunks, and
        //    the challenge over the commitments, the chunks' digests and the binding.
        let mut net_absorptions = net_absorptions.into_iter();
        for len in &sponges.net_chunks {
            runs.push(SpongeRun { capacity: nets_capacity(), absorptions: net_absorptions.by_ref().take(*len).collect() });
        }
        let mut message: Vec<Word> = (0..runs.len()).map(Word::Output).collect();
        message.push(Word::Cell(binding));
        if message.len() % 2 == 1 {
            message.push(Word::Zero);
        }
        let absorptions =
            message.chunks(2).map(|p| Absorption { words: [p[0].clone(), p[1].clone()], active: Active::Always }).collect();
        runs.push(SpongeRun { capacity: challenge_capacity(), absorptions });
        let outputs = hash.sponges(layouter, &runs, &sponges.placement)?;
        for (a, commitment) in outputs[..shape.accounts].iter().enumerate() {
            links.push((commitment.cell(), public[layout.commitment(a)].cell()));
        }
        let derived = &outputs[sponges.challenge_run(shape.accounts)];
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

/// Runs `$body` with `$lanes` (a runtime lane count) bound as the const `$S` and
/// `$wide` (a runtime [`Sizing::wide`]) as the const `$W`.
///
/// ```ignore
/// with_circuit!(shape.scenarios, sizing.wide, S, W => MarginCircuit::<S, W> { .. })
/// ```
#[macro_export]
macro_rules! with_circuit {
    ($lanes:expr, $wide:expr, $S:ident, $W:ident => $body:expr) => {
        if $wide {
            const $W: bool = true;
            $crate::with_lanes!($lanes, $S => $body)
        } else {
            const $W: bool = false;
            $crate::with_lanes!($lanes, $S => $body)
        }
    };
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
