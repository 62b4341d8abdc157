//! End-to-end tests of the risk publisher: `market build` from the example inputs, its
//! strict inputs, risk classes, correlated scenarios and covenant fields, the
//! 32-scenario refusal, and a market built, signed by two publishers, proved against and
//! verified under a publisher quorum of 2.

mod common;
use common::{ok, run, s};

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};

const AS_OF: &str = "2026-11-25T08:00:00Z";

fn example(file: &str) -> PathBuf {
    common::example_path("publisher").join(file)
}

fn build(instruments: &Path, grid: &Path, rates: &Path, method: &str, out: &Path) -> Output {
    run(&[
        "market", "build", "--instruments", &s(instruments), "--grid", &s(grid), "--rates", &s(rates), "--as-of", AS_OF,
        "--id", "test-market", "--method", method, "--out", &s(out),
    ])
}

#[test]
fn market_build_is_deterministic_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    for grid in ["grid.json", "grid-deribit.json"] {
        let (a, b, g) = (dir.path().join("a.json"), dir.path().join("b.json"), dir.path().join("g.json"));
        ok(build(&example("instruments.json"), &example(grid), &example("rates.json"), "full", &a));
        ok(build(&example("instruments.json"), &example(grid), &example("rates.json"), "full", &b));
        ok(build(&example("instruments.json"), &example(grid), &example("rates.json"), "greeks", &g));
        let bytes = std::fs::read(&a).unwrap();
        assert_eq!(bytes, std::fs::read(&b).unwrap(), "{grid}: two builds, two byte strings");
        assert_ne!(bytes, std::fs::read(&g).unwrap(), "{grid}: the methods differ on options");
        let market: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(market["id"], "test-market");
        assert_eq!(market["as_of"], AS_OF);
        assert_eq!(market["instruments"].as_array().unwrap().len(), 10);
        // Every figure is a decimal string with at most 6 decimals.
        for ins in market["instruments"].as_array().unwrap() {
            for p in ins["pnl"].as_array().unwrap() {
                let text = p.as_str().unwrap();
                assert!(text.split('.').nth(1).is_none_or(|f| f.len() <= 6), "{text}");
            }
        }
    }
}

#[test]
fn market_build_rejects_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    let broken = dir.path().join("instruments.json");
    let text = std::fs::read_to_string(example("instruments.json")).unwrap();
    std::fs::write(&broken, text.replace("\"strike\": \"90000\"", "\"strike\": \"90000.5.1\"")).unwrap();
    let res = build(&broken, &example("grid.json"), &example("rates.json"), "full", &out);
    assert_eq!(res.status.code(), Some(2));
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains(&s(&broken)) && err.contains("instruments[2].strike") && err.contains("90000.5.1"), "{err}");
    assert!(!out.exists());

    let grid = dir.path().join("grid.json");
    std::fs::write(&grid, r#"{"version": 1, "scenarios": [{"grid": {"spot_moves": [0.1], "vol_moves": [{"label": "up"}]}}]}"#).unwrap();
    let res = build(&example("instruments.json"), &grid, &example("rates.json"), "full", &out);
    assert_eq!(res.status.code(), Some(2));
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("grid.json") && err.contains("scenarios[0].grid.spot_moves[0]") && err.contains("string"), "{err}");

    let rates = dir.path().join("rates.json");
    std::fs::write(&rates, r#"{"version": 1, "loss_factor": {"initial": "1", "maintenance": "0.8"}, "assets": [], "haircuts": []}"#).unwrap();
    let res = build(&example("instruments.json"), &example("grid.json"), &rates, "full", &out);
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("haircuts"));

    let res = build(&example("instruments.json"), &example("grid.json"), &example("rates.json"), "delta", &out);
    assert_eq!(res.status.code(), Some(2));
    let res = run(&[
        "market", "build", "--instruments", &s(&example("instruments.json")), "--grid", &s(&example("grid.json")),
        "--rates", &s(&example("rates.json")), "--as-of", "tomorrow", "--id", "x", "--out", &s(&out),
    ]);
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("--as-of"));
    // An instrument that expired before --as-of.
    let res = run(&[
        "market", "build", "--instruments", &s(&example("instruments.json")), "--grid", &s(&example("grid.json")),
        "--rates", &s(&example("rates.json")), "--as-of", "2027-01-01T00:00:00Z", "--id", "x", "--out", &s(&out),
    ]);
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("is not after the snapshot time"));
}

