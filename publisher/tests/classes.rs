//! Risk classes, correlated scenarios and covenant fields at the library level: each
//! underlying's own move (`move_scale`, `joint`, `spread`) against hand-computed P&L, the
//! 32-scenario refusal, `class`, `notional`, `class_offset` and tiered haircuts in the
//! written snapshot, and strict input for every new field.
//!
//! The written snapshot is checked as JSON (serde_json::Value) and as text: the
//! circuits' market parser that reads these fields is not a dependency of this crate.

use std::path::PathBuf;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zkmargin_publisher::black76::{Black76, OptionKind};
use zkmargin_publisher::build::{build, Method, Snapshot};
use zkmargin_publisher::input::{parse_grid, parse_time, Grid, InputError, Instruments, Rates};

const AS_OF: &str = "2026-11-25T08:00:00Z";

fn example(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/publisher").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn value(name: &str) -> Value {
    serde_json::from_str(&example(name)).unwrap()
}

fn as_of() -> i64 {
    parse_time(AS_OF).unwrap()
}

fn instruments(v: &Value) -> Result<Instruments, InputError> {
    Instruments::parse("instruments.json", &v.to_string(), as_of())
}

fn grid(instruments: &Instruments, v: &Value) -> Result<Grid, InputError> {
    parse_grid("grid.json", &v.to_string(), &instruments.underlyings)
}

fn snapshot(i: &Value, g: &Value, r: &Value, method: Method) -> Snapshot {
    let i = instruments(i).unwrap();
    let g = grid(&i, g).unwrap();
    let r = Rates::parse("rates.json", &r.to_string()).unwrap();
    build(&i, &g.scenarios, &r, ["instruments.json", "grid.json", "rates.json"], "test", AS_OF, method).unwrap()
}

/// The published P&L (money units, 10⁻⁶) of instrument `id` in scenario `name`.
fn pnl(s: &Snapshot, id: &str, name: &str) -> i128 {
    let i = s.instruments.iter().find(|i| i.id == id).unwrap_or_else(|| panic!("no instrument {id}"));
    let k = s.scenarios.iter().position(|n| n == name).unwrap_or_else(|| panic!("no scenario {name:?} in {:?}", s.scenarios));
    i.pnl[k]
}

fn units(x: f64) -> i128 {
    (x * 1e6).round() as i128
}

/// The example instruments with ETH moving 1.3 times a market-wide move.
fn scaled_instruments() -> Value {
    let mut v = value("instruments.json");
    v["underlyings"][1]["move_scale"] = json!("1.3");
    v
}

fn grid_of(blocks: Value) -> Value {
    json!({"version": 1, "scenarios": blocks})
}

#[test]
fn move_scale_moves_an_underlying_by_the_scaled_move() {
    let g = grid_of(json!([
        {"grid": {"spot_moves": ["-0.1", "0.05"], "vol_moves": [{"label": "same"}]}},
        {"extreme": {"spot_moves": ["-0.45"], "vol_move": {"label": "same"}, "cover": "0.35"}},
        {"named": {"name": "crash", "spot_move": "-0.25"}}
    ]));
    let s = snapshot(&scaled_instruments(), &g, &value("rates.json"), Method::Full);
    // BTC (scale 1) moves by m: c·S·m·φ with S = 91000.
    assert_eq!(pnl(&s, "BTC-PERP", "spot-10%/vol-same"), units(-9100.0));
    assert_eq!(pnl(&s, "BTC-PERP", "spot-45%/vol-same (x0.35)"), units(-14332.5));
    // ETH (scale 1.3) by 1.3·m: 3050.5 × −0.13 = −396.565; × 0.065 = 198.2825;
    // 3050.5 × −0.585 × 0.35 = −624.589875; 3050.5 × −0.325 = −991.4125.
    assert_eq!(pnl(&s, "ETH-PERP", "spot-10%/vol-same"), -396_565_000);
    assert_eq!(pnl(&s, "ETH-PERP", "spot+5%/vol-same"), 198_282_500);
    assert_eq!(pnl(&s, "ETH-PERP", "spot-45%/vol-same (x0.35)"), -624_589_875);
    assert_eq!(pnl(&s, "ETH-PERP", "crash"), -991_412_500);
    // SOL (scale 1), contract size 10: 1423 × −0.1.
    assert_eq!(pnl(&s, "SOL-PERP", "spot-10%/vol-same"), units(-142.3));
    // An ETH put, full revaluation on the forward moved by 1.3·m (vol unchanged):
    // the example's ETH put on the grid surface, repriced here from its own parts.
    let i = instruments(&scaled_instruments()).unwrap();
    let put = i.instruments.iter().find(|x| x.id == "ETH-26MAR27-3000-P").unwrap();
    let (strike, t) = match put.contract {
        zkmargin_publisher::input::Contract::Option { strike, t, .. } => (strike, t),
        _ => unreachable!(),
    };
    let eth = &i.underlyings[1];
    let forward = eth.forward(t, 0);
    let option = Black76 { kind: OptionKind::Put, forward, strike, vol: eth.surface.vol(strike, forward, t), t, df: libm::exp(-0.04 * t) };
    let want = option.with(forward * (1.0 - 0.13), option.vol).price() - option.price();
    let got = pnl(&s, "ETH-26MAR27-3000-P", "spot-10%/vol-same") as f64 / 1e6;
    assert!(want > 0.0 && (got - want).abs() <= 1.000_001e-6, "{got} vs {want}");
    // Without the scale the same scenario moves ETH by −10 %: a smaller gain.
    let plain = snapshot(&value("instruments.json"), &g, &value("rates.json"), Method::Full);
    assert!(pnl(&plain, "ETH-26MAR27-3000-P", "spot-10%/vol-same") < pnl(&s, "ETH-26MAR27-3000-P", "spot-10%/vol-same"));
    assert_eq!(pnl(&plain, "ETH-PERP", "spot-10%/vol-same"), -305_050_000);
}

