//! The public market snapshot (SPEC section 3), validated into exact integers.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use ethnum::I256;

use crate::fixed::{format_units, DecimalKind, MONEY_DECIMALS, QTY_DECIMALS, RATE_DECIMALS, RATE_SCALE};
use crate::input::{decimal, decode_json, name, non_empty, version, InputError};

/// Margin level of a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Initial margin: the level at which new risk may be opened.
    Initial,
    /// Maintenance margin: the level below which positions are liquidated.
    Maintenance,
}

impl Level {
    /// Both levels, initial first.
    pub const ALL: [Level; 2] = [Level::Initial, Level::Maintenance];

    /// The level's name as written in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Initial => "initial",
            Level::Maintenance => "maintenance",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "initial" => Ok(Level::Initial),
            "maintenance" => Ok(Level::Maintenance),
            other => Err(format!("unknown level {other:?}; expected initial or maintenance")),
        }
    }
}

/// A value given per margin level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerLevel<T> {
    /// At the initial level.
    pub initial: T,
    /// At the maintenance level.
    pub maintenance: T,
}

impl<T> PerLevel<T> {
    /// The value at `level`, borrowed.
    pub fn get(&self, level: Level) -> &T {
        match level {
            Level::Initial => &self.initial,
            Level::Maintenance => &self.maintenance,
        }
    }
}

impl<T: Copy> PerLevel<T> {
    /// The value at `level`.
    pub fn at(&self, level: Level) -> T {
        match level {
            Level::Initial => self.initial,
            Level::Maintenance => self.maintenance,
        }
    }
}

/// One instrument, all numbers in units (money at 6 decimals).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instrument {
    /// Unique identifier (`BTC-PERP`).
    pub id: String,
    /// Value of one long unit now.
    pub mark: i128,
    /// P&L of one long unit in each scenario.
    pub pnl: Vec<i128>,
    /// Standard-mode requirement per unit of absolute net position.
    pub linear: PerLevel<i128>,
    /// Portfolio-mode add-on per unit of net short position.
    pub short_charge: PerLevel<i128>,
    /// Risk class as written (`None`: the unnamed class, written as nothing).
    pub class: Option<String>,
    /// Gross exposure of one long unit, money units ≥ 0 (`None` when not published).
    pub notional: Option<i128>,
}

impl Instrument {
    /// The risk class's name: the empty name when the market gives none (SPEC section 3).
    pub fn class_name(&self) -> &str {
        self.class.as_deref().unwrap_or("")
    }
}

/// One tier of a tiered haircut: the part of a holding up to `up_to` (quantity units;
/// `None`: the open-ended last tier) above the previous tier's bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tier {
    /// Upper bound of the tier, quantity units (`None` on the last tier).
    pub up_to: Option<i128>,
    /// Haircut of the tier, rate units.
    pub haircut: i128,
}

/// How an asset's holdings are haircut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Haircut {
    /// One haircut for any amount (`"haircut"`).
    Flat(i128),
    /// Haircuts growing with the amount held (`"tiers"`): bounds strictly increasing,
    /// haircuts non-decreasing, the last tier open-ended.
    Tiers(Vec<Tier>),
}

/// One collateral asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asset {
    /// Unique identifier (`USDC`).
    pub id: String,
    /// Price in the quote currency, money units.
    pub price: i128,
    /// Haircut h in [0, 1] (rate units, 1e6 = 100 %), flat or by tiers.
    pub haircut: Haircut,
}

/// One tier as the valuation uses it: the tier's part of a holding lies in
/// `[lower, lower + width)` (`width` `None`: unbounded), valued at `1 − haircut`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierBand {
    /// Lower bound, quantity units (the previous tier's `up_to`, 0 for the first).
    pub lower: i128,
    /// Width, quantity units (`None` for the open-ended last tier).
    pub width: Option<i128>,
    /// 1 − haircut, rate units.
    pub complement: i128,
}

