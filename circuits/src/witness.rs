//! The prover's private witness, and the plan of every cell value the circuit assigns.
//!
//! [`Plan::new`] is the native mirror of the circuit: it computes, with exact integers,
//! every value the margin chips lay out (net positions, running sums, the worst loss,
//! requirements, excesses, the logUp challenge and inverses, the commitment chains).
//! The circuit only assigns these values; its gates check them.

use std::collections::BTreeMap;

use ethnum::{I256, U256};
use ff::{Field, PrimeField};

use crate::commitment::{pack_entry, AccountOpening, EntryKind};
use crate::encoding::{pow2, signed_to_field, Fp};
use crate::fixed::{MONEY_SCALE, RATE_SCALE};
use crate::shape::Shape;
use crate::shape::fold_rows;
use crate::sponges::{net_element_value, net_word, SpongePlan, HASH_LANES, NETS_PER_ABSORPTION};
use crate::statement::{group_tag, Covenants, Mode, PublicLayout, BINDING, CIRCUIT_DECIMALS};
use crate::tables::{MarketTables, MISSING_NOTIONAL_BITS, PADDING_PNL};

/// Offset added to a quantity before its range check: qty + 2^69 ∈ [0, 2^70).
pub const QTY_OFFSET_BITS: u32 = 69;

/// The private witness: each real account's opening and group, and the group modes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarginWitness {
    /// Openings of the real accounts, in statement order.
    pub accounts: Vec<AccountOpening>,
    /// Group slot of each real account.
    pub account_group: Vec<usize>,
    /// Mode of each real group.
    pub group_modes: Vec<Mode>,
}

/// Values of one position row.
#[derive(Clone, Debug, Default)]
pub struct PositionRow {
    /// Instrument id element (0 in a padding slot).
    pub id: Fp,
    /// 1/id on a real entry (0 in a padding slot).
    pub id_inverse: Fp,
    /// Signed quantity.
    pub qty: Fp,
    /// qty + 2^69.
    pub qty_offset: Fp,
    /// 1 for a real entry, 0 for padding.
    pub active: Fp,
    /// The packed entry (0 in a padding slot).
    pub entry: Fp,
    /// 1 / (challenge − id − group tag).
    pub inv: Fp,
    /// logUp running sum before this row.
    pub logup: Fp,
    /// The challenge (carried down every row).
    pub challenge: Fp,
    /// The account's group tag (carried down every row).
    pub tag: Fp,
}

/// Values of one collateral row: a slot's head row, one of its tier rows, or the
/// region's closing row ([`crate::chips::account`]).
#[derive(Clone, Debug, Default)]
pub struct CollateralRow {
    /// Asset id element (0 in a padding slot and the closing row).
    pub id: Fp,
    /// Head: the signed amount x; tier row: the tier's part p_t.
    pub val: Fp,
    /// Head: |x|; tier row: the width left above the part, w_t − p_t.
    pub mag: Fp,
    /// 1 for a real entry, 0 for padding (on every row of its slot).
    pub active: Fp,
    /// The packed entry (head of a real entry; else 0).
    pub entry: Fp,
    /// Asset price (money units), on every row of the slot.
    pub price: Fp,
    /// Tier row: 1 − haircut of the tier (rate units).
    pub complement: Fp,
    /// Tier row: the tier's width as the table holds it.
    pub width: Fp,
    /// The holding still to split into tiers, before this row.
    pub rem: Fp,
    /// Collateral value running sum before this row.
    pub value_sum: Fp,
}

/// Values of one account slot.
#[derive(Clone, Debug, Default)]
pub struct AccountPlan {
    /// Venue id element.
    pub venue: Fp,
    /// Account id element.
    pub account: Fp,
    /// Salt element.
    pub salt: Fp,
    /// The header's fourth entry (always 0 for an honest prover).
    pub header_pad: Fp,
    /// Position rows, then one final row (only `logup`, `challenge`, `tag` used).
    pub positions: Vec<PositionRow>,
    /// Collateral rows (1 + T per slot), then the closing row.
    pub collateral: Vec<CollateralRow>,
    /// The cells that cross regions: the challenge coming in, and the final logUp sum and
    /// collateral value going out (for an honest prover, the rows' own values).
    pub crossing: Crossing,
}

/// Values a region takes in or gives out through its equality-enabled cells.
#[derive(Clone, Debug, Default)]
pub struct Crossing {
    /// The logUp challenge, imported.
    pub challenge: Fp,
    /// The final logUp sum, exported.
    pub logup: Fp,
    /// The collateral value (account regions only), exported.
    pub value: Fp,
}

/// A net slot as planned: (table index, id, net, market row), padding (0, 0, 0, None).
type NetSlot = (Fp, Fp, i128, Option<usize>);

