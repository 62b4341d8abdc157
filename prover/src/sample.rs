//! Deterministic generator of realistic sample markets and portfolios.
//!
//! [`generate`] builds a market snapshot (SPEC section 3) and a portfolio (SPEC section 4)
//! that look like what a crypto fund and a risk publisher would produce:
//!
//! - **Underlyings** (BTC, ETH, SOL, XRP, BNB, DOGE, AVAX, LINK) with spot levels and
//!   at-the-money vols of the right order; the seed jitters spots by up to ±3 % and vols
//!   by up to ±10 %.
//! - **Instruments** per underlying: a perpetual (`BTC-PERP`), three dated futures
//!   (`BTC-25DEC26`, ...) and option chains (`BTC-26MAR27-100000-C`, a `d` standing for
//!   the decimal point in fractional strikes: `XRP-26MAR27-2d2-P`) with calls and puts
//!   over strikes centred on the forward, spaced by expiry and vol. Every instrument is
//!   one unit of its underlying: its `class` is the underlying (`BTC`) and its `notional`
//!   the underlying's spot, exactly (contract size 1 × spot).
//! - **Scenarios**: a spot × vol grid (every spot move with vol up ×1.25 and vol down
//!   ×0.8) plus dampened tail moves whose P&L is multiplied by a cover fraction
//!   (`spot-50%/vol-up (x0.2)`). Every instrument is revalued in every scenario with the
//!   risk publisher's pricing (`zkmargin_publisher`): options with its Black-76 on the
//!   forward (sticky-strike smile), futures and perpetuals linearly; the market text is
//!   written by its snapshot writer.
//!   Marks come from the same model. P&L is rounded down (toward −∞) to 6 decimals, so a
//!   long position's losses are never understated; marks are rounded to nearest.
//! - **Rates**: futures and perpetuals are charged a `linear` initial rate of 5–10 % of
//!   their notional (by underlying) with maintenance at half of it, and no short charge;
//!   options `premium + 1.5 × that rate × spot` (maintenance half of it), with a short
//!   charge of 0.5 % (initial) and 0.3 % (maintenance) of spot. Loss factors are 1.0
//!   (initial) and 0.8 (maintenance). Haircuts are venue-like: stablecoins 0–0.02, BTC
//!   0.1, alts 0.15–0.3. Charges are rounded up to 6 decimals. [`generate_with`] can add
//!   a market `class_offset` ([`SampleOptions`]); [`generate`] writes none (1: joint).
//! - **Portfolio**: accounts on several venues, cross-margined pools (`portfolio` mode)
//!   whose accounts partly hold the same instruments (hedges across venues, so netting
//!   matters) and `standard` isolated pools; longs and shorts, short options included;
//!   collateral in a stablecoin and a few coins, with stablecoin debt in medium and large.
//!   Finally the exact engine is run and each group's first account receives USDC until
//!   every group's excess is at least 10 % of its requirement at both levels.
//!
//! Floats are used here only to synthesise data; every figure is written as an exact
//! decimal string and all margin arithmetic stays in the engine's integers. All floating
//! point functions come from `libm` and the random numbers from a SplitMix64 generator,
//! so the same profile and seed give the same bytes on every platform.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::str::FromStr;

use ethnum::I256;
use zkmargin_circuits::fixed::{format_units, MONEY_DECIMALS, QTY_DECIMALS, QTY_SCALE, RATE_DECIMALS, RATE_SCALE};
use zkmargin_circuits::market::{Level, Market, PerLevel};
use zkmargin_publisher::black76::{Black76, OptionKind};
use zkmargin_publisher::build::{linear_pnl, option_pnl, InstrumentFigures, Snapshot};
use zkmargin_publisher::input::{Haircut, Tier};
use zkmargin_publisher::scenario::{scenario_name, Scenario, VolShock};

use crate::engine::{asset_value, compute, MarginReport, COMMON_DECIMALS};
use crate::portfolio::{Mode, Portfolio};

/// Size profile of a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// 1 account, 16 positions, 16 scenarios, 64 instruments, 2 assets.
    Small,
    /// 4 accounts on 3 venues in 2 groups, 256 positions, 31 scenarios, 2,048
    /// instruments, 8 assets.
    Medium,
    /// 16 accounts on 6 venues in 4 groups, 2,048 positions, 31 scenarios, 8,192
    /// instruments, 16 assets.
    Large,
}

impl Profile {
    /// The profile's name as accepted by [`FromStr`] (`small`, `medium`, `large`).
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Small => "small",
            Profile::Medium => "medium",
            Profile::Large => "large",
        }
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "small" => Ok(Profile::Small),
            "medium" => Ok(Profile::Medium),
            "large" => Ok(Profile::Large),
            other => Err(format!("unknown sample profile {other:?}; expected small, medium or large")),
        }
    }
}

/// A generated pair of files, as the exact JSON text to write (pretty-printed, trailing
/// newline).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// The market snapshot (`market.json`).
    pub market_json: String,
    /// The portfolio (`portfolio.json`).
    pub portfolio_json: String,
}

// ---------------------------------------------------------------------------------------
// Static data: assets, underlyings, expiries, profiles.
// ---------------------------------------------------------------------------------------

/// Snapshot time; expiries are at 08:00 UTC like it.
const AS_OF: &str = "2026-11-25T08:00:00Z";
const AS_OF_DATE: (i64, u32, u32) = (2026, 11, 25);

/// A collateral asset: id, base price, haircut in rate units, whether it is a stablecoin.
struct AssetSpec {
    id: &'static str,
    price: f64,
    haircut: i128,
    stable: bool,
}

const fn asset(id: &'static str, price: f64, haircut: i128, stable: bool) -> AssetSpec {
    AssetSpec { id, price, haircut, stable }
}

/// All assets, in the order profiles take them (small: 2, medium: 8, large: 16).
/// USDC must stay first: it is the top-up asset.
const ASSETS: [AssetSpec; 16] = [
    asset("USDC", 1.0, 0, true),
    asset("BTC", 91_000.0, 100_000, false),
    asset("ETH", 3_050.5, 150_000, false),
    asset("USDT", 1.0, 10_000, true),
    asset("SOL", 142.3, 200_000, false),
    asset("XRP", 2.21, 250_000, false),
    asset("BNB", 880.0, 200_000, false),
    asset("DOGE", 0.162, 300_000, false),
    asset("DAI", 1.0, 20_000, true),
    asset("AVAX", 14.2, 250_000, false),
    asset("LINK", 13.6, 250_000, false),
    asset("ADA", 0.42, 300_000, false),
    asset("LTC", 85.4, 250_000, false),
    asset("DOT", 2.61, 300_000, false),
    asset("TRX", 0.281, 300_000, false),
    asset("FDUSD", 1.0, 20_000, true),
];

/// An underlying with listed derivatives.
struct UnderlyingSpec {
    /// Asset id (its spot is that asset's price).
    id: &'static str,
    /// At-the-money implied vol, annualised.
    vol: f64,
    /// Annualised carry of the futures curve (forward = spot · e^(carry·T)).
    carry: f64,
    /// Initial linear rate of futures, as a fraction of notional.
    initial_rate: f64,
    /// Relative weight when drawing positions.
    weight: f64,
}

