//! The prover's private witness, and the plan of every cell value the circuit assigns.
//!
//! [`Plan::new`] is the native mirror of the circuit: it computes, with exact integers,
//! every value the margin chips lay out (net positions, running sums, the worst loss,
//! requirements, excesses, the logUp challenge and inverses, the commitment chains).
//! The circuit only assigns these values; its gates check them.

use std::collections::BTreeMap;

use ethnum::{I256, U256};
use ff::{Field, PrimeField};

use crate::chips::columns::fold_rows;
use crate::circuit::HASH_LANES;
use crate::commitment::{pack_entry, AccountOpening, EntryKind};
use crate::encoding::{pow2, signed_to_field, Fp};
use crate::fixed::{MONEY_SCALE, RATE_SCALE};
use crate::shape::Shape;
use crate::sponges::{net_element_value, net_word, SpongePlan, NETS_PER_ABSORPTION};
use crate::statement::{group_tag, Mode, PublicLayout, BINDING};
use crate::tables::{MarketTables, PADDING_PNL};

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

/// Values of one collateral row.
#[derive(Clone, Debug, Default)]
pub struct CollateralRow {
    /// Asset id element (0 in a padding slot).
    pub id: Fp,
    /// Signed amount.
    pub amount: Fp,
    /// |amount|.
    pub mag: Fp,
    /// 1 for a real entry, 0 for padding.
    pub active: Fp,
    /// The packed entry (0 in a padding slot).
    pub entry: Fp,
    /// Asset price (money units).
    pub price: Fp,
    /// 1 − haircut (rate units).
    pub haircut_complement: Fp,
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
    /// Collateral rows, then one final row (only `value_sum` used).
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
    /// Σ −n·pnl_s so far, per lane s.
    pub loss: Vec<Fp>,
}

/// Values of a group's closing rows.
#[derive(Clone, Debug, Default)]
pub struct GroupTotals {
    /// max(0, max_s loss_s) at 14 decimals.
    pub worst: Fp,
    /// The worst again on each closing row close..close+F (the rows that check the
    /// slacks, and the one below them): an honest plan, `worst` on each.
    pub carried_worst: Vec<Fp>,
    /// worst − loss_s per lane.
    pub slack: Vec<Fp>,
    /// Σ collateral values of the group's accounts, common scale.
    pub collateral: Fp,
    /// Requirement, common scale.
    pub requirement: Fp,
    /// Excess, common scale.
    pub excess: Fp,
}

