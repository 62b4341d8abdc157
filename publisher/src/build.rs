//! `market build`: from instruments, a scenario grid and rates to a SPEC section 3
//! market snapshot, with deterministic bytes.
//!
//! For every instrument (contract size c, underlying spot S, forward F to its expiry,
//! the scenario's spot move m of that underlying, vol shock and cover fraction φ):
//!
//! | instrument | mark | P&L in a scenario, method `full` |
//! |---|---|---|
//! | perpetual | 0 | c·S·m·φ |
//! | future | 0 | c·F·m·φ |
//! | option | c·V(F, σ) | c·(V(F·(1+m), σ') − V(F, σ))·φ |
//!
//! with V the Black-76 value, σ the surface's vol at the strike and today's forward
//! (sticky strike) and σ' its shocked value. Method `greeks` replaces an option's
//! revaluation by the second-order expansion in the spot and first-order in the vol:
//! (Δ·dS + ½·Γ·dS² + vega·dσ)·φ with dS = S·m and dσ = σ' − σ, the Greeks given in the
//! instruments file or else Black-76's (Δ = c·D·N(d1)·F/S, Γ = c·D·n(d1)/(Fσ√T)·(F/S)²,
//! vega = c·D·F·n(d1)·√T); futures and perpetuals are linear, so both methods agree on
//! them (Δ = c·F/S, c).
//!
//! Charges are fractions of the notional c·S: linear = rate·c·S (+ the exact mark when
//! `linear_adds_mark`), short charge = rate·c·S. Every figure is rounded by
//! [`crate::rounding::to_units`] toward the larger loss: P&L away from zero, marks down,
//! charges up. The published `notional` is c·S computed exactly (c and S are exact
//! decimals) and rounded up (it feeds a leverage cap). Each instrument's `class` is its
//! own or its underlying's. Asset prices, haircuts or tiers, loss factors and the class
//! offset are copied exactly.

use std::fmt::Write as _;

use crate::black76::Black76;
use crate::input::{Contract, Haircut, InputError, Instruments, Rates};
use crate::rounding::{plain, product_up, to_units, Direction, MAX_MONEY_UNITS, MONEY_DECIMALS};
use crate::scenario::{Scenario, Shock};

/// How scenario P&L is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Full revaluation of every option in every scenario.
    Full,
    /// Delta–gamma–vega expansion.
    Greeks,
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Method, String> {
        match s {
            "full" => Ok(Method::Full),
            "greeks" => Ok(Method::Greeks),
            other => Err(format!("unknown method {other:?}; expected full or greeks")),
        }
    }
}

/// One instrument of a snapshot, in money units (10⁻⁶).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentFigures {
    /// Identifier.
    pub id: String,
    /// Value of one long unit now.
    pub mark: i128,
    /// P&L of one long unit per scenario.
    pub pnl: Vec<i128>,
    /// Linear requirement `[initial, maintenance]`.
    pub linear: [i128; 2],
    /// Short charge `[initial, maintenance]`.
    pub short_charge: [i128; 2],
    /// Risk class, when published (`market build` always publishes one).
    pub class: Option<String>,
    /// Gross exposure of one long unit, when published (`market build` always
    /// publishes it).
    pub notional: Option<i128>,
}

/// A market snapshot ready to be written (SPEC section 3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Snapshot id.
    pub id: String,
    /// Snapshot time, RFC 3339.
    pub as_of: String,
    /// Quote currency.
    pub quote: String,
    /// Scenario names.
    pub scenarios: Vec<String>,
    /// Loss factors `[initial, maintenance]` as decimal text.
    pub loss_factor: [String; 2],
    /// Class offset `[initial, maintenance]` as decimal text, when published.
    pub class_offset: Option<[String; 2]>,
    /// Instruments.
    pub instruments: Vec<InstrumentFigures>,
    /// Assets: (id, price in money units, flat haircut or tiers in rate units).
    pub assets: Vec<(String, i128, Haircut)>,
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