const fn underlying(id: &'static str, vol: f64, carry: f64, initial_rate: f64, weight: f64) -> UnderlyingSpec {
    UnderlyingSpec { id, vol, carry, initial_rate, weight }
}

/// Underlyings in the order profiles take them (small: 1, medium: 4, large: 8).
const UNDERLYINGS: [UnderlyingSpec; 8] = [
    underlying("BTC", 0.50, 0.06, 0.05, 40.0),
    underlying("ETH", 0.65, 0.07, 0.06, 25.0),
    underlying("SOL", 0.85, 0.08, 0.08, 12.0),
    underlying("XRP", 0.80, 0.08, 0.08, 8.0),
    underlying("BNB", 0.55, 0.07, 0.08, 5.0),
    underlying("DOGE", 0.95, 0.09, 0.10, 4.0),
    underlying("AVAX", 0.90, 0.09, 0.10, 3.0),
    underlying("LINK", 0.90, 0.09, 0.10, 3.0),
];

/// USD discount rate for option premiums.
const DISCOUNT_RATE: f64 = 0.04;
/// Vol multipliers of the `vol-up` and `vol-down` scenarios.
const VOL_UP: f64 = 1.25;
const VOL_DOWN: f64 = 0.8;
/// Short-option charge, fraction of spot, initial and maintenance.
const SHORT_CHARGE: (f64, f64) = (0.005, 0.003);

/// Listed expiries (Fridays, 08:00 UTC).
const EXPIRIES: [(i64, u32, u32); 10] = [
    (2026, 11, 27),
    (2026, 12, 4),
    (2026, 12, 11),
    (2026, 12, 25),
    (2027, 1, 29),
    (2027, 2, 26),
    (2027, 3, 26),
    (2027, 6, 25),
    (2027, 9, 24),
    (2027, 12, 31),
];
/// Expiries (indices into [`EXPIRIES`]) of the three dated futures of every underlying.
const FUTURE_EXPIRIES: [usize; 3] = [3, 6, 7];

/// Spot moves of the full-weight grid (basis points), each with vol up and vol down.
const SMALL_MOVES: [i32; 7] = [-1500, -1000, -500, 0, 500, 1000, 1500];
const LARGE_MOVES: [i32; 13] = [-2000, -1500, -1000, -750, -500, -250, 0, 250, 500, 750, 1000, 1500, 2000];
/// Dampened tail moves: (spot move in basis points, cover fraction in percent), vol up.
const SMALL_TAILS: [(i32, u32); 2] = [(-5000, 20), (10000, 10)];
const LARGE_TAILS: [(i32, u32); 5] = [(-5000, 20), (-3500, 35), (3500, 35), (5000, 20), (10000, 10)];

/// A margin group of a profile and how its accounts trade.
struct GroupSpec {
    name: &'static str,
    mode: Mode,
    /// Share of freshly drawn positions that are futures or perpetuals.
    futures_share: f64,
    /// Probability that a freshly drawn option position is short.
    short_option: f64,
    /// Trade only underlyings other than BTC and ETH.
    alts_only: bool,
}

const fn group(name: &'static str, mode: Mode, futures_share: f64, short_option: f64, alts_only: bool) -> GroupSpec {
    GroupSpec { name, mode, futures_share, short_option, alts_only }
}

/// Everything a profile fixes.
struct Shape {
    underlyings: usize,
    assets: usize,
    instruments_per_underlying: usize,
    option_expiries: &'static [usize],
    groups: &'static [GroupSpec],
    /// (venue, account, group index).
    accounts: &'static [(&'static str, &'static str, usize)],
    positions_per_account: usize,
    moves: &'static [i32],
    tails: &'static [(i32, u32)],
    /// Typical notional of one position, USD.
    notional: f64,
}

const SMALL: Shape = Shape {
    underlyings: 1,
    assets: 2,
    instruments_per_underlying: 64,
    option_expiries: &[3, 4, 6],
    groups: &[group("main", Mode::Portfolio, 0.25, 0.45, false)],
    accounts: &[("deribit", "main", 0)],
    positions_per_account: 16,
    moves: &SMALL_MOVES,
    tails: &SMALL_TAILS,
    notional: 150_000.0,
};

const MEDIUM: Shape = Shape {
    underlyings: 4,
    assets: 8,
    instruments_per_underlying: 512,
    option_expiries: &[0, 1, 2, 3, 4, 5, 6, 7],
    groups: &[group("cross", Mode::Portfolio, 0.2, 0.45, false), group("iso-linear", Mode::Standard, 0.6, 0.3, false)],
    accounts: &[("deribit", "pm-1", 0), ("okx", "unified", 0), ("bybit", "uta", 0), ("okx", "iso-1", 1)],
    positions_per_account: 64,
    moves: &LARGE_MOVES,
    tails: &LARGE_TAILS,
    notional: 400_000.0,
};

const LARGE: Shape = Shape {
    underlyings: 8,
    assets: 16,
    instruments_per_underlying: 1024,
    option_expiries: &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    groups: &[
        group("macro", Mode::Portfolio, 0.3, 0.4, false),
        group("vol", Mode::Portfolio, 0.1, 0.55, false),
        group("basis", Mode::Standard, 0.6, 0.3, false),
        group("iso-alts", Mode::Standard, 0.5, 0.3, true),
    ],
    accounts: &[
        ("deribit", "macro-1", 0),
        ("okx", "macro-2", 0),
        ("bybit", "macro-3", 0),
        ("binance", "macro-4", 0),
        ("bitget", "macro-5", 0),
        ("deribit", "vol-1", 1),
        ("okx", "vol-2", 1),
        ("bybit", "vol-3", 1),
        ("binance", "vol-4", 1),
        ("kraken", "vol-5", 1),
        ("binance", "basis-1", 2),
        ("okx", "basis-2", 2),
        ("bybit", "basis-3", 2),
        ("kraken", "basis-4", 2),
        ("bitget", "iso-alts-1", 3),
        ("kraken", "iso-alts-2", 3),
    ],
    positions_per_account: 128,
    moves: &LARGE_MOVES,
    tails: &LARGE_TAILS,
    notional: 600_000.0,
};

fn shape(profile: Profile) -> &'static Shape {
    match profile {
        Profile::Small => &SMALL,
        Profile::Medium => &MEDIUM,
        Profile::Large => &LARGE,
    }
}

// ---------------------------------------------------------------------------------------
// Deterministic randomness and pricing.
// ---------------------------------------------------------------------------------------