#[test]
fn market_build_keeps_the_contracts_number_rules_and_one_spelling_of_as_of() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    let instruments: Value = serde_json::from_str(&std::fs::read_to_string(example("instruments.json")).unwrap()).unwrap();
    let refused = |value: &Value, needles: &[&str]| {
        let path = write(dir.path(), "instruments.json", value);
        let res = build(&path, &example("grid.json"), &example("rates.json"), "full", &out);
        let err = String::from_utf8_lossy(&res.stderr).into_owned();
        assert_eq!(res.status.code(), Some(2), "{err}");
        for n in needles {
            assert!(err.contains(n), "stderr does not mention {n:?}: {err}");
        }
        assert!(!out.exists());
    };
    // Money has at most 6 decimals and quantities 8 in every file (SPEC section 2).
    let mut v = instruments.clone();
    v["underlyings"][0]["spot"] = json!("91000.1234567");
    refused(&v, &["underlyings[0].spot", "more than 6 decimal places", "91000.1234567"]);
    let mut v = instruments.clone();
    v["underlyings"][0]["spot"] = json!("10000000000000");
    refused(&v, &["underlyings[0].spot", "<= 1e12"]);
    let mut v = instruments.clone();
    v["instruments"][2]["strike"] = json!("90000.1234567");
    refused(&v, &["instruments[2].strike", "more than 6 decimal places"]);
    let mut v = instruments.clone();
    v["instruments"][0]["contract_size"] = json!("0.000000001");
    refused(&v, &["instruments[0].contract_size", "more than 8 decimal places"]);
    // Given Greeks belong to options only: a linear instrument is priced exactly.
    let linear = instruments["instruments"].as_array().unwrap().iter().position(|i| i["kind"] != "call" && i["kind"] != "put").unwrap();
    let mut v = instruments.clone();
    v["instruments"][linear]["greeks"] = json!({"delta": "5", "gamma": "1", "vega": "1000"});
    refused(&v, &[&format!("instruments[{linear}].greeks"), "only options"]);

    // One instant, one spelling: the snapshot carries --as-of in UTC with T and Z.
    let built = |as_of: &str, out: &Path| {
        run(&[
            "market", "build", "--instruments", &s(&example("instruments.json")), "--grid", &s(&example("grid.json")),
            "--rates", &s(&example("rates.json")), "--as-of", as_of, "--id", "test-market", "--out", &s(out),
        ])
    };
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    ok(built(AS_OF, &a));
    assert_eq!(AS_OF, "2026-11-25T08:00:00Z");
    let shifted = "2026-11-25T09:00:00+01:00";
    ok(built(shifted, &b));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "{shifted} is the same instant as {AS_OF}");
    let res = run(&[
        "market", "build", "--instruments", &s(&example("instruments.json")), "--grid", &s(&example("grid.json")),
        "--rates", &s(&example("rates.json")), "--as-of", AS_OF, "--id", "a\nb", "--out", &s(&out),
    ]);
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("control characters"));
}

