//! The exact margin engine of SPEC section 5: the reference the circuit must agree with.
//!
//! All figures are 256-bit integers at the common scale of 10^-20 quote units:
//! quantity (1e-8) × money (1e-6) × rate (1e-6). Nothing is rounded until a figure is
//! printed, and then requirements round up and equity and excess round down.

use std::collections::BTreeMap;

use ethnum::I256;
use zkmargin_circuits::fixed::MONEY_SCALE;
use zkmargin_circuits::market::{Level, Market, PerLevel};

use crate::portfolio::{Mode, Portfolio};

/// Decimal places of the common scale.
pub const COMMON_DECIMALS: u32 = 20;

/// Figures of one group at one level, at the common scale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelFigures {
    /// Margin requirement.
    pub requirement: I256,
    /// Equity minus requirement.
    pub excess: I256,
    /// Index of the scenario with the largest loss (first such); `None` in standard
    /// mode or when no scenario loses.
    pub worst_scenario: Option<usize>,
    /// max(0, max_s loss_s) at 14 decimals (quantity × money), 0 in standard mode.
    pub worst_loss: I256,
}

/// Figures of one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupFigures {
    /// Group name.
    pub name: String,
    /// Group mode.
    pub mode: Mode,
    /// Collateral value plus marked value of net positions.
    pub equity: I256,
    /// Net position per instrument index (8-decimal units), zero nets omitted.
    pub nets: BTreeMap<usize, i128>,
    /// Figures per level.
    pub levels: PerLevel<LevelFigures>,
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
}

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
}

impl std::fmt::Display for ClaimFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
        }
    }
}

fn wide(x: i128) -> I256 {
    I256::from(x)
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
    let nets = group_nets(market, portfolio);
    let lift = wide(MONEY_SCALE); // 14 → 20 decimals for quantity × money products
    let groups = portfolio
        .groups
        .iter()
        .enumerate()
        .map(|(g, group)| {
            let nets = nets[g].clone();
            let mut equity = I256::ZERO;
            for acc in portfolio.accounts.iter().filter(|a| a.group == g) {
                for col in &acc.collateral {
                    let asset = &market.assets[asset_index[col.asset.as_str()]];
                    equity += asset.value(col.amount);
                }
            }
            for (&i, &n) in &nets {
                equity += wide(n) * wide(market.instruments[i].mark) * lift;
            }
            let losses = scenario_losses(market, &nets);
            let level = |level: Level| {
                let (requirement, worst_loss, worst_scenario) = match group.mode {
                    Mode::Standard => {
                        let linear: I256 = nets
                            .iter()
                            .map(|(&i, &n)| wide(n.abs()) * wide(market.instruments[i].linear.at(level)))
                            .sum();
                        (linear * lift, I256::ZERO, None)
                    }
                    Mode::Portfolio => {
                        let (worst, at) = worst_loss(&losses);
                        let shorts: I256 = nets
                            .iter()
                            .filter(|(_, &n)| n < 0)
                            .map(|(&i, &n)| wide(-n) * wide(market.instruments[i].short_charge.at(level)))
                            .sum();
                        (wide(market.loss_factor.at(level)) * worst + shorts * lift, worst, at)
                    }
                };
                LevelFigures { requirement, excess: equity - requirement, worst_scenario, worst_loss }
            };
            GroupFigures {
                name: group.name.clone(),
                mode: group.mode,
                equity,
                levels: PerLevel { initial: level(Level::Initial), maintenance: level(Level::Maintenance) },
                nets,
            }
        })
        .collect();
    MarginReport { market_id: market.id.clone(), scenarios: market.scenarios.clone(), groups }
}

impl MarginReport {
    /// Σ_g excess_g at `level`, exact.
    pub fn total_excess(&self, level: Level) -> I256 {
        self.groups.iter().map(|g| g.levels.get(level).excess).sum()
    }

    /// Whether the claim (level, threshold at the common scale) holds, per SPEC 5.
    pub fn check_claim(&self, level: Level, threshold: I256) -> Result<(), ClaimFailure> {
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
        Ok(())
    }
}

/// Direction of rounding when printing a common-scale figure at 6 decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// Toward −∞ (equity, excess).
    Down,
    /// Toward +∞ (requirements).
    Up,
}

/// Formats a common-scale figure with exactly 6 decimals, rounded as asked.
pub fn format_common(value: I256, rounding: Rounding) -> String {
    let divisor = I256::from(10i128.pow(COMMON_DECIMALS - 6));
    let mut units = value / divisor; // truncates toward zero
    let rem = value % divisor;
    if rem != I256::ZERO {
        match rounding {
            Rounding::Down if value < I256::ZERO => units -= I256::ONE,
            Rounding::Up if value > I256::ZERO => units += I256::ONE,
            _ => {}
        }
    }
    let negative = units < I256::ZERO;
    let abs = units.unsigned_abs();
    let million = ethnum::U256::from(1_000_000u32);
    format!("{}{}.{:06}", if negative { "-" } else { "" }, abs / million, (abs % million).as_u32())
}

/// Lifts a 6-decimal money amount (a threshold) to the common scale.
pub fn money_to_common(units: i128) -> I256 {
    wide(units) * I256::from(10i128.pow(COMMON_DECIMALS - 6))
}
