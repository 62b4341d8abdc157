//! What a proof states (SPEC section 7), and the public inputs it becomes.

use std::fmt;

use ff::PrimeField;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::encoding::{bytes248_to_field, field_from_hex, pow2, Fp};
use crate::fixed::{parse_units, DecimalKind, MONEY_DECIMALS};
use crate::market::Level;
use crate::shape::Shape;

/// How a group's requirement is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Scenario (risk-array) margin with short-option charges.
    Portfolio,
    /// Linear margin per unit of absolute net position.
    Standard,
}

impl Mode {
    /// The mode's name as written in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Portfolio => "portfolio",
            Mode::Standard => "standard",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A group as the statement names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementGroup {
    /// Group name.
    pub name: String,
    /// Group mode.
    pub mode: Mode,
}

/// An account as the statement names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementAccount {
    /// Venue.
    pub venue: String,
    /// Account at the venue.
    pub account: String,
    /// Name of its group.
    pub group: String,
    /// Commitment, hex of the field element.
    pub commitment: String,
}

/// The public claim of a proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Margin level.
    pub level: Level,
    /// Threshold T ≥ 0, exactly 6 decimals.
    pub threshold: String,
    /// Nonce, lowercase hex (may be empty when none was asked).
    pub nonce: String,
    /// Covenant: every group's equity ≥ min_ratio × its requirement (a rate in
    /// [1, 1000]; SPEC section 10). Absent: not claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ratio: Option<String>,
    /// Covenant: Σ equity ≥ min_equity (money, may be negative). Absent: not claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_equity: Option<String>,
    /// Covenant: Σ |n|·notional ≤ max_leverage × Σ equity (a rate > 0). Absent: not
    /// claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_leverage: Option<String>,
    /// Groups, in portfolio order.
    pub groups: Vec<StatementGroup>,
    /// Accounts, in portfolio order.
    pub accounts: Vec<StatementAccount>,
}

/// Public-input offsets of the margin circuit (one instance column).
///
/// ```text
/// row                          value
/// BINDING                      SHA-256 of (market digest, canonical statement), 248 bits
/// THRESHOLD                    T at the groups' scale (10^-26)
/// MIN_RATIO                    ρ in rate units (10^-6), 0 when not claimed
/// MIN_EQUITY                   E at 10^-26 (signed), 0 when not claimed
/// MAX_LEVERAGE                 λ in rate units, 0 when not claimed
/// LEVERAGE_CLAIMED             1 when a leverage cap is claimed, else 0
/// commitment(a)                account slot a's commitment (padding: empty opening)
/// group_tag(a)                 g(a) · 2^250 for account slot a (padding: 0)
/// membership(a, g)             1 if account slot a is in group slot g, else 0
/// mode(g)                      1 if group slot g is in portfolio mode, else 0
/// ```
#[derive(Clone, Copy, Debug)]
pub struct PublicLayout {
    accounts: usize,
    groups: usize,
}

/// Offset of the statement binding.
pub const BINDING: usize = 0;
/// Offset of the threshold.
pub const THRESHOLD: usize = 1;
/// Offset of the margin-ratio covenant.
pub const MIN_RATIO: usize = 2;
/// Offset of the equity-floor covenant.
pub const MIN_EQUITY: usize = 3;
/// Offset of the leverage cap.
pub const MAX_LEVERAGE: usize = 4;
/// Offset of the bit that says a leverage cap is claimed.
pub const LEVERAGE_CLAIMED: usize = 5;
/// Public inputs before the per-account and per-group ones.
const HEAD: usize = 6;
/// Decimal places of the groups' figures in the circuit: quantity × money × rate × rate.
pub const CIRCUIT_DECIMALS: u32 = 26;
/// Bit position of the group index inside a logUp key (above every 248-bit id).
pub const GROUP_TAG_SHIFT: u32 = 250;