#[test]
fn move_scale_applies_to_the_greeks_method_and_to_deribit_moves() {
    let g = grid_of(json!([
        {"grid": {"spot_moves": ["-0.05"], "vol_moves": [{"label": "down", "multiply": "0.8"}]}},
        {"deribit": {"price_range": "0.1", "price_steps": "1", "vol_range_up": "0", "vol_range_down": "0",
                     "short_term_vega_power": "0.3", "long_term_vega_power": "0.13"}}
    ]));
    let s = snapshot(&scaled_instruments(), &g, &value("rates.json"), Method::Greeks);
    // The ETH call's given Greeks with dS = 3050.5 × −0.05 × 1.3 and dσ = 0.8σ − σ at
    // the grid's 0.662 for strike 3200 (as in the build tests, with the scale).
    let ds = -0.05 * 1.3 * 3050.5;
    let want = 0.4506 * ds + 0.5 * 0.000685 * ds * ds + 346.95 * (0.662 * 0.8 - 0.662);
    let got = pnl(&s, "ETH-25DEC26-3200-C", "spot-5%/vol-down") as f64 / 1e6;
    assert!((got - want).abs() < 2e-6, "{got} vs {want}");
    // Deribit's ±10 %: ETH ±13 %, BTC ±10 %.
    assert_eq!(pnl(&s, "ETH-PERP", "spot+10%/vol-same"), 396_565_000);
    assert_eq!(pnl(&s, "BTC-PERP", "spot-10%/vol-same"), units(-9100.0));
}

#[test]
fn a_scaled_move_of_100_percent_or_more_is_refused() {
    let mut v = scaled_instruments();
    v["underlyings"][1]["move_scale"] = json!("2");
    let i = instruments(&v).unwrap();
    let err = grid(&i, &grid_of(json!([{"extreme": {"spot_moves": ["0.3", "-0.5"], "vol_move": {"label": "same"}, "cover": "0.2"}}]))).unwrap_err();
    let message = err.to_string();
    assert_eq!(err.path, "scenarios[0].extreme.spot_moves[1]", "{message}");
    assert!(message.contains("\"ETH\"") && message.contains("-1") && message.contains("move_scale 2"), "{message}");
    // Just above −100 % is a price.
    assert!(grid(&i, &grid_of(json!([{"named": {"name": "x", "spot_move": "-0.49999999"}}]))).is_ok());
}