impl Asset {
    /// The asset's tiers as bands, cheapest first (a flat haircut is one open band).
    pub fn bands(&self) -> Vec<TierBand> {
        match &self.haircut {
            Haircut::Flat(h) => vec![TierBand { lower: 0, width: None, complement: RATE_SCALE - h }],
            Haircut::Tiers(tiers) => {
                let mut lower = 0;
                tiers
                    .iter()
                    .map(|t| {
                        let band = TierBand { lower, width: t.up_to.map(|u| u - lower), complement: RATE_SCALE - t.haircut };
                        lower = t.up_to.unwrap_or(lower);
                        band
                    })
                    .collect()
            }
        }
    }

    /// The part of a holding `amount ≥ 0` that falls in each band (SPEC section 5:
    /// min(max(x − b_{t−1}, 0), b_t − b_{t−1})), cheapest band first; for `amount < 0`
    /// every part is 0.
    pub fn tier_parts(&self, amount: i128) -> Vec<i128> {
        self.bands()
            .iter()
            .map(|b| {
                let above = (amount - b.lower).max(0);
                b.width.map_or(above, |w| above.min(w))
            })
            .collect()
    }

    /// Value of `amount` at the scale quantity × money × rate (10^-20): a holding at
    /// price × (1 − haircut) tier by tier, a debt (amount < 0) at the full price.
    pub fn value(&self, amount: i128) -> I256 {
        let price = I256::from(self.price);
        if amount < 0 {
            return I256::from(amount) * price * I256::from(RATE_SCALE);
        }
        self.bands()
            .iter()
            .zip(self.tier_parts(amount))
            .map(|(b, part)| I256::from(part) * price * I256::from(b.complement))
            .sum()
    }
}

/// A validated market snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Market {
    /// Snapshot identifier.
    pub id: String,
    /// Time of the snapshot (RFC 3339).
    pub as_of: String,
    /// Quote currency.
    pub quote: String,
    /// Scenario names, S ≥ 1.
    pub scenarios: Vec<String>,
    /// Factor applied to the worst scenario loss, rate units.
    pub loss_factor: PerLevel<i128>,
    /// Instruments in file order.
    pub instruments: Vec<Instrument>,
    /// Collateral assets in file order.
    pub assets: Vec<Asset>,
    /// How much diversification between risk classes a portfolio group keeps, rate units
    /// in [0, 1e6] (`None` when the market gives none: 1, the joint figure).
    pub class_offset: Option<PerLevel<i128>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevels {
    initial: String,
    maintenance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstrument {
    id: String,
    mark: String,
    pnl: Vec<String>,
    linear: RawLevels,
    short_charge: RawLevels,
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    notional: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    #[serde(default)]
    up_to: Option<String>,
    haircut: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsset {
    id: String,
    price: String,
    #[serde(default)]
    haircut: Option<String>,
    #[serde(default)]
    tiers: Option<Vec<RawTier>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMarket {
    version: u32,
    id: String,
    as_of: String,
    quote: String,
    scenarios: Vec<String>,
    loss_factor: RawLevels,
    #[serde(default)]
    class_offset: Option<RawLevels>,
    instruments: Vec<RawInstrument>,
    assets: Vec<RawAsset>,
}

fn levels(
    source: &str,
    path: &str,
    raw: &RawLevels,
    kind: DecimalKind,
    non_negative: bool,
) -> Result<PerLevel<i128>, InputError> {
    let one = |name: &str, text: &str| {
        let field = format!("{path}.{name}");
        let units = decimal(source, &field, text, kind)?;
        if non_negative && units < 0 {
            return Err(InputError::new(source, field, format!("must not be negative (got {text:?})")));
        }
        Ok(units)
    };
    Ok(PerLevel { initial: one("initial", &raw.initial)?, maintenance: one("maintenance", &raw.maintenance)? })
}

/// A rate in [0, 1] (a haircut or an offset) at `path`.
fn fraction(source: &str, path: &str, text: &str) -> Result<i128, InputError> {
    let units = decimal(source, path, text, DecimalKind::Rate)?;
    if units > RATE_SCALE {
        return Err(InputError::new(source, path, format!("must be between 0 and 1 (got {text:?})")));
    }
    Ok(units)
}

/// A tier schedule at `path` (SPEC section 3): bounds strictly increasing quantities
/// above 0, haircuts in [0, 1] and non-decreasing, only the last tier without a bound.
fn parse_tiers(source: &str, path: &str, raw: &[RawTier]) -> Result<Vec<Tier>, InputError> {
    if raw.is_empty() {
        return Err(InputError::new(source, path, "needs at least one tier (the last, open-ended one)"));
    }
    let mut tiers: Vec<Tier> = Vec::with_capacity(raw.len());
    for (t, tier) in raw.iter().enumerate() {
        let at = |field: &str| format!("{path}[{t}].{field}");
        let haircut = fraction(source, &at("haircut"), &tier.haircut)?;
        let last = t + 1 == raw.len();
        let up_to = match (&tier.up_to, last) {
            (Some(text), false) => {
                let bound = decimal(source, &at("up_to"), text, DecimalKind::Quantity)?;
                let previous = tiers.last().and_then(|p| p.up_to).unwrap_or(0);
                if bound <= previous {
                    return Err(InputError::new(
                        source,
                        at("up_to"),
                        format!(
                            "must be above the previous bound {} (got {text:?}): bounds strictly increase from 0",
                            format_units(previous, QTY_DECIMALS)
                        ),
                    ));
                }
                Some(bound)
            }
            (None, false) => {
                return Err(InputError::new(source, format!("{path}[{t}]"), "every tier but the last needs `up_to`"))
            }
            (Some(text), true) => {
                return Err(InputError::new(
                    source,
                    at("up_to"),
                    format!("the last tier is open-ended and takes no bound (got {text:?})"),
                ))
            }
            (None, true) => None,
        };
        if let Some(previous) = tiers.last() {
            if haircut < previous.haircut {
                return Err(InputError::new(
                    source,
                    at("haircut"),
                    format!(
                        "is below the previous tier's {} (got {:?}): a larger holding never gets a smaller haircut",
                        format_units(previous.haircut, RATE_DECIMALS),
                        tier.haircut
                    ),
                ));
            }
        }
        tiers.push(Tier { up_to, haircut });
    }
    Ok(tiers)
}

fn unique<'a>(
    source: &str,
    list: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), InputError> {
    let mut seen = HashSet::new();
    for (i, id) in ids.enumerate() {
        let path = format!("{list}[{i}].id");
        name(source, &path, id)?;
        if !seen.insert(id) {
            return Err(InputError::new(source, path, format!("duplicate id {id:?}")));
        }
    }
    Ok(())
}

/// A fixed-point number written as its decimal string (units, decimals).
struct Units(i128, u32);

impl Serialize for Units {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_units(self.0, self.1))
    }
}