#[test]
fn market_build_publishes_classes_correlated_scenarios_and_covenant_fields() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    for out in [&a, &b] {
        ok(build(&example("instruments.json"), &example("grid-classes.json"), &example("rates-classes.json"), "full", out));
    }
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes, std::fs::read(&b).unwrap(), "two builds, two byte strings");
    // Read as JSON (the fields are the market parser's to accept; here, what is written).
    let market: Value = serde_json::from_slice(&bytes).unwrap();
    let names: Vec<&str> = market["scenarios"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert_eq!(names.len(), 14 + 2 + 6 + 5);
    assert_eq!(&names[16..18], ["BTC+5%/ETH-5%/vol-same", "ETH+5%/BTC-5%/vol-same"]);
    assert_eq!(names[22], "2020-03-12 Black Thursday");
    assert_eq!(market["class_offset"], json!({"initial": "0.5", "maintenance": "0.7"}));
    for ins in market["instruments"].as_array().unwrap() {
        let underlying = ins["id"].as_str().unwrap().split('-').next().unwrap();
        assert_eq!(ins["class"], underlying, "{ins}");
        assert!(ins["notional"].is_string(), "{ins}");
    }
    let btc = &market["assets"][2];
    assert_eq!(btc["tiers"], json!([{"up_to": "10", "haircut": "0.1"}, {"up_to": "50", "haircut": "0.15"}, {"haircut": "0.25"}]));
    assert!(btc.get("haircut").is_none());
    // The ETH leg of the BTC/ETH spread: −5 % of 3050.5; BTC's: +5 % of 91000.
    let perp = |id: &str| market["instruments"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap().clone();
    assert_eq!(perp("ETH-PERP")["pnl"][16], "-152.525");
    assert_eq!(perp("BTC-PERP")["pnl"][16], "4550");
    assert_eq!(perp("SOL-PERP")["pnl"][16], "0");
}

#[test]
fn market_build_refuses_more_scenarios_than_a_proof_supports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    let grid = write(dir.path(), "grid.json", &json!({"version": 1, "scenarios": [
        {"grid": {"spot_moves": ["-0.15", "-0.1", "-0.05", "0", "0.05", "0.1", "0.15"], "vol_moves": [{"label": "up", "multiply": "1.25"}, {"label": "down", "multiply": "0.8"}]}},
        {"extreme": {"spot_moves": ["-0.45", "0.45"], "vol_move": {"label": "same"}, "cover": "0.35"}},
        {"spread": {"spot_moves": ["0.05", "0.1", "0.2"]}},
        {"joint": {"name": "2020-03-12", "spot_moves": {"BTC": "-0.372", "ETH": "-0.424"}}}
    ]}));
    let res = build(&example("instruments.json"), &grid, &example("rates.json"), "full", &out);
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    let grid_name = s(&grid);
    for part in [grid_name.as_str(), "35 scenarios, more than the 32", "scenarios[0].grid 14", "scenarios[1].extreme 2", "scenarios[2].spread 18", "scenarios[3].joint 1"] {
        assert!(err.contains(part), "stderr does not mention {part:?}: {err}");
    }
    assert!(!out.exists());
}