/// Values of one net-position row.
#[derive(Clone, Debug, Default)]
pub struct NetRow {
    /// Instrument table index (0 in a padding slot).
    pub idx: Fp,
    /// Instrument id element (0 in a padding slot).
    pub id: Fp,
    /// Net position n.
    pub net: Fp,
    /// The net again on each of the slot's further rows 1..F−1, where its scenario
    /// lanes read it (an honest plan: `net` on each).
    pub carried_net: Vec<Fp>,
    /// |n|.
    pub mag: Fp,
    /// Mark.
    pub mark: Fp,
    /// Linear rate at the level.
    pub linear: Fp,
    /// Short charge at the level.
    pub short_charge: Fp,
    /// Notional as the table holds it (second row of the slot).
    pub notional: Fp,
    /// Risk class index (second row; with risk classes only).
    pub class: Fp,
    /// Class weight 1/(challenge − class) (with risk classes only).
    pub weight: Fp,
    /// The weight again on each of the slot's further rows 1..F−1.
    pub carried_weight: Vec<Fp>,
    /// P&L per lane.
    pub pnl: Vec<Fp>,
    /// 1 / (challenge − id − group tag).
    pub inv: Fp,
    /// The challenge (carried down every row).
    pub challenge: Fp,
    /// Running sums before this row: logUp, Σ n·mark, Σ |n|·linear, Σ max(−n, 0)·short.
    pub logup: Fp,
    /// Σ n·mark so far.
    pub mark_sum: Fp,
    /// Σ |n|·linear so far.
    pub linear_sum: Fp,
    /// Σ max(−n, 0)·short so far.
    pub short_sum: Fp,
    /// Σ |n|·notional so far (second row of the slot).
    pub gross_sum: Fp,
    /// Per lane s: Σ −n·pnl_s so far (with risk classes: weighted by each slot's class).
    pub loss: Vec<Fp>,
}

/// Values of a group's closing rows.
#[derive(Clone, Debug, Default)]
pub struct GroupTotals {
    /// max(0, max_s loss_s) at 14 decimals: the joint worst.
    pub worst: Fp,
    /// The worst again on each closing row close..close+F (the rows that check the
    /// slacks, and the one below them): an honest plan, `worst` on each.
    pub carried_worst: Vec<Fp>,
    /// worst − loss_s per lane (without risk classes).
    pub slack: Vec<Fp>,
    /// Σ collateral values of the group's accounts (10^-20).
    pub collateral: Fp,
    /// Requirement (10^-26).
    pub requirement: Fp,
    /// Equity (10^-26).
    pub equity: Fp,
    /// Excess (10^-26).
    pub excess: Fp,
    /// 10^6·equity − ρ·requirement.
    pub ratio_slack: Fp,
    /// Σ |n|·notional (10^-14).
    pub gross: Fp,
    /// Σ_c worst_c (with risk classes; else 0).
    pub class_worsts: Fp,
}

/// Values of one class block of a group ([`crate::chips::classes`]).
#[derive(Clone, Debug, Default)]
pub struct ClassPlan {
    /// β_c = 1/(challenge − c).
    pub weight: Fp,
    /// worst_c = max(0, max_s L_{c,s}).
    pub worst: Fp,
    /// L_{c,s} per lane (0 beyond the market's scenarios).
    pub losses: Vec<Fp>,
    /// The weighted lanes before this block.
    pub lanes: Vec<Fp>,
    /// worst_c − L_{c,s} per lane.
    pub slacks: Vec<Fp>,
}

/// A weighted sum as planned: its running sums after each term.
pub type Sums = Vec<Fp>;

/// Values of one group slot.
#[derive(Clone, Debug, Default)]
pub struct GroupPlan {
    /// Net rows, then the closing row (running sums final values in `NetRow` form).
    pub rows: Vec<NetRow>,
    /// The closing row's figures.
    pub totals: GroupTotals,
    /// Running Σ membership(a)·collateral(a) after each account slot.
    pub collateral_sums: Sums,
    /// The net words of this group's rows, two per absorption ([`crate::sponges`]).
    pub words: Vec<[Fp; 2]>,
    /// The challenge coming in and the final logUp sum going out.
    pub crossing: Crossing,
    /// The class blocks (with risk classes).
    pub classes: Vec<ClassPlan>,
    /// Running Σ worst_c (with risk classes).
    pub class_worst_sums: Sums,
    /// Per market scenario s: the running sums of joint + Σ_c D_{c,s}, and its slack over
    /// Σ_c worst_c (with risk classes and an offset above 0).
    pub joint_slacks: Vec<(Sums, Fp)>,
    /// The group's class message hashed into the challenge (with risk classes).
    pub class_message: Vec<Fp>,
}

