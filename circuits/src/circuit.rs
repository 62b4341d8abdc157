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
//! 3. each net row's mark, rates, notional, risk class and scenario P&L are the market's
//!    (lookup into fixed tables built from the snapshot, so the verifying key pins the
//!    market), and each collateral entry's tiers and haircuts the asset's;
//! 4. each group's equity, requirement and excess follow SPEC section 5 exactly (risk
//!    classes margined apart where the market's offset asks it, [`crate::chips::classes`]),
//!    and the excess is ≥ 0; the sum of excesses is ≥ the threshold;
//! 5. the covenants of SPEC section 10: every group's equity ≥ ρ × its requirement,
//!    Σ equity ≥ the floor, and Σ gross notional ≤ λ × Σ equity when a cap is claimed
//!    (each vacuous when not claimed: ρ = 0, floor 0, no cap).
//!
//! The circuit is generic over the number of scenario lanes `S` (one of
//! [`crate::shape::SCENARIO_LANES`]), the layout (`LAYOUT`, [`Layout::ALL`]) and whether risk classes are
//! margined apart (`CLASSES`), since halo2 fixes columns and gates at configuration time.

use halo2_proofs::circuit::{AssignedCell, Cell, Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::plonk::{
    Advice, Any, Assigned, Assignment, Circuit, Column, ConstraintSystem, Error, Fixed, FloorPlanner, Instance, Selector,
};

use crate::chips::account::{AccountChip, AccountConfig, AccountInstructions};
use crate::chips::classes::{ClassChip, ClassConfig, ClassInstructions};
use crate::chips::columns::MarginColumns;
use crate::chips::hash::{Absorption, Active, Geometry, HashChip, HashConfig, HashInstructions, SpongeRun, Word};
use crate::chips::market::{MarketTableChip, MarketTableConfig, MarketTableInstructions};
use crate::chips::netting::{NettingChip, NettingConfig, NettingInstructions};
use crate::chips::range::{RangeCheckChip, RangeCheckConfig, RangeInstructions, WORD_BITS};
use crate::chips::sums::{SumChip, SumConfig, SumInstructions, Weight};
use crate::chips::totals::{ClosingInputs, GroupTotalChip, GroupTotalConfig, GroupTotalInstructions};
use crate::commitment::{challenge_capacity, classes_capacity, commit_capacity, nets_capacity};
use crate::encoding::Fp;
use crate::shape::Shape;
use crate::sponges::HASH_LANES;
use crate::statement::{PublicLayout, BINDING, LEVERAGE_CLAIMED, MAX_LEVERAGE, MIN_EQUITY, MIN_RATIO, THRESHOLD};
use crate::tables::MarketTables;
use crate::witness::{sponge_plan, Plan};

/// The lanes beside the margin rows: how many range-check lanes and hash lanes, and how
/// the hash lanes lay out a permutation. Halo2 fixes columns before it sees a shape, so
/// the circuit type carries the choice (`MarginCircuit<S, LAYOUT, CLASSES>`, `LAYOUT` an
/// index into [`Layout::ALL`]) and [`size`] makes it per shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Range-check lanes.
    pub range_lanes: usize,
    /// Poseidon lanes (the witness plan's sponges are placed for as many).
    pub hash_lanes: usize,
    /// Partial rounds per hash row.
    pub geometry: Geometry,
}

/// [`Layout::COMPACT`]'s index.
pub const COMPACT: usize = 0;
/// [`Layout::WIDE`]'s index.
pub const WIDE: usize = 1;
/// [`Layout::WIDER`]'s index.
pub const WIDER: usize = 2;