#[test]
fn market_build_refuses_bad_class_scenario_and_tier_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    let refused = |instruments: &Path, grid: &Path, rates: &Path, needles: &[&str]| {
        let res = build(instruments, grid, rates, "full", &out);
        let err = String::from_utf8_lossy(&res.stderr).into_owned();
        assert_eq!(res.status.code(), Some(2), "{err}");
        for n in needles {
            assert!(err.contains(n), "stderr does not mention {n:?}: {err}");
        }
        assert!(!out.exists());
    };
    let mut v = common::read(&example("instruments.json"));
    v["underlyings"][1]["move_scale"] = json!("1.3333333");
    let instruments = write(dir.path(), "instruments.json", &v);
    refused(&instruments, &example("grid.json"), &example("rates.json"), &[&s(&instruments), "underlyings[1].move_scale", "1.3333333"]);
    let mut v = common::read(&example("instruments.json"));
    v["instruments"][0]["class"] = json!("");
    let instruments = write(dir.path(), "instruments.json", &v);
    refused(&instruments, &example("grid.json"), &example("rates.json"), &["instruments[0].class", "1 to 128 bytes"]);

    let grid = write(dir.path(), "grid.json", &json!({"version": 1, "scenarios": [{"joint": {"name": "d", "spot_moves": {"DOGE": "-0.5"}}}]}));
    refused(&example("instruments.json"), &grid, &example("rates.json"), &[&s(&grid), "scenarios[0].joint.spot_moves.DOGE", "unknown underlying \"DOGE\""]);
    let grid = write(dir.path(), "grid.json", &json!({"version": 1, "scenarios": [{"spread": {"spot_moves": ["1.5"]}}]}));
    refused(&example("instruments.json"), &grid, &example("rates.json"), &["scenarios[0].spread.spot_moves[0]", "1.5"]);

    let mut v = common::read(&example("rates-classes.json"));
    v["assets"][2]["haircut"] = json!("0.1");
    let rates = write(dir.path(), "rates.json", &v);
    refused(&example("instruments.json"), &example("grid.json"), &rates, &[&s(&rates), "assets[2]", "\"BTC\"", "got both"]);
    let mut v = common::read(&example("rates-classes.json"));
    v["assets"][3]["tiers"][1]["haircut"] = json!("0.1");
    let rates = write(dir.path(), "rates.json", &v);
    refused(&example("instruments.json"), &example("grid.json"), &rates, &["assets[3].tiers[1].haircut", "must not decrease", "0.1"]);
    let mut v = common::read(&example("rates-classes.json"));
    v["class_offset"]["maintenance"] = json!("1.01");
    let rates = write(dir.path(), "rates.json", &v);
    refused(&example("instruments.json"), &example("grid.json"), &rates, &["class_offset.maintenance", "1.01"]);
}

fn write(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path
}

fn public_key(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap().trim().to_string()
}