#[test]
fn joint_scenarios_move_each_listed_underlying_by_its_own_fraction() {
    // The scale does not apply: a joint scenario gives each underlying's move as it is.
    let s = snapshot(&scaled_instruments(), &value("grid-history.json"), &value("rates.json"), Method::Full);
    assert_eq!(s.scenarios.len(), 5);
    assert_eq!(s.scenarios[0], "2020-03-12 Black Thursday");
    // 91000 × −0.372 = −33852; 3050.5 × −0.424 = −1293.412; SOL is not listed: 0.
    assert_eq!(pnl(&s, "BTC-PERP", "2020-03-12 Black Thursday"), units(-33852.0));
    assert_eq!(pnl(&s, "ETH-PERP", "2020-03-12 Black Thursday"), -1_293_412_000);
    assert_eq!(pnl(&s, "SOL-PERP", "2020-03-12 Black Thursday"), 0);
    // A future moves with its forward: 91450 × −0.138 = −12620.1 (the explicit forward).
    assert_eq!(pnl(&s, "BTC-25DEC26", "2021-05-19 China crackdown"), units(-12620.1));
    // The vol move applies to every option, the spot move only to its own underlying: a
    // long ETH put gains, a long BTC call loses.
    assert!(pnl(&s, "ETH-26MAR27-3000-P", "2022-11-09 FTX collapse") > 0);
    assert!(pnl(&s, "BTC-25DEC26-90000-C", "2022-11-09 FTX collapse") < 0);
    // A cover fraction applies as in `named`.
    let g = grid_of(json!([{"joint": {"name": "half", "spot_moves": {"ETH": "0.2", "SOL": "-0.5"}, "cover": "0.5"}}]));
    let s = snapshot(&value("instruments.json"), &g, &value("rates.json"), Method::Full);
    assert_eq!(pnl(&s, "ETH-PERP", "half"), 305_050_000);
    assert_eq!(pnl(&s, "SOL-PERP", "half"), units(-355.75));
    assert_eq!(pnl(&s, "BTC-PERP", "half"), 0);
}

#[test]
fn spread_scenarios_move_every_pair_apart_in_both_directions() {
    let g = grid_of(json!([{"spread": {"spot_moves": ["0.05", "0.1"], "vol_move": {"label": "up", "multiply": "1.25"}}}]));
    let i = instruments(&value("instruments.json")).unwrap();
    let parsed = grid(&i, &g).unwrap();
    // k = 3 underlyings: 2 moves × 3 pairs × 2 directions.
    assert_eq!(parsed.blocks, vec![("scenarios[0].spread".to_string(), 12)]);
    let s = snapshot(&value("instruments.json"), &g, &value("rates.json"), Method::Full);
    assert_eq!(
        s.scenarios,
        [
            "BTC+5%/ETH-5%/vol-up", "ETH+5%/BTC-5%/vol-up", "BTC+10%/ETH-10%/vol-up", "ETH+10%/BTC-10%/vol-up",
            "BTC+5%/SOL-5%/vol-up", "SOL+5%/BTC-5%/vol-up", "BTC+10%/SOL-10%/vol-up", "SOL+10%/BTC-10%/vol-up",
            "ETH+5%/SOL-5%/vol-up", "SOL+5%/ETH-5%/vol-up", "ETH+10%/SOL-10%/vol-up", "SOL+10%/ETH-10%/vol-up",
        ]
    );
    assert_eq!(pnl(&s, "BTC-PERP", "BTC+5%/ETH-5%/vol-up"), units(4550.0));
    assert_eq!(pnl(&s, "ETH-PERP", "BTC+5%/ETH-5%/vol-up"), -152_525_000);
    assert_eq!(pnl(&s, "SOL-PERP", "BTC+5%/ETH-5%/vol-up"), 0);
    assert_eq!(pnl(&s, "BTC-PERP", "ETH+10%/BTC-10%/vol-up"), units(-9100.0));
    assert_eq!(pnl(&s, "SOL-PERP", "SOL+10%/ETH-10%/vol-up"), units(142.3));
    assert_eq!(pnl(&s, "BTC-PERP", "SOL+10%/ETH-10%/vol-up"), 0);
    // The scale does not apply to a spread: ETH moves by exactly −5 %.
    let scaled = snapshot(&scaled_instruments(), &g, &value("rates.json"), Method::Full);
    assert_eq!(pnl(&scaled, "ETH-PERP", "BTC+5%/ETH-5%/vol-up"), -152_525_000);
    // Without a vol move: `vol-same`.
    let g = grid_of(json!([{"spread": {"spot_moves": ["0.025"]}}]));
    assert_eq!(grid(&i, &g).unwrap().scenarios[1].name, "ETH+2.5%/BTC-2.5%/vol-same");
}