impl Layout {
    /// Fewest columns: 2 range lanes, 3 hash lanes of 38-row blocks (small and medium books).
    pub const COMPACT: Layout = Layout { range_lanes: 2, hash_lanes: HASH_LANES, geometry: Geometry::COMPACT };
    /// Fewer rows: 3 range lanes, 3 hash lanes of 29-row blocks (a large book one k lower).
    pub const WIDE: Layout = Layout { range_lanes: 3, hash_lanes: HASH_LANES, geometry: Geometry::WIDE };
    /// Fewest rows, for the class circuit only: 4 range lanes and 4 hash lanes of 29-row
    /// blocks. Where classes are margined apart each group slot's class run (132
    /// absorptions with 8 classes and 32 scenarios) is hashed before the challenge and its
    /// class worsts and slacks are 16-word range checks: a large book's would otherwise
    /// set its k.
    pub const WIDER: Layout = Layout { range_lanes: 4, hash_lanes: HASH_LANES + 1, geometry: Geometry::WIDE };
    /// Every layout, by index, fewest columns first.
    pub const ALL: [Layout; 3] = [Layout::COMPACT, Layout::WIDE, Layout::WIDER];
    /// Their names in reports, by index.
    pub const NAMES: [&'static str; 3] = ["compact", "wide", "wider"];

    /// The layouts a market's tables may use: [`Layout::WIDER`] only where classes are
    /// margined apart.
    pub fn choices(tables: &MarketTables) -> usize {
        if tables.class_mode() {
            3
        } else {
            2
        }
    }
}

/// The rows of the layout [`size`] picks for `shape` over `tables`, and that layout's
/// index (for reports).
pub fn layout_rows(shape: &Shape, tables: &MarketTables) -> (Rows, usize) {
    let layout = size(shape, tables).layout;
    let rows = crate::with_circuit!(tables, layout, S, L, C => {
        MarginCircuit::<S, L, C> { shape: *shape, tables: tables.clone(), plan: None }.rows()
    });
    (rows, layout)
}

/// How a shape is laid out: its k and its layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizing {
    /// Rows are 2^k.
    pub k: u32,
    /// The layout's index in [`Layout::ALL`].
    pub layout: usize,
}

/// The k and layout of `shape` (its own k ignored) over `tables`: the layout with the
/// fewest columns among those that need the smallest k ([`Layout::choices`]). Exact
/// (layout passes that commit nothing: a wider one only where the narrower needs more
/// rows than the tables), and the same for the prover and every verifier.
pub fn size(shape: &Shape, tables: &MarketTables) -> Sizing {
    // A wider layout saves lane rows, not table rows: no gain where the tables set k.
    let floor = estimated_k(tables.instruments.len(), tables.assets.len() * tables.tiers);
    let mut best: Option<Sizing> = None;
    for layout in 0..Layout::choices(tables) {
        let k = crate::with_circuit!(tables, layout, S, L, C => {
            MarginCircuit::<S, L, C> { shape: *shape, tables: tables.clone(), plan: None }.min_k()
        });
        if best.is_none_or(|b| k < b.k) {
            best = Some(Sizing { k, layout });
        }
        if k <= floor {
            break;
        }
    }
    best.expect("at least one layout")
}

/// Words (of 10 bits) of each range check; see the bounds in [`crate::chips::columns`].
pub mod words {
    /// qty + 2^69 < 2^70.
    pub const QUANTITY: usize = 7;
    /// Collateral |x| < 2^70 (so both sign parts are), and each tier's part and the
    /// width left above it.
    pub const AMOUNT: usize = 7;
    /// Net |n| < 2^80 (so both sign parts are).
    pub const NET: usize = 8;
    /// worst, worst − loss, a class worst and its slacks, Σ class worsts < 2^160.
    pub const LOSS: usize = 16;
    /// A group's gross notional, when a leverage cap is claimed: < 2^160 (so no held
    /// instrument lacks a notional, [`crate::tables::MISSING_NOTIONAL_BITS`]).
    pub const GROSS: usize = 16;
    /// Group excess < 2^220.
    pub const EXCESS: usize = 22;
    /// 10^6·equity − ρ·requirement < 2^250.
    pub const RATIO: usize = 25;
    /// Total excess − threshold < 2^220.
    pub const TOTAL: usize = 22;
    /// Total equity − floor < 2^200.
    pub const EQUITY: usize = 20;
    /// λ·equity − 10^18·gross < 2^230.
    pub const LEVERAGE: usize = 23;
}

/// Columns of the whole circuit.
#[derive(Clone, Debug)]
pub struct MarginCircuitConfig {
    market: MarketTableConfig,
    accounts: AccountConfig,
    netting: NettingConfig,
    totals: GroupTotalConfig,
    classes: Option<ClassConfig>,
    sums: SumConfig,
    range: RangeCheckConfig,
    hash: HashConfig,
}