impl PublicLayout {
    /// The layout for a shape.
    pub fn new(shape: &Shape) -> Self {
        PublicLayout { accounts: shape.accounts, groups: shape.groups }
    }
    /// Offset of account slot a's commitment.
    pub fn commitment(&self, a: usize) -> usize {
        HEAD + a
    }
    /// Offset of account slot a's group tag.
    pub fn group_tag(&self, a: usize) -> usize {
        HEAD + self.accounts + a
    }
    /// Offset of the membership bit of account slot a in group slot g.
    pub fn membership(&self, a: usize, g: usize) -> usize {
        HEAD + 2 * self.accounts + a * self.groups + g
    }
    /// Offset of group slot g's mode bit.
    pub fn mode(&self, g: usize) -> usize {
        HEAD + 2 * self.accounts + self.accounts * self.groups + g
    }
    /// Number of public inputs.
    pub fn len(&self) -> usize {
        HEAD + 2 * self.accounts + self.accounts * self.groups + self.groups
    }
    /// Always false: there are at least the binding and the threshold.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The group tag g · 2^250 of group slot g.
pub fn group_tag(g: usize) -> Fp {
    Fp::from(g as u64) * pow2(GROUP_TAG_SHIFT)
}

/// The commitment of a padding account slot.
pub fn padding_commitment() -> Fp {
    crate::commitment::AccountOpening::padding().commitment()
}

/// The covenants a statement claims, in units (SPEC section 10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Covenants {
    /// ρ, rate units (10^-6), in [10^6, 10^9].
    pub min_ratio: Option<i128>,
    /// E, money units (10^-6).
    pub min_equity: Option<i128>,
    /// λ, rate units, > 0.
    pub max_leverage: Option<i128>,
}

impl Covenants {
    /// Whether no covenant is claimed.
    pub fn is_empty(&self) -> bool {
        *self == Covenants::default()
    }
}

/// A covenant value as a statement writes it: the claim's units at exactly its kind's
/// decimals.
pub fn covenant_text(units: i128) -> String {
    crate::fixed::format_units(units, MONEY_DECIMALS)
}