/// Values of one group slot.
#[derive(Clone, Debug, Default)]
pub struct GroupPlan {
    /// Net rows, then the closing row (running sums final values in `NetRow` form).
    pub rows: Vec<NetRow>,
    /// The closing row's figures.
    pub totals: GroupTotals,
    /// Running Σ membership(a)·collateral(a) after each account slot.
    pub collateral_sums: Vec<Fp>,
    /// The net words of this group's rows, two per absorption ([`crate::sponges`]).
    pub words: Vec<[Fp; 2]>,
    /// The challenge coming in and the final logUp sum going out.
    pub crossing: Crossing,
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
    /// Σ excess over group slots.
    pub total_excess: Fp,
    /// Running Σ excess after each group slot.
    pub excess_sums: Vec<Fp>,
    /// Running Σ of the position regions' logUp sums after each account slot.
    pub position_logup_sums: Vec<Fp>,
    /// Running Σ of the net regions' logUp sums after each group slot.
    pub net_logup_sums: Vec<Fp>,
    /// Total excess − threshold.
    pub threshold_slack: Fp,
    /// The public inputs, as the public-input region's cells.
    pub public: Vec<Fp>,
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

/// logUp inverse 1/(challenge − id − tag); zero when it does not exist (negligible).
fn logup_inverse(challenge: Fp, id: Fp, tag: Fp) -> Fp {
    Option::from((challenge - id - tag).invert()).unwrap_or(Fp::ZERO)
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

impl Plan {
    /// Plans every cell of `shape` for `witness` against `tables`, with threshold
    /// `threshold_units` (money units) and the statement's public inputs `public`
    /// ([`crate::statement::PublicLayout`]; the binding is one of them).
    pub fn new(
        shape: &Shape,
        tables: &MarketTables,
        witness: &MarginWitness,
        threshold_units: i128,
        public: &[Fp],
    ) -> Result<Plan, PlanError> {
        let nets = group_nets(witness, shape.groups);
        Plan::with_nets(shape, tables, witness, &nets, threshold_units, public)
    }

    /// Plans with the given net rows per group slot instead of the true nets (an honest
    /// prover never does this; soundness tests use it to forge a netting).
    pub fn with_nets(
        shape: &Shape,
        tables: &MarketTables,
        witness: &MarginWitness,
        nets: &[Vec<(Fp, i128)>],
        threshold_units: i128,
        public: &[Fp],
    ) -> Result<Plan, PlanError> {
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
                if n == 0 && id == Fp::ZERO {
                    slots.push((Fp::ZERO, Fp::ZERO, 0, None));
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
        let chal = SpongePlan::new(shape, HASH_LANES).challenge(&commitments, &all_words, public[BINDING]);

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
                let inv = logup_inverse(chal, id, tag);
                let entry = if active == Fp::ONE { pack_entry(EntryKind::Position, id, q) } else { Fp::ZERO };
                positions.push(PositionRow {
                    id,
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
            let mut value_sum = I256::ZERO;
            let mut collateral = Vec::with_capacity(shape.collateral + 1);
            for slot in 0..shape.collateral {
                let (id, amount, active) = match opening.collateral.get(slot) {
                    Some(&(id, x)) => (id, x, Fp::ONE),
                    None => (Fp::ZERO, 0, Fp::ZERO),
                };
                let (price, complement) = if active == Fp::ONE {
                    let row = &tables.assets[*assets
                        .get(&key(&id))
                        .ok_or_else(|| PlanError::UnknownId(format!("asset in account slot {a}")))?];
                    (row.price, row.haircut_complement)
                } else {
                    (0, 0)
                };
                let entry = if active == Fp::ONE { pack_entry(EntryKind::Collateral, id, amount) } else { Fp::ZERO };
                collateral.push(CollateralRow {
                    id,
                    amount: signed_to_field(amount),
                    mag: signed_to_field(amount.abs()),
                    active,
                    entry,
                    price: signed_to_field(price),
                    haircut_complement: signed_to_field(complement),
                    value_sum: wide_to_field(value_sum),
                });
                let factor = if amount >= 0 { complement } else { RATE_SCALE };
                value_sum += wide(amount) * wide(price) * wide(factor);
            }
            collateral.push(CollateralRow { value_sum: wide_to_field(value_sum), ..Default::default() });
            collateral_value[a] = value_sum;
            accounts.push(AccountPlan {
                venue: opening.venue,
                account: opening.account,
                salt: opening.salt,
                header_pad: Fp::zero(),
                crossing: Crossing {
                    challenge: chal,
                    logup: positions[shape.positions].logup,
                    value: collateral[shape.collateral].value_sum,
                },
                positions,
                collateral,
            });
        }

        // Groups.
        let lift = wide(MONEY_SCALE);
        let mut groups = Vec::with_capacity(shape.groups);
        let mut total = I256::ZERO;
        let mut excess_sums = Vec::with_capacity(shape.groups);
        for (g, slots) in net_slots.iter().enumerate() {
            let tag = group_tag(g);
            let lanes = tables.lanes;
            let (mut logup, mut mark_sum, mut linear_sum, mut short_sum) = (Fp::ZERO, I256::ZERO, I256::ZERO, I256::ZERO);
            let mut loss = vec![I256::ZERO; lanes];
            let mut rows = Vec::with_capacity(shape.nets + 1);
            for &(idx, id, n, row) in slots {
                let row = row.map(|i| &tables.instruments[i]);
                // A padding slot (id 0) takes the padding instrument's numbers.
                let (mark, linear, short, pnl) = row.map_or((0, 0, 0, vec![PADDING_PNL; lanes]), |r| {
                    (r.mark, r.linear, r.short_charge, r.pnl.clone())
                });
                let inv = logup_inverse(chal, id, tag);
                rows.push(NetRow {
                    idx,
                    id,
                    net: signed_to_field(n),
                    carried_net: vec![signed_to_field(n); fold_rows(lanes) - 1],
                    mag: signed_to_field(n.abs()),
                    mark: signed_to_field(mark),
                    linear: signed_to_field(linear),
                    short_charge: signed_to_field(short),
                    pnl: pnl.iter().map(|&p| signed_to_field(p)).collect(),
                    inv,
                    challenge: chal,
                    logup,
                    mark_sum: wide_to_field(mark_sum),
                    linear_sum: wide_to_field(linear_sum),
                    short_sum: wide_to_field(short_sum),
                    loss: loss.iter().map(|&l| wide_to_field(l)).collect(),
                });
                logup += signed_to_field(n) * inv;
                mark_sum += wide(n) * wide(mark);
                linear_sum += wide(n.abs()) * wide(linear);
                short_sum += wide((-n).max(0)) * wide(short);
                for (l, &p) in loss.iter_mut().zip(&pnl) {
                    *l -= wide(n) * wide(p);
                }
            }
            rows.push(NetRow {
                logup,
                challenge: chal,
                mark_sum: wide_to_field(mark_sum),
                linear_sum: wide_to_field(linear_sum),
                short_sum: wide_to_field(short_sum),
                loss: loss.iter().map(|&l| wide_to_field(l)).collect(),
                pnl: vec![Fp::ZERO; lanes],
                ..Default::default()
            });
            let worst = loss.iter().copied().fold(I256::ZERO, I256::max);
            let collateral: I256 = witness
                .account_group
                .iter()
                .enumerate()
                .filter(|&(_, &ag)| ag == g)
                .map(|(a, _)| collateral_value[a])
                .sum();
            let portfolio = witness.group_modes.get(g) == Some(&Mode::Portfolio);
            let requirement = if portfolio {
                wide(tables.loss_factor) * worst + short_sum * lift
            } else {
                linear_sum * lift
            };
            let excess = collateral + mark_sum * lift - requirement;
            total += excess;
            excess_sums.push(wide_to_field(total));
            let collateral_sums = (0..shape.accounts)
                .scan(I256::ZERO, |sum, a| {
                    if witness.account_group.get(a) == Some(&g) {
                        *sum += collateral_value[a];
                    }
                    Some(wide_to_field(*sum))
                })
                .collect();
            groups.push(GroupPlan {
                totals: GroupTotals {
                    worst: wide_to_field(worst),
                    carried_worst: vec![wide_to_field(worst); fold_rows(lanes) + 1],
                    slack: loss.iter().map(|&l| wide_to_field(worst - l)).collect(),
                    collateral: wide_to_field(collateral),
                    requirement: wide_to_field(requirement),
                    excess: wide_to_field(excess),
                },
                collateral_sums,
                words: net_words[g].clone(),
                crossing: Crossing { challenge: chal, logup: rows[shape.nets].logup, value: Fp::ZERO },
                rows,
            });
        }
        let threshold = wide(threshold_units) * I256::from(10i128.pow(14));
        let running = |finals: Vec<Fp>| {
            finals.into_iter().scan(Fp::ZERO, |sum, x| {
                *sum += x;
                Some(*sum)
            }).collect()
        };
        let position_logup_sums = running(accounts.iter().map(|a| a.positions[shape.positions].logup).collect());
        let net_logup_sums = running(groups.iter().map(|g| g.rows[shape.nets].logup).collect());
        Ok(Plan {
            accounts,
            groups,
            challenge: chal,
            total_excess: wide_to_field(total),
            excess_sums,
            position_logup_sums,
            net_logup_sums,
            threshold_slack: wide_to_field(total - threshold),
            public: public.to_vec(),
        })
    }
}