/// The worst loss (money units) of a book `(instrument, qty)` over a snapshot's
/// scenarios, in exact integers as SPEC section 5 computes it (quantities in 10⁻⁸).
fn worst_loss(s: &Snapshot, book: &[(&str, i128)]) -> (i128, String) {
    (0..s.scenarios.len())
        .map(|k| {
            let loss: i128 = book
                .iter()
                .map(|&(id, qty)| -qty * s.instruments.iter().find(|i| i.id == id).unwrap().pnl[k])
                .sum::<i128>()
                / 100_000_000;
            (loss, s.scenarios[k].clone())
        })
        .max()
        .unwrap()
}

#[test]
fn the_example_class_grid_sees_the_pair_trade_that_the_joint_grid_does_not() {
    // Issue 19's book: BTC-PERP +10 against ETH-PERP −298.31, about $910k a side.
    let book = [("BTC-PERP", 10 * 100_000_000), ("ETH-PERP", -29_831_000_000)];
    let joint = snapshot(&value("instruments.json"), &value("grid.json"), &value("rates.json"), Method::Full);
    let (loss, _) = worst_loss(&joint, &book);
    assert!(loss < 10_000_000, "the joint grid sees at most a few dollars: {loss}");
    let classes = snapshot(&value("instruments.json"), &value("grid-classes.json"), &value("rates-classes.json"), Method::Full);
    let (loss, scenario) = worst_loss(&classes, &book);
    // BTC −5 % with ETH +5 %: 10 × 4550 + 298.31 × 152.525 = 91 000 (less 0.3 of
    // rounding in the hedge ratio).
    assert_eq!(scenario, "ETH+5%/BTC-5%/vol-same");
    assert_eq!(loss, 45_500_000_000 + 45_499_732_750);
}

#[test]
fn more_than_32_scenarios_are_refused_naming_each_blocks_count() {
    let i = instruments(&value("instruments.json")).unwrap();
    let g = grid_of(json!([
        {"grid": {"spot_moves": ["-0.15", "-0.1", "-0.05", "0", "0.05", "0.1", "0.15"], "vol_moves": [{"label": "up", "multiply": "1.25"}, {"label": "down", "multiply": "0.8"}]}},
        {"spread": {"spot_moves": ["0.05", "0.1", "0.2"]}},
        {"joint": {"name": "day", "spot_moves": {"BTC": "-0.1"}}}
    ]));
    let parsed = grid(&i, &g).unwrap();
    assert_eq!(parsed.scenarios.len(), 33);
    let err = parsed.check_count("grid.json", 32).unwrap_err().to_string();
    assert!(err.starts_with("grid.json: field `scenarios`: 33 scenarios, more than the 32"), "{err}");
    for part in ["scenarios[0].grid 14", "scenarios[1].spread 18", "scenarios[2].joint 1"] {
        assert!(err.contains(part), "{part}: {err}");
    }
    // 32 pass.
    let mut g32 = g.clone();
    g32["scenarios"].as_array_mut().unwrap().pop();
    assert!(grid(&i, &g32).unwrap().check_count("grid.json", 32).is_ok());
    // The shipped class grid fits: 14 + 2 + 6 + 5.
    let shipped = grid(&i, &value("grid-classes.json")).unwrap();
    assert_eq!(shipped.blocks.iter().map(|b| b.1).collect::<Vec<_>>(), [14, 2, 6, 1, 1, 1, 1, 1]);
    assert!(shipped.check_count("grid-classes.json", 32).is_ok());
}

#[test]
fn the_class_grid_carries_the_historical_days_unchanged() {
    let history = value("grid-history.json");
    let classes = value("grid-classes.json");
    let joint: Vec<&Value> = classes["scenarios"].as_array().unwrap().iter().filter(|b| b.get("joint").is_some()).collect();
    assert_eq!(joint, history["scenarios"].as_array().unwrap().iter().collect::<Vec<_>>());
}

