//! The three input files of `market build`, strict like every zkmargin input.
//!
//! Every number is a JSON string holding a plain decimal (`version` and nothing else is
//! a JSON number); every object rejects unknown keys; every rejection names the file,
//! the JSON path and the offending value. The formats are documented field by field in
//! the README ("Publishing a market") with example files under `examples/publisher/`.
//!
//! - **instruments** ([`Instruments::parse`]): the quote currency, the discount rate,
//!   the underlyings (spot, carry or explicit forwards, a vol surface, a move scale) and
//!   the instruments (perpetual, future, call, put; contract size, strike, expiry,
//!   optional given Greeks, optional risk class);
//! - **grid** ([`parse_grid`]): the scenarios, block by block in the order written,
//!   with how many each block produced;
//! - **rates** ([`Rates::parse`]): loss factors, the class offset, linear rates and short
//!   charges per kind of instrument with per-instrument overrides, and the collateral
//!   assets with a flat haircut or a tiered schedule.

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer};

use crate::black76::OptionKind;
use crate::rounding::{parse_f64, parse_units, plain};
use crate::scenario::{scenario_name, spread_name, Scenario, VolShock};
use crate::surface::{SviSlice, VolSurface};

/// A rejected input: the file, the JSON path of the field at fault, what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// The file (or source name).
    pub source: String,
    /// JSON path (`underlyings[0].vol.grid.vols[1][2]`), or empty.
    pub path: String,
    /// What is wrong, including the offending value where there is one.
    pub message: String,
}

impl InputError {
    /// An error about the field at `path` in `source`.
    pub fn new(source: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        InputError { source: source.to_string(), path: path.into(), message: message.into() }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.source, self.message)
        } else {
            write!(f, "{}: field `{}`: {}", self.source, self.path, self.message)
        }
    }
}

impl std::error::Error for InputError {}

/// A decimal written as a JSON string; a JSON number is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dec(pub String);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dec, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number written as a JSON string, e.g. \"0.5\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dec, E> {
                Ok(Dec(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

fn decode<T: DeserializeOwned>(source: &str, text: &str) -> Result<T, InputError> {
    zkmargin_json::decode(text).map_err(|e| InputError::new(source, e.path, e.message))
}

/// Validates fields of one file, naming it in every error.
struct Fields<'a> {
    source: &'a str,
}

impl Fields<'_> {
    fn err(&self, path: &str, message: impl Into<String>) -> InputError {
        InputError::new(self.source, path, message)
    }

    /// A decimal in [lo, hi] (bounds inclusive unless `open_lo`).
    fn number(&self, path: &str, d: &Dec, lo: f64, hi: f64, open_lo: bool, what: &str) -> Result<f64, InputError> {
        let x = parse_f64(&d.0).map_err(|e| self.err(path, format!("{e} (got {:?})", d.0)))?;
        let low_ok = if open_lo { x > lo } else { x >= lo };
        if !low_ok || x > hi {
            return Err(self.err(path, format!("expected {what} (got {:?})", d.0)));
        }
        Ok(x)
    }

    fn positive(&self, path: &str, d: &Dec, hi: f64, what: &str) -> Result<f64, InputError> {
        self.number(path, d, 0.0, hi, true, what)
    }

    /// A money amount (a price or a strike): > 0, at most 1e12 and at most 6 decimals, as
    /// SPEC section 2 asks of money in every file.
    fn money(&self, path: &str, d: &Dec, what: &str) -> Result<f64, InputError> {
        self.places(path, d, MONEY_PLACES, what)?;
        self.positive(path, d, MAX_PRICE, &format!("{what} > 0 and <= 1e12"))
    }

    /// Refuses more than `places` decimals (never rounded): the exact parse of
    /// [`parse_units`] decides, the f64 read by [`Fields::number`] prices.
    fn places(&self, path: &str, d: &Dec, places: u32, what: &str) -> Result<(), InputError> {
        parse_units(&d.0, places).map(|_| ()).map_err(|e| self.err(path, format!("{e}; expected {what} (got {:?})", d.0)))
    }

    fn units(&self, path: &str, d: &Dec, decimals: u32, lo: i128, hi: i128, what: &str) -> Result<i128, InputError> {
        let units = parse_units(&d.0, decimals).map_err(|e| self.err(path, format!("{e}; expected {what} (got {:?})", d.0)))?;
        if units < lo || units > hi {
            return Err(self.err(path, format!("out of range; expected {what} (got {:?})", d.0)));
        }
        Ok(units)
    }

    fn id(&self, path: &str, id: &str, seen: &mut HashSet<String>) -> Result<(), InputError> {
        if id.trim().is_empty() {
            return Err(self.err(path, "must not be empty"));
        }
        if !seen.insert(id.to_string()) {
            return Err(self.err(path, format!("duplicate id {id:?}")));
        }
        Ok(())
    }

    /// A name as SPEC section 4 has them (a risk class): 1–128 bytes of UTF-8 with no
    /// control character.
    fn name(&self, path: &str, name: &str) -> Result<(), InputError> {
        if name.trim().is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
            return Err(self.err(path, format!("expected a name of 1 to 128 bytes without control characters (got {name:?})")));
        }
        Ok(())
    }

    fn version(&self, version: u32) -> Result<(), InputError> {
        if version != 1 {
            return Err(self.err("version", format!("unsupported version {version}; this tool reads version 1")));
        }
        Ok(())
    }

    /// Years from `as_of` to the RFC 3339 `expiry` (ACT/365: seconds / 31,536,000); the
    /// expiry must be after `as_of`.
    fn years(&self, path: &str, expiry: &str, as_of: i64) -> Result<(f64, i64), InputError> {
        let at = parse_time(expiry).map_err(|e| self.err(path, format!("{e} (got {expiry:?})")))?;
        if at <= as_of {
            return Err(self.err(path, format!("expiry {expiry:?} is not after the snapshot time (--as-of)")));
        }
        Ok(((at - as_of) as f64 / 31_536_000.0, at))
    }
}

