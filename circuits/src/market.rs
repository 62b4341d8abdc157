//! The public market snapshot (SPEC section 3), validated into exact integers.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fixed::{format_units, DecimalKind, MONEY_DECIMALS, RATE_DECIMALS};
use crate::input::{decimal, decode_json, non_empty, version, InputError};

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
}

/// One collateral asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asset {
    /// Unique identifier (`USDC`).
    pub id: String,
    /// Price in the quote currency, money units.
    pub price: i128,
    /// Haircut h in [0, 1], rate units (1e6 = 100 %).
    pub haircut: i128,
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsset {
    id: String,
    price: String,
    haircut: String,
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

fn unique<'a>(
    source: &str,
    list: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), InputError> {
    let mut seen = HashSet::new();
    for (i, id) in ids.enumerate() {
        let path = format!("{list}[{i}].id");
        non_empty(source, &path, id)?;
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
}

#[derive(Serialize)]
struct CanonicalAsset<'a> {
    id: &'a str,
    price: Units,
    haircut: Units,
}

#[derive(Serialize)]
struct CanonicalMarket<'a> {
    version: u32,
    id: &'a str,
    as_of: &'a str,
    quote: &'a str,
    scenarios: &'a [String],
    loss_factor: CanonicalLevels,
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
            instruments.push(Instrument {
                id: ins.id.clone(),
                mark: decimal(source, &at("mark"), &ins.mark, DecimalKind::Money)?,
                pnl,
                linear: levels(source, &at("linear"), &ins.linear, DecimalKind::Money, true)?,
                short_charge: levels(source, &at("short_charge"), &ins.short_charge, DecimalKind::Money, true)?,
            });
        }
        let mut assets = Vec::with_capacity(raw.assets.len());
        for (a, asset) in raw.assets.iter().enumerate() {
            let at = |field: &str| format!("assets[{a}].{field}");
            let price = decimal(source, &at("price"), &asset.price, DecimalKind::Money)?;
            if price < 0 {
                return Err(InputError::new(source, at("price"), format!("must not be negative (got {:?})", asset.price)));
            }
            let haircut = decimal(source, &at("haircut"), &asset.haircut, DecimalKind::Rate)?;
            if haircut > crate::fixed::RATE_SCALE {
                return Err(InputError::new(
                    source,
                    at("haircut"),
                    format!("must be between 0 and 1 (got {:?})", asset.haircut),
                ));
            }
            assets.push(Asset { id: asset.id.clone(), price, haircut });
        }
        Ok(Market {
            id: raw.id,
            as_of: raw.as_of,
            quote: raw.quote,
            scenarios: raw.scenarios,
            loss_factor,
            instruments,
            assets,
        })
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
            instruments: self
                .instruments
                .iter()
                .map(|i| CanonicalInstrument {
                    id: &i.id,
                    mark: Units(i.mark, money),
                    pnl: i.pnl.iter().map(|&p| Units(p, money)).collect(),
                    linear: levels(&i.linear, money),
                    short_charge: levels(&i.short_charge, money),
                })
                .collect(),
            assets: self
                .assets
                .iter()
                .map(|a| CanonicalAsset { id: &a.id, price: Units(a.price, money), haircut: Units(a.haircut, rate) })
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
    /// `short_charge.initial` ≥ `short_charge.maintenance`. Only then does an
    /// initial-level claim imply the maintenance-level one, so only then may a verifier
    /// take it for a maintenance request (`--level-at-least`).
    pub fn is_monotone(&self) -> bool {
        let stricter = |p: &PerLevel<i128>| p.initial >= p.maintenance;
        stricter(&self.loss_factor) && self.instruments.iter().all(|i| stricter(&i.linear) && stricter(&i.short_charge))
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
                serde_json::json!({
                    "id": i.id, "mark": money(i.mark), "pnl": i.pnl.iter().map(|&p| money(p)).collect::<Vec<_>>(),
                    "linear": lv(&i.linear, &money), "short_charge": lv(&i.short_charge, &money),
                })
            })
            .collect();
        let assets: Vec<_> =
            m.assets.iter().map(|a| serde_json::json!({"id": a.id, "price": money(a.price), "haircut": rate(a.haircut)})).collect();
        serde_json::json!({
            "version": 1, "id": m.id, "as_of": m.as_of, "quote": m.quote, "scenarios": m.scenarios,
            "loss_factor": lv(&m.loss_factor, &rate), "instruments": instruments, "assets": assets,
        })
        .to_string()
    }

    #[test]
    fn canonical_json_is_what_serde_json_writes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/market.json");
        let mut market = Market::from_json("market.json", &std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(market.canonical_json(), reference_json(&market));
        // Names that need escaping, negative and zero numbers.
        market.id = "a \"quoted\" \\ id\n\u{e9}\u{1F600}\u{1}".into();
        market.scenarios[0] = "down \"10%\"".into();
        market.instruments[0].id = "BTC/\"x\"".into();
        market.instruments[0].pnl[0] = -1;
        market.instruments[0].mark = 0;
        market.assets[0].id = "tab\there".into();
        assert_eq!(market.canonical_json(), reference_json(&market));
    }
}