#[test]
fn class_notional_offset_and_tiers_are_written_in_place() {
    let mut i = value("instruments.json");
    i["instruments"][1]["class"] = json!("BTC-dated");
    let s = snapshot(&i, &value("grid-classes.json"), &value("rates-classes.json"), Method::Full);
    let text = s.to_json();
    let market: Value = serde_json::from_str(&text).unwrap();
    // Instruments: class (own or underlying's) and notional = c·S rounded up.
    let classes: Vec<&str> = market["instruments"].as_array().unwrap().iter().map(|x| x["class"].as_str().unwrap()).collect();
    assert_eq!(classes, ["BTC", "BTC-dated", "BTC", "BTC", "BTC", "BTC", "ETH", "ETH", "ETH", "SOL"]);
    let notionals: Vec<&str> = market["instruments"].as_array().unwrap().iter().map(|x| x["notional"].as_str().unwrap()).collect();
    assert_eq!(notionals, ["91000", "91000", "91000", "91000", "91000", "91000", "3050.5", "3050.5", "3050.5", "1423"]);
    let line = text.lines().find(|l| l.contains("\"id\": \"SOL-PERP\"")).unwrap();
    assert!(line.ends_with("\"short_charge\": {\"initial\": \"0\", \"maintenance\": \"0\"}, \"class\": \"SOL\", \"notional\": \"1423\"}"), "{line}");
    // The class offset after the loss factor, copied exactly.
    assert_eq!(market["class_offset"], json!({"initial": "0.5", "maintenance": "0.7"}));
    let keys: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("  \"")).map(|l| l.split('"').next().unwrap()).collect();
    assert_eq!(keys, ["version", "id", "as_of", "quote", "scenarios", "loss_factor", "class_offset", "instruments", "assets"]);
    // Tiers where the haircut would be, copied exactly; flat haircuts as before.
    let assets = market["assets"].as_array().unwrap();
    assert_eq!(assets[0], json!({"id": "USDC", "price": "1", "haircut": "0"}));
    assert_eq!(
        assets[2],
        json!({"id": "BTC", "price": "91000", "tiers": [{"up_to": "10", "haircut": "0.1"}, {"up_to": "50", "haircut": "0.15"}, {"haircut": "0.25"}]})
    );
    assert_eq!(value("rates-classes.json")["assets"][3]["tiers"], assets[3]["tiers"]);
    let eth = text.lines().find(|l| l.contains("\"id\": \"ETH\", \"price\"")).unwrap();
    assert!(eth.starts_with("    {\"id\": \"ETH\", \"price\": \"3050.5\", \"tiers\": [{\"up_to\": \"300\", "), "{eth}");
    // Exact values, in the one spelling of every decimal: "0.50" and "10.0" as "0.5"
    // and "10"; a bound with 8 decimals stays exact.
    let mut r = value("rates-classes.json");
    r["class_offset"]["initial"] = json!("0.50");
    r["assets"][2]["tiers"] = json!([{"up_to": "10.0", "haircut": "0.100"}, {"up_to": "10.00000001", "haircut": "0.100001"}, {"haircut": "1"}]);
    let s = snapshot(&value("instruments.json"), &value("grid.json"), &r, Method::Full);
    let market: Value = serde_json::from_str(&s.to_json()).unwrap();
    assert_eq!(market["class_offset"]["initial"], "0.5");
    assert_eq!(
        market["assets"][2]["tiers"],
        json!([{"up_to": "10", "haircut": "0.1"}, {"up_to": "10.00000001", "haircut": "0.100001"}, {"haircut": "1"}])
    );
    // Without class_offset in the rates file, none is written (it means 1).
    let s = snapshot(&value("instruments.json"), &value("grid.json"), &value("rates.json"), Method::Full);
    assert!(!s.to_json().contains("class_offset"));
}

#[test]
fn notional_is_exact_and_rounded_up() {
    let mut v = value("instruments.json");
    // 0.12345678 × 3050.5 = 376.60490739 → 376.604908; 10⁻⁸ × 0.000001 → 0.000001
    // (never 0); 0.1 × 142.3 = 14.23 exactly.
    v["underlyings"].as_array_mut().unwrap().push(json!({"id": "DUST", "spot": "0.000001", "vol": {"flat": "1"}}));
    v["instruments"] = json!([
        {"id": "ETH-ODD", "underlying": "ETH", "kind": "perpetual", "contract_size": "0.12345678"},
        {"id": "DUST-PERP", "underlying": "DUST", "kind": "perpetual", "contract_size": "0.00000001"},
        {"id": "SOL-MINI", "underlying": "SOL", "kind": "perpetual", "contract_size": "0.1"}
    ]);
    let rates = json!({"version": 1, "loss_factor": {"initial": "1", "maintenance": "1"},
        "classes": {"perpetual": {"linear": {"initial": "0", "maintenance": "0"}, "short_charge": {"initial": "0", "maintenance": "0"}}},
        "assets": []});
    let s = snapshot(&v, &value("grid.json"), &rates, Method::Full);
    let n: Vec<Option<i128>> = s.instruments.iter().map(|i| i.notional).collect();
    assert_eq!(n, [Some(376_604_908), Some(1), Some(14_230_000)]);
    // Beyond 1e12: refused naming the instrument.
    let mut v = value("instruments.json");
    v["underlyings"][0]["spot"] = json!("1000000000000");
    v["instruments"][0]["contract_size"] = json!("2");
    let i = instruments(&v).unwrap();
    let g = grid(&i, &grid_of(json!([{"named": {"name": "flat", "spot_move": "0"}}]))).unwrap();
    let r = Rates::parse("rates.json", &example("rates.json")).unwrap();
    let err = build(&i, &g.scenarios, &r, ["instruments.json", "g", "r"], "x", AS_OF, Method::Full).unwrap_err().to_string();
    assert!(err.contains("instruments[0]") && err.contains("notional") && err.contains("BTC-PERP"), "{err}");
}