/// Values of the covenant totals.
#[derive(Clone, Debug, Default)]
pub struct CovenantPlan {
    /// Running Σ equity after each group slot.
    pub equity_sums: Sums,
    /// Σ equity − the floor.
    pub equity_slack: Fp,
    /// claimed·gross per group slot (each a one-term weighted sum).
    pub gross_claimed: Vec<Fp>,
    /// Running Σ claimed·gross.
    pub gross_sums: Sums,
    /// λ·Σ equity − 10^18·Σ claimed·gross.
    pub leverage_slack: Fp,
}

/// Every value the circuit assigns.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Per account slot.
    pub accounts: Vec<AccountPlan>,
    /// Per group slot.
    pub groups: Vec<GroupPlan>,
    /// The logUp challenge.
    pub challenge: Fp,
    /// The class weights β_c (with risk classes).
    pub class_weights: Vec<Fp>,
    /// Σ excess over group slots.
    pub total_excess: Fp,
    /// Running Σ excess after each group slot.
    pub excess_sums: Sums,
    /// Running Σ of the position regions' logUp sums after each account slot.
    pub position_logup_sums: Sums,
    /// Running Σ of the net regions' logUp sums after each group slot.
    pub net_logup_sums: Sums,
    /// Total excess − threshold.
    pub threshold_slack: Fp,
    /// The covenant totals.
    pub covenants: CovenantPlan,
    /// The public inputs, as the public-input region's cells.
    pub public: Vec<Fp>,
    /// The hash lanes the sponges were placed in (the challenge depends on it): a plan
    /// fits only the layouts with as many.
    pub hash_lanes: usize,
}

/// Why a witness does not fit, or its claim cannot be planned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// The witness is larger than the shape.
    DoesNotFit(String),
    /// An entry names an id that is not in the market.
    UnknownId(String),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::DoesNotFit(m) => write!(f, "witness does not fit the shape: {m}"),
            PlanError::UnknownId(m) => write!(f, "unknown id: {m}"),
        }
    }
}

/// x as a field element (x mod p).
pub fn wide_to_field(x: I256) -> Fp {
    let magnitude: U256 = x.unsigned_abs();
    let mut repr = [0u8; 32];
    repr.copy_from_slice(&magnitude.to_le_bytes());
    let value = Fp::from_repr(repr).expect("magnitudes stay far below p");
    if x < I256::ZERO {
        -value
    } else {
        value
    }
}

fn wide(x: i128) -> I256 {
    I256::from(x)
}

fn key(id: &Fp) -> [u8; 32] {
    id.to_repr()
}

/// 1/x; zero when it does not exist (x = 0: negligible for a challenge minus a key).
fn inverse(x: Fp) -> Fp {
    Option::from(x.invert()).unwrap_or(Fp::ZERO)
}

/// The running sums of `terms`.
fn running(terms: impl IntoIterator<Item = Fp>) -> Sums {
    terms
        .into_iter()
        .scan(Fp::ZERO, |sum, x| {
            *sum += x;
            Some(*sum)
        })
        .collect()
}

/// Net positions per group slot: (instrument id element, net) sorted by id encoding, zero
/// nets left out.
pub fn group_nets(witness: &MarginWitness, groups: usize) -> Vec<Vec<(Fp, i128)>> {
    let mut nets: Vec<BTreeMap<[u8; 32], (Fp, i128)>> = vec![BTreeMap::new(); groups];
    for (acc, &g) in witness.accounts.iter().zip(&witness.account_group) {
        for &(id, qty) in &acc.positions {
            nets[g].entry(key(&id)).or_insert((id, 0)).1 += qty;
        }
    }
    nets.into_iter().map(|m| m.into_values().filter(|&(_, n)| n != 0).collect()).collect()
}

/// What a proof claims: the threshold (money units) and the covenants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Claim {
    /// T, money units.
    pub threshold_units: i128,
    /// The covenants claimed.
    pub covenants: Covenants,
}

/// A group's class figures as the prover states them: each class's loss per lane and its
/// worst (what the class blocks hold and the class run hashes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassFigures {
    /// Per class, its loss per lane.
    pub losses: Vec<Vec<I256>>,
    /// Per class, its worst.
    pub worsts: Vec<I256>,
}

/// An edit of a group slot's class figures ([`Forgery::classes`]).
pub type ClassEdit<'a> = &'a dyn Fn(usize, &mut ClassFigures);
/// An edit of the tier parts of (account slot, collateral slot) ([`Forgery::parts`]).
pub type PartsEdit<'a> = &'a dyn Fn(usize, usize, &mut [i128]);

