//! The exact margin engine of SPEC sections 5 and 10: the reference the circuit must
//! agree with.
//!
//! Equity, requirements and excess are 256-bit integers at the common scale of 10^-26
//! quote units ([`COMMON_DECIMALS`]): quantity (1e-8) × money (1e-6) × rate (1e-6) ×
//! rate (1e-6), the finest scale at which a requirement with a class offset,
//! lf·(joint + (1 − o)·(Σ_c worst_c − joint)) + shorts, is exact. Scenario losses (the
//! joint worst and each class's worst) and gross notionals stay at 10^-14 (quantity ×
//! money, [`LOSS_DECIMALS`]). Nothing is rounded until a figure is printed, and then
//! requirements, worst losses, gross notionals and leverage round up, equity, excess and
//! ratios round down (toward −∞).

use std::collections::BTreeMap;
use std::fmt;

use ethnum::{I256, U256};
use zkmargin_circuits::fixed::{MONEY_DECIMALS, RATE_DECIMALS, RATE_SCALE};
use zkmargin_circuits::market::{Asset, Level, Market, PerLevel};

use crate::portfolio::{Mode, Portfolio};

/// Decimal places of the common scale (equity, requirement, excess).
pub const COMMON_DECIMALS: u32 = 26;

/// Decimal places of a scenario loss or a gross notional: quantity × money.
pub const LOSS_DECIMALS: u32 = 14;

/// Decimal places of an asset value as [`Asset::value`] gives it: quantity × money × rate.
const VALUE_DECIMALS: u32 = 20;

/// The worst loss of one risk class of a group (SPEC section 5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassFigures {
    /// The class's name (empty for the market's unnamed class).
    pub class: String,
    /// worst_c = max(0, max_s loss_{c,s}), at 10^-14.
    pub worst: I256,
    /// First scenario with the largest class loss; `None` when `worst` is 0.
    pub worst_scenario: Option<usize>,
}

/// Figures of one group at one level. Equity, requirement and excess are at the common
/// scale (10^-26).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelFigures {
    /// Margin requirement.
    pub requirement: I256,
    /// Equity minus requirement.
    pub excess: I256,
    /// Index of the scenario with the largest joint loss (first such); `None` in standard
    /// mode or when no scenario loses.
    pub worst_scenario: Option<usize>,
    /// The joint worst, max(0, max_s loss_s), at 10^-14; 0 in standard mode.
    pub worst_loss: I256,
    /// The worst loss the loss factor multiplies, at 10^-20 (rate units × 10^-14):
    /// joint·1e6 + (1e6 − offset)·(Σ_c worst_c − joint); 0 in standard mode.
    pub blended_loss: I256,
    /// Each class the group holds a nonzero net position in, in market class order
    /// (computed in either mode: they are defined by the positions).
    pub classes: Vec<ClassFigures>,
}

/// Figures of one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupFigures {
    /// Group name.
    pub name: String,
    /// Group mode.
    pub mode: Mode,
    /// Collateral value plus marked value of net positions, at the common scale.
    pub equity: I256,
    /// Net position per instrument index (8-decimal units), zero nets omitted.
    pub nets: BTreeMap<usize, i128>,
    /// Σ_i |n_i|·notional_i at 10^-14; `None` when the group holds an instrument the
    /// market gives no notional.
    pub gross_notional: Option<I256>,
    /// Figures per level.
    pub levels: PerLevel<LevelFigures>,
}

impl GroupFigures {
    /// equity / requirement at `level` in rate units (10^-6), rounded toward −∞; `None`
    /// when the requirement is 0 (SPEC section 10).
    pub fn ratio(&self, level: Level) -> Option<I256> {
        let requirement = self.levels.get(level).requirement;
        (requirement != I256::ZERO).then(|| floor_div(self.equity * wide(RATE_SCALE), requirement))
    }
}