#[test]
fn the_class_example_is_deterministic_and_pinned() {
    let build_once = || snapshot(&value("instruments.json"), &value("grid-classes.json"), &value("rates-classes.json"), Method::Full).to_json();
    let a = build_once();
    assert_eq!(a, build_once());
    let hash: String = Sha256::digest(a.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hash, "084db0c56514632dd519d627ca4ad746501af522829e70755c7e998335ebc993", "the published bytes of the class example changed");
}

/// Asserts that `result` is an error naming `path` (a prefix) and mentioning `needle`.
fn refused<T: std::fmt::Debug>(result: Result<T, InputError>, source: &str, path: &str, needle: &str) {
    let err = result.unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with(&format!("{source}: field `")), "{message}");
    assert!(err.path.starts_with(path), "want path {path}: {message}");
    assert!(message.contains(needle), "want {needle:?}: {message}");
}

/// An edit of an example file, the JSON path where it must be refused and a part of the
/// message.
type Case = (Box<dyn Fn(&mut Value)>, &'static str, &'static str);

/// `base` with `edit` applied.
fn edited(base: &Value, edit: &dyn Fn(&mut Value)) -> Value {
    let mut v = base.clone();
    edit(&mut v);
    v
}

/// Each case's edit of `base`, parsed by `parse`, is refused as the case says.
fn refuses<T: std::fmt::Debug>(base: &Value, source: &str, parse: impl Fn(&Value) -> Result<T, InputError>, cases: Vec<Case>) {
    for (edit, path, needle) in cases {
        refused(parse(&edited(base, &*edit)), source, path, needle);
    }
}

#[test]
fn new_instrument_fields_are_strict() {
    let base = value("instruments.json");
    let cases: Vec<Case> = vec![
        (Box::new(|v| v["underlyings"][1]["move_scale"] = json!("0")), "underlyings[1].move_scale", "\"0\""),
        (Box::new(|v| v["underlyings"][1]["move_scale"] = json!("-1.3")), "underlyings[1].move_scale", "-1.3"),
        (Box::new(|v| v["underlyings"][1]["move_scale"] = json!("10.5")), "underlyings[1].move_scale", "(0, 10]"),
        (Box::new(|v| v["underlyings"][1]["move_scale"] = json!("1.3333333")), "underlyings[1].move_scale", "more than 6 decimal places"),
        (Box::new(|v| v["underlyings"][1]["move_scale"] = json!(1.3)), "underlyings[1].move_scale", "string"),
        (Box::new(|v| v["underlyings"][1]["move_scale"] = json!("1,3")), "underlyings[1].move_scale", "\"1,3\""),
        (Box::new(|v| v["underlyings"][1]["scale"] = json!("1.3")), "underlyings[1]", "scale"),
        (Box::new(|v| v["instruments"][0]["class"] = json!("")), "instruments[0].class", "1 to 128 bytes"),
        (Box::new(|v| v["instruments"][0]["class"] = json!("BTC\u{7}")), "instruments[0].class", "control"),
        (Box::new(|v| v["instruments"][0]["class"] = json!("x".repeat(129))), "instruments[0].class", "1 to 128 bytes"),
        (Box::new(|v| v["instruments"][0]["class"] = json!(["BTC"])), "instruments[0].class", "string"),
        (Box::new(|v| v["instruments"][0]["risk_class"] = json!("BTC")), "instruments[0]", "risk_class"),
        (Box::new(|v| v["underlyings"][2]["id"] = json!("SOL\n")), "underlyings[2].id", "control"),
    ];
    refuses(&base, "instruments.json", instruments, cases);
    // A class of 128 bytes, and a scale of 10, are accepted.
    assert!(instruments(&edited(&base, &|v| v["instruments"][0]["class"] = json!("x".repeat(128)))).is_ok());
    assert!(instruments(&edited(&base, &|v| v["underlyings"][0]["move_scale"] = json!("10"))).is_ok());
}