/// The canonical form's documents, fields in canonical order ([`Market::canonical_json`]).
#[derive(Serialize)]
struct CanonicalLevels {
    initial: Units,
    maintenance: Units,
}

#[derive(Serialize)]
struct CanonicalInstrument<'a> {
    id: &'a str,
    mark: Units,
    pnl: Vec<Units>,
    linear: CanonicalLevels,
    short_charge: CanonicalLevels,
    #[serde(skip_serializing_if = "Option::is_none")]
    class: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notional: Option<Units>,
}

#[derive(Serialize)]
struct CanonicalTier {
    #[serde(skip_serializing_if = "Option::is_none")]
    up_to: Option<Units>,
    haircut: Units,
}

#[derive(Serialize)]
struct CanonicalAsset<'a> {
    id: &'a str,
    price: Units,
    #[serde(skip_serializing_if = "Option::is_none")]
    haircut: Option<Units>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tiers: Option<Vec<CanonicalTier>>,
}

#[derive(Serialize)]
struct CanonicalMarket<'a> {
    version: u32,
    id: &'a str,
    as_of: &'a str,
    quote: &'a str,
    scenarios: &'a [String],
    loss_factor: CanonicalLevels,
    #[serde(skip_serializing_if = "Option::is_none")]
    class_offset: Option<CanonicalLevels>,
    instruments: Vec<CanonicalInstrument<'a>>,
    assets: Vec<CanonicalAsset<'a>>,
}