/// SplitMix64: tiny, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    /// An independent stream for `seed`, told apart by `stream`.
    fn new(seed: u64, stream: u64) -> Rng {
        let mut mixer = Rng(stream);
        let mut rng = Rng(seed ^ mixer.next_u64());
        rng.next_u64();
        rng
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform index below `n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit(); // (0, 1]
        let u2 = self.unit();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
    }

    /// Index drawn with probability proportional to `weights`.
    fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// Implied vol of strike `k`: ATM vol with a short-dated premium and a mild put skew
/// and smile in normalised moneyness.
fn smile_vol(atm: f64, f: f64, k: f64, t: f64) -> f64 {
    let base = atm * (0.92 + 0.18 * libm::exp(-8.0 * t));
    let z = libm::log(k / f) / (base * libm::sqrt(t));
    base * (1.0 - 0.035 * z + 0.02 * z * z).clamp(0.7, 2.5)
}

const MONEY: f64 = 1e6;

/// Money units, rounded toward −∞ (P&L).
fn money_floor(x: f64) -> i128 {
    libm::floor(x * MONEY) as i128
}

/// Money units, rounded toward +∞ (charges).
fn money_ceil(x: f64) -> i128 {
    libm::ceil(x * MONEY) as i128
}

/// Money units, rounded to nearest (marks, prices).
fn money_round(x: f64) -> i128 {
    libm::round(x * MONEY) as i128
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Years from the snapshot to expiry `e`.
fn years_to(e: usize) -> f64 {
    let (y, m, d) = EXPIRIES[e];
    let (ay, am, ad) = AS_OF_DATE;
    (days_from_civil(y, m, d) - days_from_civil(ay, am, ad)) as f64 / 365.0
}

/// Expiry code as venues write it: `4DEC26`, `26MAR27`.
fn expiry_code(e: usize) -> String {
    const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
    let (y, m, d) = EXPIRIES[e];
    format!("{d}{}{:02}", MONTHS[m as usize - 1], y % 100)
}

/// A decimal without trailing zeros (`91000`, `0.8`, `-12.5`).
fn plain(units: i128, decimals: u32) -> String {
    let text = format_units(units, decimals);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A "nice" step (1, 2, 2.5 or 5 × 10^k) not above `raw`, in money units (≥ 1).
fn nice_step_units(raw: f64) -> i128 {
    let k = libm::floor(libm::log10(raw)) as i32;
    let m = raw / libm::pow(10.0, f64::from(k));
    let tenths: i128 = if m >= 5.0 {
        50
    } else if m >= 2.5 {
        25
    } else if m >= 2.0 {
        20
    } else {
        10
    };
    // units = tenths / 10 · 10^k · 10^6 = tenths · 10^(k + 5)
    let e = k + 5;
    if e >= 0 {
        tenths * 10i128.pow(e as u32)
    } else {
        (tenths / 10i128.pow((-e) as u32)).max(1)
    }
}

/// Spot-like price rounded to 5 significant digits, in money units.
fn price_units(price: f64) -> i128 {
    let tick_exp = libm::floor(libm::log10(price)) as i32 - 4 + 6;
    let tick = if tick_exp > 0 { 10i128.pow(tick_exp as u32) } else { 1 };
    let units = money_round(price);
    ((units + tick / 2) / tick * tick).max(1)
}

// ---------------------------------------------------------------------------------------
// Market synthesis.
// ---------------------------------------------------------------------------------------

/// The scenarios: the spot × vol grid, then the dampened tails (a move in basis points
/// is 10⁴ units of 10⁻⁸ in the publisher's scenario names).
fn scenarios(shape: &Shape) -> Vec<Scenario> {
    let mut out = Vec::new();
    for &bp in shape.moves {
        for (label, mult) in [("up", VOL_UP), ("down", VOL_DOWN)] {
            out.push(Scenario {
                name: scenario_name(i128::from(bp) * 10_000, label, None),
                spot_moves: vec![f64::from(bp) / 10_000.0; shape.underlyings],
                vol: VolShock::Multiply(mult),
                cover: 1.0,
            });
        }
    }
    for &(bp, cover) in shape.tails {
        out.push(Scenario {
            name: scenario_name(i128::from(bp) * 10_000, "up", Some(&plain(i128::from(cover), 2))),
            spot_moves: vec![f64::from(bp) / 10_000.0; shape.underlyings],
            vol: VolShock::Multiply(VOL_UP),
            cover: f64::from(cover) / 100.0,
        });
    }
    out
}

/// What an instrument is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Linear,
    Call,
    Put,
}

/// A synthesised instrument, numbers in money units.
struct Ins {
    id: String,
    underlying: usize,
    kind: Kind,
    mark: i128,
    pnl: Vec<i128>,
    linear: (i128, i128),
    short_charge: (i128, i128),
    /// Gross exposure of one long unit: contract size (one unit of the underlying) ×
    /// the underlying's spot, exact in money units.
    notional: i128,
}

/// Where to find an underlying's instruments when drawing positions.
struct Chain {
    /// Perpetual and futures.
    linear: Vec<usize>,
    /// Per option expiry: (call, put) instrument indices by ascending strike.
    options: Vec<Vec<(usize, usize)>>,
    /// Per option expiry: index of the strike nearest the forward.
    atm: Vec<usize>,
    /// Spot price.
    spot: f64,
    /// Trading lot, quantity units.
    lot: i128,
}

struct MarketData {
    scenarios: Vec<Scenario>,
    instruments: Vec<Ins>,
    /// (id, price units, haircut units, stable).
    assets: Vec<(&'static str, i128, i128, bool)>,
    chains: Vec<Chain>,
}

fn linear_instrument(id: String, u: usize, level: f64, spot_units: i128, rate: f64, scen: &[Scenario]) -> Ins {
    Ins {
        id,
        underlying: u,
        kind: Kind::Linear,
        mark: 0,
        pnl: scen.iter().map(|s| money_floor(linear_pnl(level, &s.shock(u)))).collect(),
        linear: (money_ceil(level * rate), money_ceil(level * rate / 2.0)),
        short_charge: (0, 0),
        notional: spot_units,
    }
}

fn build_market(shape: &Shape, seed: u64) -> MarketData {
    let mut rng = Rng::new(seed, 1);
    let scenarios = scenarios(shape);
    let assets: Vec<_> = ASSETS[..shape.assets]
        .iter()
        .map(|a| {
            let price = if a.stable { money_round(a.price) } else { price_units(a.price * rng.range(0.97, 1.03)) };
            (a.id, price, a.haircut, a.stable)
        })
        .collect();
    let mut instruments = Vec::with_capacity(shape.underlyings * shape.instruments_per_underlying);
    let mut chains = Vec::with_capacity(shape.underlyings);
    let pairs = (shape.instruments_per_underlying - 1 - FUTURE_EXPIRIES.len()) / 2;
    assert_eq!(1 + FUTURE_EXPIRIES.len() + 2 * pairs, shape.instruments_per_underlying);
    for (u, spec) in UNDERLYINGS[..shape.underlyings].iter().enumerate() {
        let spot_units = assets.iter().find(|a| a.0 == spec.id).expect("underlying is an asset").1;
        let spot = spot_units as f64 / MONEY;
        let atm_vol = spec.vol * rng.range(0.9, 1.1);
        let lot_exp = libm::floor(libm::log10(2_000.0 / spot)) as i32 + QTY_DECIMALS as i32;
        let mut chain = Chain {
            linear: Vec::new(),
            options: Vec::new(),
            atm: Vec::new(),
            spot,
            lot: 10i128.pow(lot_exp.max(0) as u32),
        };
        chain.linear.push(instruments.len());
        instruments.push(linear_instrument(format!("{}-PERP", spec.id), u, spot, spot_units, spec.initial_rate, &scenarios));
        for &e in &FUTURE_EXPIRIES {
            let forward = spot * libm::exp(spec.carry * years_to(e));
            chain.linear.push(instruments.len());
            let id = format!("{}-{}", spec.id, expiry_code(e));
            instruments.push(linear_instrument(id, u, forward, spot_units, spec.initial_rate, &scenarios));
        }
        let count = shape.option_expiries.len();
        for (n_e, &e) in shape.option_expiries.iter().enumerate() {
            // Later expiries take the remainder: they list more strikes.
            let n = pairs / count + usize::from(n_e >= count - pairs % count);
            let t = years_to(e);
            let forward = spot * libm::exp(spec.carry * t);
            let df = libm::exp(-DISCOUNT_RATE * t);
            let width = (2.5 * atm_vol * libm::sqrt(t)).clamp(0.06, 0.7);
            let raw = (2.0 * width * forward / (n.max(2) - 1) as f64).min(1.2 * forward / n as f64);
            let step = nice_step_units(raw);
            let centre = money_round(forward) / step * step;
            let first = (centre - (n as i128 / 2) * step).max(step);
            let mut row = Vec::with_capacity(n);
            let (mut atm, mut atm_gap) = (0, f64::INFINITY);
            for j in 0..n {
                let strike_units = first + j as i128 * step;
                let strike = strike_units as f64 / MONEY;
                if (strike - forward).abs() < atm_gap {
                    (atm, atm_gap) = (j, (strike - forward).abs());
                }
                let sigma = smile_vol(atm_vol, forward, strike, t);
                let code =
                    format!("{}-{}-{}", spec.id, expiry_code(e), plain(strike_units, MONEY_DECIMALS).replace('.', "d"));
                let mut pair = [0usize; 2];
                let kinds = [(Kind::Call, OptionKind::Call, "C"), (Kind::Put, OptionKind::Put, "P")];
                for (slot, (kind, option_kind, suffix)) in kinds.into_iter().enumerate() {
                    let option = Black76 { kind: option_kind, forward, strike, vol: sigma, t, df };
                    let value = option.price();
                    let pnl = scenarios.iter().map(|s| money_floor(option_pnl(&option, &s.shock(u)))).collect();
                    let mark = money_round(value);
                    let linear = value + 1.5 * spec.initial_rate * spot;
                    pair[slot] = instruments.len();
                    instruments.push(Ins {
                        id: format!("{code}-{suffix}"),
                        underlying: u,
                        kind,
                        mark,
                        pnl,
                        linear: (money_ceil(linear), money_ceil(linear / 2.0)),
                        short_charge: (money_ceil(SHORT_CHARGE.0 * spot), money_ceil(SHORT_CHARGE.1 * spot)),
                        notional: spot_units,
                    });
                }
                row.push((pair[0], pair[1]));
            }
            chain.options.push(row);
            chain.atm.push(atm);
        }
        chains.push(chain);
    }
    MarketData { scenarios, instruments, assets, chains }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// The market text, written by the publisher's snapshot writer: every instrument in its
/// underlying's risk class with its notional; the class offset when given.
fn market_json(id: &str, data: &MarketData, options: &SampleOptions) -> String {
    let class_offset = options.class_offset;
    let haircut = |id: &str, h: i128| match (options.tiers, id) {
        (true, "BTC") => tiered(h, 5, 20),
        (true, "ETH") => tiered(h, 100, 500),
        _ => Haircut::Flat(h),
    };
    Snapshot {
        id: id.to_string(),
        as_of: AS_OF.to_string(),
        quote: "USD".to_string(),
        scenarios: data.scenarios.iter().map(|s| s.name.clone()).collect(),
        loss_factor: ["1.0".to_string(), "0.8".to_string()],
        class_offset: class_offset.map(|o| [plain(o.initial, RATE_DECIMALS), plain(o.maintenance, RATE_DECIMALS)]),
        instruments: data
            .instruments
            .iter()
            .map(|ins| InstrumentFigures {
                id: ins.id.clone(),
                mark: ins.mark,
                pnl: ins.pnl.clone(),
                linear: [ins.linear.0, ins.linear.1],
                short_charge: [ins.short_charge.0, ins.short_charge.1],
                class: Some(UNDERLYINGS[ins.underlying].id.to_string()),
                notional: Some(ins.notional),
            })
            .collect(),
        assets: data.assets.iter().map(|&(id, price, h, _)| (id.to_string(), price, haircut(id, h))).collect(),
    }
    .to_json()
}

// ---------------------------------------------------------------------------------------
// Portfolio synthesis.
// ---------------------------------------------------------------------------------------

/// A synthesised account: positions (instrument index, qty units) and collateral (asset
/// index, amount units).
struct Acc {
    venue: &'static str,
    account: &'static str,
    group: usize,
    salt: String,
    positions: Vec<(usize, i128)>,
    collateral: Vec<(usize, i128)>,
    /// Gross notional of the positions, USD (for sizing collateral).
    gross: f64,
    /// Share of the collateral value held in the stablecoin (first entry).
    stable_share: f64,
    /// When non-zero, the last entry is a stablecoin debt of this fraction of the coins'
    /// market value, and there is no positive stablecoin entry.
    debt_ratio: f64,
}

/// Rounds a quantity to whole lots, at least one lot, with the given sign.
fn lots(qty: f64, lot: i128, negative: bool) -> i128 {
    let n = (libm::round(qty.abs() * QTY_SCALE as f64 / lot as f64) as i128).max(1);
    if negative {
        -n * lot
    } else {
        n * lot
    }
}

/// Draws a fresh instrument for a group's style.
fn draw_instrument(rng: &mut Rng, data: &MarketData, weights: &[f64], style: &GroupSpec) -> usize {
    let chain = &data.chains[rng.weighted(weights)];
    if rng.chance(style.futures_share) {
        return chain.linear[rng.below(chain.linear.len())];
    }
    let e = rng.below(chain.options.len());
    let row = &chain.options[e];
    let spread = (row.len() as f64 / 5.0).max(1.0);
    let j = libm::round(chain.atm[e] as f64 + rng.normal() * spread).clamp(0.0, (row.len() - 1) as f64) as usize;
    if rng.chance(0.5) {
        row[j].0
    } else {
        row[j].1
    }
}

fn salt_hex(seed: u64, account: usize) -> String {
    let mut rng = Rng::new(seed, 0x5A17_0000 + account as u64);
    (0..4).map(|_| format!("{:016x}", rng.next_u64())).collect()
}

fn build_accounts(shape: &Shape, data: &MarketData, seed: u64) -> Vec<Acc> {
    let mut rng = Rng::new(seed, 2);
    let n_ins = data.instruments.len();
    // Positions already held in each group, for hedges across venues.
    let mut group_held: Vec<Vec<(usize, i128)>> = vec![Vec::new(); shape.groups.len()];
    let mut seen_in_group = vec![false; shape.groups.len()];
    let mut debt_in_group = vec![false; shape.groups.len()];
    let stables: Vec<usize> = (0..data.assets.len()).filter(|&a| data.assets[a].3).collect();
    let coins: Vec<usize> = (0..data.assets.len()).filter(|&a| !data.assets[a].3).collect();
    let coin_weights: Vec<f64> = coins
        .iter()
        .map(|&a| match data.assets[a].0 {
            "BTC" => 6.0,
            "ETH" => 4.0,
            _ => 1.0,
        })
        .collect();
    let mut accounts = Vec::with_capacity(shape.accounts.len());
    for (a, &(venue, account, g)) in shape.accounts.iter().enumerate() {
        let style = &shape.groups[g];
        let first_in_group = !seen_in_group[g];
        seen_in_group[g] = true;
        let weights: Vec<f64> = UNDERLYINGS[..shape.underlyings]
            .iter()
            .enumerate()
            .map(|(u, spec)| if style.alts_only && u < 2 { 0.0 } else { spec.weight })
            .collect();
        let mut held = BTreeSet::new();
        let mut positions = Vec::with_capacity(shape.positions_per_account);
        // Cross-venue hedges: part of a pool's later accounts offset or add to what its
        // earlier accounts hold, so positions net within the pool.
        if style.mode == Mode::Portfolio && !group_held[g].is_empty() {
            let shared = shape.positions_per_account * 3 / 10;
            let pool = &group_held[g];
            let mut tries = 0;
            while positions.len() < shared && tries < 20 * shared {
                tries += 1;
                let (i, prev) = pool[rng.below(pool.len())];
                if !held.insert(i) {
                    continue;
                }
                let lot = data.chains[data.instruments[i].underlying].lot;
                let (factor, opposite) =
                    if rng.chance(0.65) { (rng.range(0.3, 1.0), true) } else { (rng.range(0.2, 0.6), false) };
                let qty = prev.abs() as f64 / QTY_SCALE as f64 * factor;
                positions.push((i, lots(qty, lot, (prev < 0) != opposite)));
            }
        }
        let mut tries = 0;
        while positions.len() < shape.positions_per_account {
            tries += 1;
            let i = if tries < 50 * shape.positions_per_account {
                draw_instrument(&mut rng, data, &weights, style)
            } else {
                // Practically unreachable: take the next free instrument.
                (0..n_ins).find(|i| !held.contains(i)).expect("enough instruments")
            };
            if !held.insert(i) {
                continue;
            }
            let ins = &data.instruments[i];
            let chain = &data.chains[ins.underlying];
            let notional =
                (shape.notional * libm::exp(0.7 * rng.normal())).clamp(shape.notional / 10.0, shape.notional * 8.0);
            let short = if ins.kind == Kind::Linear { rng.chance(0.5) } else { rng.chance(style.short_option) };
            positions.push((i, lots(notional / chain.spot, chain.lot, short)));
        }
        positions.sort_unstable();
        group_held[g].extend(positions.iter().copied());

        // Collateral plan: a stablecoin and one or two coins; amounts are set by `fund`
        // once the group's requirement is known.
        let gross: f64 = positions
            .iter()
            .map(|&(i, q)| q.abs() as f64 / QTY_SCALE as f64 * data.chains[data.instruments[i].underlying].spot)
            .sum();
        let with_debt = shape.assets > 2 && style.mode == Mode::Portfolio && !first_in_group && !debt_in_group[g];
        debt_in_group[g] |= with_debt;
        let mut collateral = Vec::new();
        let stable_share = if with_debt { 0.0 } else { rng.range(0.4, 0.7) };
        if first_in_group {
            collateral.push((0usize, 0i128)); // USDC, the top-up asset
        } else if !with_debt {
            collateral.push((stables[rng.below(stables.len())], 0));
        }
        let n_coins = if coins.len() > 1 { 1 + rng.below(2) } else { 1 };
        while collateral.len() < usize::from(!with_debt) + n_coins.min(coins.len()) {
            let c = coins[rng.weighted(&coin_weights)];
            if !collateral.iter().any(|e| e.0 == c) {
                collateral.push((c, 0));
            }
        }
        let debt_ratio = if with_debt {
            // Stablecoin borrowed against the coins.
            let stable = stables.iter().copied().find(|&s| data.assets[s].0 == "USDT").unwrap_or(stables[0]);
            collateral.push((stable, 0));
            rng.range(0.25, 0.45)
        } else {
            0.0
        };
        accounts.push(Acc {
            venue,
            account,
            group: g,
            salt: salt_hex(seed, a),
            positions,
            collateral,
            gross,
            stable_share,
            debt_ratio,
        });
    }
    accounts
}

/// Sets an account's collateral amounts so that their value after haircuts (debts at
/// full value) is about `value` USD. Stablecoins are whole units, coins 4 decimals.
fn fund(acc: &mut Acc, data: &MarketData, value: f64) {
    let has_stable = acc.debt_ratio == 0.0;
    let n_coins = acc.collateral.len() - 1;
    let haircut_factor = |a: usize| (RATE_SCALE - data.assets[a].2) as f64 / RATE_SCALE as f64;
    let price = |a: usize| data.assets[a].1 as f64 / MONEY;
    let coin_entries = if has_stable { 1..acc.collateral.len() } else { 0..n_coins };
    // Market value per coin: with a debt of ratio d on the coins' market value C,
    // value = C · (mean(1 − h) − d).
    let coin_target = if has_stable {
        value * (1.0 - acc.stable_share) / n_coins as f64
    } else {
        let mean_factor: f64 =
            coin_entries.clone().map(|e| haircut_factor(acc.collateral[e].0)).sum::<f64>() / n_coins as f64;
        value / (mean_factor - acc.debt_ratio) / n_coins as f64
    };
    let mut coin_market_value = 0.0;
    for e in coin_entries {
        let a = acc.collateral[e].0;
        let per_coin = if has_stable { coin_target / haircut_factor(a) } else { coin_target };
        let amount = (libm::round(per_coin / price(a) * 1e4) as i128 * 10_000).max(10_000);
        coin_market_value += amount as f64 / QTY_SCALE as f64 * price(a);
        acc.collateral[e].1 = amount;
    }
    if has_stable {
        let a = acc.collateral[0].0;
        let units = libm::ceil(value * acc.stable_share / haircut_factor(a) / price(a)) as i128;
        acc.collateral[0].1 = units.max(1) * QTY_SCALE;
    } else {
        let units = libm::ceil(coin_market_value * acc.debt_ratio) as i128;
        acc.collateral[n_coins].1 = -units.max(1) * QTY_SCALE;
    }
}

fn portfolio_json(shape: &Shape, data: &MarketData, accounts: &[Acc]) -> String {
    let qty = |u: i128| quote(&plain(u, QTY_DECIMALS));
    let mut out = String::with_capacity(4096 + accounts.len() * shape.positions_per_account * 64);
    out.push_str("{\n  \"version\": 1,\n  \"owner\": \"sample-fund\",\n  \"groups\": [\n");
    for (g, group) in shape.groups.iter().enumerate() {
        let comma = if g + 1 < shape.groups.len() { "," } else { "" };
        let _ =
            writeln!(out, "    {{\"name\": {}, \"mode\": {}}}{comma}", quote(group.name), quote(group.mode.as_str()));
    }
    out.push_str("  ],\n  \"accounts\": [\n");
    for (a, acc) in accounts.iter().enumerate() {
        out.push_str("    {\n");
        let _ = writeln!(
            out,
            "      \"venue\": {}, \"account\": {}, \"group\": {},",
            quote(acc.venue),
            quote(acc.account),
            quote(shape.groups[acc.group].name)
        );
        let _ = writeln!(out, "      \"salt\": {},", quote(&acc.salt));
        out.push_str("      \"positions\": [\n");
        for (p, &(i, q)) in acc.positions.iter().enumerate() {
            let comma = if p + 1 < acc.positions.len() { "," } else { "" };
            let _ = writeln!(
                out,
                "        {{\"instrument\": {}, \"qty\": {}}}{comma}",
                quote(&data.instruments[i].id),
                qty(q)
            );
        }
        out.push_str("      ],\n      \"collateral\": [\n");
        for (c, &(asset, amount)) in acc.collateral.iter().enumerate() {
            let comma = if c + 1 < acc.collateral.len() { "," } else { "" };
            let _ = writeln!(
                out,
                "        {{\"asset\": {}, \"amount\": {}}}{comma}",
                quote(data.assets[asset].0),
                qty(amount)
            );
        }
        out.push_str("      ]\n");
        let comma = if a + 1 < accounts.len() { "," } else { "" };
        let _ = writeln!(out, "    }}{comma}");
    }
    out.push_str("  ]\n}\n");
    out
}

fn ceil_div(a: I256, b: I256) -> I256 {
    let q = a / b;
    if q * b < a {
        q + I256::ONE
    } else {
        q
    }
}

/// Serialises the portfolio, parses it back and runs the exact engine on it.
fn evaluate(shape: &Shape, data: &MarketData, accounts: &[Acc], market: &Market) -> (String, MarginReport) {
    let text = portfolio_json(shape, data, accounts);
    let portfolio =
        Portfolio::from_json("sample portfolio", &text).unwrap_or_else(|e| panic!("generated portfolio: {e}"));
    portfolio.check_against("sample portfolio", market).unwrap_or_else(|e| panic!("generated portfolio: {e}"));
    let report = compute(market, &portfolio);
    (text, report)
}

/// A common-scale figure in USD, for sizing only.
fn common_to_f64(x: I256) -> f64 {
    // At 10^-20 (exact for a market without class offsets), as samples were always sized.
    let units = x / I256::from(10i128.pow(COMMON_DECIMALS - 20));
    i128::try_from(units).expect("figure fits i128") as f64 / 1e20
}

/// Variations of a sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SampleOptions {
    /// The market's `class_offset` (rate units in [0, 1e6] per level); `None`: not
    /// written (1, the joint figure).
    pub class_offset: Option<PerLevel<i128>>,
    /// BTC and ETH haircut by tiers ([`tiered`]) instead of one haircut.
    pub tiers: bool,
}

/// The tiered schedule of an asset with flat haircut `h` whose holdings above `small`
/// and `large` units (whole units of the asset) take 5 and 15 points more.
fn tiered(h: i128, small: i128, large: i128) -> Haircut {
    let units = |n: i128| n * QTY_SCALE;
    let points = |p: i128| (h + p * 10_000).min(RATE_SCALE);
    Haircut::Tiers(vec![
        Tier { up_to: Some(units(small)), haircut: h },
        Tier { up_to: Some(units(large)), haircut: points(5) },
        Tier { up_to: None, haircut: points(15) },
    ])
}

/// The market id of a sample: `sample-PROFILE-seedN`, with `-offset-R` (one rate for both
/// levels) or `-offset-I-M` appended when the market carries a class offset.
fn sample_id(profile: Profile, seed: u64, options: &SampleOptions) -> String {
    let mut id = format!("sample-{}-seed{seed}", profile.as_str());
    if let Some(o) = options.class_offset {
        id.push_str("-offset-");
        id.push_str(&plain(o.initial, RATE_DECIMALS));
        if o.maintenance != o.initial {
            id.push('-');
            id.push_str(&plain(o.maintenance, RATE_DECIMALS));
        }
    }
    if options.tiers {
        id.push_str("-tiers");
    }
    id
}

/// Generates the sample of `profile` for `seed`. Same profile and seed => same bytes.
pub fn generate(profile: Profile, seed: u64) -> Sample {
    generate_with(profile, seed, &SampleOptions::default())
}

/// Generates the sample of `profile` for `seed` with `options`: the same instruments,
/// scenarios and positions as [`generate`]; with a class offset below 1 the requirements
/// rise and the collateral is sized and topped up for them. Same inputs => same bytes.
///
/// # Panics
/// When an offset is outside [0, 1] (callers check user input first).
pub fn generate_with(profile: Profile, seed: u64, options: &SampleOptions) -> Sample {
    let shape = shape(profile);
    let data = build_market(shape, seed);
    let market_json = market_json(&sample_id(profile, seed, options), &data, options);
    let market = Market::from_json("sample market", &market_json).unwrap_or_else(|e| panic!("generated market: {e}"));
    let mut accounts = build_accounts(shape, &data, seed);

    // Size collateral from the engine's figures with no collateral: each group's equity
    // aims at 1.3–2.5 × its larger requirement, split over its accounts by gross notional.
    let mut rng = Rng::new(seed, 3);
    let (_, bare) = evaluate(shape, &data, &accounts, &market);
    for (g, figures) in bare.groups.iter().enumerate() {
        let requirement = common_to_f64(figures.levels.initial.requirement.max(figures.levels.maintenance.requirement));
        let gross: f64 = accounts.iter().filter(|a| a.group == g).map(|a| a.gross).sum();
        let needed = requirement * rng.range(1.3, 2.5) - common_to_f64(figures.equity);
        let needed = needed.max(0.002 * gross);
        for acc in accounts.iter_mut().filter(|a| a.group == g) {
            let value = needed * acc.gross / gross;
            fund(acc, &data, value);
        }
    }

    let portfolio_json = top_up(shape, &data, &mut accounts, &market);
    Sample { market_json, portfolio_json }
}

/// Tops up each group's first account in USDC until every group's excess is at least
/// 10 % of its requirement at both levels (equity ≥ ⌈11·req / 10⌉), exactly, with the
/// engine's integers; returns the final portfolio text. USDC is held (non-negative)
/// there, so the value added is linear and one round suffices; the next round confirms
/// it with the engine.
fn top_up(shape: &Shape, data: &MarketData, accounts: &mut [Acc], market: &Market) -> String {
    let usdc = &market.assets[market.asset_index("USDC").expect("USDC is listed")];
    let usdc_unit_value = asset_value(usdc, 1);
    let thousand = 1_000 * QTY_SCALE;
    for round in 0..3 {
        let (portfolio_json, report) = evaluate(shape, data, accounts, market);
        let mut topped_up = false;
        for (g, figures) in report.groups.iter().enumerate() {
            let deficit = Level::ALL
                .iter()
                .map(|&level| {
                    ceil_div(figures.levels.get(level).requirement * I256::from(11), I256::from(10)) - figures.equity
                })
                .max()
                .expect("two levels");
            if deficit > I256::ZERO {
                let units = i128::try_from(ceil_div(deficit, usdc_unit_value)).expect("top-up fits");
                let units = (units + thousand - 1) / thousand * thousand; // whole thousands
                let acc = accounts.iter_mut().find(|acc| acc.group == g).expect("group has an account");
                let entry = acc.collateral.iter_mut().find(|c| c.0 == 0).expect("first account holds USDC");
                assert!(entry.1 >= 0, "top-up balance must not be a debt");
                entry.1 += units;
                topped_up = true;
            }
        }
        if !topped_up {
            return portfolio_json;
        }
        assert!(round < 2, "top-up did not converge");
    }
    unreachable!("the loop returns or panics")
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    struct Expected {
        accounts: usize,
        positions: usize,
        scenarios: usize,
        instruments: usize,
        assets: usize,
        groups: usize,
        venues: usize,
    }

    fn expected(profile: Profile) -> Expected {
        match profile {
            Profile::Small => {
                Expected { accounts: 1, positions: 16, scenarios: 16, instruments: 64, assets: 2, groups: 1, venues: 1 }
            }
            Profile::Medium => Expected {
                accounts: 4,
                positions: 256,
                scenarios: 31,
                instruments: 2_048,
                assets: 8,
                groups: 2,
                venues: 3,
            },
            Profile::Large => Expected {
                accounts: 16,
                positions: 2_048,
                scenarios: 31,
                instruments: 8_192,
                assets: 16,
                groups: 4,
                venues: 6,
            },
        }
    }

    fn check(profile: Profile, seed: u64) -> (Market, Portfolio) {
        check_with(profile, seed, &SampleOptions::default())
    }

    fn check_with(profile: Profile, seed: u64, options: &SampleOptions) -> (Market, Portfolio) {
        let sample = generate_with(profile, seed, options);
        assert!(sample.market_json.ends_with("}\n") && sample.portfolio_json.ends_with("}\n"));
        // Valid plain JSON too.
        let raw: serde_json::Value = serde_json::from_str(&sample.market_json).unwrap();
        assert_eq!(raw["id"], sample_id(profile, seed, options));
        assert_eq!(raw["as_of"], "2026-11-25T08:00:00Z");
        assert_eq!(raw["quote"], "USD");
        assert_eq!(raw["version"], 1);
        let raw: serde_json::Value = serde_json::from_str(&sample.portfolio_json).unwrap();
        assert_eq!(raw["owner"], "sample-fund");

        let market = Market::from_json("market.json", &sample.market_json).unwrap();
        let portfolio = Portfolio::from_json("portfolio.json", &sample.portfolio_json).unwrap();
        portfolio.check_against("portfolio.json", &market).unwrap();
        portfolio.require_salts("portfolio.json").unwrap();

        // Every instrument in its underlying's class, with its notional: one unit × spot,
        // written after the short charge (class, then notional).
        assert_eq!(market.class_offset, options.class_offset);
        for ins in &market.instruments {
            let underlying = ins.id.split('-').next().unwrap();
            assert_eq!(ins.class.as_deref(), Some(underlying), "{}", ins.id);
            assert_eq!(ins.notional, Some(market.assets[market.asset_index(underlying).unwrap()].price), "{}", ins.id);
        }
        let first = sample.market_json.lines().find(|l| l.contains("-PERP")).unwrap();
        let tail = format!(r#""short_charge": {{"initial": "0", "maintenance": "0"}}, "class": "{}", "notional": "#, &market.instruments[0].class_name());
        assert!(first.contains(&tail), "{first}");

        let want = expected(profile);
        assert_eq!(portfolio.accounts.len(), want.accounts);
        assert_eq!(portfolio.accounts.iter().map(|a| a.positions.len()).sum::<usize>(), want.positions);
        assert_eq!(market.scenarios.len(), want.scenarios);
        assert_eq!(market.instruments.len(), want.instruments);
        assert_eq!(market.assets.len(), want.assets);
        assert_eq!(portfolio.groups.len(), want.groups);
        let venues: BTreeSet<&str> = portfolio.accounts.iter().map(|a| a.venue.as_str()).collect();
        assert_eq!(venues.len(), want.venues);

        // Both levels hold, with at least a 10 % cushion per group.
        let report = compute(&market, &portfolio);
        for level in Level::ALL {
            report.check_claim(level, I256::ZERO).unwrap();
            for g in &report.groups {
                let f = g.levels.get(level);
                assert!(f.excess * I256::from(10) >= f.requirement, "{} {level}", g.name);
                assert!(f.requirement > I256::ZERO, "{} {level}", g.name);
            }
        }

        // Mixed books: longs and shorts, short options.
        let all: Vec<_> = portfolio.accounts.iter().flat_map(|a| &a.positions).collect();
        assert!(all.iter().any(|p| p.qty > 0));
        assert!(all.iter().any(|p| p.qty < 0));
        assert!(all.iter().any(|p| p.qty < 0 && (p.instrument.ends_with("-C") || p.instrument.ends_with("-P"))));
        assert!(all.iter().any(|p| p.instrument.ends_with("-PERP")));
        (market, portfolio)
    }

    /// Instruments held by more than one account of the same portfolio-mode group.
    fn shared_across_venues(portfolio: &Portfolio) -> usize {
        let mut holders: BTreeMap<(usize, &str), BTreeSet<&str>> = BTreeMap::new();
        for acc in &portfolio.accounts {
            if portfolio.groups[acc.group].mode == Mode::Portfolio {
                for p in &acc.positions {
                    holders.entry((acc.group, p.instrument.as_str())).or_default().insert(acc.venue.as_str());
                }
            }
        }
        holders.values().filter(|v| v.len() > 1).count()
    }

    #[test]
    fn sample_profiles_parse() {
        for p in [Profile::Small, Profile::Medium, Profile::Large] {
            assert_eq!(p.as_str().parse::<Profile>(), Ok(p));
        }
        assert!("huge".parse::<Profile>().unwrap_err().contains("huge"));
    }

    #[test]
    fn sample_small_is_valid() {
        let (market, portfolio) = check(Profile::Small, 42);
        assert_eq!(market.scenarios[0], "spot-15%/vol-up");
        assert_eq!(market.scenarios[14], "spot-50%/vol-up (x0.2)");
        assert_eq!(market.scenarios[15], "spot+100%/vol-up (x0.1)");
        assert_eq!(portfolio.groups[0].mode, Mode::Portfolio);
    }

    #[test]
    fn sample_medium_is_valid() {
        let (market, portfolio) = check(Profile::Medium, 7);
        assert!(market.scenarios.contains(&"spot-7.5%/vol-down".to_string()));
        assert!(shared_across_venues(&portfolio) > 0, "cross-pool accounts share instruments");
        assert!(portfolio.accounts.iter().flat_map(|a| &a.collateral).any(|c| c.amount < 0), "a debt");
        let modes: Vec<Mode> = portfolio.groups.iter().map(|g| g.mode).collect();
        assert_eq!(modes, [Mode::Portfolio, Mode::Standard]);
        let cross = portfolio.accounts.iter().filter(|a| a.group == 0).map(|a| a.venue.as_str());
        assert_eq!(cross.collect::<BTreeSet<_>>().len(), 3);
    }

    #[test]
    fn sample_large_is_valid() {
        let (_, portfolio) = check(Profile::Large, 1);
        assert!(shared_across_venues(&portfolio) > 0);
        assert!(portfolio.accounts.iter().flat_map(|a| &a.collateral).any(|c| c.amount < 0));
    }

    #[test]
    fn sample_top_up_covers_an_unfunded_book() {
        let shape = shape(Profile::Medium);
        let data = build_market(shape, 5);
        let market = Market::from_json("m", &market_json("t", &data, &SampleOptions::default())).unwrap();
        let mut accounts = build_accounts(shape, &data, 5);
        // No collateral at all but a debt: the engine must demand a top-up.
        accounts[1].collateral.last_mut().unwrap().1 = -1_000_000 * QTY_SCALE;
        let text = top_up(shape, &data, &mut accounts, &market);
        let portfolio = Portfolio::from_json("p", &text).unwrap();
        let report = compute(&market, &portfolio);
        let mut topped = 0;
        for (g, figures) in report.groups.iter().enumerate() {
            for level in Level::ALL {
                report.check_claim(level, I256::ZERO).unwrap();
                let f = figures.levels.get(level);
                assert!(f.excess * I256::from(10) >= f.requirement, "{} {level}", figures.name);
            }
            // A topped-up group (its first account's USDC was 0) sits just above the
            // cushion: top-ups are whole thousands of USDC, so 10·excess − req < $10,000.
            let first = accounts.iter().find(|a| a.group == g).unwrap();
            if first.collateral[0].1 > 0 {
                topped += 1;
                let f = &figures.levels.initial;
                let slack = f.excess * I256::from(10) - f.requirement;
                assert!(slack < crate::engine::money_to_common(10_000 * 1_000_000), "{} {slack}", figures.name);
            }
        }
        assert!(topped > 0, "some group needed a top-up");
    }

    #[test]
    fn sample_medium_with_class_offset_zero_keeps_the_cushion() {
        // Four underlyings, each its own class, margined alone and summed: the cross
        // group's requirement rises, and the collateral is topped up to cover it.
        let zero = SampleOptions { class_offset: Some(PerLevel { initial: 0, maintenance: 0 }), ..SampleOptions::default() };
        let (market, portfolio) = check_with(Profile::Medium, 7, &zero);
        assert_eq!(market.id, "sample-medium-seed7-offset-0");
        assert_eq!(market.classes().0, ["BTC", "ETH", "SOL", "XRP"]);
        let joint = Market::from_json("m", &generate(Profile::Medium, 7).market_json).unwrap();
        let offset = compute(&market, &portfolio);
        let plain = compute(&joint, &portfolio);
        let cross = |r: &MarginReport| r.groups[0].levels.initial.requirement;
        assert!(cross(&offset) > cross(&plain), "offset 0 charges the cross-underlying hedges");
        assert!(offset.groups[0].levels.initial.classes.len() > 1);
        // The same positions as without an offset.
        let base = Portfolio::from_json("p", &generate(Profile::Medium, 7).portfolio_json).unwrap();
        let positions = |p: &Portfolio| p.accounts.iter().map(|a| a.positions.clone()).collect::<Vec<_>>();
        assert_eq!(positions(&portfolio), positions(&base));
        // Offsets per level name both in the id.
        let split = SampleOptions { class_offset: Some(PerLevel { initial: 250_000, maintenance: 500_000 }), ..SampleOptions::default() };
        assert_eq!(sample_id(Profile::Small, 1, &split), "sample-small-seed1-offset-0.25-0.5");
        assert_eq!(sample_id(Profile::Small, 1, &SampleOptions::default()), "sample-small-seed1");
    }

    #[test]
    fn sample_is_deterministic() {
        for profile in [Profile::Small, Profile::Medium] {
            let a = generate(profile, 42);
            assert_eq!(a, generate(profile, 42));
            let b = generate(profile, 43);
            assert_ne!(a.market_json, b.market_json);
            assert_ne!(a.portfolio_json, b.portfolio_json);
        }
        let half = SampleOptions { class_offset: Some(PerLevel { initial: 500_000, maintenance: 500_000 }), ..SampleOptions::default() };
        assert_eq!(generate_with(Profile::Medium, 42, &half), generate_with(Profile::Medium, 42, &half));
    }

    #[test]
    fn sample_with_tiers_haircuts_btc_and_eth_by_tiers_and_stays_covered() {
        let options = SampleOptions { tiers: true, ..SampleOptions::default() };
        let sample = generate_with(Profile::Medium, 5, &options);
        let market = Market::from_json("m", &sample.market_json).unwrap();
        assert!(market.id.ends_with("-tiers"));
        for (id, bounds) in [("BTC", [5, 20]), ("ETH", [100, 500])] {
            let asset = &market.assets[market.asset_index(id).unwrap()];
            let bands = asset.bands();
            assert_eq!(bands.len(), 3, "{id}");
            assert_eq!(bands[1].lower, bounds[0] * QTY_SCALE);
            assert_eq!(bands[2].lower, bounds[1] * QTY_SCALE);
            assert!(bands[0].complement > bands[1].complement && bands[1].complement > bands[2].complement);
        }
        let portfolio = Portfolio::from_json("p", &sample.portfolio_json).unwrap();
        let report = crate::engine::compute(&market, &portfolio);
        for level in Level::ALL {
            assert!(report.groups.iter().all(|g| g.levels.get(level).excess > I256::ZERO), "{level}");
        }
        assert_eq!(sample, generate_with(Profile::Medium, 5, &options), "same seed, same bytes");
    }

    #[test]
    fn sample_revaluation_is_sane() {
        let market = Market::from_json("m", &generate(Profile::Small, 42).market_json).unwrap();
        let up_vol_up = market.scenarios.iter().position(|s| s == "spot+15%/vol-up").unwrap();
        let up_vol_down = market.scenarios.iter().position(|s| s == "spot+15%/vol-down").unwrap();
        let down = market.scenarios.iter().position(|s| s == "spot-15%/vol-up").unwrap();
        let spot = market.assets[market.asset_index("BTC").unwrap()].price;
        let strike = |id: &str| id.split('-').nth(2).unwrap().parse::<i128>().unwrap() * 1_000_000;
        let perp = &market.instruments[market.instrument_index("BTC-PERP").unwrap()];
        assert!(perp.pnl[up_vol_up] > 0 && perp.pnl[down] < 0);
        assert_eq!(perp.mark, 0);
        let (mut calls, mut puts) = (0, 0);
        for ins in &market.instruments {
            if ins.id.ends_with("-C") {
                calls += 1;
                assert!(ins.pnl[up_vol_up] >= 0, "{}", ins.id);
                assert!(ins.pnl[down] <= 0 || ins.mark == 0, "{}", ins.id);
                assert!(ins.mark >= 0 && ins.short_charge.initial > 0);
                // A long call near the money gains when spot rises.
                if (strike(&ins.id) - spot).abs() * 10 < spot {
                    assert!(ins.pnl[up_vol_up] > 0 && ins.pnl[up_vol_down] > 0, "{}", ins.id);
                }
            } else if ins.id.ends_with("-P") {
                puts += 1;
                assert!(ins.pnl[up_vol_down] <= 0, "{}", ins.id);
                if (strike(&ins.id) - spot).abs() * 10 < spot {
                    assert!(ins.pnl[up_vol_down] < 0 && ins.pnl[up_vol_up] < 0, "{}", ins.id);
                    assert!(ins.pnl[down] > 0, "{}", ins.id);
                }
            }
        }
        assert_eq!((calls, puts), (30, 30));
        // Initial is about twice maintenance, and options carry more than futures.
        let call = market.instruments.iter().find(|i| i.id.ends_with("-C")).unwrap();
        assert!(call.linear.initial > perp.linear.initial);
        assert!(perp.linear.initial >= 2 * perp.linear.maintenance - 1);
    }
}
