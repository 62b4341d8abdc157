//! `market build` at the library level: the example inputs, determinism, the rounding
//! rule, the greeks method against full revaluation, and strict inputs.

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use zkmargin_publisher::build::{build, exact_figures, Method, Snapshot};
use zkmargin_publisher::input::{parse_grid, parse_time, Instruments, Rates};

const AS_OF: &str = "2026-11-25T08:00:00Z";

fn example(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/publisher").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn as_of() -> i64 {
    parse_time(AS_OF).unwrap()
}

fn build_texts(instruments: &str, grid: &str, rates: &str, method: Method) -> Snapshot {
    let i = Instruments::parse("instruments.json", instruments, as_of()).unwrap();
    let g = parse_grid("grid.json", grid, &i.underlyings).unwrap().scenarios;
    let r = Rates::parse("rates.json", rates).unwrap();
    build(&i, &g, &r, ["instruments.json", "grid.json", "rates.json"], "example", AS_OF, method).unwrap()
}

fn build_example(grid: &str, method: Method) -> Snapshot {
    build_texts(&example("instruments.json"), &example(grid), &example("rates.json"), method)
}

#[test]
fn example_builds_are_deterministic_and_pinned() {
    // Two builds give the same bytes; so does the same input with other whitespace and
    // key order. The SHA-256 of each example build is pinned: a pricing change, or a
    // machine that computes other bits, fails here. The first pin is today's bytes
    // (every instrument with its class and notional); the second, the bytes with those
    // two fields taken out, is the pin from before they existed: nothing else moved.
    let pins = [
        ("grid.json", Method::Full, "9801830a87cc21b7d003b5d29ee56e3d76a015ea4ce03612e97aa945dead3bf9", "abd7e0bada95c1ba03a7f17c3c631eb8b412bb834af2cd3b33ee3b7ca5eed353"),
        ("grid.json", Method::Greeks, "99e4462acd67c59f0e0a4eb9fd6a49b7587107ed3b5e1f332577bb6658eef37f", "a20e19745babcc34b1d60fa8d8e573a875467852445a3a126d90287a9828fa67"),
        ("grid-deribit.json", Method::Full, "46cc2751ed07ee86c8d7a7c8aba28f2d01f7c4d2556bed2314f0ea942feb5740", "3d56a5e6fd2eb88dfe05fec8a2fa3d2e8ea6057a1f281c22eb01c06f00fe79c2"),
        ("grid-deribit.json", Method::Greeks, "c3b4772050a76a52a060aed382041cbd725f0d79570014e34465dbfd4488221f", "7b4a3a80ad9cc8828776cc52371daff6ba05a50a1b6393ae0ed8cca135b5bff9"),
    ];
    for (grid, method, pin, pin_before) in pins {
        let a = build_example(grid, method).to_json();
        assert_eq!(a, build_example(grid, method).to_json(), "{grid} {method:?}");
        let reformatted = serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&example("instruments.json")).unwrap()).unwrap();
        let b = build_texts(&reformatted, &example(grid), &example("rates.json"), method).to_json();
        assert_eq!(a, b, "{grid} {method:?}");
        let hash = hex(&Sha256::digest(a.as_bytes()));
        // Without the instruments' `class` and `notional` (new with risk classes and
        // covenants), the bytes are those published before them, pinned then.
        let before: String = a.lines().map(|line| format!("{}\n", without_class_and_notional(line))).collect();
        assert_eq!(hex(&Sha256::digest(before.as_bytes())), pin_before, "{grid} {method:?}: bytes other than class and notional changed");
        assert_eq!(hash, pin, "{grid} {method:?}: the published bytes changed");
    }
}