impl Market {
    /// Parses and validates a market snapshot; `source` names the file in errors.
    pub fn from_json(source: &str, text: &str) -> Result<Market, InputError> {
        let raw: RawMarket = decode_json(source, text)?;
        version(source, raw.version, 1)?;
        non_empty(source, "id", &raw.id)?;
        crate::time::parse_rfc3339(&raw.as_of)
            .map_err(|e| InputError::new(source, "as_of", format!("{e} (got {:?})", raw.as_of)))?;
        non_empty(source, "quote", &raw.quote)?;
        if raw.scenarios.is_empty() {
            return Err(InputError::new(source, "scenarios", "at least one scenario is required"));
        }
        for (s, name) in raw.scenarios.iter().enumerate() {
            non_empty(source, &format!("scenarios[{s}]"), name)?;
        }
        let loss_factor = levels(source, "loss_factor", &raw.loss_factor, DecimalKind::Rate, true)?;
        unique(source, "instruments", raw.instruments.iter().map(|i| i.id.as_str()))?;
        unique(source, "assets", raw.assets.iter().map(|a| a.id.as_str()))?;
        let scenario_count = raw.scenarios.len();
        let mut instruments = Vec::with_capacity(raw.instruments.len());
        for (i, ins) in raw.instruments.iter().enumerate() {
            let at = |field: &str| format!("instruments[{i}].{field}");
            if ins.pnl.len() != scenario_count {
                return Err(InputError::new(
                    source,
                    at("pnl"),
                    format!("has {} entries but the market has {scenario_count} scenarios", ins.pnl.len()),
                ));
            }
            let pnl = ins
                .pnl
                .iter()
                .enumerate()
                // The path is only formatted for an error (64k values in a large snapshot).
                .map(|(s, v)| {
                    decimal(source, "", v, DecimalKind::Money)
                        .or_else(|_| decimal(source, &format!("instruments[{i}].pnl[{s}]"), v, DecimalKind::Money))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let class = match &ins.class {
                Some(class) => {
                    name(source, &at("class"), class)?;
                    Some(class.clone())
                }
                None => None,
            };
            let notional = match &ins.notional {
                Some(text) => {
                    let units = decimal(source, &at("notional"), text, DecimalKind::Money)?;
                    if units < 0 {
                        return Err(InputError::new(source, at("notional"), format!("must not be negative (got {text:?})")));
                    }
                    Some(units)
                }
                None => None,
            };
            instruments.push(Instrument {
                id: ins.id.clone(),
                mark: decimal(source, &at("mark"), &ins.mark, DecimalKind::Money)?,
                pnl,
                linear: levels(source, &at("linear"), &ins.linear, DecimalKind::Money, true)?,
                short_charge: levels(source, &at("short_charge"), &ins.short_charge, DecimalKind::Money, true)?,
                class,
                notional,
            });
        }
        let mut assets = Vec::with_capacity(raw.assets.len());
        for (a, asset) in raw.assets.iter().enumerate() {
            let at = |field: &str| format!("assets[{a}].{field}");
            let price = decimal(source, &at("price"), &asset.price, DecimalKind::Money)?;
            if price < 0 {
                return Err(InputError::new(source, at("price"), format!("must not be negative (got {:?})", asset.price)));
            }
            let haircut = match (&asset.haircut, &asset.tiers) {
                (Some(text), None) => Haircut::Flat(fraction(source, &at("haircut"), text)?),
                (None, Some(tiers)) => Haircut::Tiers(parse_tiers(source, &at("tiers"), tiers)?),
                (Some(_), Some(_)) => {
                    return Err(InputError::new(
                        source,
                        format!("assets[{a}]"),
                        format!("asset {:?} gives both `haircut` and `tiers`; give one of them", asset.id),
                    ))
                }
                (None, None) => {
                    return Err(InputError::new(
                        source,
                        format!("assets[{a}]"),
                        format!("asset {:?} gives neither `haircut` nor `tiers`", asset.id),
                    ))
                }
            };
            assets.push(Asset { id: asset.id.clone(), price, haircut });
        }
        let class_offset = match &raw.class_offset {
            Some(raw) => {
                let offset = levels(source, "class_offset", raw, DecimalKind::Rate, true)?;
                for (level, value) in [("initial", offset.initial), ("maintenance", offset.maintenance)] {
                    if value > RATE_SCALE {
                        return Err(InputError::new(
                            source,
                            format!("class_offset.{level}"),
                            format!("must be between 0 and 1 (got {:?})", format_units(value, RATE_DECIMALS)),
                        ));
                    }
                }
                Some(offset)
            }
            None => None,
        };
        Ok(Market {
            id: raw.id,
            as_of: raw.as_of,
            quote: raw.quote,
            scenarios: raw.scenarios,
            loss_factor,
            instruments,
            assets,
            class_offset,
        })
    }

    /// The class offset at `level`, rate units (1e6, the joint figure, when the market
    /// gives none).
    pub fn class_offset_at(&self, level: Level) -> i128 {
        self.class_offset.map_or(RATE_SCALE, |o| o.at(level))
    }

    /// The market's risk classes in order of first appearance (instrument order), and
    /// each instrument's class index into that list.
    pub fn classes(&self) -> (Vec<&str>, Vec<usize>) {
        let mut names: Vec<&str> = Vec::new();
        let index = self
            .instruments
            .iter()
            .map(|i| match names.iter().position(|&n| n == i.class_name()) {
                Some(c) => c,
                None => {
                    names.push(i.class_name());
                    names.len() - 1
                }
            })
            .collect();
        (names, index)
    }

    /// Index of the instrument with this id.
    pub fn instrument_index(&self, id: &str) -> Option<usize> {
        self.instruments.iter().position(|i| i.id == id)
    }

    /// Index of the asset with this id.
    pub fn asset_index(&self, id: &str) -> Option<usize> {
        self.assets.iter().position(|a| a.id == id)
    }

    /// Canonical JSON of the snapshot: keys in a fixed order, no whitespace, every number
    /// a string with exactly its kind's decimals (what `serde_json` writes for the same
    /// document built as a `Value` in that order; a test keeps the two equal). Two files
    /// that parse to the same snapshot have the same canonical form, whatever their
    /// whitespace or trailing zeros. Serialized from borrowed structs, not a `Value`: the
    /// medium sample's 1.2 MB take a few milliseconds.
    pub fn canonical_json(&self) -> String {
        let (money, rate) = (MONEY_DECIMALS, RATE_DECIMALS);
        let levels = |p: &PerLevel<i128>, decimals| CanonicalLevels {
            initial: Units(p.initial, decimals),
            maintenance: Units(p.maintenance, decimals),
        };
        let canonical = CanonicalMarket {
            version: 1,
            id: &self.id,
            as_of: &self.as_of,
            quote: &self.quote,
            scenarios: &self.scenarios,
            loss_factor: levels(&self.loss_factor, rate),
            class_offset: self.class_offset.as_ref().map(|o| levels(o, rate)),
            instruments: self
                .instruments
                .iter()
                .map(|i| CanonicalInstrument {
                    id: &i.id,
                    mark: Units(i.mark, money),
                    pnl: i.pnl.iter().map(|&p| Units(p, money)).collect(),
                    linear: levels(&i.linear, money),
                    short_charge: levels(&i.short_charge, money),
                    class: i.class.as_deref(),
                    notional: i.notional.map(|n| Units(n, money)),
                })
                .collect(),
            assets: self
                .assets
                .iter()
                .map(|a| {
                    let (haircut, tiers) = match &a.haircut {
                        Haircut::Flat(h) => (Some(Units(*h, rate)), None),
                        Haircut::Tiers(tiers) => {
                            let tiers = tiers
                                .iter()
                                .map(|t| CanonicalTier { up_to: t.up_to.map(|u| Units(u, QTY_DECIMALS)), haircut: Units(t.haircut, rate) })
                                .collect();
                            (None, Some(tiers))
                        }
                    };
                    CanonicalAsset { id: &a.id, price: Units(a.price, money), haircut, tiers }
                })
                .collect(),
        };
        serde_json::to_string(&canonical).expect("the canonical form serializes")
    }

    /// The market digest: SHA-256 over `zkmargin-market/1\n` and the canonical JSON.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"zkmargin-market/1\n");
        h.update(self.canonical_json().as_bytes());
        h.finalize().into()
    }

    /// The digest as lowercase hex.
    pub fn digest_hex(&self) -> String {
        hex::encode(self.digest())
    }

    /// Whether initial margin is at least as strict as maintenance everywhere (SPEC
    /// section 3, "monotone"): `loss_factor.initial` ≥ `loss_factor.maintenance` and, for
    /// every instrument, `linear.initial` ≥ `linear.maintenance` and
    /// `short_charge.initial` ≥ `short_charge.maintenance`, and with risk classes
    /// `class_offset.initial` ≤ `class_offset.maintenance`. Only then does an
    /// initial-level claim imply the maintenance-level one, so only then may a verifier
    /// take it for a maintenance request (`--level-at-least`).
    pub fn is_monotone(&self) -> bool {
        let stricter = |p: &PerLevel<i128>| p.initial >= p.maintenance;
        // A smaller class offset keeps less diversification credit: initial's must not be larger.
        let offset = self.class_offset.is_none_or(|o| o.initial <= o.maintenance);
        stricter(&self.loss_factor)
            && offset
            && self.instruments.iter().all(|i| stricter(&i.linear) && stricter(&i.short_charge))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The canonical form as `serde_json` writes it from a `Value` (keys in insertion order).
    fn reference_json(m: &Market) -> String {
        let money = |u: i128| format_units(u, MONEY_DECIMALS);
        let rate = |u: i128| format_units(u, RATE_DECIMALS);
        let lv = |p: &PerLevel<i128>, f: &dyn Fn(i128) -> String| {
            serde_json::json!({"initial": f(p.initial), "maintenance": f(p.maintenance)})
        };
        let instruments: Vec<_> = m
            .instruments
            .iter()
            .map(|i| {
                let mut v = serde_json::json!({
                    "id": i.id, "mark": money(i.mark), "pnl": i.pnl.iter().map(|&p| money(p)).collect::<Vec<_>>(),
                    "linear": lv(&i.linear, &money), "short_charge": lv(&i.short_charge, &money),
                });
                if let Some(class) = &i.class {
                    v["class"] = class.clone().into();
                }
                if let Some(n) = i.notional {
                    v["notional"] = money(n).into();
                }
                v
            })
            .collect();
        let assets: Vec<_> = m
            .assets
            .iter()
            .map(|a| match &a.haircut {
                Haircut::Flat(h) => serde_json::json!({"id": a.id, "price": money(a.price), "haircut": rate(*h)}),
                Haircut::Tiers(tiers) => {
                    let tiers: Vec<_> = tiers
                        .iter()
                        .map(|t| match t.up_to {
                            Some(u) => serde_json::json!({"up_to": format_units(u, QTY_DECIMALS), "haircut": rate(t.haircut)}),
                            None => serde_json::json!({"haircut": rate(t.haircut)}),
                        })
                        .collect();
                    serde_json::json!({"id": a.id, "price": money(a.price), "tiers": tiers})
                }
            })
            .collect();
        let mut v = serde_json::json!({
            "version": 1, "id": m.id, "as_of": m.as_of, "quote": m.quote, "scenarios": m.scenarios,
            "loss_factor": lv(&m.loss_factor, &rate),
        });
        if let Some(o) = &m.class_offset {
            v["class_offset"] = lv(o, &rate);
        }
        v["instruments"] = instruments.into();
        v["assets"] = assets.into();
        v.to_string()
    }

    fn example() -> Market {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/market.json");
        Market::from_json("market.json", &std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// The example market with every optional field of SPEC section 3 given.
    fn with_options() -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/market.json");
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        v["class_offset"] = serde_json::json!({"initial": "0.5", "maintenance": "0.75"});
        v["instruments"][0]["class"] = "BTC".into();
        v["instruments"][0]["notional"] = "91000.5".into();
        v["assets"][1].as_object_mut().unwrap().remove("haircut");
        v["assets"][1]["tiers"] = serde_json::json!([
            {"up_to": "10", "haircut": "0.1"}, {"up_to": "50.5", "haircut": "0.1"}, {"haircut": "0.25"}
        ]);
        v.to_string()
    }

    fn error(text: &str) -> String {
        Market::from_json("m.json", text).unwrap_err().to_string()
    }

    fn edit(f: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v: serde_json::Value = serde_json::from_str(&with_options()).unwrap();
        f(&mut v);
        error(&v.to_string())
    }

    #[test]
    fn canonical_json_is_what_serde_json_writes() {
        let mut market = example();
        assert_eq!(market.canonical_json(), reference_json(&market));
        // Names that need escaping, negative and zero numbers.
        market.id = "a \"quoted\" \\ id\n\u{e9}\u{1F600}\u{1}".into();
        market.scenarios[0] = "down \"10%\"".into();
        market.instruments[0].id = "BTC/\"x\"".into();
        market.instruments[0].pnl[0] = -1;
        market.instruments[0].mark = 0;
        market.assets[0].id = "tab\there".into();
        assert_eq!(market.canonical_json(), reference_json(&market));
        // Every optional field (classes, offsets, notionals, tiers) in its place.
        let market = Market::from_json("m.json", &with_options()).unwrap();
        assert_eq!(market.canonical_json(), reference_json(&market));
        assert!(market.canonical_json().contains(r#""short_charge":{"initial":"0.000000","maintenance":"0.000000"},"class":"BTC","notional":"91000.500000"}"#));
    }

    #[test]
    fn optional_fields_are_read_exactly_and_change_the_digest_only_when_given() {
        let plain = example();
        assert_eq!(plain.class_offset, None);
        assert!(plain.instruments.iter().all(|i| i.class.is_none() && i.notional.is_none()));
        assert_eq!(plain.class_offset_at(Level::Initial), RATE_SCALE);
        let rich = Market::from_json("m.json", &with_options()).unwrap();
        assert_eq!(rich.class_offset, Some(PerLevel { initial: 500_000, maintenance: 750_000 }));
        assert_eq!(rich.instruments[0].class.as_deref(), Some("BTC"));
        assert_eq!(rich.instruments[0].notional, Some(91_000_500_000));
        let tiers = vec![
            Tier { up_to: Some(1_000_000_000), haircut: 100_000 },
            Tier { up_to: Some(5_050_000_000), haircut: 100_000 },
            Tier { up_to: None, haircut: 250_000 },
        ];
        assert_eq!(rich.assets[1].haircut, Haircut::Tiers(tiers));
        assert_ne!(plain.digest(), rich.digest());
        // Classes: in order of first appearance; instruments without one share the unnamed class.
        let (names, index) = rich.classes();
        assert_eq!(names, vec!["BTC", ""]);
        assert_eq!(index[0], 0);
        assert!(index[1..].iter().all(|&c| c == 1));
    }

    #[test]
    fn tiered_values_follow_the_bands_at_every_boundary() {
        // 2 tiers: up to 10 units at 10 %, above at 25 %, price 100.
        let asset = Asset {
            id: "X".into(),
            price: 100_000_000,
            haircut: Haircut::Tiers(vec![
                Tier { up_to: Some(1_000_000_000), haircut: 100_000 },
                Tier { up_to: None, haircut: 250_000 },
            ]),
        };
        let usd = |x: f64| I256::from((x * 1e6) as i128) * I256::from(10i128.pow(14));
        let units = |q: i128| q * 100_000_000 / 100; // q hundredths of a unit
        // Just below, at and above the bound of 10.
        assert_eq!(asset.value(units(999)), usd(9.99 * 100.0 * 0.9));
        assert_eq!(asset.value(units(1000)), usd(900.0));
        assert_eq!(asset.value(units(1001)), usd(900.0 + 0.01 * 100.0 * 0.75));
        assert_eq!(asset.tier_parts(units(1001)), vec![1_000_000_000, 1_000_000]);
        // One quantity unit above the bound is valued in the second tier.
        assert_eq!(asset.value(1_000_000_001) - asset.value(1_000_000_000), I256::from(100_000_000i128 * 750_000));
        // A debt is valued at the full price, whatever the tiers.
        assert_eq!(asset.value(-units(2000)), -usd(2000.0));
        assert_eq!(asset.value(0), I256::ZERO);
        // A one-tier schedule is the flat haircut.
        let flat = Asset { id: "X".into(), price: 100_000_000, haircut: Haircut::Flat(250_000) };
        let one = Asset { haircut: Haircut::Tiers(vec![Tier { up_to: None, haircut: 250_000 }]), ..flat.clone() };
        for amount in [0, 1, units(999), units(1000), 123_456_789_012, -5] {
            assert_eq!(one.value(amount), flat.value(amount));
        }
    }

    #[test]
    fn a_class_offset_larger_at_initial_than_at_maintenance_is_not_monotone() {
        let mut market = example();
        assert!(market.is_monotone());
        market.class_offset = Some(PerLevel { initial: 500_000, maintenance: 750_000 });
        assert!(market.is_monotone(), "initial keeps less credit: stricter");
        market.class_offset = Some(PerLevel { initial: 750_000, maintenance: 500_000 });
        assert!(!market.is_monotone(), "initial keeps more credit than maintenance");
    }

    #[test]
    fn bad_optional_fields_are_rejected_naming_the_field() {
        let both = edit(|v| v["assets"][1]["haircut"] = "0.1".into());
        assert!(both.contains("assets[1]") && both.contains("both"), "{both}");
        let neither = edit(|v| {
            v["assets"][1].as_object_mut().unwrap().remove("tiers");
        });
        assert!(neither.contains("assets[1]") && neither.contains("neither"), "{neither}");
        let down = edit(|v| v["assets"][1]["tiers"][2]["haircut"] = "0.05".into());
        assert!(down.contains("assets[1].tiers[2].haircut") && down.contains("smaller haircut"), "{down}");
        let flat_bound = edit(|v| v["assets"][1]["tiers"][1]["up_to"] = "10".into());
        assert!(flat_bound.contains("assets[1].tiers[1].up_to") && flat_bound.contains("strictly"), "{flat_bound}");
        let zero = edit(|v| v["assets"][1]["tiers"][0]["up_to"] = "0".into());
        assert!(zero.contains("assets[1].tiers[0].up_to"), "{zero}");
        let open = edit(|v| {
            v["assets"][1]["tiers"][1].as_object_mut().unwrap().remove("up_to");
        });
        assert!(open.contains("assets[1].tiers[1]") && open.contains("up_to"), "{open}");
        let closed = edit(|v| v["assets"][1]["tiers"][2]["up_to"] = "100".into());
        assert!(closed.contains("assets[1].tiers[2].up_to") && closed.contains("open-ended"), "{closed}");
        let empty = edit(|v| v["assets"][1]["tiers"] = serde_json::json!([]));
        assert!(empty.contains("assets[1].tiers"), "{empty}");
        let big = edit(|v| v["assets"][1]["tiers"][2]["haircut"] = "1.5".into());
        assert!(big.contains("assets[1].tiers[2].haircut") && big.contains("between 0 and 1"), "{big}");
        let decimals = edit(|v| v["assets"][1]["tiers"][0]["up_to"] = "1.123456789".into());
        assert!(decimals.contains("assets[1].tiers[0].up_to"), "{decimals}");
        let unknown = edit(|v| v["assets"][1]["tiers"][0]["upto"] = "1".into());
        assert!(unknown.contains("upto"), "{unknown}");
        let offset = edit(|v| v["class_offset"]["maintenance"] = "1.000001".into());
        assert!(offset.contains("class_offset.maintenance") && offset.contains("between 0 and 1"), "{offset}");
        let negative = edit(|v| v["instruments"][0]["notional"] = "-1".into());
        assert!(negative.contains("instruments[0].notional") && negative.contains("negative"), "{negative}");
        let control = edit(|v| v["instruments"][0]["class"] = "BT\u{7}C".into());
        assert!(control.contains("instruments[0].class") && control.contains("control"), "{control}");
        let blank = edit(|v| v["instruments"][0]["class"] = "".into());
        assert!(blank.contains("instruments[0].class"), "{blank}");
        let long = edit(|v| v["instruments"][0]["class"] = "x".repeat(129).into());
        assert!(long.contains("instruments[0].class") && long.contains("129 bytes"), "{long}");
    }
}