/// The margin circuit for a shape and a market at one level; `plan` is the witness
/// (absent for key generation). `CLASSES` must be the tables' [`MarketTables::class_mode`].
#[derive(Clone, Debug)]
pub struct MarginCircuit<const S: usize, const LAYOUT: usize = COMPACT, const CLASSES: bool = false> {
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
/// instrument and the padding row), the asset table (a row per asset and tier, and a
/// padding tier row) and the 10-bit range table must fit. Cheap, so a verifier refuses an
/// impossible shape before any work; [`MarginCircuit::rows`] gives the exact figure.
pub fn estimated_k(instruments: usize, asset_rows: usize) -> u32 {
    let table_rows = (instruments.max(asset_rows) + 1).max(1 << WORD_BITS);
    (table_rows + 8).next_power_of_two().trailing_zeros()
}

impl<const S: usize, const LAYOUT: usize, const CLASSES: bool> MarginCircuit<S, LAYOUT, CLASSES> {
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


impl<const S: usize, const LAYOUT: usize, const CLASSES: bool> Circuit<Fp> for MarginCircuit<S, LAYOUT, CLASSES> {
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
        let market = MarketTableChip::configure(meta, S, CLASSES);
        let accounts = AccountChip::configure(meta, &columns, &market);
        let netting = NettingChip::configure(meta, &columns, &market);
        let totals = GroupTotalChip::configure(meta, &columns);
        let classes = CLASSES.then(|| ClassChip::configure(meta, &columns, &netting));
        let sums = SumChip::configure(meta, &columns, instance);
        let layout = Layout::ALL[LAYOUT];
        let range_lanes: Vec<_> = (0..layout.range_lanes).map(|_| meta.advice_column()).collect();
        let range = RangeCheckChip::configure(meta, &range_lanes);
        let hash = HashChip::configure(meta, layout.hash_lanes, layout.geometry);
        MarginCircuitConfig { market, accounts, netting, totals, classes, sums, range, hash }
    }

    fn synthesize(&self, config: Self::Config, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        assert_eq!(self.tables.lanes, S, "market tables must have S lanes");
        // Every slot must sit in an absorption (see Shape::check_limits), and the circuit
        // must be the one the tables call for.
        // And a plan must be placed in this layout's hash lanes.
        let hash_lanes = Layout::ALL[LAYOUT].hash_lanes;
        if self.shape.check_limits().is_err()
            || self.tables.class_mode() != CLASSES
            || self.plan.as_ref().is_some_and(|p| p.hash_lanes != hash_lanes)
        {
            return Err(Error::Synthesis);
        }
        let (shape, tables) = (&self.shape, &self.tables);
        let layout = PublicLayout::new(shape);
        let plan = self.plan.as_ref();
        let market = MarketTableChip::construct(config.market);
        let accounts = AccountChip::construct(config.accounts);
        let netting = NettingChip::construct(config.netting);
        let totals = GroupTotalChip::construct(config.totals);
        let classes = config.classes.map(ClassChip::construct);
        let sums = SumChip::construct(config.sums);
        let range = RangeCheckChip::construct(config.range);
        let hash = HashChip::construct(config.hash);
        let layouter = &mut layouter;
        // The public inputs first: the region must start at row 0 (see `load_public`).
        let public = sums.load_public(layouter, layout.len(), plan.map(|p| &p.public[..]))?;
        market.load_tables(layouter, tables)?;
        range.load_table(layouter)?;
        let binding = public[BINDING].clone();
        let scenarios = tables.scenarios;
        let factors = tables.factors();

        // Cells that must be equal, linked in one region at the end.
        let mut links: Vec<(Cell, Cell)> = Vec::new();
        // The sponges (crate::sponges), run in the hash lanes once every absorbed cell exists.
        let sponges = sponge_plan(shape, tables, hash_lanes);
        let mut runs: Vec<SpongeRun> = Vec::with_capacity(shape.accounts + sponges.net_chunks.len() + shape.groups + 1);
        let mut net_absorptions: Vec<Absorption> = Vec::new();
        let mut class_runs: Vec<SpongeRun> = Vec::new();
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
            let collateral = accounts.assign_collateral(layouter, shape.collateral, tables.tiers, account)?;
            for mag in collateral.mags.iter().chain(&collateral.parts) {
                range.check_words(layouter, mag, words::AMOUNT)?;
            }
            let absorptions = positions.absorptions.into_iter().chain(collateral.absorptions).collect();
            runs.push(SpongeRun { capacity: commit_capacity(), absorptions });
            account_values.push(collateral.value);
            account_logups.push(positions.logup);
            challenge_cells.push(positions.challenge);
        }

        // The class weights β_c = 1/(χ − c), from a cell linked to the challenge.
        let class_weights = match &classes {
            Some(chip) => chip.assign_weights(layouter, &challenge_cells[0], tables.classes, plan.map(|p| &p.class_weights[..]))?,
            None => Vec::new(),
        };