#[test]
fn new_grid_blocks_are_strict() {
    let i = instruments(&value("instruments.json")).unwrap();
    let joint = |moves: Value| grid_of(json!([{"joint": {"name": "day", "spot_moves": moves}}]));
    let spread = |body: Value| grid_of(json!([{"spread": body}]));
    let cases = [
        (joint(json!({"DOGE": "-0.1"})), "scenarios[0].joint.spot_moves.DOGE", "unknown underlying \"DOGE\""),
        (joint(json!({"BTC": "-1"})), "scenarios[0].joint.spot_moves.BTC", "(-1, 10]"),
        (joint(json!({"BTC": "-0.123456789"})), "scenarios[0].joint.spot_moves.BTC", "more than 8 decimal places"),
        (joint(json!({"BTC": -0.1})), "scenarios[0].joint.spot_moves", "string"),
        (joint(json!({})), "scenarios[0].joint.spot_moves", "at least one"),
        (joint(json!(["-0.1"])), "scenarios[0].joint.spot_moves", "object"),
        (grid_of(json!([{"joint": {"name": "day", "spot_moves": {"BTC": "-0.1"}, "spot_move": "-0.1"}}])), "scenarios[0].joint", "spot_move"),
        (grid_of(json!([{"joint": {"name": " ", "spot_moves": {"BTC": "-0.1"}}}])), "scenarios[0].joint.name", "empty"),
        (grid_of(json!([{"joint": {"spot_moves": {"BTC": "-0.1"}}}])), "scenarios[0].joint.name", "missing"),
        (grid_of(json!([{"joint": {"name": "d", "spot_moves": {"BTC": "-0.1"}, "cover": "0"}}])), "scenarios[0].joint.cover", "(0, 1]"),
        (grid_of(json!([{"joint": {"name": "d", "spot_moves": {"BTC": "-0.1"}, "vol_move": {"label": "up", "multiply": "-2"}}}])), "scenarios[0].joint.vol_move.multiply", "-2"),
        (spread(json!({"spot_moves": ["0"]})), "scenarios[0].spread.spot_moves[0]", "(0, 1)"),
        (spread(json!({"spot_moves": ["-0.1"]})), "scenarios[0].spread.spot_moves[0]", "-0.1"),
        (spread(json!({"spot_moves": ["1"]})), "scenarios[0].spread.spot_moves[0]", "(0, 1)"),
        (spread(json!({"spot_moves": ["0.05", "0.000000001"]})), "scenarios[0].spread.spot_moves[1]", "more than 8 decimal places"),
        (spread(json!({"spot_moves": []})), "scenarios[0].spread.spot_moves", "at least one"),
        (spread(json!({"spot_moves": ["0.05"], "cover": "0.5"})), "scenarios[0].spread", "cover"),
        (spread(json!({"spot_moves": ["0.05"], "vol_move": {"label": "a b"}})), "scenarios[0].spread.vol_move.label", "a b"),
        (spread(json!({"spot_moves": ["0.05", "0.05"]})), "scenarios[0].spread.spot_moves[1]", "duplicate scenario name \"BTC+5%/ETH-5%/vol-same\""),
        (
            grid_of(json!([{"spread": {"spot_moves": ["0.05"]}}, {"named": {"name": "SOL+5%/ETH-5%/vol-same", "spot_move": "0"}}])),
            "scenarios[1].named.name",
            "duplicate",
        ),
    ];
    for (g, path, needle) in cases {
        refused(grid(&i, &g), "grid.json", path, needle);
    }
    // A key listed twice in a joint scenario is refused, not silently the last one.
    let text = r#"{"version": 1, "scenarios": [{"joint": {"name": "d", "spot_moves": {"BTC": "-0.1", "BTC": "-0.5"}}}]}"#;
    let err = parse_grid("grid.json", text, &i.underlyings).unwrap_err().to_string();
    assert!(err.contains("scenarios[0].joint.spot_moves") && err.contains("\"BTC\" is listed twice"), "{err}");
    // A spread needs two underlyings.
    let mut one = value("instruments.json");
    one["underlyings"] = json!([one["underlyings"][0]]);
    one["instruments"] = json!([one["instruments"][0]]);
    let single = instruments(&one).unwrap();
    refused(grid(&single, &spread(json!({"spot_moves": ["0.05"]}))), "grid.json", "scenarios[0].spread", "two underlyings");
}