fn levels_json(initial: &str, maintenance: &str) -> String {
    format!("{{\"initial\": {}, \"maintenance\": {}}}", quote(initial), quote(maintenance))
}

impl Snapshot {
    /// The snapshot as JSON text: one line per scenario, instrument and asset, numbers as
    /// decimal strings without trailing zeros, a trailing newline. The same snapshot
    /// always gives the same bytes.
    pub fn to_json(&self) -> String {
        let money = |u: i128| plain(u, MONEY_DECIMALS);
        let per_instrument = 160 + 14 * self.scenarios.len();
        let mut out = String::with_capacity(1024 + self.instruments.len() * per_instrument);
        out.push_str("{\n  \"version\": 1,\n");
        let _ = writeln!(out, "  \"id\": {},", quote(&self.id));
        let _ = writeln!(out, "  \"as_of\": {},", quote(&self.as_of));
        let _ = writeln!(out, "  \"quote\": {},", quote(&self.quote));
        out.push_str("  \"scenarios\": [\n");
        for (s, scenario) in self.scenarios.iter().enumerate() {
            let comma = if s + 1 < self.scenarios.len() { "," } else { "" };
            let _ = writeln!(out, "    {}{comma}", quote(scenario));
        }
        out.push_str("  ],\n");
        let _ = writeln!(out, "  \"loss_factor\": {},", levels_json(&self.loss_factor[0], &self.loss_factor[1]));
        if let Some([initial, maintenance]) = &self.class_offset {
            let _ = writeln!(out, "  \"class_offset\": {},", levels_json(initial, maintenance));
        }
        out.push_str("  \"instruments\": [\n");
        for (i, ins) in self.instruments.iter().enumerate() {
            let pnl: Vec<String> = ins.pnl.iter().map(|&p| quote(&money(p))).collect();
            let comma = if i + 1 < self.instruments.len() { "," } else { "" };
            let mut optional = String::new();
            if let Some(class) = &ins.class {
                let _ = write!(optional, ", \"class\": {}", quote(class));
            }
            if let Some(notional) = ins.notional {
                let _ = write!(optional, ", \"notional\": {}", quote(&money(notional)));
            }
            let _ = writeln!(
                out,
                "    {{\"id\": {}, \"mark\": {}, \"pnl\": [{}], \"linear\": {}, \"short_charge\": {}{optional}}}{comma}",
                quote(&ins.id),
                quote(&money(ins.mark)),
                pnl.join(", "),
                levels_json(&money(ins.linear[0]), &money(ins.linear[1])),
                levels_json(&money(ins.short_charge[0]), &money(ins.short_charge[1])),
            );
        }
        out.push_str("  ],\n  \"assets\": [\n");
        for (a, (id, price, haircut)) in self.assets.iter().enumerate() {
            let comma = if a + 1 < self.assets.len() { "," } else { "" };
            let haircut = match haircut {
                Haircut::Flat(h) => format!("\"haircut\": {}", quote(&plain(*h, 6))),
                Haircut::Tiers(tiers) => {
                    let tiers: Vec<String> = tiers
                        .iter()
                        .map(|t| match t.up_to {
                            Some(q) => format!("{{\"up_to\": {}, \"haircut\": {}}}", quote(&plain(q, 8)), quote(&plain(t.haircut, 6))),
                            None => format!("{{\"haircut\": {}}}", quote(&plain(t.haircut, 6))),
                        })
                        .collect();
                    format!("\"tiers\": [{}]", tiers.join(", "))
                }
            };
            let _ = writeln!(out, "    {{\"id\": {}, \"price\": {}, {haircut}}}{comma}", quote(id), quote(&money(*price)));
        }
        out.push_str("  ]\n}\n");
        out
    }
}