#[test]
fn built_market_signed_by_two_publishers_verifies_under_a_quorum_of_two() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A small book: three instruments, four scenarios (CI proves it on 2 cores).
    let instruments = write(d, "instruments.json", &json!({
        "version": 1, "quote": "USD", "discount_rate": "0.04",
        "underlyings": [{"id": "BTC", "spot": "91000", "carry": "0.05", "vol": {"flat": "0.5"}}],
        "instruments": [
            {"id": "BTC-PERP", "underlying": "BTC", "kind": "perpetual", "contract_size": "1"},
            {"id": "BTC-25DEC26-90000-C", "underlying": "BTC", "kind": "call", "strike": "90000", "expiry": "2026-12-25T08:00:00Z", "contract_size": "1"},
            {"id": "BTC-25DEC26-90000-P", "underlying": "BTC", "kind": "put", "strike": "90000", "expiry": "2026-12-25T08:00:00Z", "contract_size": "1"}
        ]}));
    let grid = write(d, "grid.json", &json!({"version": 1, "scenarios": [
        {"grid": {"spot_moves": ["-0.1", "0", "0.1"], "vol_moves": [{"label": "up", "multiply": "1.25"}]}},
        {"extreme": {"spot_moves": ["-0.3"], "vol_move": {"label": "up", "multiply": "1.25"}, "cover": "0.35"}}
    ]}));
    let rates = write(d, "rates.json", &json!({
        "version": 1, "loss_factor": {"initial": "1", "maintenance": "0.8"},
        "classes": {
            "perpetual": {"linear": {"initial": "0.05", "maintenance": "0.025"}, "short_charge": {"initial": "0", "maintenance": "0"}},
            "option": {"linear": {"initial": "0.15", "maintenance": "0.075"}, "linear_adds_mark": true, "short_charge": {"initial": "0.01", "maintenance": "0.005"}}
        },
        "assets": [{"id": "USDC", "price": "1", "haircut": "0"}, {"id": "BTC", "price": "91000", "haircut": "0.1"}]}));
    let market = d.join("market.json");
    ok(build(&instruments, &grid, &rates, "full", &market));

    for name in ["pub-a", "pub-b", "deribit", "mallory"] {
        ok(run(&["keygen", "--out", &s(&d.join(name))]));
    }
    let sign = |key: &str| {
        let out = d.join(format!("{key}.sig"));
        ok(run(&["sign-market", "--key", &s(&d.join(format!("{key}.key"))), "--market", &s(&market), "--out", &s(&out)]));
        out
    };
    let (sig_a, sig_b, sig_mallory) = (sign("pub-a"), sign("pub-b"), sign("mallory"));

    let portfolio = write(d, "portfolio.json", &json!({
        "version": 1, "owner": "fund",
        "groups": [{"name": "main", "mode": "portfolio"}],
        "accounts": [{"venue": "deribit", "account": "sub-1", "group": "main", "salt": "11".repeat(32),
            "positions": [{"instrument": "BTC-PERP", "qty": "-1"}, {"instrument": "BTC-25DEC26-90000-C", "qty": "2"},
                          {"instrument": "BTC-25DEC26-90000-P", "qty": "-0.5"}],
            "collateral": [{"asset": "USDC", "amount": "50000"}, {"asset": "BTC", "amount": "0.5"}]}]}));
    let commits: Value = serde_json::from_slice(&ok(run(&["commit", "--json", "--portfolio", &s(&portfolio)])).stdout).unwrap();
    let attestation = d.join("att.json");
    ok(run(&[
        "attest", "--key", &s(&d.join("deribit.key")), "--venue", "deribit", "--account", "sub-1",
        "--commitment", commits[0]["commitment"].as_str().unwrap(), "--as-of", "2026-11-25T07:30:00Z", "--out", &s(&attestation),
    ]));
    let proof = d.join("proof.json");
    ok(run(&[
        "prove", "--market", &s(&market), "--portfolio", &s(&portfolio), "--level", "initial", "--threshold", "1000",
        "--attestation", &s(&attestation), "--out", &s(&proof),
    ]));

    let policy = |quorum: Option<u32>| {
        let mut p = json!({
            "publishers": [public_key(d, "pub-a"), public_key(d, "pub-b")],
            "venues": {"deribit": [public_key(d, "deribit")]},
            "max_age_seconds": 86400
        });
        if let Some(k) = quorum {
            p["publisher_quorum"] = json!(k);
        }
        write(d, &format!("policy-{quorum:?}.json"), &p)
    };
    let verify = |policy: &Path, sigs: &[&Path]| {
        let mut args = vec!["verify".to_string(), "--market".into(), s(&market), "--proof".into(), s(&proof), "--policy".into(), s(policy)];
        for sig in sigs {
            args.extend(["--market-sig".to_string(), s(sig)]);
        }
        let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        (out.status.code().unwrap(), String::from_utf8_lossy(&out.stderr).into_owned(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let quorum2 = policy(Some(2));
    // K distinct listed publishers: valid.
    let (code, err, stdout) = verify(&quorum2, &[&sig_a, &sig_b]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("quorum 2"), "{stdout}");
    // K − 1: refused, naming the quorum.
    let (code, err, _) = verify(&quorum2, &[&sig_a]);
    assert_eq!(code, 1);
    assert!(err.contains("publisher_quorum") && err.contains("1 distinct"), "{err}");
    // The same key twice counts once.
    let (code, err, _) = verify(&quorum2, &[&sig_b, &sig_b]);
    assert_eq!(code, 1, "{err}");
    // An unlisted signer does not help and is named.
    let (code, err, _) = verify(&quorum2, &[&sig_a, &sig_mallory]);
    assert_eq!(code, 1);
    assert!(err.contains("mallory.sig") && err.contains("not a listed publisher"), "{err}");
    // Without the field the quorum is 1.
    let (code, err, _) = verify(&policy(None), &[&sig_a]);
    assert_eq!(code, 0, "{err}");
    // A quorum of 0 is a bad policy (exit 2).
    let (code, err, _) = verify(&policy(Some(0)), &[&sig_a]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("publisher_quorum"), "{err}");
}