#[test]
fn new_rates_fields_are_strict() {
    let base = value("rates-classes.json");
    let rates = |v: &Value| Rates::parse("rates.json", &v.to_string());
    assert!(rates(&base).is_ok());
    let cases: Vec<Case> = vec![
        (Box::new(|v| v["class_offset"]["initial"] = json!("1.5")), "class_offset.initial", "\"1.5\""),
        (Box::new(|v| v["class_offset"]["maintenance"] = json!("-0.1")), "class_offset.maintenance", "-0.1"),
        (Box::new(|v| v["class_offset"]["initial"] = json!("0.1234567")), "class_offset.initial", "more than 6 decimal places"),
        (Box::new(|v| v["class_offset"]["initial"] = json!(0.5)), "class_offset.initial", "string"),
        (Box::new(|v| v["class_offset"] = json!({"initial": "0.5"})), "class_offset.maintenance", "missing"),
        (Box::new(|v| v["class_offset"]["both"] = json!("0.5")), "class_offset", "both"),
        (Box::new(|v| v["class_offset"] = json!(["0.5", "0.7"])), "class_offset", "object"),
        (Box::new(|v| v["assets"][2]["haircut"] = json!("0.1")), "assets[2]", "\"BTC\": give exactly one of `haircut` and `tiers` (got both)"),
        (Box::new(|v| v["assets"][3].as_object_mut().unwrap().retain(|k, _| k != "tiers")), "assets[3]", "\"ETH\": give exactly one of `haircut` and `tiers` (got neither)"),
        (Box::new(|v| v["assets"][2]["tiers"] = json!([])), "assets[2].tiers", "at least one tier"),
        (Box::new(|v| v["assets"][2]["tiers"][1]["up_to"] = json!("10")), "assets[2].tiers[1].up_to", "strictly increasing (got \"10\" after \"10\")"),
        (Box::new(|v| v["assets"][2]["tiers"][1]["up_to"] = json!("5")), "assets[2].tiers[1].up_to", "strictly increasing"),
        (Box::new(|v| v["assets"][2]["tiers"][0]["up_to"] = json!("0")), "assets[2].tiers[0].up_to", "> 0"),
        (Box::new(|v| v["assets"][2]["tiers"][0]["up_to"] = json!("1.000000001")), "assets[2].tiers[0].up_to", "more than 8 decimal places"),
        (Box::new(|v| v["assets"][2]["tiers"][0]["up_to"] = json!("1000000000001")), "assets[2].tiers[0].up_to", "1e12"),
        (Box::new(|v| v["assets"][2]["tiers"][1]["haircut"] = json!("0.05")), "assets[2].tiers[1].haircut", "must not decrease with the amount held (got \"0.05\" after \"0.1\")"),
        (Box::new(|v| v["assets"][2]["tiers"][2]["haircut"] = json!("1.1")), "assets[2].tiers[2].haircut", "1.1"),
        (Box::new(|v| v["assets"][2]["tiers"][2]["up_to"] = json!("100")), "assets[2].tiers[2].up_to", "open-ended"),
        (Box::new(|v| v["assets"][2]["tiers"][1].as_object_mut().unwrap().clear()), "assets[2].tiers[1].haircut", "missing"),
        (Box::new(|v| v["assets"][2]["tiers"][1] = json!({"haircut": "0.2"})), "assets[2].tiers[1].up_to", "required on every tier but the last"),
        (Box::new(|v| v["assets"][2]["tiers"][0]["upto"] = json!("1")), "assets[2].tiers[0]", "upto"),
        (Box::new(|v| v["assets"][2]["tiers"][0]["up_to"] = json!(10)), "assets[2].tiers[0].up_to", "string"),
    ];
    refuses(&base, "rates.json", rates, cases);
    // One open-ended tier is a flat haircut written as a schedule; equal haircuts are
    // non-decreasing.
    assert!(rates(&edited(&base, &|v| v["assets"][2]["tiers"] = json!([{"haircut": "0.1"}]))).is_ok());
    assert!(rates(&edited(&base, &|v| v["assets"][2]["tiers"] = json!([{"up_to": "1", "haircut": "0.1"}, {"haircut": "0.1"}]))).is_ok());
}