/// Parses an RFC 3339 timestamp into Unix seconds.
pub fn parse_time(text: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("not an RFC 3339 timestamp: {e}"))
}

/// The one spelling of an RFC 3339 instant that a snapshot carries: UTC, `T` and `Z`
/// (`2026-11-25T09:00:00+01:00` → `2026-11-25T08:00:00Z`), so that two publishers who
/// write the same instant differently still build the same bytes.
pub fn canonical_time(text: &str) -> Result<String, String> {
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("not an RFC 3339 timestamp: {e}"))?;
    at.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("cannot be written as RFC 3339: {e}"))
}

// ---------------------------------------------------------------------------------------
// Instruments.
// ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstruments {
    version: u32,
    quote: String,
    discount_rate: Dec,
    underlyings: Vec<RawUnderlying>,
    instruments: Vec<RawInstrument>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnderlying {
    id: String,
    spot: Dec,
    #[serde(default)]
    carry: Option<Dec>,
    #[serde(default)]
    forwards: Vec<RawForward>,
    vol: RawVol,
    #[serde(default)]
    move_scale: Option<Dec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForward {
    expiry: String,
    price: Dec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum RawVol {
    Flat(Dec),
    Grid(RawVolGrid),
    Svi(Vec<RawSvi>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVolGrid {
    expiries: Vec<String>,
    strikes: Vec<Dec>,
    vols: Vec<Vec<Dec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSvi {
    expiry: String,
    a: Dec,
    b: Dec,
    rho: Dec,
    m: Dec,
    sigma: Dec,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum RawKind {
    Perpetual,
    Future,
    Call,
    Put,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstrument {
    id: String,
    underlying: String,
    kind: RawKind,
    contract_size: Dec,
    #[serde(default)]
    expiry: Option<String>,
    #[serde(default)]
    strike: Option<Dec>,
    #[serde(default)]
    greeks: Option<RawGreeks>,
    #[serde(default)]
    class: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGreeks {
    delta: Dec,
    gamma: Dec,
    vega: Dec,
}

/// An underlying, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Underlying {
    /// Identifier (`BTC`).
    pub id: String,
    /// Spot price in the quote currency.
    pub spot: f64,
    /// The same, exact, in units of 10⁻⁶.
    pub spot_units: i128,
    /// How far a market-wide scenario move m moves this underlying: m·scale, in units of
    /// 10⁻⁶ (1 000 000 when not given).
    pub move_scale: i128,
    /// Annualised carry: the forward to T is spot·e^(carry·T) unless listed.
    pub carry: f64,
    /// Explicit forwards: (expiry, Unix seconds; price).
    pub forwards: Vec<(i64, f64)>,
    /// Implied volatility surface.
    pub surface: VolSurface,
}

impl Underlying {
    /// The forward to an expiry `t` years away at Unix time `at`.
    pub fn forward(&self, t: f64, at: i64) -> f64 {
        match self.forwards.iter().find(|f| f.0 == at) {
            Some(&(_, price)) => price,
            None => self.spot * libm::exp(self.carry * t),
        }
    }
}

/// What an instrument is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Contract {
    /// A perpetual swap: tracks spot.
    Perpetual,
    /// A dated future: tracks the forward to its expiry.
    Future {
        /// Years to expiry.
        t: f64,
        /// Expiry, Unix seconds.
        at: i64,
    },
    /// A European option on the forward to its expiry (Black-76).
    Option {
        /// Call or put.
        kind: OptionKind,
        /// Strike.
        strike: f64,
        /// Years to expiry.
        t: f64,
        /// Expiry, Unix seconds.
        at: i64,
    },
}

/// Greeks of one long unit (contract size included) given by the publisher, for the
/// `greeks` method: delta and gamma with respect to the underlying's spot, vega per 1.00
/// of σ.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GivenGreeks {
    /// ∂V/∂S.
    pub delta: f64,
    /// ∂²V/∂S².
    pub gamma: f64,
    /// ∂V/∂σ.
    pub vega: f64,
}

/// An instrument, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Instrument {
    /// Identifier as published (`BTC-26MAR27-100000-C`).
    pub id: String,
    /// Index into [`Instruments::underlyings`].
    pub underlying: usize,
    /// What it is.
    pub contract: Contract,
    /// Units of the underlying per contract.
    pub contract_size: f64,
    /// The same, exact, in units of 10⁻⁸.
    pub contract_size_units: i128,
    /// Risk class published with it: its own `class`, else its underlying's id.
    pub class: String,
    /// Greeks given by the publisher, if any.
    pub greeks: Option<GivenGreeks>,
}

/// The instruments file, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Instruments {
    /// Quote currency of every price.
    pub quote: String,
    /// Continuously compounded discount rate for option premiums.
    pub discount_rate: f64,
    /// Underlyings.
    pub underlyings: Vec<Underlying>,
    /// Instruments, in the order they are published.
    pub instruments: Vec<Instrument>,
}

const MAX_PRICE: f64 = 1.0e12;
/// Decimals of money (prices, strikes) and of quantities (contract sizes): SPEC section 2.
const MONEY_PLACES: u32 = 6;
const QUANTITY_PLACES: u32 = 8;
/// Largest quantity, units of 10⁻⁸ (SPEC section 2: |x| ≤ 1e12).
const MAX_QUANTITY_UNITS: i128 = 1_000_000_000_000 * 100_000_000;
const MAX_VOL: f64 = 10.0;
/// A move scale of 1, in units of 10⁻⁶.
pub const SCALE_ONE: i128 = 1_000_000;

impl Instruments {
    /// Parses and validates the instruments file `text` (named `source` in errors) for
    /// a snapshot taken at `as_of` (Unix seconds).
    pub fn parse(source: &str, text: &str, as_of: i64) -> Result<Instruments, InputError> {
        let raw: RawInstruments = decode(source, text)?;
        let f = Fields { source };
        f.version(raw.version)?;
        if raw.quote.trim().is_empty() {
            return Err(f.err("quote", "must not be empty"));
        }
        let discount_rate = f.number("discount_rate", &raw.discount_rate, -1.0, 1.0, false, "a rate in [-1, 1]")?;
        let mut seen = HashSet::new();
        let mut underlyings = Vec::with_capacity(raw.underlyings.len());
        for (u, ru) in raw.underlyings.iter().enumerate() {
            let p = format!("underlyings[{u}]");
            f.id(&format!("{p}.id"), &ru.id, &mut seen)?;
            // The underlying is the default risk class of its instruments.
            f.name(&format!("{p}.id"), &ru.id)?;
            let spot = f.money(&format!("{p}.spot"), &ru.spot, "a price")?;
            let spot_units = parse_units(&ru.spot.0, MONEY_PLACES).expect("checked by money");
            let move_scale = match &ru.move_scale {
                Some(d) => f.units(&format!("{p}.move_scale"), d, 6, 1, 10 * SCALE_ONE, "a scale in (0, 10] with at most 6 decimals")?,
                None => SCALE_ONE,
            };
            let carry = match &ru.carry {
                Some(c) => f.number(&format!("{p}.carry"), c, -1.0, 1.0, false, "a rate in [-1, 1]")?,
                None => 0.0,
            };
            let mut forwards = Vec::new();
            for (i, fw) in ru.forwards.iter().enumerate() {
                let (_, at) = f.years(&format!("{p}.forwards[{i}].expiry"), &fw.expiry, as_of)?;
                if forwards.iter().any(|&(t, _)| t == at) {
                    return Err(f.err(&format!("{p}.forwards[{i}].expiry"), format!("duplicate expiry {:?}", fw.expiry)));
                }
                let price = f.money(&format!("{p}.forwards[{i}].price"), &fw.price, "a price")?;
                forwards.push((at, price));
            }
            let surface = Self::surface(&f, &format!("{p}.vol"), &ru.vol, as_of)?;
            underlyings.push(Underlying { id: ru.id.clone(), spot, spot_units, move_scale, carry, forwards, surface });
        }
        if underlyings.is_empty() {
            return Err(f.err("underlyings", "at least one underlying is required"));
        }
        let mut seen = HashSet::new();
        let mut instruments = Vec::with_capacity(raw.instruments.len());
        for (i, ri) in raw.instruments.iter().enumerate() {
            let p = format!("instruments[{i}]");
            f.id(&format!("{p}.id"), &ri.id, &mut seen)?;
            let underlying = underlyings.iter().position(|u| u.id == ri.underlying).ok_or_else(|| {
                f.err(&format!("{p}.underlying"), format!("unknown underlying {:?}", ri.underlying))
            })?;
            let size_path = format!("{p}.contract_size");
            f.places(&size_path, &ri.contract_size, QUANTITY_PLACES, "a contract size")?;
            let contract_size = f.positive(&size_path, &ri.contract_size, 1.0e9, "a contract size > 0 and <= 1e9")?;
            let contract_size_units = parse_units(&ri.contract_size.0, QUANTITY_PLACES).expect("checked by places");
            let class = match &ri.class {
                Some(name) => {
                    f.name(&format!("{p}.class"), name)?;
                    name.clone()
                }
                None => ri.underlying.clone(),
            };
            let expiry = |needed: bool| -> Result<Option<(f64, i64)>, InputError> {
                match (&ri.expiry, needed) {
                    (Some(e), true) => f.years(&format!("{p}.expiry"), e, as_of).map(Some),
                    (None, true) => Err(f.err(&format!("{p}.expiry"), "required for a future or an option")),
                    (Some(e), false) => Err(f.err(&format!("{p}.expiry"), format!("a perpetual has no expiry (got {e:?})"))),
                    (None, false) => Ok(None),
                }
            };
            let strike = |needed: bool| -> Result<Option<f64>, InputError> {
                match (&ri.strike, needed) {
                    (Some(s), true) => f.money(&format!("{p}.strike"), s, "a strike").map(Some),
                    (None, true) => Err(f.err(&format!("{p}.strike"), "required for an option")),
                    (Some(s), false) => Err(f.err(&format!("{p}.strike"), format!("only options have a strike (got {:?})", s.0))),
                    (None, false) => Ok(None),
                }
            };
            let contract = match ri.kind {
                RawKind::Perpetual => {
                    expiry(false)?;
                    strike(false)?;
                    Contract::Perpetual
                }
                RawKind::Future => {
                    let (t, at) = expiry(true)?.expect("required");
                    strike(false)?;
                    Contract::Future { t, at }
                }
                RawKind::Call | RawKind::Put => {
                    let (t, at) = expiry(true)?.expect("required");
                    let strike = strike(true)?.expect("required");
                    let kind = if ri.kind == RawKind::Call { OptionKind::Call } else { OptionKind::Put };
                    Contract::Option { kind, strike, t, at }
                }
            };
            let greeks = match &ri.greeks {
                None => None,
                Some(_) if !matches!(contract, Contract::Option { .. }) => {
                    return Err(f.err(
                        &format!("{p}.greeks"),
                        "only options take given Greeks (a perpetual or a future is linear: both methods price it exactly)",
                    ))
                }
                Some(g) => {
                    let n = |name: &str, d: &Dec| {
                        f.number(&format!("{p}.greeks.{name}"), d, -1.0e12, 1.0e12, false, "a number, |x| <= 1e12")
                    };
                    Some(GivenGreeks { delta: n("delta", &g.delta)?, gamma: n("gamma", &g.gamma)?, vega: n("vega", &g.vega)? })
                }
            };
            instruments.push(Instrument {
                id: ri.id.clone(),
                underlying,
                contract,
                contract_size,
                contract_size_units,
                class,
                greeks,
            });
        }
        if instruments.is_empty() {
            return Err(f.err("instruments", "at least one instrument is required"));
        }
        Ok(Instruments { quote: raw.quote, discount_rate, underlyings, instruments })
    }

    fn surface(f: &Fields, p: &str, raw: &RawVol, as_of: i64) -> Result<VolSurface, InputError> {
        let vol = |path: String, d: &Dec| f.positive(&path, d, MAX_VOL, "a volatility in (0, 10]");
        match raw {
            RawVol::Flat(v) => Ok(VolSurface::Flat(vol(format!("{p}.flat"), v)?)),
            RawVol::Grid(g) => {
                let p = format!("{p}.grid");
                let mut expiries = Vec::with_capacity(g.expiries.len());
                for (e, text) in g.expiries.iter().enumerate() {
                    let (t, _) = f.years(&format!("{p}.expiries[{e}]"), text, as_of)?;
                    if expiries.last().is_some_and(|&last| t <= last) {
                        return Err(f.err(&format!("{p}.expiries[{e}]"), format!("expiries must be strictly increasing (got {text:?})")));
                    }
                    expiries.push(t);
                }
                let mut strikes: Vec<f64> = Vec::with_capacity(g.strikes.len());
                for (k, d) in g.strikes.iter().enumerate() {
                    let s = f.money(&format!("{p}.strikes[{k}]"), d, "a strike")?;
                    if strikes.last().is_some_and(|&last| s <= last) {
                        return Err(f.err(&format!("{p}.strikes[{k}]"), format!("strikes must be strictly increasing (got {:?})", d.0)));
                    }
                    strikes.push(s);
                }
                if expiries.is_empty() || strikes.is_empty() {
                    return Err(f.err(&p, "needs at least one expiry and one strike"));
                }
                if g.vols.len() != expiries.len() {
                    return Err(f.err(&format!("{p}.vols"), format!("has {} rows; expected one per expiry ({})", g.vols.len(), expiries.len())));
                }
                let mut vols = Vec::with_capacity(g.vols.len());
                for (e, row) in g.vols.iter().enumerate() {
                    if row.len() != strikes.len() {
                        return Err(f.err(&format!("{p}.vols[{e}]"), format!("has {} vols; expected one per strike ({})", row.len(), strikes.len())));
                    }
                    vols.push(row.iter().enumerate().map(|(k, d)| vol(format!("{p}.vols[{e}][{k}]"), d)).collect::<Result<Vec<_>, _>>()?);
                }
                Ok(VolSurface::Grid { expiries, strikes, vols })
            }
            RawVol::Svi(slices) => {
                let p = format!("{p}.svi");
                if slices.is_empty() {
                    return Err(f.err(&p, "needs at least one slice"));
                }
                let mut out: Vec<SviSlice> = Vec::with_capacity(slices.len());
                for (i, s) in slices.iter().enumerate() {
                    let q = format!("{p}[{i}]");
                    let (t, _) = f.years(&format!("{q}.expiry"), &s.expiry, as_of)?;
                    if out.last().is_some_and(|last| t <= last.t) {
                        return Err(f.err(&format!("{q}.expiry"), format!("slices must be in strictly increasing expiry (got {:?})", s.expiry)));
                    }
                    let n = |name: &str, d: &Dec| f.number(&format!("{q}.{name}"), d, -100.0, 100.0, false, "a number in [-100, 100]");
                    let slice = SviSlice { t, a: n("a", &s.a)?, b: n("b", &s.b)?, rho: n("rho", &s.rho)?, m: n("m", &s.m)?, sigma: n("sigma", &s.sigma)? };
                    slice.validate().map_err(|e| f.err(&q, e))?;
                    out.push(slice);
                }
                Ok(VolSurface::Svi(out))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Grid.
// ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrid {
    version: u32,
    scenarios: Vec<RawBlock>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum RawBlock {
    Grid(RawGridBlock),
    Extreme(RawExtreme),
    Deribit(RawDeribit),
    Named(RawNamed),
    Joint(RawJoint),
    Spread(RawSpread),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGridBlock {
    spot_moves: Vec<Dec>,
    vol_moves: Vec<RawVolMove>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVolMove {
    label: String,
    #[serde(default)]
    multiply: Option<Dec>,
    #[serde(default)]
    add: Option<Dec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExtreme {
    spot_moves: Vec<Dec>,
    vol_move: RawVolMove,
    cover: Dec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeribit {
    price_range: Dec,
    price_steps: Dec,
    vol_range_up: Dec,
    vol_range_down: Dec,
    short_term_vega_power: Dec,
    long_term_vega_power: Dec,
    #[serde(default)]
    min_vol_up: Option<Dec>,
    #[serde(default)]
    extended: Vec<RawExtended>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExtended {
    spot_move: Dec,
    cover: Dec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNamed {
    name: String,
    spot_move: Dec,
    #[serde(default)]
    vol_move: Option<RawVolMove>,
    #[serde(default)]
    cover: Option<Dec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJoint {
    name: String,
    spot_moves: Moves,
    #[serde(default)]
    vol_move: Option<RawVolMove>,
    #[serde(default)]
    cover: Option<Dec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpread {
    spot_moves: Vec<Dec>,
    #[serde(default)]
    vol_move: Option<RawVolMove>,
}

/// A JSON object from underlying ids to moves, in the order written; a repeated key is
/// refused (a map type would keep the last one silently).
struct Moves(Vec<(String, Dec)>);

impl<'de> Deserialize<'de> for Moves {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Moves, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Moves;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object from underlying ids to moves, e.g. {\"BTC\": \"-0.1\"}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Moves, A::Error> {
                let mut out: Vec<(String, Dec)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Dec>()? {
                    if out.iter().any(|(k, _)| *k == key) {
                        return Err(serde::de::Error::custom(format!("underlying {key:?} is listed twice")));
                    }
                    out.push((key, value));
                }
                Ok(Moves(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Spot moves are fractions with at most 8 decimals, in (−1, 10]: units of 10⁻⁸.
fn spot_move(f: &Fields, path: &str, d: &Dec) -> Result<i128, InputError> {
    f.units(path, d, 8, -99_999_999, 1_000_000_000, "a relative move in (-1, 10] with at most 8 decimals (-0.15 for -15%)")
}

/// A relative move in units of 10⁻¹⁴ as the nearest `f64` (the exact decimal, read once:
/// a move of "-0.15" with a scale of 1 is the `f64` that "-0.15" parses to).
fn fraction(units_e14: i128) -> f64 {
    parse_f64(&plain(units_e14, 14)).expect("a plain decimal parses")
}

/// The moves of a market-wide scenario block: move m (units of 10⁻⁸) moves each
/// underlying by m·`move_scale`, which must stay above −100 %.
fn common_moves(f: &Fields, path: &str, units: i128, underlyings: &[Underlying]) -> Result<Vec<f64>, InputError> {
    underlyings
        .iter()
        .map(|u| {
            let scaled = units * u.move_scale;
            if scaled <= -100_000_000 * SCALE_ONE {
                return Err(f.err(
                    path,
                    format!(
                        "moves underlying {:?} by {} (the move {} times its move_scale {}); a price cannot fall by 100% or more",
                        u.id,
                        plain(scaled, 14),
                        plain(units, 8),
                        plain(u.move_scale, 6)
                    ),
                ));
            }
            Ok(fraction(scaled))
        })
        .collect()
}

/// A cover fraction in (0, 1], with its text for the scenario name (`None` for 1).
fn cover(f: &Fields, path: &str, d: &Dec) -> Result<(f64, Option<String>), InputError> {
    let units = f.units(path, d, 8, 1, 100_000_000, "a cover fraction in (0, 1] with at most 8 decimals")?;
    let text = (units != 100_000_000).then(|| plain(units, 8));
    Ok((parse_f64(&d.0).expect("checked"), text))
}

fn vol_move(f: &Fields, path: &str, raw: &RawVolMove) -> Result<(String, VolShock), InputError> {
    let label = raw.label.trim();
    if label.is_empty() || label.contains(['/', ' ']) {
        return Err(f.err(&format!("{path}.label"), format!("must be a non-empty word without '/' or spaces (got {:?})", raw.label)));
    }
    let shock = match (&raw.multiply, &raw.add) {
        (Some(_), Some(_)) => return Err(f.err(path, "give `multiply` or `add`, not both")),
        (Some(m), None) => VolShock::Multiply(f.positive(&format!("{path}.multiply"), m, 10.0, "a factor in (0, 10]")?),
        (None, Some(a)) => VolShock::Add(f.number(&format!("{path}.add"), a, -10.0, 10.0, false, "a vol change in [-10, 10]")?),
        (None, None) => VolShock::Same,
    };
    Ok((label.to_string(), shock))
}

/// The scenarios of a grid file, with how many each block produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// The scenarios, in order.
    pub scenarios: Vec<Scenario>,
    /// Per block of the file: its JSON path (`scenarios[2].spread`) and how many
    /// scenarios it produced.
    pub blocks: Vec<(String, usize)>,
}

impl Grid {
    /// Refuses more than `limit` scenarios (a proof's scenario lanes), saying how many
    /// each block produced; `source` names the grid file.
    pub fn check_count(&self, source: &str, limit: usize) -> Result<(), InputError> {
        if self.scenarios.len() <= limit {
            return Ok(());
        }
        let blocks: Vec<String> = self.blocks.iter().map(|(path, n)| format!("{path} {n}")).collect();
        Err(InputError::new(
            source,
            "scenarios",
            format!(
                "{} scenarios, more than the {limit} a proof supports ({}); drop moves or blocks",
                self.scenarios.len(),
                blocks.join(", ")
            ),
        ))
    }
}

/// Parses and validates the grid file `text` for the `underlyings` of the instruments
/// file: the scenarios, in the order the blocks are written and, within a block, in the
/// order documented for it (README).
pub fn parse_grid(source: &str, text: &str, underlyings: &[Underlying]) -> Result<Grid, InputError> {
    let raw: RawGrid = decode(source, text)?;
    let f = Fields { source };
    f.version(raw.version)?;
    let mut out: Vec<(String, Scenario)> = Vec::new();
    let mut blocks = Vec::with_capacity(raw.scenarios.len());
    let common = |path: &str, units: i128| common_moves(&f, path, units, underlyings);
    for (b, block) in raw.scenarios.iter().enumerate() {
        let before = out.len();
        let mut push = |path: String, name: String, spot_moves: Vec<f64>, vol: VolShock, cover: f64| {
            out.push((path, Scenario { name, spot_moves, vol, cover }))
        };
        let kind = match block {
            RawBlock::Grid(_) => "grid",
            RawBlock::Extreme(_) => "extreme",
            RawBlock::Deribit(_) => "deribit",
            RawBlock::Named(_) => "named",
            RawBlock::Joint(_) => "joint",
            RawBlock::Spread(_) => "spread",
        };
        match block {
            RawBlock::Grid(g) => {
                let p = format!("scenarios[{b}].grid");
                if g.spot_moves.is_empty() || g.vol_moves.is_empty() {
                    return Err(f.err(&p, "needs at least one spot move and one vol move"));
                }
                let vols = g.vol_moves.iter().enumerate().map(|(v, m)| vol_move(&f, &format!("{p}.vol_moves[{v}]"), m)).collect::<Result<Vec<_>, _>>()?;
                for (s, d) in g.spot_moves.iter().enumerate() {
                    let path = format!("{p}.spot_moves[{s}]");
                    let units = spot_move(&f, &path, d)?;
                    let moves = common(&path, units)?;
                    for (label, vol) in &vols {
                        push(path.clone(), scenario_name(units, label, None), moves.clone(), *vol, 1.0);
                    }
                }
            }
            RawBlock::Extreme(x) => {
                let p = format!("scenarios[{b}].extreme");
                let (label, vol) = vol_move(&f, &format!("{p}.vol_move"), &x.vol_move)?;
                let (cover, cover_text) = cover(&f, &format!("{p}.cover"), &x.cover)?;
                if x.spot_moves.is_empty() {
                    return Err(f.err(&format!("{p}.spot_moves"), "needs at least one move"));
                }
                for (s, d) in x.spot_moves.iter().enumerate() {
                    let path = format!("{p}.spot_moves[{s}]");
                    let units = spot_move(&f, &path, d)?;
                    push(path.clone(), scenario_name(units, &label, cover_text.as_deref()), common(&path, units)?, vol, cover);
                }
            }
            RawBlock::Deribit(d) => {
                let p = format!("scenarios[{b}].deribit");
                let range = f.units(&format!("{p}.price_range"), &d.price_range, 8, 1, 99_999_999, "a relative range in (0, 1) with at most 8 decimals")?;
                let steps = f.units(&format!("{p}.price_steps"), &d.price_steps, 0, 1, 50, "a whole number of steps per side, 1 to 50")?;
                if range % steps != 0 {
                    return Err(f.err(&format!("{p}.price_steps"), format!("price_range {:?} does not split into {steps} equal steps of at most 8 decimals", d.price_range.0)));
                }
                let n = |name: &str, v: &Dec, lo: f64, hi: f64| f.number(&format!("{p}.{name}"), v, lo, hi, false, &format!("a number in [{lo}, {hi}]"));
                let up_range = n("vol_range_up", &d.vol_range_up, 0.0, 10.0)?;
                let down_range = n("vol_range_down", &d.vol_range_down, 0.0, 1.0)?;
                let short_power = n("short_term_vega_power", &d.short_term_vega_power, 0.0, 2.0)?;
                let long_power = n("long_term_vega_power", &d.long_term_vega_power, 0.0, 2.0)?;
                let floor = match &d.min_vol_up {
                    Some(v) => n("min_vol_up", v, 0.0, MAX_VOL)?,
                    None => 0.0,
                };
                let up = VolShock::Deribit { up: true, range: up_range, short_power, long_power, floor };
                let down = VolShock::Deribit { up: false, range: down_range, short_power, long_power, floor: 0.0 };
                let step = range / steps;
                let path = format!("{p}.price_range");
                for i in -steps..=steps {
                    let units = i * step;
                    let moves = common(&path, units)?;
                    for (label, vol) in [("up", up), ("same", VolShock::Same), ("down", down)] {
                        push(path.clone(), scenario_name(units, label, None), moves.clone(), vol, 1.0);
                    }
                }
                for (e, x) in d.extended.iter().enumerate() {
                    let q = format!("{p}.extended[{e}]");
                    let path = format!("{q}.spot_move");
                    let units = spot_move(&f, &path, &x.spot_move)?;
                    let (cover, cover_text) = cover(&f, &format!("{q}.cover"), &x.cover)?;
                    push(q, scenario_name(units, "up", cover_text.as_deref()), common(&path, units)?, up, cover);
                }
            }
            RawBlock::Named(n) => {
                let p = format!("scenarios[{b}].named");
                if n.name.trim().is_empty() {
                    return Err(f.err(&format!("{p}.name"), "must not be empty"));
                }
                let path = format!("{p}.spot_move");
                let moves = common(&path, spot_move(&f, &path, &n.spot_move)?)?;
                let (_, vol) = optional_vol_move(&f, &p, &n.vol_move)?;
                push(format!("{p}.name"), n.name.clone(), moves, vol, optional_cover(&f, &p, &n.cover)?);
            }
            RawBlock::Joint(j) => {
                let p = format!("scenarios[{b}].joint");
                if j.name.trim().is_empty() {
                    return Err(f.err(&format!("{p}.name"), "must not be empty"));
                }
                if j.spot_moves.0.is_empty() {
                    return Err(f.err(&format!("{p}.spot_moves"), "needs the move of at least one underlying"));
                }
                let mut moves = vec![0.0; underlyings.len()];
                for (id, d) in &j.spot_moves.0 {
                    let path = format!("{p}.spot_moves.{id}");
                    let u = underlyings
                        .iter()
                        .position(|u| &u.id == id)
                        .ok_or_else(|| f.err(&path, format!("unknown underlying {id:?} (not in the instruments file)")))?;
                    moves[u] = fraction(spot_move(&f, &path, d)? * SCALE_ONE);
                }
                let (_, vol) = optional_vol_move(&f, &p, &j.vol_move)?;
                push(format!("{p}.name"), j.name.clone(), moves, vol, optional_cover(&f, &p, &j.cover)?);
            }
            RawBlock::Spread(x) => {
                let p = format!("scenarios[{b}].spread");
                if underlyings.len() < 2 {
                    return Err(f.err(&p, "needs at least two underlyings in the instruments file"));
                }
                if x.spot_moves.is_empty() {
                    return Err(f.err(&format!("{p}.spot_moves"), "needs at least one move"));
                }
                let (label, vol) = optional_vol_move(&f, &p, &x.vol_move)?;
                let moves = x
                    .spot_moves
                    .iter()
                    .enumerate()
                    .map(|(s, d)| f.units(&format!("{p}.spot_moves[{s}]"), d, 8, 1, 99_999_999, "a relative move in (0, 1) with at most 8 decimals (0.1 for 10%)"))
                    .collect::<Result<Vec<_>, _>>()?;
                for (a, first) in underlyings.iter().enumerate() {
                    for (c, second) in underlyings.iter().enumerate().skip(a + 1) {
                        for (s, &units) in moves.iter().enumerate() {
                            for (up, down) in [((a, first), (c, second)), ((c, second), (a, first))] {
                                let mut spot_moves = vec![0.0; underlyings.len()];
                                spot_moves[up.0] = fraction(units * SCALE_ONE);
                                spot_moves[down.0] = fraction(-units * SCALE_ONE);
                                let name = spread_name(&up.1.id, &down.1.id, units, &label);
                                push(format!("{p}.spot_moves[{s}]"), name, spot_moves, vol, 1.0);
                            }
                        }
                    }
                }
            }
        }
        blocks.push((format!("scenarios[{b}].{kind}"), out.len() - before));
    }
    if out.is_empty() {
        return Err(f.err("scenarios", "at least one scenario is required"));
    }
    let mut seen = HashSet::new();
    for (path, s) in &out {
        if !seen.insert(s.name.as_str()) {
            return Err(f.err(path, format!("duplicate scenario name {:?}", s.name)));
        }
    }
    Ok(Grid { scenarios: out.into_iter().map(|(_, s)| s).collect(), blocks })
}

/// A block's optional `vol_move` under `path` (unchanged, labelled `same`, when absent).
fn optional_vol_move(f: &Fields, path: &str, raw: &Option<RawVolMove>) -> Result<(String, VolShock), InputError> {
    match raw {
        Some(m) => vol_move(f, &format!("{path}.vol_move"), m),
        None => Ok(("same".to_string(), VolShock::Same)),
    }
}

/// A block's optional `cover` under `path` (1 when absent).
fn optional_cover(f: &Fields, path: &str, raw: &Option<Dec>) -> Result<f64, InputError> {
    raw.as_ref().map_or(Ok(1.0), |c| Ok(cover(f, &format!("{path}.cover"), c)?.0))
}

// ---------------------------------------------------------------------------------------
// Rates.
// ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRates {
    version: u32,
    loss_factor: RawLevels,
    #[serde(default)]
    class_offset: Option<RawLevels>,
    #[serde(default)]
    classes: RawClasses,
    #[serde(default)]
    instruments: Vec<RawOverride>,
    assets: Vec<RawAsset>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevels {
    initial: Dec,
    maintenance: Dec,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawClasses {
    #[serde(default)]
    perpetual: Option<RawCharges>,
    #[serde(default)]
    future: Option<RawCharges>,
    #[serde(default)]
    option: Option<RawCharges>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCharges {
    linear: RawLevels,
    short_charge: RawLevels,
    #[serde(default)]
    linear_adds_mark: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    id: String,
    linear: RawLevels,
    short_charge: RawLevels,
    #[serde(default)]
    linear_adds_mark: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsset {
    id: String,
    price: Dec,
    #[serde(default)]
    haircut: Option<Dec>,
    #[serde(default)]
    tiers: Option<Vec<RawTier>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    #[serde(default)]
    up_to: Option<Dec>,
    haircut: Dec,
}

/// A haircut: a rate in [0, 1] with at most 6 decimals, in units of 10⁻⁶.
fn haircut_units(f: &Fields, path: &str, d: &Dec) -> Result<i128, InputError> {
    f.units(path, d, 6, 0, 1_000_000, "a haircut in [0, 1] with at most 6 decimals")
}

/// Charges of an instrument as fractions of its notional (contract size × spot):
/// `[initial, maintenance]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Charges {
    /// Standard-mode requirement per unit of absolute net position.
    pub linear: [f64; 2],
    /// Portfolio-mode add-on per unit of net short position.
    pub short_charge: [f64; 2],
    /// Whether the linear requirement also includes the mark (an option's premium).
    pub linear_adds_mark: bool,
}

/// One tier of a tiered haircut schedule (SPEC section 3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tier {
    /// Upper bound of the tier, quantity units (10⁻⁸); `None` for the last, open-ended one.
    pub up_to: Option<i128>,
    /// Haircut in [0, 1], rate units (10⁻⁶).
    pub haircut: i128,
}

/// How a collateral asset is haircut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Haircut {
    /// One haircut for any amount, rate units (10⁻⁶).
    Flat(i128),
    /// A schedule: bounds strictly increasing, haircuts non-decreasing, the last tier
    /// open-ended.
    Tiers(Vec<Tier>),
}

/// A collateral asset, exact: price in 10⁻⁶ of the quote, haircut in 10⁻⁶.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetRate {
    /// Identifier.
    pub id: String,
    /// Price, money units.
    pub price: i128,
    /// Its haircut or tiers.
    pub haircut: Haircut,
}

/// The rates file, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Rates {
    /// Loss factors `[initial, maintenance]`, rate units (10⁻⁶).
    pub loss_factor: [i128; 2],
    /// Class offset `[initial, maintenance]` in [0, 1], rate units, when given.
    pub class_offset: Option<[i128; 2]>,
    /// Per class: perpetual, future, option.
    pub classes: [Option<Charges>; 3],
    /// Per instrument id, overriding its class; with the JSON path of the entry.
    pub overrides: Vec<(String, String, Charges)>,
    /// Collateral assets.
    pub assets: Vec<AssetRate>,
}

impl Rates {
    /// Parses and validates the rates file `text` (named `source` in errors).
    pub fn parse(source: &str, text: &str) -> Result<Rates, InputError> {
        let raw: RawRates = decode(source, text)?;
        let f = Fields { source };
        f.version(raw.version)?;
        let rate_units = |path: String, d: &Dec| f.units(&path, d, 6, 0, 1_000_000_000, "a factor in [0, 1000] with at most 6 decimals");
        let loss_factor = [rate_units("loss_factor.initial".into(), &raw.loss_factor.initial)?, rate_units("loss_factor.maintenance".into(), &raw.loss_factor.maintenance)?];
        let offset = |path: &str, d: &Dec| f.units(path, d, 6, 0, 1_000_000, "a rate in [0, 1] with at most 6 decimals");
        let class_offset = match &raw.class_offset {
            Some(o) => Some([offset("class_offset.initial", &o.initial)?, offset("class_offset.maintenance", &o.maintenance)?]),
            None => None,
        };
        let charges = |p: &str, linear: &RawLevels, short: &RawLevels, adds: bool| -> Result<Charges, InputError> {
            let r = |name: &str, d: &Dec| f.number(&format!("{p}.{name}"), d, 0.0, 1000.0, false, "a fraction of notional in [0, 1000]");
            Ok(Charges {
                linear: [r("linear.initial", &linear.initial)?, r("linear.maintenance", &linear.maintenance)?],
                short_charge: [r("short_charge.initial", &short.initial)?, r("short_charge.maintenance", &short.maintenance)?],
                linear_adds_mark: adds,
            })
        };
        let class = |name: &str, c: &Option<RawCharges>| -> Result<Option<Charges>, InputError> {
            c.as_ref().map(|c| charges(&format!("classes.{name}"), &c.linear, &c.short_charge, c.linear_adds_mark)).transpose()
        };
        let classes = [class("perpetual", &raw.classes.perpetual)?, class("future", &raw.classes.future)?, class("option", &raw.classes.option)?];
        let mut seen = HashSet::new();
        let mut overrides = Vec::new();
        for (i, o) in raw.instruments.iter().enumerate() {
            let p = format!("instruments[{i}]");
            f.id(&format!("{p}.id"), &o.id, &mut seen)?;
            overrides.push((o.id.clone(), format!("{p}.id"), charges(&p, &o.linear, &o.short_charge, o.linear_adds_mark)?));
        }
        let mut seen = HashSet::new();
        let mut assets = Vec::new();
        for (a, ra) in raw.assets.iter().enumerate() {
            let p = format!("assets[{a}]");
            f.id(&format!("{p}.id"), &ra.id, &mut seen)?;
            let price = f.units(&format!("{p}.price"), &ra.price, 6, 0, crate::rounding::MAX_MONEY_UNITS, "a price in [0, 1e12] with at most 6 decimals")?;
            let haircut = match (&ra.haircut, &ra.tiers) {
                (Some(h), None) => Haircut::Flat(haircut_units(&f, &format!("{p}.haircut"), h)?),
                (None, Some(tiers)) => Haircut::Tiers(Self::tiers(&f, &format!("{p}.tiers"), tiers)?),
                (haircut, _) => {
                    let got = if haircut.is_some() { "both" } else { "neither" };
                    return Err(f.err(&p, format!("asset {:?}: give exactly one of `haircut` and `tiers` (got {got})", ra.id)));
                }
            };
            assets.push(AssetRate { id: ra.id.clone(), price, haircut });
        }
        Ok(Rates { loss_factor, class_offset, classes, overrides, assets })
    }

    /// A tiered haircut schedule under `p`: every tier but the last has `up_to`, a
    /// quantity (at most 8 decimals, > 0, at most 1e12) above the previous bound; the
    /// haircuts are in [0, 1] and never decrease.
    fn tiers(f: &Fields, p: &str, raw: &[RawTier]) -> Result<Vec<Tier>, InputError> {
        if raw.is_empty() {
            return Err(f.err(p, "needs at least one tier (the last one without `up_to`)"));
        }
        let mut out: Vec<Tier> = Vec::with_capacity(raw.len());
        for (t, tier) in raw.iter().enumerate() {
            let q = format!("{p}[{t}]");
            let last = t + 1 == raw.len();
            let up_to = match (&tier.up_to, last) {
                (Some(d), false) => {
                    let path = format!("{q}.up_to");
                    let bound = f.units(&path, d, QUANTITY_PLACES, 1, MAX_QUANTITY_UNITS, "a quantity > 0 and <= 1e12 with at most 8 decimals")?;
                    if let Some(previous) = out.last().and_then(|p| p.up_to).filter(|&p| bound <= p) {
                        return Err(f.err(&path, format!("bounds must be strictly increasing (got {:?} after {:?})", d.0, plain(previous, QUANTITY_PLACES))));
                    }
                    Some(bound)
                }
                (None, false) => return Err(f.err(&format!("{q}.up_to"), "required on every tier but the last")),
                (Some(d), true) => return Err(f.err(&format!("{q}.up_to"), format!("the last tier is open-ended: it has no bound (got {:?})", d.0))),
                (None, true) => None,
            };
            let path = format!("{q}.haircut");
            let haircut = haircut_units(f, &path, &tier.haircut)?;
            if let Some(previous) = out.last().map(|p| p.haircut).filter(|&p| haircut < p) {
                return Err(f.err(&path, format!("haircuts must not decrease with the amount held (got {:?} after {:?})", tier.haircut.0, plain(previous, 6))));
            }
            out.push(Tier { up_to, haircut });
        }
        Ok(out)
    }
}