/// The margin report of a portfolio against a market.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarginReport {
    /// Market snapshot id.
    pub market_id: String,
    /// Scenario names of the market (for naming the worst scenario).
    pub scenarios: Vec<String>,
    /// Per-group figures, in portfolio order.
    pub groups: Vec<GroupFigures>,
    /// The first instrument (in market order) held with a nonzero net position in some
    /// group that has no `notional` in the market, and the first group holding it.
    pub missing_notional: Option<MissingNotional>,
}

/// A held instrument without a notional: a leverage figure or claim is impossible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingNotional {
    /// The instrument's id.
    pub instrument: String,
    /// The first group holding it (nonzero net position).
    pub group: String,
}

impl fmt::Display for MissingNotional {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "max_leverage needs the notional of every instrument the book holds, and the market gives none for {:?} (held in group {:?})",
            self.instrument, self.group
        )
    }
}

impl std::error::Error for MissingNotional {}

/// The covenants a claim may carry besides level and threshold (SPEC section 10), in
/// exact units; `None`: not claimed (the statement's own type).
pub use zkmargin_circuits::statement::Covenants;

/// Why a claim does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimFailure {
    /// A group's own excess is negative.
    GroupShortfall {
        /// The failing group.
        group: String,
        /// Its (negative) excess at the common scale.
        excess: I256,
    },
    /// Every group covers itself but the total excess is below the threshold.
    BelowThreshold {
        /// Total excess at the common scale.
        total: I256,
        /// Threshold at the common scale.
        threshold: I256,
    },
    /// `min_ratio`: a group's equity is below ρ times its requirement.
    RatioBelow {
        /// The failing group.
        group: String,
        /// Its equity at the common scale.
        equity: I256,
        /// Its requirement at the common scale.
        requirement: I256,
        /// The claimed ρ, rate units.
        min_ratio: i128,
    },
    /// `min_equity`: the total equity is below E.
    EquityBelow {
        /// Σ_g equity_g at the common scale.
        equity: I256,
        /// The claimed E, money units.
        min_equity: i128,
    },
    /// `max_leverage` on a book holding an instrument without notional (an input error
    /// that callers report first, see [`MarginReport::check_covenant_inputs`]).
    NotionalMissing(MissingNotional),
    /// `max_leverage`: the gross notional is above λ times the total equity.
    LeverageAbove {
        /// Σ_g Σ_i |n_i|·notional_i at 10^-14.
        gross_notional: I256,
        /// Σ_g equity_g at the common scale.
        equity: I256,
        /// The claimed λ, rate units.
        max_leverage: i128,
    },
}

impl ClaimFailure {
    /// The covenant that fails (`min_ratio`, `min_equity`, `max_leverage`), or `None`
    /// for the excess claim of SPEC section 5.
    pub fn covenant(&self) -> Option<&'static str> {
        match self {
            ClaimFailure::GroupShortfall { .. } | ClaimFailure::BelowThreshold { .. } => None,
            ClaimFailure::RatioBelow { .. } => Some("min_ratio"),
            ClaimFailure::EquityBelow { .. } => Some("min_equity"),
            ClaimFailure::LeverageAbove { .. } | ClaimFailure::NotionalMissing(_) => Some("max_leverage"),
        }
    }

    /// The failing group, when one group fails.
    pub fn group(&self) -> Option<&str> {
        match self {
            ClaimFailure::GroupShortfall { group, .. } | ClaimFailure::RatioBelow { group, .. } => Some(group),
            _ => None,
        }
    }
}