/// Exact (unrounded) figures of one instrument, before the one rounding step.
#[derive(Clone, Debug, PartialEq)]
pub struct ExactFigures {
    /// Value of one long unit now.
    pub mark: f64,
    /// P&L of one long unit per scenario.
    pub pnl: Vec<f64>,
    /// Linear requirement `[initial, maintenance]`.
    pub linear: [f64; 2],
    /// Short charge `[initial, maintenance]`.
    pub short_charge: [f64; 2],
}

/// Where a build failed: which input file, and the error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError(pub InputError);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BuildError {}

/// The P&L of one long unit of an option under a shock, full revaluation:
/// `(V(F·(1+m), σ') − V(F, σ))·φ`. The sample generator prices with this too.
pub fn option_pnl(option: &Black76, shock: &Shock) -> f64 {
    let shocked = option.with(option.forward * (1.0 + shock.spot_move), shock.vol.apply(option.vol, option.t));
    (shocked.price() - option.price()) * shock.cover
}

/// The P&L of one long unit of a linear instrument on `notional` (spot or forward
/// times contract size) under a shock: `notional·m·φ`.
pub fn linear_pnl(notional: f64, shock: &Shock) -> f64 {
    notional * shock.spot_move * shock.cover
}

/// Computes every instrument's exact figures (`rates_source` names the rates file in
/// errors about it).
pub fn exact_figures(
    instruments: &Instruments,
    scenarios: &[Scenario],
    rates: &Rates,
    rates_source: &str,
    method: Method,
) -> Result<Vec<ExactFigures>, BuildError> {
    let fail = |path: &str, message: String| BuildError(InputError::new(rates_source, path, message));
    for (id, path, _) in &rates.overrides {
        if !instruments.instruments.iter().any(|i| &i.id == id) {
            return Err(fail(path, format!("unknown instrument {id:?}")));
        }
    }
    let mut out = Vec::with_capacity(instruments.instruments.len());
    for ins in &instruments.instruments {
        let u = &instruments.underlyings[ins.underlying];
        let c = ins.contract_size;
        let (class, class_name) = match ins.contract {
            Contract::Perpetual => (0, "perpetual"),
            Contract::Future { .. } => (1, "future"),
            Contract::Option { .. } => (2, "option"),
        };
        let charges = match rates.overrides.iter().find(|o| o.0 == ins.id) {
            Some(o) => o.2,
            None => rates.classes[class].ok_or_else(|| {
                fail(&format!("classes.{class_name}"), format!("no rates for instrument {:?}: give classes.{class_name} or an instruments entry for it", ins.id))
            })?,
        };
        let (mark, pnl) = match ins.contract {
            Contract::Perpetual | Contract::Future { .. } => {
                let level = match ins.contract {
                    Contract::Future { t, at } => u.forward(t, at),
                    _ => u.spot,
                };
                let pnl = scenarios
                    .iter()
                    .map(|s| match (method, ins.greeks) {
                        (Method::Greeks, Some(g)) => greeks_pnl(g.delta, g.gamma, g.vega, u.spot, 0.0, &s.shock(ins.underlying)),
                        _ => linear_pnl(c * level, &s.shock(ins.underlying)),
                    })
                    .collect();
                (0.0, pnl)
            }
            Contract::Option { kind, strike, t, at } => {
                let forward = u.forward(t, at);
                let option = Black76 {
                    kind,
                    forward,
                    strike,
                    vol: u.surface.vol(strike, forward, t),
                    t,
                    df: libm::exp(-instruments.discount_rate * t),
                };
                let (delta, gamma, vega) = match ins.greeks {
                    Some(g) => (g.delta, g.gamma, g.vega),
                    None => {
                        let g = option.greeks();
                        let ratio = forward / u.spot;
                        (c * g.delta * ratio, c * g.gamma * ratio * ratio, c * g.vega)
                    }
                };
                let pnl = scenarios
                    .iter()
                    .map(|s| {
                        let shock = s.shock(ins.underlying);
                        match method {
                            Method::Full => option_pnl(&option, &shock) * c,
                            Method::Greeks => {
                                let dvol = shock.vol.apply(option.vol, t) - option.vol;
                                greeks_pnl(delta, gamma, vega, u.spot, dvol, &shock)
                            }
                        }
                    })
                    .collect();
                (option.price() * c, pnl)
            }
        };
        let notional = c * u.spot;
        let extra = if charges.linear_adds_mark { mark } else { 0.0 };
        out.push(ExactFigures {
            mark,
            pnl,
            linear: charges.linear.map(|r| r * notional + extra),
            short_charge: charges.short_charge.map(|r| r * notional),
        });
    }
    Ok(out)
}

