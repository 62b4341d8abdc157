//! End-to-end tests of `zkmargin margin` and `zkmargin sample`: the shared example, and
//! one test per rejection class of SPEC sections 2–4 (exit 2, message naming the field).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{json, Value};

fn shared(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/examples").join(file)
}

fn zkmargin() -> Command {
    Command::cargo_bin("zkmargin").unwrap()
}

fn example(file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(shared(file)).unwrap()).unwrap()
}

#[test]
fn margin_json_reproduces_the_shared_example() {
    let out = zkmargin()
        .args(["margin", "--json", "--market"])
        .arg(shared("market.json"))
        .arg("--portfolio")
        .arg(shared("portfolio.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, example("expected-margin.json"));
    // Byte for byte, layout included.
    assert_eq!(String::from_utf8_lossy(&out.stdout), std::fs::read_to_string(shared("expected-margin.json")).unwrap());
    // Key order as in SPEC section 6.
    let text = String::from_utf8(out.stdout).unwrap();
    let order = ["\"market\"", "\"groups\"", "\"name\"", "\"mode\"", "\"equity\"", "\"initial\"", "\"maintenance\"", "\"total\""];
    let positions: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn margin_text_is_a_table_per_group() {
    let out = zkmargin()
        .args(["margin", "--market"])
        .arg(shared("market.json"))
        .arg("--portfolio")
        .arg(shared("portfolio.json"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in ["group cross (portfolio mode)", "group iso-perp (standard mode)", "147727.562500", "82790.500000", "spot+15%/vol-up", "73112.062500"] {
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
    let out = zkmargin().args(["margin", "--market", "/nonexistent/market.json", "--portfolio"]).arg(shared("portfolio.json")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/market.json"));
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("market.json");
    std::fs::write(&m, "{ not json").unwrap();
    let out = zkmargin().args(["margin", "--market"]).arg(&m).arg("--portfolio").arg(shared("portfolio.json")).output().unwrap();
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