impl fmt::Display for ClaimFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimFailure::GroupShortfall { group, excess } => write!(
                f,
                "group {group:?} does not cover its requirement (excess {})",
                format_common(*excess, Rounding::Down)
            ),
            ClaimFailure::BelowThreshold { total, threshold } => write!(
                f,
                "total excess {} is below the threshold {}",
                format_common(*total, Rounding::Down),
                format_common(*threshold, Rounding::Up)
            ),
            ClaimFailure::RatioBelow { group, equity, requirement, min_ratio } => {
                let ratio = (*requirement != I256::ZERO).then(|| floor_div(*equity * wide(RATE_SCALE), *requirement));
                write!(
                    f,
                    "min_ratio {}: group {group:?} has equity {} against a requirement of {} (ratio {})",
                    format_rate(*min_ratio),
                    format_common(*equity, Rounding::Down),
                    format_common(*requirement, Rounding::Up),
                    ratio.map_or("undefined".to_string(), |r| format_scaled(r, RATE_DECIMALS, Rounding::Down))
                )
            }
            ClaimFailure::EquityBelow { equity, min_equity } => write!(
                f,
                "min_equity {}: the total equity {} is below it",
                format_scaled(wide(*min_equity), MONEY_DECIMALS, Rounding::Down),
                format_common(*equity, Rounding::Down)
            ),
            ClaimFailure::LeverageAbove { gross_notional, equity, max_leverage } => {
                let claimed = format_rate(*max_leverage);
                let gross = format_scaled(*gross_notional, LOSS_DECIMALS, Rounding::Up);
                let equity_text = format_common(*equity, Rounding::Down);
                match leverage_units(*gross_notional, *equity) {
                    Some(leverage) => write!(
                        f,
                        "max_leverage {claimed}: the gross notional {gross} is {} times the total equity {equity_text}",
                        format_scaled(leverage, RATE_DECIMALS, Rounding::Up)
                    ),
                    None => write!(
                        f,
                        "max_leverage {claimed}: the gross notional {gross} against a total equity of {equity_text} (not positive)"
                    ),
                }
            }
            ClaimFailure::NotionalMissing(missing) => missing.fmt(f),
        }
    }
}

fn wide(x: i128) -> I256 {
    I256::from(x)
}

fn pow10(e: u32) -> I256 {
    I256::from(10u8).pow(e)
}

/// ⌊a / b⌋ for b > 0.
fn floor_div(a: I256, b: I256) -> I256 {
    let q = a / b; // truncates toward zero
    if a % b != I256::ZERO && a < I256::ZERO {
        q - I256::ONE
    } else {
        q
    }
}

/// ⌈a / b⌉ for b > 0.
fn ceil_div(a: I256, b: I256) -> I256 {
    let q = a / b;
    if a % b != I256::ZERO && a > I256::ZERO {
        q + I256::ONE
    } else {
        q
    }
}

/// A figure at 10^-14 (a loss, a notional) lifted to the common scale.
pub fn loss_to_common(x: I256) -> I256 {
    x * pow10(COMMON_DECIMALS - LOSS_DECIMALS)
}

/// The value of a collateral amount at the common scale ([`Asset::value`], tiers
/// included: a holding haircut tier by tier, a debt at the full price).
pub fn asset_value(asset: &Asset, amount: i128) -> I256 {
    asset.value(amount) * pow10(COMMON_DECIMALS - VALUE_DECIMALS)
}

/// Lifts a 6-decimal money amount (a threshold, an equity floor) to the common scale.
pub fn money_to_common(units: i128) -> I256 {
    wide(units) * pow10(COMMON_DECIMALS - MONEY_DECIMALS)
}

/// Loss of a group in each scenario, at 14 decimals: −Σ_i n_i·pnl_i\[s\].
pub fn scenario_losses(market: &Market, nets: &BTreeMap<usize, i128>) -> Vec<I256> {
    let mut losses = vec![I256::ZERO; market.scenarios.len()];
    for (&i, &n) in nets {
        for (loss, &pnl) in losses.iter_mut().zip(&market.instruments[i].pnl) {
            *loss -= wide(n) * wide(pnl);
        }
    }
    losses
}

/// max(0, max_s loss_s) and the first scenario reaching it (None when it is 0).
pub fn worst_loss(losses: &[I256]) -> (I256, Option<usize>) {
    let mut worst = I256::ZERO;
    let mut at = None;
    for (s, &loss) in losses.iter().enumerate() {
        if loss > worst {
            worst = loss;
            at = Some(s);
        }
    }
    (worst, at)
}