/// What a soundness test forges in a plan ([`Plan::in_lanes`]); an honest prover forges
/// nothing ([`Forgery::default`]).
#[derive(Default)]
pub struct Forgery<'a> {
    /// Net rows per group slot instead of the true nets.
    pub nets: Option<&'a [Vec<(Fp, i128)>]>,
    /// Edits group slot g's class figures before they are hashed.
    pub classes: Option<ClassEdit<'a>>,
    /// Edits the tier parts of (account slot, collateral slot) (the greedy split otherwise).
    pub parts: Option<PartsEdit<'a>>,
}

/// The absorptions of a group's class run for `tables` (0 without risk classes).
pub fn class_absorptions(tables: &MarketTables) -> usize {
    if tables.class_mode() {
        (tables.classes * (tables.scenarios + 1)).div_ceil(2)
    } else {
        0
    }
}

/// The sponges of `shape` over `tables`, placed in `hash_lanes` lanes.
pub fn sponge_plan(shape: &Shape, tables: &MarketTables, hash_lanes: usize) -> SpongePlan {
    SpongePlan::new(shape, hash_lanes, class_absorptions(tables))
}

/// A group's running figures over its net slots.
struct NetPass {
    rows: Vec<NetRow>,
    mark_sum: I256,
    linear_sum: I256,
    short_sum: I256,
    gross: I256,
    /// Σ −n·pnl_s over every slot, per lane (unweighted; padding slots included).
    losses: Vec<I256>,
}

impl Plan {
    /// Plans every cell of `shape` for `witness` against `tables`, for `claim` and the
    /// statement's public inputs `public` ([`crate::statement::PublicLayout`]; the binding
    /// is one of them). The plan fits the layouts with [`HASH_LANES`] hash lanes
    /// ([`Plan::in_lanes`] for another count).
    pub fn new(shape: &Shape, tables: &MarketTables, witness: &MarginWitness, claim: &Claim, public: &[Fp]) -> Result<Plan, PlanError> {
        Plan::in_lanes(HASH_LANES, shape, tables, witness, claim, public, &Forgery::default())
    }

    /// Plans with the given net rows per group slot instead of the true nets (an honest
    /// prover never does this; soundness tests use it to forge a netting).
    pub fn with_nets(
        shape: &Shape,
        tables: &MarketTables,
        witness: &MarginWitness,
        nets: &[Vec<(Fp, i128)>],
        claim: &Claim,
        public: &[Fp],
    ) -> Result<Plan, PlanError> {
        Plan::in_lanes(HASH_LANES, shape, tables, witness, claim, public, &Forgery { nets: Some(nets), ..Forgery::default() })
    }