/// An instrument line without its `, "class": …, "notional": …` (its last two fields).
fn without_class_and_notional(line: &str) -> String {
    match line.find(", \"class\": ") {
        Some(at) => {
            assert!(line[at..].contains(", \"notional\": "), "{line}");
            // The line ends `}` or `},` after the notional.
            let tail = if line.ends_with("},") { 2 } else { 1 };
            format!("{}{}", &line[..at], &line[line.len() - tail..])
        }
        None => line.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn rounding_never_understates_a_loss() {
    // Against the unrounded figures: in every scenario, the side that loses (long when
    // the P&L is negative, short when positive) sees a loss at least as large; charges
    // are at least as large; marks at most as large. The snap to 10⁻⁹ allows 5e-10.
    let tol = 5e-10;
    for grid in ["grid.json", "grid-deribit.json"] {
        for method in [Method::Full, Method::Greeks] {
            let instruments = Instruments::parse("i", &example("instruments.json"), as_of()).unwrap();
            let scenarios = parse_grid("g", &example(grid), &instruments.underlyings).unwrap().scenarios;
            let rates = Rates::parse("r", &example("rates.json")).unwrap();
            let exact = exact_figures(&instruments, &scenarios, &rates, "r", method).unwrap();
            let snapshot = build(&instruments, &scenarios, &rates, ["i", "g", "r"], "x", AS_OF, method).unwrap();
            let mut strict = 0;
            for (x, published) in exact.iter().zip(&snapshot.instruments) {
                for (&e, &p) in x.pnl.iter().zip(&published.pnl) {
                    let p = p as f64 / 1e6;
                    if e < 0.0 {
                        assert!(p <= e + tol, "{}: long loss {p} < {e}", published.id);
                    }
                    if e > 0.0 {
                        assert!(p >= e - tol, "{}: short loss {p} < {e}", published.id);
                    }
                    assert!((p - e).abs() < 1e-6 + tol);
                    strict += usize::from(p != e);
                }
                for l in 0..2 {
                    assert!(published.linear[l] as f64 / 1e6 >= x.linear[l] - tol, "{}", published.id);
                    assert!(published.short_charge[l] as f64 / 1e6 >= x.short_charge[l] - tol, "{}", published.id);
                }
                assert!(published.mark as f64 / 1e6 <= x.mark + tol, "{}", published.id);
            }
            assert!(strict > 0, "some figures were actually rounded");
        }
    }
}

#[test]
fn greeks_method_agrees_with_full_revaluation_to_second_order() {
    // One option per moneyness and kind, flat vol; small spot moves h and small vol
    // moves δ. The delta–gamma expansion is exact to second order in the spot move:
    // |full − greeks| = O(h³), so halving h divides it by about 8. In the vol it is
    // first order (vega only): the error is O(δ²), halving δ divides it by about 4.
    let instruments = r#"{"version": 1, "quote": "USD", "discount_rate": "0.04",
      "underlyings": [{"id": "BTC", "spot": "91000", "carry": "0.06", "vol": {"flat": "0.55"}}],
      "instruments": [
        {"id": "C-ATM", "underlying": "BTC", "kind": "call", "strike": "91000", "expiry": "2027-01-29T08:00:00Z", "contract_size": "1"},
        {"id": "P-OTM", "underlying": "BTC", "kind": "put", "strike": "80000", "expiry": "2027-01-29T08:00:00Z", "contract_size": "0.1"},
        {"id": "C-ITM", "underlying": "BTC", "kind": "call", "strike": "70000", "expiry": "2027-03-26T08:00:00Z", "contract_size": "2"},
        {"id": "F", "underlying": "BTC", "kind": "future", "expiry": "2027-03-26T08:00:00Z", "contract_size": "1"}
      ]}"#;
    let rates = r#"{"version": 1, "loss_factor": {"initial": "1", "maintenance": "1"},
      "classes": {"option": {"linear": {"initial": "0", "maintenance": "0"}, "short_charge": {"initial": "0", "maintenance": "0"}},
                  "future": {"linear": {"initial": "0", "maintenance": "0"}, "short_charge": {"initial": "0", "maintenance": "0"}}},
      "assets": []}"#;
    let grid = r#"{"version": 1, "scenarios": [
      {"grid": {"spot_moves": ["-0.02", "-0.01", "-0.005", "0.005", "0.01", "0.02"], "vol_moves": [{"label": "same"}]}},
      {"grid": {"spot_moves": ["0"], "vol_moves": [{"label": "a", "add": "0.02"}, {"label": "b", "add": "0.01"}, {"label": "c", "add": "0.005"}]}}
    ]}"#;
    let i = Instruments::parse("i", instruments, as_of()).unwrap();
    let g = parse_grid("g", grid, &i.underlyings).unwrap().scenarios;
    let r = Rates::parse("r", rates).unwrap();
    let full = exact_figures(&i, &g, &r, "r", Method::Full).unwrap();
    let greeks = exact_figures(&i, &g, &r, "r", Method::Greeks).unwrap();
    for (n, ins) in i.instruments.iter().enumerate() {
        let err: Vec<f64> = full[n].pnl.iter().zip(&greeks[n].pnl).map(|(a, b)| (a - b).abs()).collect();
        if ins.id == "F" {
            assert!(err.iter().all(|&e| e < 1e-9), "linear instruments agree exactly: {err:?}");
            continue;
        }
        let scale = full[n].pnl[0].abs();
        // Spot: −2 %, −1 %, −0.5 % and +0.5 %, +1 %, +2 %.
        for (big, small) in [(0, 1), (1, 2), (5, 4), (4, 3)] {
            let ratio = err[big] / err[small];
            assert!((6.0..10.0).contains(&ratio), "{}: spot error ratio {ratio} ({err:?})", ins.id);
        }
        assert!(err[0] < 1e-2 * scale, "{}: {} vs P&L {scale}", ins.id, err[0]);
        // Vol: +2, +1, +0.5 vol points.
        for (big, small) in [(6, 7), (7, 8)] {
            let ratio = err[big] / err[small];
            assert!((3.5..4.5).contains(&ratio), "{}: vol error ratio {ratio} ({err:?})", ins.id);
        }
        assert!(err[6] < 0.02 * full[n].pnl[6].abs(), "{}", ins.id);
    }
}