/// The worst loss a loss factor multiplies, with risk classes (SPEC section 5), at
/// 10^-20: joint·1e6 + (1e6 − offset)·(Σ_c worst_c − joint), i.e. 1e6 × (joint +
/// (1 − o)·(Σ_c worst_c − joint)) exactly. `joint` and `class_sum` at 10^-14, `offset`
/// in rate units.
pub fn blended_loss(joint: I256, class_sum: I256, offset: i128) -> I256 {
    joint * wide(RATE_SCALE) + wide(RATE_SCALE - offset) * (class_sum - joint)
}

/// Each class a group holds (a nonzero net position in one of its instruments), in
/// market class order, with its worst loss. `class_of` and `names` as [`Market::classes`]
/// gives them.
pub fn class_figures(
    market: &Market,
    names: &[&str],
    class_of: &[usize],
    nets: &BTreeMap<usize, i128>,
) -> Vec<ClassFigures> {
    let mut by_class: BTreeMap<usize, BTreeMap<usize, i128>> = BTreeMap::new();
    for (&i, &n) in nets {
        by_class.entry(class_of[i]).or_default().insert(i, n);
    }
    by_class
        .into_iter()
        .map(|(c, class_nets)| {
            let (worst, worst_scenario) = worst_loss(&scenario_losses(market, &class_nets));
            ClassFigures { class: names[c].to_string(), worst, worst_scenario }
        })
        .collect()
}

/// Net position per instrument of each group (instrument index → qty units).
pub fn group_nets(market: &Market, portfolio: &Portfolio) -> Vec<BTreeMap<usize, i128>> {
    let index: std::collections::HashMap<&str, usize> =
        market.instruments.iter().enumerate().map(|(i, ins)| (ins.id.as_str(), i)).collect();
    let mut nets = vec![BTreeMap::new(); portfolio.groups.len()];
    for acc in &portfolio.accounts {
        for pos in &acc.positions {
            let i = index[pos.instrument.as_str()];
            *nets[acc.group].entry(i).or_insert(0) += pos.qty;
        }
    }
    for group in &mut nets {
        group.retain(|_, n| *n != 0);
    }
    nets
}

/// Computes the exact report. The portfolio must have been checked against the market.
pub fn compute(market: &Market, portfolio: &Portfolio) -> MarginReport {
    let asset_index: std::collections::HashMap<&str, usize> =
        market.assets.iter().enumerate().map(|(i, a)| (a.id.as_str(), i)).collect();
    let (class_names, class_of) = market.classes();
    let nets = group_nets(market, portfolio);
    let groups = portfolio
        .groups
        .iter()
        .enumerate()
        .map(|(g, group)| {
            let nets = nets[g].clone();
            let mut equity = I256::ZERO;
            for acc in portfolio.accounts.iter().filter(|a| a.group == g) {
                for col in &acc.collateral {
                    equity += asset_value(&market.assets[asset_index[col.asset.as_str()]], col.amount);
                }
            }
            let marked: I256 = nets.iter().map(|(&i, &n)| wide(n) * wide(market.instruments[i].mark)).sum();
            equity += loss_to_common(marked);
            let gross_notional = nets
                .iter()
                .map(|(&i, &n)| market.instruments[i].notional.map(|notional| wide(n.abs()) * wide(notional)))
                .sum::<Option<I256>>();
            let classes = class_figures(market, &class_names, &class_of, &nets);
            let class_sum: I256 = classes.iter().map(|c| c.worst).sum();
            let (joint, joint_at) = worst_loss(&scenario_losses(market, &nets));
            let level = |level: Level| {
                let (requirement, worst_loss, blended, worst_scenario) = match group.mode {
                    Mode::Standard => {
                        let linear: I256 = nets
                            .iter()
                            .map(|(&i, &n)| wide(n.abs()) * wide(market.instruments[i].linear.at(level)))
                            .sum();
                        (loss_to_common(linear), I256::ZERO, I256::ZERO, None)
                    }
                    Mode::Portfolio => {
                        let blended = blended_loss(joint, class_sum, market.class_offset_at(level));
                        let shorts: I256 = nets
                            .iter()
                            .filter(|(_, &n)| n < 0)
                            .map(|(&i, &n)| wide(-n) * wide(market.instruments[i].short_charge.at(level)))
                            .sum();
                        let requirement = wide(market.loss_factor.at(level)) * blended + loss_to_common(shorts);
                        (requirement, joint, blended, joint_at)
                    }
                };
                LevelFigures {
                    requirement,
                    excess: equity - requirement,
                    worst_scenario,
                    worst_loss,
                    blended_loss: blended,
                    classes: classes.clone(),
                }
            };
            GroupFigures {
                name: group.name.clone(),
                mode: group.mode,
                equity,
                gross_notional,
                levels: PerLevel { initial: level(Level::Initial), maintenance: level(Level::Maintenance) },
                nets,
            }
        })
        .collect::<Vec<GroupFigures>>();
    let missing_notional = market.instruments.iter().enumerate().filter(|(_, ins)| ins.notional.is_none()).find_map(|(i, ins)| {
        groups.iter().find(|g| g.nets.contains_key(&i)).map(|g| MissingNotional { instrument: ins.id.clone(), group: g.name.clone() })
    });
    MarginReport { market_id: market.id.clone(), scenarios: market.scenarios.clone(), groups, missing_notional }
}