/// The covenants claimed (as a statement writes them), in words; `None` when none is.
pub fn covenants_in_words(min_ratio: Option<&str>, min_equity: Option<&str>, max_leverage: Option<&str>, quote: &str) -> Option<String> {
    let parts: Vec<String> = [
        min_ratio.map(|r| format!("every group's equity >= {r} x its requirement")),
        min_equity.map(|e| format!("total equity >= {e} {quote}")),
        max_leverage.map(|l| format!("gross notional <= {l} x total equity")),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Reads and checks a margin ratio: a rate in [1, 1000].
pub fn parse_min_ratio(text: &str) -> Result<i128, String> {
    let units = parse_units(text, DecimalKind::Rate).map_err(|e| format!("min_ratio {text:?}: {e}"))?;
    if units < crate::fixed::RATE_SCALE {
        return Err(format!("min_ratio {text:?} is below 1 (a ratio covenant is at least 1)"));
    }
    Ok(units)
}

/// Reads an equity floor: money, any sign.
pub fn parse_min_equity(text: &str) -> Result<i128, String> {
    parse_units(text, DecimalKind::Money).map_err(|e| format!("min_equity {text:?}: {e}"))
}

/// Reads a leverage cap: a rate above 0 (at most 1000).
pub fn parse_max_leverage(text: &str) -> Result<i128, String> {
    let units = parse_units(text, DecimalKind::Rate).map_err(|e| format!("max_leverage {text:?}: {e}"))?;
    if units == 0 {
        return Err(format!("max_leverage {text:?} must be above 0"));
    }
    Ok(units)
}

impl Statement {
    /// The covenants claimed, validated (SPEC section 10).
    pub fn covenants(&self) -> Result<Covenants, String> {
        Ok(Covenants {
            min_ratio: self.min_ratio.as_deref().map(parse_min_ratio).transpose()?,
            min_equity: self.min_equity.as_deref().map(parse_min_equity).transpose()?,
            max_leverage: self.max_leverage.as_deref().map(parse_max_leverage).transpose()?,
        })
    }

    /// What the covenants claim, in words (`quote` the market's currency), or `None` when
    /// none is claimed: "every group's equity >= 1.5 x its requirement; total equity >=
    /// 20000000 USD; gross notional <= 5 x total equity".
    pub fn covenants_in_words(&self, quote: &str) -> Option<String> {
        covenants_in_words(self.min_ratio.as_deref(), self.min_equity.as_deref(), self.max_leverage.as_deref(), quote)
    }

    /// Threshold in money units (6 decimals), validated: a decimal ≥ 0 within range.
    pub fn threshold_units(&self) -> Result<i128, String> {
        let units = parse_units(&self.threshold, DecimalKind::Money)
            .map_err(|e| format!("threshold {:?}: {e}", self.threshold))?;
        if units < 0 {
            return Err(format!("threshold {:?} is negative", self.threshold));
        }
        Ok(units)
    }

    /// The canonical encoding hashed into the binding: compact JSON of the statement.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a statement always serializes")
    }

    /// The full SHA-256 of `"zkmargin-statement/1\n"` ‖ market digest ‖
    /// [`Statement::canonical_json`], whose first 248 bits [`Statement::binding`] takes
    /// (what an EVM verdict carries as its statement hash).
    pub fn binding_hash(&self, market_digest: &[u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"zkmargin-statement/1\n");
        h.update(market_digest);
        h.update(self.canonical_json().as_bytes());
        h.finalize().into()
    }

    /// SHA-256 binding of the market digest and every statement field, as a field element.
    pub fn binding(&self, market_digest: &[u8; 32]) -> Fp {
        bytes248_to_field(&self.binding_hash(market_digest))
    }

    /// The circuit's public inputs for this statement in `shape`.
    pub fn public_inputs(&self, shape: &Shape, market_digest: &[u8; 32]) -> Result<Vec<Fp>, String> {
        if self.accounts.len() > shape.accounts {
            return Err(format!("{} accounts do not fit a shape of {}", self.accounts.len(), shape.accounts));
        }
        if self.groups.len() > shape.groups {
            return Err(format!("{} groups do not fit a shape of {}", self.groups.len(), shape.groups));
        }
        let mut names = std::collections::HashSet::new();
        if let Some(g) = self.groups.iter().find(|g| !names.insert(g.name.as_str())) {
            return Err(format!("group {:?} is listed twice", g.name));
        }
        let mut accounts = std::collections::HashSet::new();
        let mut commitments = std::collections::HashSet::new();
        for acc in &self.accounts {
            if !accounts.insert((acc.venue.as_str(), acc.account.as_str())) {
                return Err(format!("account {}/{} is listed twice", acc.venue, acc.account));
            }
            if !commitments.insert(acc.commitment.to_ascii_lowercase()) {
                return Err(format!("commitment of {}/{} is listed twice", acc.venue, acc.account));
            }
        }
        if !self.nonce.is_empty() && hex::decode(&self.nonce).is_err() {
            return Err(format!("nonce {:?} is not hex", self.nonce));
        }
        let covenants = self.covenants()?;
        let layout = PublicLayout::new(shape);
        let mut inputs = vec![Fp::zero(); layout.len()];
        inputs[BINDING] = self.binding(market_digest);
        let lift = Fp::from_u128(10u128.pow(CIRCUIT_DECIMALS - MONEY_DECIMALS));
        inputs[THRESHOLD] = Fp::from_u128(self.threshold_units()? as u128) * lift;
        inputs[MIN_RATIO] = Fp::from_u128(covenants.min_ratio.unwrap_or(0) as u128);
        inputs[MIN_EQUITY] = crate::encoding::signed_to_field(covenants.min_equity.unwrap_or(0)) * lift;
        inputs[MAX_LEVERAGE] = Fp::from_u128(covenants.max_leverage.unwrap_or(0) as u128);
        inputs[LEVERAGE_CLAIMED] = Fp::from(u64::from(covenants.max_leverage.is_some()));
        let padding = padding_commitment();
        for a in 0..shape.accounts {
            inputs[layout.commitment(a)] = padding;
        }
        for (a, acc) in self.accounts.iter().enumerate() {
            let g = self
                .groups
                .iter()
                .position(|g| g.name == acc.group)
                .ok_or_else(|| format!("account {}/{} names unknown group {:?}", acc.venue, acc.account, acc.group))?;
            inputs[layout.commitment(a)] = field_from_hex(&acc.commitment)
                .ok_or_else(|| format!("commitment of {}/{} is not a field element", acc.venue, acc.account))?;
            inputs[layout.group_tag(a)] = group_tag(g);
            inputs[layout.membership(a, g)] = Fp::one();
        }
        for (g, group) in self.groups.iter().enumerate() {
            if group.mode == Mode::Portfolio {
                inputs[layout.mode(g)] = Fp::one();
            }
        }
        Ok(inputs)
    }
}
