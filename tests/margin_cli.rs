//! End-to-end tests of `zkmargin margin` and `zkmargin sample`: the shared example, and
//! one test per rejection class of SPEC sections 2–4 (exit 2, message naming the field).

use std::path::Path;

use assert_cmd::Command;
use serde_json::{json, Value};

mod common;
use common::*;


fn zkmargin() -> Command {
    Command::cargo_bin("zkmargin").unwrap()
}

fn example(file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(example_path(file)).unwrap()).unwrap()
}

/// Whether `actual` has every field of `expected` with the same value (objects may carry
/// more keys; arrays and scalars must be equal element by element).
fn includes(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e.iter().all(|(k, v)| a.get(k).is_some_and(|x| includes(x, v))),
        (Value::Array(a), Value::Array(e)) => a.len() == e.len() && a.iter().zip(e).all(|(x, v)| includes(x, v)),
        _ => actual == expected,
    }
}

fn example_margin_json() -> String {
    let out = zkmargin()
        .args(["margin", "--json", "--market"])
        .arg(example_path("market.json"))
        .arg("--portfolio")
        .arg(example_path("portfolio.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn margin_json_reproduces_the_shared_example() {
    let text = example_margin_json();
    let printed: Value = serde_json::from_str(&text).unwrap();
    // Every field of the contract's expected report, with its value (the class and
    // covenant fields of SPEC sections 5 and 10 come in addition).
    let expected = example("expected-margin.json");
    assert!(includes(&printed, &expected), "{text}");
    let mut changed = expected.clone();
    changed["total"]["initial_excess"] = json!("73112.062501");
    assert!(!includes(&printed, &changed), "the comparison sees a changed figure");
    // Key order: SPEC section 6's keys in its order, the new keys after them.
    let order = [
        "\"market\"", "\"groups\"", "\"name\"", "\"mode\"", "\"equity\"", "\"initial\"", "\"requirement\"", "\"excess\"",
        "\"worst_scenario\"", "\"classes\"", "\"ratio\"", "\"maintenance\"", "\"total\"", "\"initial_excess\"",
        "\"maintenance_excess\"", "\"equity\": \"162727", "\"gross_notional\"", "\"leverage\"",
    ];
    let positions: Vec<usize> = order.iter().map(|k| text.find(k).unwrap_or_else(|| panic!("no {k}"))).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

/// The example's whole report, pinned byte for byte: the contract's fields as in
/// `examples/expected-margin.json`, then each level's classes (the example names none:
/// one unnamed class, also for the standard-mode group) and ratio, and the totals'
/// equity, gross notional and leverage (null: the example publishes no notionals).
const EXAMPLE_FULL: &str = r#"{
 "market": "example-btc-2026-11-25T08:00Z",
 "groups": [
  {
   "name": "cross",
   "mode": "portfolio",
   "equity": "147727.562500",
   "initial": {
    "requirement": "82790.500000",
    "excess": "64937.062500",
    "worst_scenario": "spot+15%/vol-up",
    "classes": [
     {
      "class": "",
      "worst": "78240.500000",
      "worst_scenario": "spot+15%/vol-up"
     }
    ],
    "ratio": "1.784354"
   },
   "maintenance": {
    "requirement": "65322.400000",
    "excess": "82405.162500",
    "worst_scenario": "spot+15%/vol-up",
    "classes": [
     {
      "class": "",
      "worst": "78240.500000",
      "worst_scenario": "spot+15%/vol-up"
     }
    ],
    "ratio": "2.261514"
   }
  },
  {
   "name": "iso-perp",
   "mode": "standard",
   "equity": "15000.000000",
   "initial": {
    "requirement": "6825.000000",
    "excess": "8175.000000",
    "worst_scenario": null,
    "classes": [
     {
      "class": "",
      "worst": "20475.000000",
      "worst_scenario": "spot+15%/vol-up"
     }
    ],
    "ratio": "2.197802"
   },
   "maintenance": {
    "requirement": "3412.500000",
    "excess": "11587.500000",
    "worst_scenario": null,
    "classes": [
     {
      "class": "",
      "worst": "20475.000000",
      "worst_scenario": "spot+15%/vol-up"
     }
    ],
    "ratio": "4.395604"
   }
  }
 ],
 "total": {
  "initial_excess": "73112.062500",
  "maintenance_excess": "93992.662500",
  "equity": "162727.562500",
  "gross_notional": null,
  "leverage": null
 }
}
"#;

#[test]
fn margin_json_of_the_example_is_pinned() {
    // cross: worst 78240.5 at spot+15%/vol-up plus 10 · 455 of short charges = 82790.5;
    // 147727.5625 / 82790.5 = 1.7843543…; iso-perp: 1.5 short PERP loses 20475 at
    // spot+15%; 15000 / 6825 = 2.1978021….
    assert_eq!(example_margin_json(), EXAMPLE_FULL);
}

#[test]
fn margin_text_is_a_table_per_group() {
    let out = zkmargin()
        .args(["margin", "--market"])
        .arg(example_path("market.json"))
        .arg("--portfolio")
        .arg(example_path("portfolio.json"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "group cross (portfolio mode)",
        "group iso-perp (standard mode)",
        "147727.562500",
        "82790.500000",
        "spot+15%/vol-up",
        "73112.062500",
        "1.784354",
        "4.395604",
        "(unnamed)",
        "78240.500000",
        "162727.562500",
        "no notional for BTC-PERP",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

fn classes_portfolio() -> Value {
    json!({"version": 1, "owner": "o", "groups": [{"name": "pair", "mode": "portfolio"}],
        "accounts": [{"venue": "v", "account": "a", "group": "pair",
            "positions": [{"instrument": "BTC-PERP", "qty": "1"}, {"instrument": "ETH-PERP", "qty": "-1"}],
            "collateral": [{"asset": "USD", "amount": "550"}, {"asset": "XYZ", "amount": "10.5"}]}]})
}

#[test]
fn margin_reports_classes_tiers_and_covenant_figures() {
    // Two risk classes with a class offset, notionals and a tiered asset (shared with the
    // engine's tests).
    let m = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/classes-market.json");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("portfolio.json");
    std::fs::write(&p, classes_portfolio().to_string()).unwrap();
    let out = zkmargin().args(["margin", "--json", "--market"]).arg(&m).arg("--portfolio").arg(&p).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Equity: 550 + 10 · 90 + 0.5 · 75 = 1487.5. Joint 10 (down), BTC 100 (down), ETH 90
    // (up): initial 10 + 0.75 · 180 = 145; maintenance 0.8 · (10 + 0.5 · 180) = 80.
    let g = &v["groups"][0];
    assert_eq!(g["equity"], "1487.500000");
    assert_eq!(g["initial"]["requirement"], "145.000000");
    assert_eq!(g["maintenance"]["requirement"], "80.000000");
    assert_eq!(g["initial"]["worst_scenario"], "down");
    let classes = json!([
        {"class": "BTC", "worst": "100.000000", "worst_scenario": "down"},
        {"class": "ETH", "worst": "90.000000", "worst_scenario": "up"}
    ]);
    assert_eq!(g["initial"]["classes"], classes);
    assert_eq!(g["maintenance"]["classes"], classes);
    assert_eq!(g["initial"]["ratio"], "10.258620"); // 1487.5 / 145 = 10.2586206…
    assert_eq!(g["maintenance"]["ratio"], "18.593750");
    // 1900 / 1487.5 = 1.2773109…, rounded up.
    let total = json!({"initial_excess": "1342.500000", "maintenance_excess": "1407.500000",
        "equity": "1487.500000", "gross_notional": "1900.000000", "leverage": "1.277311"});
    assert_eq!(v["total"], total);
    // The text report shows the same figures for people.
    let out = zkmargin().args(["margin", "--market"]).arg(&m).arg("--portfolio").arg(&p).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in ["risk class", "100.000000  down", "90.000000  up", "10.258620", "1900.000000", "1.277311x"] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

/// Writes `market` and `portfolio` to a temp dir and runs `margin` on them.
fn run_margin(market: &Value, portfolio: &Value) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("market.json");
    let p = dir.path().join("portfolio.json");
    std::fs::write(&m, market.to_string()).unwrap();
    std::fs::write(&p, portfolio.to_string()).unwrap();
    let out = zkmargin().args(["margin", "--json", "--market"]).arg(&m).arg("--portfolio").arg(&p).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn assert_rejected(market: &Value, portfolio: &Value, file: &str, needles: &[&str]) {
    let (code, err) = run_margin(market, portfolio);
    assert_eq!(code, 2, "expected exit 2, stderr: {err}");
    assert!(err.contains(file), "stderr does not name {file}: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr does not mention {n:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

fn with(mut value: Value, pointer: &str, new: Value) -> Value {
    *value.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}")) = new;
    value
}

#[test]
fn rejects_too_many_decimals() {
    // Zeros count: seven decimals are too many for money even when they are zeros.
    let m = with(example("market.json"), "/assets/0/price", json!("1.0000000"));
    assert_rejected(&m, &example("portfolio.json"), "market.json", &["assets[0].price", "1.0000000"]);
    let m = with(example("market.json"), "/instruments/1/mark", json!("5120.5000001"));
    assert_rejected(&m, &example("portfolio.json"), "market.json", &["instruments[1].mark", "5120.5000001", "decimal"]);
    let p = with(example("portfolio.json"), "/accounts/0/positions/0/qty", json!("-10.000000001"));
    assert_rejected(&example("market.json"), &p, "portfolio.json", &["accounts[0].positions[0].qty", "-10.000000001"]);
}

#[test]
fn rejects_out_of_range_values() {
    let m = with(example("market.json"), "/instruments/0/pnl/2", json!("1000000000000.000001"));
    assert_rejected(&m, &example("portfolio.json"), "market.json", &["instruments[0].pnl[2]", "out of range"]);
    let m = with(example("market.json"), "/loss_factor/initial", json!("1000.5"));
    assert_rejected(&m, &example("portfolio.json"), "market.json", &["loss_factor.initial", "1000.5"]);
    let m = with(example("market.json"), "/assets/1/haircut", json!("1.5"));
    assert_rejected(&m, &example("portfolio.json"), "market.json", &["assets[1].haircut", "1.5"]);
    let p = with(example("portfolio.json"), "/accounts/1/collateral/0/amount", json!("-1000000000000.5"));
    assert_rejected(&example("market.json"), &p, "portfolio.json", &["accounts[1].collateral[0].amount"]);
}

#[test]
fn rejects_non_decimal_and_json_numbers() {
    let m = with(example("market.json"), "/assets/0/price", json!("1e3"));
    assert_rejected(&m, &example("portfolio.json"), "market.json", &["assets[0].price", "1e3", "not a decimal"]);
    let m = with(example("market.json"), "/assets/0/price", json!(1));
    assert_rejected(&m, &example("portfolio.json"), "market.json", &["assets[0].price", "string"]);
    let p = with(example("portfolio.json"), "/accounts/2/positions/0/qty", json!(-1.5));
    assert_rejected(&example("market.json"), &p, "portfolio.json", &["accounts[2].positions[0].qty"]);
}

#[test]
fn rejects_duplicate_ids() {
    let m = with(example("market.json"), "/instruments/2/id", json!("BTC-PERP"));
    assert_rejected(&m, &example("portfolio.json"), "market.json", &["instruments[2].id", "duplicate", "BTC-PERP"]);
    let m = with(example("market.json"), "/assets/2/id", json!("USDC"));
    assert_rejected(&m, &example("portfolio.json"), "market.json", &["assets[2].id", "duplicate"]);
}

#[test]
fn rejects_pnl_of_wrong_length_and_missing_fields() {
    let m = with(example("market.json"), "/instruments/0/pnl", json!(["1", "2"]));
    assert_rejected(&m, &example("portfolio.json"), "market.json", &["instruments[0].pnl", "8 scenarios"]);
    let mut m = example("market.json");
    m["instruments"][0].as_object_mut().unwrap().remove("mark");
    assert_rejected(&m, &example("portfolio.json"), "market.json", &["instruments[0].mark", "missing"]);
    let m = with(example("market.json"), "/scenarios", json!([]));
    assert_rejected(&m, &example("portfolio.json"), "market.json", &["scenarios"]);
}

#[test]
fn rejects_unknown_references() {
    let p = with(example("portfolio.json"), "/accounts/1/positions/0/instrument", json!("ETH-PERP"));
    assert_rejected(&example("market.json"), &p, "portfolio.json", &["accounts[1].positions[0].instrument", "ETH-PERP"]);
    let p = with(example("portfolio.json"), "/accounts/0/collateral/1/asset", json!("DOGE"));
    assert_rejected(&example("market.json"), &p, "portfolio.json", &["accounts[0].collateral[1].asset", "DOGE"]);
    let p = with(example("portfolio.json"), "/accounts/2/group", json!("nowhere"));
    assert_rejected(&example("market.json"), &p, "portfolio.json", &["accounts[2].group", "nowhere"]);
}

#[test]
fn rejects_group_without_account_and_bad_salt() {
    let mut p = example("portfolio.json");
    p["groups"].as_array_mut().unwrap().push(json!({"name": "empty", "mode": "standard"}));
    assert_rejected(&example("market.json"), &p, "portfolio.json", &["groups[2]", "empty", "no account"]);
    let p = with(example("portfolio.json"), "/accounts/0/salt", json!("xyz"));
    assert_rejected(&example("market.json"), &p, "portfolio.json", &["accounts[0].salt", "hex"]);
    let p = with(example("portfolio.json"), "/groups/0/mode", json!("yolo"));
    assert_rejected(&example("market.json"), &p, "portfolio.json", &["groups[0].mode", "yolo"]);
}

#[test]
fn rejects_unreadable_and_malformed_files() {
    let out = zkmargin().args(["margin", "--market", "/nonexistent/market.json", "--portfolio"]).arg(example_path("portfolio.json")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/market.json"));
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("market.json");
    std::fs::write(&m, "{ not json").unwrap();
    let out = zkmargin().args(["margin", "--market"]).arg(&m).arg("--portfolio").arg(example_path("portfolio.json")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("market.json"));
}

#[test]
fn sample_is_deterministic_for_every_profile() {
    for profile in ["small", "medium", "large"] {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        for dir in [&a, &b] {
            zkmargin().args(["sample", "--profile", profile, "--seed", "7", "--out"]).arg(dir.path()).assert().success();
        }
        for file in ["market.json", "portfolio.json"] {
            let x = std::fs::read(a.path().join(file)).unwrap();
            let y = std::fs::read(b.path().join(file)).unwrap();
            assert!(x == y, "{profile} {file} differs between two runs with the same seed");
        }
        // The written sample is accepted by `margin`.
        zkmargin()
            .args(["margin", "--json", "--market"])
            .arg(a.path().join("market.json"))
            .arg("--portfolio")
            .arg(a.path().join("portfolio.json"))
            .assert()
            .success();
    }
}

#[test]
fn sample_with_a_class_offset() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let args = |offset: Option<&str>, dir: &Path| {
        let mut cmd = zkmargin();
        cmd.args(["sample", "--profile", "medium", "--seed", "3", "--out"]).arg(dir);
        if let Some(offset) = offset {
            cmd.args(["--class-offset", offset]);
        }
        cmd.assert().success();
    };
    args(Some("0"), dirs[0].path());
    args(Some("0"), dirs[1].path());
    args(None, dirs[2].path());
    for file in ["market.json", "portfolio.json"] {
        assert!(std::fs::read(dirs[0].path().join(file)).unwrap() == std::fs::read(dirs[1].path().join(file)).unwrap(), "{file}");
    }
    let margin = |dir: &Path| -> Value {
        let out = zkmargin()
            .args(["margin", "--json", "--market"])
            .arg(dir.join("market.json"))
            .arg("--portfolio")
            .arg(dir.join("portfolio.json"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (offset, joint) = (margin(dirs[0].path()), margin(dirs[2].path()));
    assert_eq!(offset["market"], "sample-medium-seed3-offset-0");
    assert_eq!(joint["market"], "sample-medium-seed3");
    let market: Value = serde_json::from_slice(&std::fs::read(dirs[0].path().join("market.json")).unwrap()).unwrap();
    assert_eq!(market["class_offset"], json!({"initial": "0", "maintenance": "0"}));
    assert_eq!(market["instruments"][0]["class"], "BTC");
    // Every group keeps a cushion of at least 10 % of its (higher) requirement.
    let units = |v: &Value| zkmargin_circuits::fixed::parse_units(v.as_str().unwrap(), zkmargin_circuits::fixed::DecimalKind::Money).unwrap();
    for g in offset["groups"].as_array().unwrap() {
        for level in ["initial", "maintenance"] {
            assert!(units(&g[level]["excess"]) * 10 >= units(&g[level]["requirement"]), "{} {level}", g["name"]);
        }
    }
    let req = |v: &Value| units(&v["groups"][0]["initial"]["requirement"]);
    assert!(req(&offset) > req(&joint), "offset 0 charges the cross-underlying hedges");
    // A rate outside [0, 1] or with too many decimals: exit 2, naming the option.
    for bad in ["1.5", "-0.1", "0.1234567", "x"] {
        let out = zkmargin().args(["sample", "--class-offset", bad, "--out"]).arg(dirs[0].path().join("bad")).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--class-offset"), "{bad}");
        assert!(!dirs[0].path().join("bad").exists(), "nothing written for {bad}");
    }
}

/// `value` with the key `old` of the object at `pointer` renamed to `new` (a typo).
fn renamed(mut value: Value, pointer: &str, old: &str, new: &str) -> Value {
    let object = value.pointer_mut(pointer).and_then(Value::as_object_mut).unwrap_or_else(|| panic!("no object {pointer}"));
    let moved = object.remove(old).unwrap_or_else(|| panic!("no key {old} in {pointer}"));
    object.insert(new.to_string(), moved);
    value
}

fn without(mut value: Value, pointer: &str, key: &str) -> Value {
    value.pointer_mut(pointer).and_then(Value::as_object_mut).unwrap().remove(key).unwrap();
    value
}

#[test]
fn rejects_misspelled_portfolio_keys_instead_of_dropping_data() {
    let m = example("market.json");
    let p = renamed(example("portfolio.json"), "/accounts/0", "positions", "positons");
    assert_rejected(&m, &p, "portfolio.json", &["accounts[0]", "unknown field", "positons"]);
    let p = renamed(example("portfolio.json"), "/accounts/1", "collateral", "colateral");
    assert_rejected(&m, &p, "portfolio.json", &["accounts[1]", "unknown field", "colateral"]);
    let p = renamed(example("portfolio.json"), "/accounts/0/positions/1", "qty", "quantity");
    assert_rejected(&m, &p, "portfolio.json", &["accounts[0].positions[1]", "quantity"]);
    let p = renamed(example("portfolio.json"), "/groups/0", "mode", "modes");
    assert_rejected(&m, &p, "portfolio.json", &["groups[0]", "modes"]);
    let p = renamed(example("portfolio.json"), "", "owner", "owners");
    assert_rejected(&m, &p, "portfolio.json", &["owners"]);
}

#[test]
fn requires_positions_and_collateral_but_allows_them_empty() {
    let m = example("market.json");
    let p = without(example("portfolio.json"), "/accounts/0", "positions");
    assert_rejected(&m, &p, "portfolio.json", &["accounts[0].positions", "missing"]);
    let p = without(example("portfolio.json"), "/accounts/2", "collateral");
    assert_rejected(&m, &p, "portfolio.json", &["accounts[2].collateral", "missing"]);
    let p = with(example("portfolio.json"), "/accounts/0/positions", json!([]));
    let p = with(p, "/accounts/0/collateral", json!([]));
    let (code, err) = run_margin(&m, &p);
    assert_eq!(code, 0, "empty lists are allowed: {err}");
}

#[test]
fn rejects_unknown_market_keys() {
    let p = example("portfolio.json");
    let m = renamed(example("market.json"), "", "quote", "qoute");
    assert_rejected(&m, &p, "market.json", &["qoute"]);
    let m = renamed(example("market.json"), "/instruments/1", "short_charge", "short_charges");
    assert_rejected(&m, &p, "market.json", &["instruments[1]", "short_charges"]);
    let m = renamed(example("market.json"), "/instruments/0/linear", "maintenance", "maint");
    assert_rejected(&m, &p, "market.json", &["instruments[0].linear", "maint"]);
    let m = renamed(example("market.json"), "/assets/1", "haircut", "hair_cut");
    assert_rejected(&m, &p, "market.json", &["assets[1]", "hair_cut"]);
    let m = renamed(example("market.json"), "/loss_factor", "initial", "inital");
    assert_rejected(&m, &p, "market.json", &["loss_factor", "inital"]);
}

/// The repository's examples are the contract's examples, byte for byte. The contract's
/// copy sits beside this repository only in the developers' workspace: elsewhere (a
/// plain clone) there is nothing to compare with and the test says so.
#[test]
fn examples_are_the_contracts_examples() {
    let contract = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/examples");
    if !contract.is_dir() {
        eprintln!("skipped: {} is not here (a plain clone); nothing to compare with", contract.display());
        return;
    }
    for file in ["market.json", "portfolio.json", "expected-margin.json"] {
        let ours = std::fs::read(example_path(file)).unwrap();
        let theirs = std::fs::read(contract.join(file)).unwrap();
        assert!(ours == theirs, "examples/{file} differs from the contract's {}", contract.join(file).display());
    }
}

/// Runs `margin --json` on raw texts (not re-serialized JSON values).
fn run_margin_texts(market: &str, portfolio: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("market.json");
    let p = dir.path().join("portfolio.json");
    std::fs::write(&m, market).unwrap();
    std::fs::write(&p, portfolio).unwrap();
    let out = zkmargin().args(["margin", "--json", "--market"]).arg(&m).arg("--portfolio").arg(&p).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn rejects_text_after_the_json_value() {
    let market = example("market.json").to_string();
    let portfolio = example("portfolio.json").to_string();
    for tail in ["garbage", "{\"version\": 2}", "]]]", "1"] {
        let (code, err) = run_margin_texts(&market, &format!("{portfolio}{tail}"));
        assert_eq!(code, 2, "portfolio + {tail:?}: {err}");
        assert!(err.contains("portfolio.json") && err.contains("trailing characters"), "{err}");
        let (code, err) = run_margin_texts(&format!("{market}\n{tail}"), &portfolio);
        assert_eq!(code, 2, "market + {tail:?}: {err}");
        assert!(err.contains("market.json") && err.contains("trailing characters"), "{err}");
    }
    // Whitespace after the value is not "text".
    assert_eq!(run_margin_texts(&format!("{market}\n\n"), &format!("{portfolio} \t\n")).0, 0);
}

#[test]
fn rejects_objects_written_as_arrays() {
    // serde reads a struct from a JSON array by field position, which would bypass every
    // key check: two swapped rates would pass unnoticed. Every object must be an object.
    let market = example("market.json");
    let portfolio = example("portfolio.json");
    let cases = [
        (with(market.clone(), "/loss_factor", json!(["1.0", "0.8"])), portfolio.clone(), "market.json", "loss_factor"),
        (with(market.clone(), "/instruments/0/linear", json!(["4550", "2275"])), portfolio.clone(), "market.json", "instruments[0].linear"),
        (market.clone(), with(portfolio.clone(), "/accounts/0/positions/0", json!(["BTC-PERP", "-1"])), "portfolio.json", "accounts[0].positions[0]"),
        (market.clone(), with(portfolio.clone(), "/groups/0", json!(["main", "portfolio"])), "portfolio.json", "groups[0]"),
    ];
    for (m, p, file, path) in cases {
        assert_rejected(&m, &p, file, &[path, "expected a JSON object"]);
    }
    let (code, err) = run_margin(&market, &json!([1, "fund-a", [], []]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expected a JSON object") && !err.contains("Raw"), "names no internal type: {err}");
}

#[test]
fn a_closed_or_full_standard_output_is_not_a_panic() {
    let args = |cmd: &mut std::process::Command| {
        cmd.args(["margin", "--market"]).arg(example_path("market.json")).arg("--portfolio").arg(example_path("portfolio.json"));
    };
    // A reader that went away (`… | head -c 0`): the output stops, the command's exit code stands.
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("zkmargin"));
    args(&mut cmd);
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // A full disk is an output error: exit 2 with a message, never a panic (exit 101).
    if Path::new("/dev/full").exists() {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("zkmargin"));
        args(&mut cmd);
        let out = cmd.arg("--json").stdout(full).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("cannot write to standard output") && !err.contains("panicked"), "{err}");
    }
}