#[test]
fn given_greeks_are_used_by_the_greeks_method() {
    let snapshot = build_example("grid.json", Method::Greeks);
    let eth = snapshot.instruments.iter().find(|i| i.id == "ETH-25DEC26-3200-C").unwrap();
    // spot-5%/vol-down is scenario 5: dS = −152.525, dσ = 0.8·σ − σ with σ the grid's
    // 0.662 at strike 3200: Δ·dS + ½Γ·dS² + vega·dσ with the given Greeks.
    let ds = -0.05 * 3050.5;
    let want = 0.4506 * ds + 0.5 * 0.000685 * ds * ds + 346.95 * (0.662 * 0.8 - 0.662);
    assert!((eth.pnl[5] as f64 / 1e6 - want).abs() < 2e-6, "{} vs {want}", eth.pnl[5]);
}

#[test]
fn strict_inputs_name_file_path_and_value() {
    let instruments = example("instruments.json");
    let cases: Vec<(String, &str, &str)> = vec![
        (instruments.replace("\"spot\": \"91000\"", "\"spot\": 91000"), "underlyings[0].spot", "string"),
        (instruments.replace("\"spot\": \"91000\"", "\"spot\": \"91,000\""), "underlyings[0].spot", "\"91,000\""),
        (instruments.replace("\"carry\": \"0.06\"", "\"cary\": \"0.06\""), "underlyings[0]", "cary"),
        (instruments.replace("\"underlying\": \"ETH\", \"kind\": \"perpetual\"", "\"underlying\": \"DOGE\", \"kind\": \"perpetual\""), "instruments[6].underlying", "DOGE"),
        (instruments.replace("\"strike\": \"90000\"", "\"strike\": \"-90000\""), "instruments[2].strike", "-90000"),
        (instruments.replace("\"kind\": \"future\"", "\"kind\": \"forward\""), "instruments[1].kind", "forward"),
        (instruments.replace("\"kind\": \"future\", \"expiry\": \"2026-12-25T08:00:00Z\"", "\"kind\": \"future\", \"expiry\": \"2026-11-20T08:00:00Z\""), "instruments[1].expiry", "2026-11-20"),
        (instruments.replace("[\"0.72\", \"0.65\", \"0.68\"]", "[\"0.72\", \"0.65\"]"), "underlyings[1].vol.grid.vols[0]", "expected one per strike"),
        (instruments.replace("\"rho\": \"-0.25\"", "\"rho\": \"-1.5\""), "underlyings[0].vol.svi[0]", "rho"),
        (instruments.replace("\"id\": \"BTC-25DEC26\"", "\"id\": \"BTC-PERP\""), "instruments[1].id", "duplicate"),
    ];
    for (text, path, mention) in cases {
        let err = Instruments::parse("instruments.json", &text, as_of()).unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("instruments.json: field `"), "{message}");
        assert!(err.path.starts_with(path) && message.contains(mention), "want {path} / {mention}: {message}");
    }
    let underlyings = Instruments::parse("i", &instruments, as_of()).unwrap().underlyings;
    let grid = example("grid.json");
    for (text, path, mention) in [
        (grid.replace("\"-0.15\"", "\"-1.5\""), "scenarios[0].grid.spot_moves[0]", "\"-1.5\""),
        (grid.replace("\"cover\": \"0.35\"", "\"cover\": \"1.35\""), "scenarios[1].extreme.cover", "1.35"),
        (grid.replace("\"multiply\": \"1.25\"", "\"multiply\": \"1.25\", \"add\": \"0.1\""), "scenarios[0].grid.vol_moves[0]", "not both"),
        (grid.replace("\"name\": \"weekend-crash\"", "\"name\": \"spot-15%/vol-up\""), "scenarios[2].named.name", "duplicate"),
        (grid.replace("{\"named\"", "{\"stress\""), "scenarios[2]", "stress"),
    ] {
        let message = parse_grid("grid.json", &text, &underlyings).unwrap_err().to_string();
        assert!(message.starts_with(&format!("grid.json: field `{path}`")) && message.contains(mention), "want {path} / {mention}: {message}");
    }
    let deribit = example("grid-deribit.json");
    let message = parse_grid("d.json", &deribit.replace("\"price_steps\": \"4\"", "\"price_steps\": \"3\""), &underlyings).unwrap_err().to_string();
    assert!(message.contains("price_steps") && message.contains("equal steps"), "{message}");
    let rates = example("rates.json");
    for (text, path, mention) in [
        (rates.replace("\"haircut\": \"0.1\"", "\"haircut\": \"1.1\""), "assets[2].haircut", "1.1"),
        (rates.replace("\"price\": \"3050.5\"", "\"price\": \"3050.1234567\""), "assets[3].price", "decimal places"),
        (rates.replace("\"linear_adds_mark\": true", "\"linear_adds_mark\": true, \"minimum\": \"1\""), "classes.option.minimum", "unknown field"),
    ] {
        let message = Rates::parse("rates.json", &text).unwrap_err().to_string();
        assert!(message.starts_with(&format!("rates.json: field `{path}`")) && message.contains(mention), "want {path} / {mention}: {message}");
    }
    // An override for an instrument that does not exist, and a class with no rates.
    let i = Instruments::parse("i", &instruments, as_of()).unwrap();
    let g = parse_grid("g", &example("grid.json"), &i.underlyings).unwrap().scenarios;
    let r = Rates::parse("rates.json", &rates.replace("\"id\": \"SOL-PERP\"", "\"id\": \"SOL-PERP-X\"")).unwrap();
    let err = build(&i, &g, &r, ["i", "g", "rates.json"], "x", AS_OF, Method::Full).unwrap_err().to_string();
    assert!(err.contains("instruments[0].id") && err.contains("SOL-PERP-X"), "{err}");
    let no_futures = rates.replace("\"future\": {\"linear\": {\"initial\": \"0.06\", \"maintenance\": \"0.03\"}, \"short_charge\": {\"initial\": \"0\", \"maintenance\": \"0\"}},", "");
    let r = Rates::parse("rates.json", &no_futures).unwrap();
    let err = build(&i, &g, &r, ["i", "g", "rates.json"], "x", AS_OF, Method::Full).unwrap_err().to_string();
    assert!(err.contains("classes.future") && err.contains("BTC-25DEC26"), "{err}");
}

#[test]
fn scenarios_come_in_the_stated_order() {
    let names = build_example("grid.json", Method::Full).scenarios;
    assert_eq!(names.len(), 17);
    assert_eq!(&names[..3], ["spot-15%/vol-up", "spot-15%/vol-down", "spot-10%/vol-up"]);
    assert_eq!(&names[14..], ["spot-45%/vol-same (x0.35)", "spot+45%/vol-same (x0.35)", "weekend-crash"]);
    let names = build_example("grid-deribit.json", Method::Full).scenarios;
    assert_eq!(names.len(), 9 * 3 + 4);
    assert_eq!(&names[..4], ["spot-16%/vol-up", "spot-16%/vol-same", "spot-16%/vol-down", "spot-12%/vol-up"]);
    assert_eq!(names[12], "spot+0%/vol-up");
    assert_eq!(names[27], "spot-66%/vol-up (x0.25)");
}