        // 2. Net rows per group: netting (logUp), market lookups, scenario losses, the
        //    worst loss (by class where classes are margined apart), requirement, equity,
        //    excess ≥ 0 and the ratio covenant; every net row goes into a net sponge.
        let mut excesses = Vec::with_capacity(shape.groups);
        let mut equities = Vec::with_capacity(shape.groups);
        let mut grosses = Vec::with_capacity(shape.groups);
        let mut group_logups = Vec::with_capacity(shape.groups);
        for g in 0..shape.groups {
            let terms: Vec<(Weight<'_>, &AssignedCell<Fp, Fp>)> =
                account_values.iter().enumerate().map(|(a, v)| (Weight::Cell(&public[layout.membership(a, g)]), v)).collect();
            let group = plan.map(|p| &p.groups[g]);
            let collateral = sums.weighted_sum(layouter, &terms, group.map(|x| &x.collateral_sums[..]))?;
            let inputs =
                ClosingInputs { collateral: &collateral, mode: &public[layout.mode(g)], ratio: &public[MIN_RATIO], classes: CLASSES };
            // One region: the net rows, the closing rows that read their final sums, and
            // with classes the class blocks the lanes run on through.
            let (nets, closing, class_cells) = layouter.assign_region(
                || format!("group {g}"),
                |mut region| {
                    let nets = netting.assign_net_rows(&mut region, g, shape.nets, group)?;
                    let closing = totals.assign_totals(&mut region, nets.close, group, factors, &inputs)?;
                    let class_cells = match &classes {
                        Some(chip) => Some(chip.assign_blocks(&mut region, nets.close, &class_weights, scenarios, group)?),
                        None => None,
                    };
                    Ok((nets, closing, class_cells))
                },
            )?;
            net_absorptions.extend(nets.absorptions);
            for mag in &nets.mags {
                range.check_words(layouter, mag, words::NET)?;
            }
            if factors.joint != 0 {
                range.check_words(layouter, &closing.worst, words::LOSS)?;
            }
            for slack in closing.slack.iter().take(scenarios) {
                range.check_words(layouter, slack, words::LOSS)?;
            }
            if let (Some(cells), Some(w_in)) = (&class_cells, &closing.class_worsts) {
                self.class_checks(layouter, &sums, &range, cells, &closing.worst, w_in, group, &mut links, &mut class_runs)?;
            }
            range.check_words(layouter, &closing.excess, words::EXCESS)?;
            range.check_words(layouter, &closing.ratio_slack, words::RATIO)?;
            excesses.push(closing.excess);
            equities.push(closing.equity);
            grosses.push(closing.gross);
            group_logups.push(closing.logup);
            challenge_cells.push(closing.challenge);
        }

        // 3. Σ excess ≥ T.
        let total = sums.weighted_sum(layouter, &ones(&excesses), plan.map(|p| &p.excess_sums[..]))?;
        let slack = sums.threshold_slack(layouter, &total, &public[THRESHOLD], plan.map(|p| p.threshold_slack))?;
        range.check_words(layouter, &slack, words::TOTAL)?;

        // 4. Covenants: Σ equity ≥ the floor; each group's gross notional (when a cap is
        //    claimed) below 2^160, and Σ gross ≤ λ·Σ equity.
        let covenants = plan.map(|p| &p.covenants);
        let equity = sums.weighted_sum(layouter, &ones(&equities), covenants.map(|c| &c.equity_sums[..]))?;
        let slack = sums.threshold_slack(layouter, &equity, &public[MIN_EQUITY], covenants.map(|c| c.equity_slack))?;
        range.check_words(layouter, &slack, words::EQUITY)?;
        let mut claimed_grosses = Vec::with_capacity(shape.groups);
        for (g, gross) in grosses.iter().enumerate() {
            let term = [(Weight::Cell(&public[LEVERAGE_CLAIMED]), gross)];
            let planned = covenants.map(|c| std::slice::from_ref(&c.gross_claimed[g]));
            let claimed = sums.weighted_sum(layouter, &term, planned)?;
            range.check_words(layouter, &claimed, words::GROSS)?;
            claimed_grosses.push(claimed);
        }
        let gross = sums.weighted_sum(layouter, &ones(&claimed_grosses), covenants.map(|c| &c.gross_sums[..]))?;
        let slack = sums.leverage_slack(layouter, &equity, &public[MAX_LEVERAGE], &gross, covenants.map(|c| c.leverage_slack))?;
        range.check_words(layouter, &slack, words::LEVERAGE)?;

        // 5. logUp balance: Σ over position rows = Σ over net rows.
        let from_positions = sums.weighted_sum(layouter, &ones(&account_logups), plan.map(|p| &p.position_logup_sums[..]))?;
        let from_nets = sums.weighted_sum(layouter, &ones(&group_logups), plan.map(|p| &p.net_logup_sums[..]))?;
        links.push((from_positions.cell(), from_nets.cell()));

        // 6. The sponges: each account's commitment (a public input), the net chunks, the
        //    class runs, and the challenge over the commitments, the chunks' and class runs'
        //    digests and the binding.
        let mut net_absorptions = net_absorptions.into_iter();
        for len in &sponges.net_chunks {
            runs.push(SpongeRun { capacity: nets_capacity(), absorptions: net_absorptions.by_ref().take(*len).collect() });
        }
        runs.extend(class_runs);
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

impl<const S: usize, const LAYOUT: usize, const CLASSES: bool> MarginCircuit<S, LAYOUT, CLASSES> {
    /// A group's class checks ([`crate::chips::classes`]): each class worst and each of its
    /// slacks in a market scenario range-checked; W = Σ worst_c range-checked and linked
    /// into the closing; with an offset above 0, the joint worst against each scenario's
    /// summed class losses (`joint − W + Σ_c D_{c,s} ≥ 0`); and the group's class run,
    /// which hashes every class worst and slack into the challenge.
    #[allow(clippy::too_many_arguments)]
    fn class_checks(
        &self,
        layouter: &mut impl Layouter<Fp>,
        sums: &SumChip,
        range: &RangeCheckChip,
        cells: &crate::chips::classes::ClassCells,
        joint: &AssignedCell<Fp, Fp>,
        w_in: &AssignedCell<Fp, Fp>,
        group: Option<&crate::witness::GroupPlan>,
        links: &mut Vec<(Cell, Cell)>,
        class_runs: &mut Vec<SpongeRun>,
    ) -> Result<(), Error> {
        for cell in cells.worsts.iter().chain(cells.slacks.iter().flatten()) {
            range.check_words(layouter, cell, words::LOSS)?;
        }
        let w = sums.weighted_sum(layouter, &ones(&cells.worsts), group.map(|x| &x.class_worst_sums[..]))?;
        range.check_words(layouter, &w, words::LOSS)?;
        links.push((w.cell(), w_in.cell()));
        if self.tables.factors().joint != 0 {
            for s in 0..self.tables.scenarios {
                let terms: Vec<(Weight<'_>, &AssignedCell<Fp, Fp>)> =
                    std::iter::once(joint).chain(cells.slacks.iter().map(|d| &d[s])).map(|x| (Weight::One, x)).collect();
                let planned = group.map(|x| &x.joint_slacks[s]);
                let total = sums.weighted_sum(layouter, &terms, planned.map(|(sums, _)| &sums[..]))?;
                let slack = sums.threshold_slack(layouter, &total, &w, planned.map(|(_, slack)| *slack))?;
                range.check_words(layouter, &slack, words::LOSS)?;
            }
        }
        let message: Vec<Word> = cells
            .worsts
            .iter()
            .zip(&cells.slacks)
            .flat_map(|(w, d)| std::iter::once(w).chain(d))
            .map(|c| Word::Cell(c.clone()))
            .collect();
        let absorptions = message
            .chunks(2)
            .map(|p| Absorption { words: [p[0].clone(), p.get(1).cloned().unwrap_or(Word::Zero)], active: Active::Always })
            .collect();
        class_runs.push(SpongeRun { capacity: classes_capacity(), absorptions });
        Ok(())
    }
}

/// Runs `$body` with the circuit type's constants for `$tables` (its lanes as `$S`, its
/// class mode as `$C`) and `$layout` (a runtime [`Sizing::layout`]) as `$L`.
/// [`Layout::WIDER`] exists for the class circuit only (see [`Layout::choices`]).
///
/// ```ignore
/// with_circuit!(tables, sizing.layout, S, L, C => MarginCircuit::<S, L, C> { .. })
/// ```
#[macro_export]
macro_rules! with_circuit {
    ($tables:expr, $layout:expr, $S:ident, $L:ident, $C:ident => $body:expr) => {
        match ($tables.class_mode(), $layout) {
            (true, 0) => $crate::with_circuit!(@ $tables, 0, true, $S, $L, $C => $body),
            (true, 1) => $crate::with_circuit!(@ $tables, 1, true, $S, $L, $C => $body),
            (true, 2) => $crate::with_circuit!(@ $tables, 2, true, $S, $L, $C => $body),
            (false, 0) => $crate::with_circuit!(@ $tables, 0, false, $S, $L, $C => $body),
            (false, 1) => $crate::with_circuit!(@ $tables, 1, false, $S, $L, $C => $body),
            (classes, other) => panic!("no layout {other} for a circuit with classes margined apart: {classes}"),
        }
    };
    (@ $tables:expr, $index:literal, $classes:literal, $S:ident, $L:ident, $C:ident => $body:expr) => {{
        const $L: usize = $index;
        const $C: bool = $classes;
        $crate::with_lanes!($tables.lanes, $S => $body)
    }};
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