/// gross / equity in rate units, rounded toward +∞ (`gross` at 10^-14, `equity` at the
/// common scale); `None` when the equity is not positive.
fn leverage_units(gross: I256, equity: I256) -> Option<I256> {
    (equity > I256::ZERO).then(|| ceil_div(loss_to_common(gross) * wide(RATE_SCALE), equity))
}

impl MarginReport {
    /// Σ_g excess_g at `level`, exact.
    pub fn total_excess(&self, level: Level) -> I256 {
        self.groups.iter().map(|g| g.levels.get(level).excess).sum()
    }

    /// Σ_g equity_g, exact, at the common scale.
    pub fn total_equity(&self) -> I256 {
        self.groups.iter().map(|g| g.equity).sum()
    }

    /// Σ_g Σ_i |n_i|·notional_i at 10^-14; `None` when a held instrument has no notional.
    pub fn gross_notional(&self) -> Option<I256> {
        self.groups.iter().map(|g| g.gross_notional).sum()
    }

    /// Gross notional / total equity in rate units (10^-6), rounded toward +∞; `None`
    /// when the gross notional is unknown or the total equity is not positive.
    pub fn leverage(&self) -> Option<I256> {
        leverage_units(self.gross_notional()?, self.total_equity())
    }

    /// The strongest covenants the book supports at `level`, each at its exact bound
    /// within a statement's ranges: the lowest group ratio (rounded down, in [1, 1000]; none
    /// without a requirement), the total equity (rounded down), the leverage (rounded up,
    /// at most 1000; none without one).
    pub fn strongest_covenants(&self, level: Level) -> Covenants {
        let (one, most) = (RATE_SCALE, 1_000 * RATE_SCALE);
        Covenants {
            min_ratio: self.groups.iter().filter_map(|g| g.ratio(level)).min().map(|r| r.as_i128().clamp(one, most)),
            min_equity: Some(common_to_money(self.total_equity(), Rounding::Down)),
            max_leverage: self.leverage().map(|l| l.as_i128().clamp(1, most)),
        }
    }

    /// Whether the claim (level, threshold at the common scale) holds, per SPEC 5.
    pub fn check_claim(&self, level: Level, threshold: I256) -> Result<(), ClaimFailure> {
        self.check_claim_with(level, threshold, &Covenants::default())
    }

    /// The input rule of SPEC section 10 that comes before any claim: a leverage claim
    /// needs the notional of every instrument the book holds.
    pub fn check_covenant_inputs(&self, covenants: &Covenants) -> Result<(), MissingNotional> {
        match (&covenants.max_leverage, &self.missing_notional) {
            (Some(_), Some(missing)) => Err(missing.clone()),
            _ => Ok(()),
        }
    }