    /// The plan for a layout with `hash_lanes` hash lanes (the sponges' placement, on
    /// which the challenge depends), with what `forgery` forges, every other value
    /// derived from it as an honest prover would (nothing for an honest prover:
    /// `Forgery::default()`; soundness tests forge, and each constraint must refuse what
    /// it is there to).
    pub fn in_lanes(
        hash_lanes: usize,
        shape: &Shape,
        tables: &MarketTables,
        witness: &MarginWitness,
        claim: &Claim,
        public: &[Fp],
        forgery: &Forgery<'_>,
    ) -> Result<Plan, PlanError> {
        let true_nets;
        let nets = match forgery.nets {
            Some(nets) => nets,
            None => {
                true_nets = group_nets(witness, shape.groups);
                &true_nets
            }
        };
        let fit = |what: &str, have: usize, room: usize| {
            if have > room {
                Err(PlanError::DoesNotFit(format!("{have} {what}, room for {room}")))
            } else {
                Ok(())
            }
        };
        let layout = PublicLayout::new(shape);
        if public.len() != layout.len() {
            return Err(PlanError::DoesNotFit(format!("{} public inputs, the shape has {}", public.len(), layout.len())));
        }
        fit("accounts", witness.accounts.len(), shape.accounts)?;
        fit("groups", witness.group_modes.len(), shape.groups)?;
        for acc in &witness.accounts {
            fit("positions in an account", acc.positions.len(), shape.positions)?;
            fit("collateral entries in an account", acc.collateral.len(), shape.collateral)?;
        }
        if let Some(&g) = witness.account_group.iter().find(|&&g| g >= witness.group_modes.len()) {
            return Err(PlanError::DoesNotFit(format!("an account names group slot {g}")));
        }
        let instruments: BTreeMap<[u8; 32], usize> =
            tables.instruments.iter().enumerate().map(|(i, r)| (key(&r.id), i)).collect();
        let assets: BTreeMap<[u8; 32], usize> = tables.assets.iter().enumerate().map(|(i, r)| (key(&r.id), i)).collect();
        if nets.len() != shape.groups {
            return Err(PlanError::DoesNotFit(format!("{} net lists for {} group slots", nets.len(), shape.groups)));
        }
        for (g, list) in nets.iter().enumerate() {
            fit(&format!("net positions in group slot {g}"), list.len(), shape.nets)?;
        }

        // Openings per slot, padding after the real accounts.
        let openings: Vec<AccountOpening> = (0..shape.accounts)
            .map(|a| witness.accounts.get(a).cloned().unwrap_or_else(AccountOpening::padding))
            .collect();
        let account_tag = |a: usize| witness.account_group.get(a).map_or(Fp::ZERO, |&g| group_tag(g));
        let commitments: Vec<Fp> = openings.iter().map(AccountOpening::commitment).collect();
        // Net rows per group slot, padding (0, 0, 0, None).
        let mut net_slots: Vec<Vec<NetSlot>> = Vec::with_capacity(shape.groups);
        for (g, list) in nets.iter().enumerate() {
            let mut slots = Vec::with_capacity(shape.nets);
            for slot in 0..shape.nets {
                let (id, n) = list.get(slot).copied().unwrap_or((Fp::ZERO, 0));
                if id == Fp::ZERO {
                    // The padding instrument (a net there only in a forged witness).
                    slots.push((Fp::ZERO, Fp::ZERO, n, None));
                } else {
                    let i = *instruments
                        .get(&key(&id))
                        .ok_or_else(|| PlanError::UnknownId(format!("instrument in group slot {g}")))?;
                    slots.push((Fp::from(tables.instruments[i].index), id, n, Some(i)));
                }
            }
            net_slots.push(slots);
        }
        // Net words: four slots per absorption, two packed elements per word.
        let net_words: Vec<Vec<[Fp; 2]>> = net_slots
            .iter()
            .map(|slots| {
                let element = |s: &(Fp, Fp, i128, Option<usize>)| net_element_value(s.0, signed_to_field(s.2));
                slots
                    .chunks(NETS_PER_ABSORPTION)
                    .map(|q| [net_word(element(&q[0]), element(&q[1])), net_word(element(&q[2]), element(&q[3]))])
                    .collect()
            })
            .collect();
        let all_words: Vec<[Fp; 2]> = net_words.iter().flatten().copied().collect();

        // The class figures do not depend on the challenge: they are hashed into it.
        let class_mode = tables.class_mode();
        let class_count = if class_mode { tables.classes } else { 1 };
        let class_losses: Vec<Vec<Vec<I256>>> = net_slots
            .iter()
            .map(|slots| {
                let mut losses = vec![vec![I256::ZERO; tables.lanes]; class_count];
                for &(_, _, n, row) in slots {
                    if let Some(i) = row {
                        let r = &tables.instruments[i];
                        let class = if class_mode { r.class as usize } else { 0 };
                        for (l, &p) in losses[class].iter_mut().zip(&r.pnl) {
                            *l -= wide(n) * wide(p);
                        }
                    }
                }
                losses
            })
            .collect();
        let scenarios = tables.scenarios;
        let worst_of = |losses: &[I256]| losses[..scenarios].iter().copied().fold(I256::ZERO, I256::max);
        let class_figures: Vec<ClassFigures> = class_losses
            .into_iter()
            .enumerate()
            .map(|(g, losses)| {
                let worsts = losses.iter().map(|l| worst_of(l)).collect();
                let mut figures = ClassFigures { losses, worsts };
                if let Some(edit) = forgery.classes {
                    edit(g, &mut figures);
                }
                figures
            })
            .collect();
        let class_messages: Vec<Vec<Fp>> = if class_mode {
            class_figures
                .iter()
                .map(|figures| {
                    figures
                        .losses
                        .iter()
                        .zip(&figures.worsts)
                        .flat_map(|(losses, &worst)| {
                            std::iter::once(worst).chain(losses[..scenarios].iter().map(move |&l| worst - l)).map(wide_to_field)
                        })
                        .collect()
                })
                .collect()
        } else {
            Vec::new()
        };
        let sponges = sponge_plan(shape, tables, hash_lanes);
        let chal = sponges.challenge(&commitments, &all_words, &class_messages, public[BINDING]);
        let class_weights: Vec<Fp> =
            if class_mode { (0..tables.classes).map(|c| inverse(chal - Fp::from(c as u64))).collect() } else { Vec::new() };

        // Accounts.
        let mut collateral_value = vec![I256::ZERO; shape.accounts];
        let mut accounts = Vec::with_capacity(shape.accounts);
        for (a, opening) in openings.iter().enumerate() {
            let tag = account_tag(a);
            let mut logup = Fp::ZERO;
            let mut positions = Vec::with_capacity(shape.positions + 1);
            for slot in 0..shape.positions {
                let (id, q, active) = match opening.positions.get(slot) {
                    Some(&(id, q)) => (id, q, Fp::ONE),
                    None => (Fp::ZERO, 0, Fp::ZERO),
                };
                let qty = signed_to_field(q);
                let inv = inverse(chal - id - tag);
                let entry = if active == Fp::ONE { pack_entry(EntryKind::Position, id, q) } else { Fp::ZERO };
                positions.push(PositionRow {
                    id,
                    id_inverse: inverse(id),
                    qty,
                    qty_offset: qty + pow2(QTY_OFFSET_BITS),
                    active,
                    entry,
                    inv,
                    logup,
                    challenge: chal,
                    tag,
                });
                logup += qty * inv;
            }
            positions.push(PositionRow { logup, challenge: chal, tag, ..Default::default() });
            let (collateral, value) = Self::collateral_rows(shape, tables, &assets, opening, a, forgery.parts)?;
            collateral_value[a] = value;
            accounts.push(AccountPlan {
                venue: opening.venue,
                account: opening.account,
                salt: opening.salt,
                header_pad: Fp::zero(),
                crossing: Crossing {
                    challenge: chal,
                    logup: positions[shape.positions].logup,
                    value: wide_to_field(value),
                },
                positions,
                collateral,
            });
        }

        // Groups.
        let factors = tables.factors();
        let covenants = &claim.covenants;
        let ratio = wide(covenants.min_ratio.unwrap_or(0));
        let (million, trillion) = (wide(MONEY_SCALE), wide(MONEY_SCALE * MONEY_SCALE));
        let mut groups = Vec::with_capacity(shape.groups);
        let (mut total, mut equity_total) = (I256::ZERO, I256::ZERO);
        let mut excess_sums = Vec::with_capacity(shape.groups);
        let mut equities = Vec::with_capacity(shape.groups);
        let mut grosses = Vec::with_capacity(shape.groups);
        for (g, slots) in net_slots.iter().enumerate() {
            let pass = Self::net_pass(tables, slots, group_tag(g), chal, &class_weights);
            let rows = pass.rows;
            let group_classes = &class_figures[g].losses;
            // The joint losses: the lanes themselves, or with classes the stated class losses summed.
            let joint_losses: Vec<I256> = if class_mode {
                (0..tables.lanes).map(|s| group_classes.iter().map(|l| l[s]).sum()).collect()
            } else {
                pass.losses.clone()
            };
            let worst = worst_of(&joint_losses);
            let collateral: I256 = witness
                .account_group
                .iter()
                .enumerate()
                .filter(|&(_, &ag)| ag == g)
                .map(|(a, _)| collateral_value[a])
                .sum();
            let class_worsts: Vec<I256> = if class_mode { class_figures[g].worsts.clone() } else { Vec::new() };
            let class_worst_total: I256 = class_worsts.iter().copied().sum();
            let portfolio = witness.group_modes.get(g) == Some(&Mode::Portfolio);
            let requirement = if portfolio {
                wide(factors.joint) * worst + wide(factors.classes) * class_worst_total + pass.short_sum * trillion
            } else {
                pass.linear_sum * trillion
            };
            let equity = collateral * million + pass.mark_sum * trillion;
            let excess = equity - requirement;
            total += excess;
            equity_total += equity;
            excess_sums.push(wide_to_field(total));
            equities.push(equity);
            grosses.push(pass.gross);
            let collateral_sums = (0..shape.accounts)
                .scan(I256::ZERO, |sum, a| {
                    if witness.account_group.get(a) == Some(&g) {
                        *sum += collateral_value[a];
                    }
                    Some(wide_to_field(*sum))
                })
                .collect();
            // Class blocks: each class's losses, worst and slacks, the lanes taking them out.
            let mut classes = Vec::new();
            let mut lanes: Vec<Fp> = rows[shape.nets].loss.clone();
            for (c, losses) in group_classes.iter().enumerate().filter(|_| class_mode) {
                let weight = class_weights[c];
                let losses_f: Vec<Fp> = losses.iter().map(|&l| wide_to_field(l)).collect();
                let worst_c = class_worsts[c];
                classes.push(ClassPlan {
                    weight,
                    worst: wide_to_field(worst_c),
                    slacks: losses.iter().map(|&l| wide_to_field(worst_c - l)).collect(),
                    lanes: lanes.clone(),
                    losses: losses_f.clone(),
                });
                for (lane, x) in lanes.iter_mut().zip(&losses_f) {
                    *lane -= weight * x;
                }
            }
            let joint_slacks = if class_mode && factors.joint != 0 {
                (0..scenarios)
                    .map(|s| {
                        let terms = std::iter::once(worst)
                            .chain(class_worsts.iter().zip(group_classes).map(|(&w, l)| w - l[s]));
                        let sums = running(terms.map(wide_to_field));
                        (sums, wide_to_field(worst - joint_losses[s]))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            groups.push(GroupPlan {
                totals: GroupTotals {
                    worst: wide_to_field(worst),
                    carried_worst: vec![wide_to_field(worst); fold_rows(tables.lanes) + 1],
                    slack: joint_losses.iter().map(|&l| wide_to_field(worst - l)).collect(),
                    collateral: wide_to_field(collateral),
                    requirement: wide_to_field(requirement),
                    equity: wide_to_field(equity),
                    excess: wide_to_field(excess),
                    ratio_slack: wide_to_field(equity * million - ratio * requirement),
                    gross: wide_to_field(pass.gross),
                    class_worsts: wide_to_field(class_worst_total),
                },
                collateral_sums,
                words: net_words[g].clone(),
                crossing: Crossing { challenge: chal, logup: rows[shape.nets].logup, value: Fp::ZERO },
                class_worst_sums: running(class_worsts.iter().map(|&w| wide_to_field(w))),
                joint_slacks,
                class_message: class_messages.get(g).cloned().unwrap_or_default(),
                classes,
                rows,
            });
        }
        let lift = wide(10i128.pow(CIRCUIT_DECIMALS - crate::fixed::MONEY_DECIMALS));
        let threshold = wide(claim.threshold_units) * lift;
        let claimed = covenants.max_leverage.is_some();
        let gross_claimed: Vec<I256> = grosses.iter().map(|&g| if claimed { g } else { I256::ZERO }).collect();
        let gross_total: I256 = gross_claimed.iter().copied().sum();
        let cap = wide(covenants.max_leverage.unwrap_or(0));
        let covenant_plan = CovenantPlan {
            equity_sums: running(equities.iter().map(|&e| wide_to_field(e))),
            equity_slack: wide_to_field(equity_total - wide(covenants.min_equity.unwrap_or(0)) * lift),
            gross_claimed: gross_claimed.iter().map(|&g| wide_to_field(g)).collect(),
            gross_sums: running(gross_claimed.iter().map(|&g| wide_to_field(g))),
            leverage_slack: wide_to_field(cap * equity_total - wide(MONEY_SCALE).pow(3) * gross_total),
        };
        let position_logup_sums = running(accounts.iter().map(|a| a.positions[shape.positions].logup));
        let net_logup_sums = running(groups.iter().map(|g| g.rows[shape.nets].logup));
        Ok(Plan {
            accounts,
            groups,
            challenge: chal,
            class_weights,
            total_excess: wide_to_field(total),
            excess_sums,
            position_logup_sums,
            net_logup_sums,
            threshold_slack: wide_to_field(total - threshold),
            covenants: covenant_plan,
            public: public.to_vec(),
            hash_lanes,
        })
    }

    /// One account slot's collateral rows (head, tiers, then the closing row) and its
    /// value at 10^-20: each holding split greedily into the asset's tiers.
    fn collateral_rows(
        shape: &Shape,
        tables: &MarketTables,
        assets: &BTreeMap<[u8; 32], usize>,
        opening: &AccountOpening,
        a: usize,
        forge_parts: Option<PartsEdit<'_>>,
    ) -> Result<(Vec<CollateralRow>, I256), PlanError> {
        let mut rows = Vec::with_capacity(shape.collateral * (1 + tables.tiers) + 1);
        let mut value_sum = I256::ZERO;
        for slot in 0..shape.collateral {
            let (id, amount, active) = match opening.collateral.get(slot) {
                Some(&(id, x)) => (id, x, Fp::ONE),
                None => (Fp::ZERO, 0, Fp::ZERO),
            };
            let asset = if active == Fp::ONE {
                Some(&tables.assets[*assets.get(&key(&id)).ok_or_else(|| PlanError::UnknownId(format!("asset in account slot {a}")))?])
            } else {
                None
            };
            let price = asset.map_or(0, |r| r.price);
            let holding = amount.max(0);
            rows.push(CollateralRow {
                id,
                val: signed_to_field(amount),
                mag: signed_to_field(amount.abs()),
                active,
                entry: if active == Fp::ONE { pack_entry(EntryKind::Collateral, id, amount) } else { Fp::ZERO },
                price: signed_to_field(price),
                rem: Fp::ZERO,
                value_sum: wide_to_field(value_sum),
                ..Default::default()
            });
            value_sum -= wide((-amount).max(0)) * wide(price) * wide(RATE_SCALE);
            // The greedy split: each tier takes what is left, up to its width.
            let mut parts: Vec<i128> = (0..tables.tiers)
                .scan(holding, |left, t| {
                    let width = asset.map_or(Some(0), |r| r.tiers[t].width);
                    let part = width.map_or(*left, |w| (*left).min(w));
                    *left -= part;
                    Some(part)
                })
                .collect();
            if let Some(edit) = forge_parts {
                edit(a, slot, &mut parts);
            }
            let mut rem = holding;
            for (t, &part) in parts.iter().enumerate() {
                let tier = asset.map(|r| r.tiers[t]);
                let complement = tier.map_or(0, |t| t.complement);
                let width_cell = tier.map_or(Fp::ZERO, |t| t.width_cell());
                rows.push(CollateralRow {
                    id,
                    val: signed_to_field(part),
                    mag: width_cell - signed_to_field(part),
                    active,
                    price: signed_to_field(price),
                    complement: signed_to_field(complement),
                    width: width_cell,
                    rem: signed_to_field(rem),
                    value_sum: wide_to_field(value_sum),
                    ..Default::default()
                });
                value_sum += wide(part) * wide(price) * wide(complement);
                rem -= part;
            }
        }
        rows.push(CollateralRow { value_sum: wide_to_field(value_sum), ..Default::default() });
        Ok((rows, value_sum))
    }

    /// A group slot's net rows (and the closing row's final sums): running sums and the
    /// lanes (weighted by class with risk classes).
    fn net_pass(tables: &MarketTables, slots: &[NetSlot], tag: Fp, chal: Fp, class_weights: &[Fp]) -> NetPass {
        let lanes = tables.lanes;
        let fold = fold_rows(lanes);
        let class_mode = !class_weights.is_empty();
        let (mut logup, mut mark_sum, mut linear_sum, mut short_sum, mut gross) =
            (Fp::ZERO, I256::ZERO, I256::ZERO, I256::ZERO, I256::ZERO);
        let mut loss = vec![Fp::ZERO; lanes];
        let mut losses = vec![I256::ZERO; lanes];
        let mut rows = Vec::with_capacity(slots.len() + 1);
        for &(idx, id, n, row) in slots {
            let row = row.map(|i| &tables.instruments[i]);
            // A padding slot (id 0) takes the padding instrument's numbers (class 0).
            let (mark, linear, short, pnl) = row.map_or((0, 0, 0, vec![PADDING_PNL; lanes]), |r| {
                (r.mark, r.linear, r.short_charge, r.pnl.clone())
            });
            let notional = row.map_or(I256::ZERO, |r| r.notional.map_or(I256::ONE << MISSING_NOTIONAL_BITS, wide));
            let class = row.map_or(0, |r| r.class);
            let weight = if class_mode { class_weights[class as usize] } else { Fp::ZERO };
            let pnl_f: Vec<Fp> = pnl.iter().map(|&p| signed_to_field(p)).collect();
            rows.push(NetRow {
                idx,
                id,
                net: signed_to_field(n),
                mag: signed_to_field(n.abs()),
                mark: signed_to_field(mark),
                linear: signed_to_field(linear),
                short_charge: signed_to_field(short),
                notional: wide_to_field(notional),
                class: Fp::from(class),
                weight,
                carried_weight: vec![weight; fold - 1],
                carried_net: vec![signed_to_field(n); fold - 1],
                pnl: pnl_f.clone(),
                inv: inverse(chal - id - tag),
                challenge: chal,
                logup,
                mark_sum: wide_to_field(mark_sum),
                linear_sum: wide_to_field(linear_sum),
                short_sum: wide_to_field(short_sum),
                gross_sum: wide_to_field(gross),
                loss: loss.clone(),
            });
            logup += signed_to_field(n) * inverse(chal - id - tag);
            mark_sum += wide(n) * wide(mark);
            linear_sum += wide(n.abs()) * wide(linear);
            short_sum += wide((-n).max(0)) * wide(short);
            gross += wide(n.abs()) * notional;
            let factor = if class_mode { weight * signed_to_field(n) } else { signed_to_field(n) };
            for (l, p) in loss.iter_mut().zip(&pnl_f) {
                *l -= factor * p;
            }
            for (l, &p) in losses.iter_mut().zip(&pnl) {
                *l -= wide(n) * wide(p);
            }
        }
        rows.push(NetRow {
            logup,
            challenge: chal,
            mark_sum: wide_to_field(mark_sum),
            linear_sum: wide_to_field(linear_sum),
            short_sum: wide_to_field(short_sum),
            gross_sum: wide_to_field(gross),
            loss,
            pnl: vec![Fp::ZERO; lanes],
            ..Default::default()
        });
        NetPass { rows, mark_sum, linear_sum, short_sum, gross, losses }
    }
}