/// `(Δ·dS + ½·Γ·dS² + vega·dσ)·φ` with dS = spot·m.
pub fn greeks_pnl(delta: f64, gamma: f64, vega: f64, spot: f64, dvol: f64, shock: &Shock) -> f64 {
    let ds = spot * shock.spot_move;
    (delta * ds + 0.5 * gamma * ds * ds + vega * dvol) * shock.cover
}

/// Builds the snapshot: `sources` names the instruments, grid and rates files in errors.
pub fn build(
    instruments: &Instruments,
    scenarios: &[Scenario],
    rates: &Rates,
    sources: [&str; 3],
    id: &str,
    as_of: &str,
    method: Method,
) -> Result<Snapshot, BuildError> {
    let exact = exact_figures(instruments, scenarios, rates, sources[2], method)?;
    let mut figures = Vec::with_capacity(exact.len());
    for (i, (ins, x)) in instruments.instruments.iter().zip(&exact).enumerate() {
        let round = |value: f64, direction: Direction, what: &str| {
            to_units(value, direction).ok_or_else(|| {
                BuildError(InputError::new(
                    sources[0],
                    format!("instruments[{i}]"),
                    format!("{} of {:?} is {value}, outside the published range |x| <= 1e12", what, ins.id),
                ))
            })
        };
        let pnl = x
            .pnl
            .iter()
            .zip(scenarios)
            .map(|(&p, s)| round(p, Direction::AwayFromZero, &format!("the P&L in scenario {:?}", s.name)))
            .collect::<Result<Vec<_>, _>>()?;
        // c (10⁻⁸) × S (10⁻⁶), exact, rounded up to 10⁻⁶.
        let spot_units = instruments.underlyings[ins.underlying].spot_units;
        let notional = product_up(ins.contract_size_units, spot_units, 8).filter(|&n| n <= MAX_MONEY_UNITS).ok_or_else(|| {
            BuildError(InputError::new(
                sources[0],
                format!("instruments[{i}]"),
                format!("the notional (contract size x spot) of {:?} is outside the published range |x| <= 1e12", ins.id),
            ))
        })?;
        figures.push(InstrumentFigures {
            id: ins.id.clone(),
            mark: round(x.mark, Direction::Down, "the mark")?,
            pnl,
            linear: [round(x.linear[0], Direction::Up, "the initial linear rate")?, round(x.linear[1], Direction::Up, "the maintenance linear rate")?],
            short_charge: [
                round(x.short_charge[0], Direction::Up, "the initial short charge")?,
                round(x.short_charge[1], Direction::Up, "the maintenance short charge")?,
            ],
            class: Some(ins.class.clone()),
            notional: Some(notional),
        });
    }
    Ok(Snapshot {
        id: id.to_string(),
        as_of: as_of.to_string(),
        quote: instruments.quote.clone(),
        scenarios: scenarios.iter().map(|s| s.name.clone()).collect(),
        loss_factor: rates.loss_factor.map(|u| plain(u, 6)),
        class_offset: rates.class_offset.map(|o| o.map(|u| plain(u, 6))),
        instruments: figures,
        assets: rates.assets.iter().map(|a| (a.id.clone(), a.price, a.haircut.clone())).collect(),
    })
}