    /// Whether the claim (level, threshold at the common scale) and every covenant given
    /// hold (SPEC sections 5 and 10), exactly: every group's excess ≥ 0, the total ≥ T,
    /// then equity_g·1e6 ≥ ρ·req_g for every group, Σ equity ≥ E, and gross·1e6 ≤ λ·Σ
    /// equity (all at the common scale). The first failure is returned. A leverage claim
    /// on a book holding an instrument without notional fails [`Self::check_covenant_inputs`],
    /// which callers check first (an input error, exit 2); here it is
    /// [`ClaimFailure::NotionalMissing`].
    pub fn check_claim_with(&self, level: Level, threshold: I256, covenants: &Covenants) -> Result<(), ClaimFailure> {
        for group in &self.groups {
            let excess = group.levels.get(level).excess;
            if excess < I256::ZERO {
                return Err(ClaimFailure::GroupShortfall { group: group.name.clone(), excess });
            }
        }
        let total = self.total_excess(level);
        if total < threshold {
            return Err(ClaimFailure::BelowThreshold { total, threshold });
        }
        if let Some(min_ratio) = covenants.min_ratio {
            for group in &self.groups {
                let requirement = group.levels.get(level).requirement;
                if group.equity * wide(RATE_SCALE) < wide(min_ratio) * requirement {
                    return Err(ClaimFailure::RatioBelow {
                        group: group.name.clone(),
                        equity: group.equity,
                        requirement,
                        min_ratio,
                    });
                }
            }
        }
        let equity = self.total_equity();
        if let Some(min_equity) = covenants.min_equity {
            if equity < money_to_common(min_equity) {
                return Err(ClaimFailure::EquityBelow { equity, min_equity });
            }
        }
        if let Some(max_leverage) = covenants.max_leverage {
            self.check_covenant_inputs(covenants).map_err(ClaimFailure::NotionalMissing)?;
            let gross_notional = self.gross_notional().expect("every held instrument has a notional");
            if loss_to_common(gross_notional) * wide(RATE_SCALE) > wide(max_leverage) * equity {
                return Err(ClaimFailure::LeverageAbove { gross_notional, equity, max_leverage });
            }
        }
        Ok(())
    }
}

/// Direction of rounding when printing a figure at 6 decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// Toward −∞ (equity, excess, ratios).
    Down,
    /// Toward +∞ (requirements, worst losses, gross notionals, leverage).
    Up,
}

/// A figure held at `decimals` (≥ 6) decimal places in units of 10^-6 (money units for
/// a money figure), rounded as asked.
pub fn to_units(value: I256, decimals: u32, rounding: Rounding) -> I256 {
    let divisor = pow10(decimals - 6);
    match rounding {
        Rounding::Down => floor_div(value, divisor),
        Rounding::Up => ceil_div(value, divisor),
    }
}

/// A common-scale figure in money units, rounded as asked (e.g. the largest threshold a
/// total excess allows: rounded down).
pub fn common_to_money(value: I256, rounding: Rounding) -> i128 {
    to_units(value, COMMON_DECIMALS, rounding).as_i128()
}

/// Formats a figure held at `decimals` (≥ 6) decimal places with exactly 6 decimals,
/// rounded as asked.
pub fn format_scaled(value: I256, decimals: u32, rounding: Rounding) -> String {
    let units = to_units(value, decimals, rounding);
    let negative = units < I256::ZERO;
    let abs = units.unsigned_abs();
    let million = U256::from(1_000_000u32);
    format!("{}{}.{:06}", if negative { "-" } else { "" }, abs / million, (abs % million).as_u32())
}

/// Formats a common-scale figure with exactly 6 decimals, rounded as asked.
pub fn format_common(value: I256, rounding: Rounding) -> String {
    format_scaled(value, COMMON_DECIMALS, rounding)
}

/// A rate (rate units) as written in files (6 decimals, exact).
fn format_rate(units: i128) -> String {
    format_scaled(wide(units), RATE_DECIMALS, Rounding::Down)
}
