//! End-to-end proofs through the binary: the shared example proved at both levels and
//! verified, refusals, tampering of every statement field, and what a bundle hides.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::{json, Value};

mod common;
use common::*;



fn zkmargin(args: &[&str]) -> Output {
    Command::cargo_bin("zkmargin").unwrap().env("ZKMARGIN_PARAMS", params_dir()).args(args).output().unwrap()
}

fn text(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

fn total_excess(level: &str) -> String {
    let out = zkmargin(&["margin", "--json", "--market", &text(&example_path("market.json")), "--portfolio", &text(&example_path("portfolio.json"))]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    report["total"][format!("{level}_excess")].as_str().unwrap().to_string()
}

fn prove(dir: &Path, portfolio: &Path, level: &str, threshold: &str, nonce: Option<&str>) -> (Output, PathBuf) {
    let out = dir.join(format!("proof-{level}.json"));
    let mut args = vec![
        "prove".to_string(), "--market".into(), text(&example_path("market.json")), "--portfolio".into(), text(portfolio),
        "--level".into(), level.into(), "--threshold".into(), threshold.into(), "--out".into(), text(&out),
    ];
    if let Some(n) = nonce {
        args.extend(["--nonce".to_string(), n.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (zkmargin(&args), out)
}

fn verify(market: &Path, proof: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["verify", "--market"];
    let (m, p) = (text(market), text(proof));
    args.extend([m.as_str(), "--proof", p.as_str()]);
    args.extend(extra);
    zkmargin(&args)
}



fn tick_above(decimal: &str) -> String {
    let (int, frac) = decimal.split_once('.').unwrap();
    let units: i128 = format!("{int}{frac}").parse::<i128>().unwrap() + 1;
    format!("{}.{:06}", units / 1_000_000, units % 1_000_000)
}

#[test]
fn example_proves_at_both_levels_exactly_at_its_total_excess() {
    let dir = tempfile::tempdir().unwrap();
    for level in ["initial", "maintenance"] {
        let exact = total_excess(level);
        let (out, bundle) = prove(dir.path(), &example_path("portfolio.json"), level, &exact, None);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        // Long work shows its stages on stderr (plain lines: stderr is not a terminal here).
        for stage in ["parameters k=", "proving key", "witness", "proof (create_proof)"] {
            assert!(stderr(&out).contains(stage), "prove does not report {stage:?}: {}", stderr(&out));
        }
        let quiet = level == "maintenance";
        let args = if quiet { vec!["--threshold", exact.as_str(), "--quiet"] } else { vec!["--threshold", exact.as_str()] };
        let v = verify(&example_path("market.json"), &bundle, &args);
        assert_eq!(code(&v), 0, "{}", stderr(&v));
        if quiet {
            assert_eq!(stderr(&v), "", "--quiet shows no progress");
        } else {
            assert!(stderr(&v).contains("verifying the proof"), "{}", stderr(&v));
        }
        let stdout = String::from_utf8_lossy(&v.stdout);
        assert!(stdout.contains("valid") && stdout.contains(&exact), "{stdout}");
        // The verifier asks for more than is stated: not valid for what was asked.
        let v = verify(&example_path("market.json"), &bundle, &["--threshold", &tick_above(&exact)]);
        assert_eq!(code(&v), 1, "{}", stderr(&v));
        // One tick above the exact excess the claim does not hold: refused, nothing written.
        let refused = dir.path().join("refused.json");
        let (out, _) = prove(dir.path(), &example_path("portfolio.json"), level, &tick_above(&exact), None);
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        assert!(stderr(&out).contains("below the threshold"), "{}", stderr(&out));
        assert!(!refused.exists());
    }
}

#[test]
fn failing_group_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut portfolio: Value = serde_json::from_str(&std::fs::read_to_string(example_path("portfolio.json")).unwrap()).unwrap();
    portfolio["accounts"][2]["collateral"] = json!([{"asset": "USDC", "amount": "100"}]);
    let path = dir.path().join("portfolio.json");
    std::fs::write(&path, portfolio.to_string()).unwrap();
    let (out, bundle) = prove(dir.path(), &path, "initial", "0", None);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("iso-perp"), "{}", stderr(&out));
    assert!(!bundle.exists(), "no bundle may be written for a false claim");
}

#[test]
fn bad_prove_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = prove(dir.path(), &example_path("portfolio.json"), "initial", "12.0000001", None);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("--threshold"));
    let (out, _) = prove(dir.path(), &example_path("portfolio.json"), "initial", "1", Some("not-hex"));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("--nonce"));
    let mut portfolio: Value = serde_json::from_str(&std::fs::read_to_string(example_path("portfolio.json")).unwrap()).unwrap();
    portfolio["accounts"][1].as_object_mut().unwrap().remove("salt");
    let path = dir.path().join("portfolio.json");
    std::fs::write(&path, portfolio.to_string()).unwrap();
    let (out, bundle) = prove(dir.path(), &path, "initial", "1", None);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("accounts[1].salt"), "{}", stderr(&out));
    assert!(!bundle.exists());
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn tampering_with_anything_invalidates_the_proof() {
    let dir = tempfile::tempdir().unwrap();
    let nonce = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
    let (out, bundle_path) = prove(dir.path(), &example_path("portfolio.json"), "initial", "50000", Some(nonce));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let market = example_path("market.json");
    assert_eq!(code(&verify(&market, &bundle_path, &["--nonce", nonce, "--threshold", "50000"])), 0);
    assert_eq!(code(&verify(&market, &bundle_path, &["--nonce", &"00".repeat(32)])), 1, "another nonce");

    let original = read_json(&bundle_path);
    let other_commitment = original["statement"]["accounts"][1]["commitment"].clone();
    let proof_hex = original["proof"].as_str().unwrap().to_string();
    let flip = |at: usize| {
        let mut bytes = hex::decode(&proof_hex).unwrap();
        bytes[at] ^= 0x01;
        json!(hex::encode(bytes))
    };
    let len = proof_hex.len() / 2;
    let edits: Vec<(&str, Value)> = vec![
        ("/statement/level", json!("maintenance")),
        ("/statement/threshold", json!("50000.000001")),
        ("/statement/threshold", json!("49999.000000")),
        ("/statement/nonce", json!("00ff")),
        ("/statement/groups/0/mode", json!("standard")),
        ("/statement/groups/1/mode", json!("portfolio")),
        ("/statement/groups/0/name", json!("renamed")),
        ("/statement/accounts/0/venue", json!("kraken")),
        ("/statement/accounts/0/account", json!("sub-2")),
        ("/statement/accounts/0/group", json!("iso-perp")),
        ("/statement/accounts/0/commitment", other_commitment),
        ("/market/digest", json!("00".repeat(32))),
        ("/market/id", json!("another-market")),
        ("/circuit/nets", json!(8)),
        ("/circuit/k", json!(5)),
        ("/statement/accounts/1", original["statement"]["accounts"][0].clone()),
        ("/statement/accounts/1/commitment", original["statement"]["accounts"][0]["commitment"].clone()),
        ("/circuit/k", json!(original["circuit"]["k"].as_u64().unwrap() + 1)),
        ("/proof", flip(0)),
        ("/proof", flip(len / 2)),
        ("/proof", flip(len - 1)),
        ("/proof", json!(format!("{proof_hex}00"))),
    ];
    for (pointer, value) in edits {
        let mut tampered = original.clone();
        *tampered.pointer_mut(pointer).unwrap() = value.clone();
        let path = dir.path().join("tampered.json");
        std::fs::write(&path, tampered.to_string()).unwrap();
        let out = verify(&market, &path, &[]);
        assert_eq!(code(&out), 1, "{pointer} = {value}: {}", stderr(&out));
    }

    // Fields the format does not know, or values it does not allow, make the bundle
    // invalid rather than being silently dropped.
    for (pointer, value) in [("/statement/note", json!("unbound text")), ("/statement/level", json!("bogus")), ("/statement/threshold", json!(50000))] {
        let mut changed = original.clone();
        if pointer == "/statement/note" {
            changed["statement"]["note"] = value.clone();
        } else {
            *changed.pointer_mut(pointer).unwrap() = value.clone();
        }
        let path = dir.path().join("changed.json");
        std::fs::write(&path, changed.to_string()).unwrap();
        assert_eq!(code(&verify(&market, &path, &[])), 1, "{pointer} = {value}");
    }
    // A file that is not JSON at all is bad input.
    let path = dir.path().join("garbage.json");
    std::fs::write(&path, "{ not json").unwrap();
    assert_eq!(code(&verify(&market, &path, &[])), 2);

    // A market with one changed number: another digest, another verifying key.
    let mut changed = read_json(&market);
    changed["instruments"][1]["pnl"][4] = json!("11200.000001");
    let changed_path = dir.path().join("market.json");
    std::fs::write(&changed_path, changed.to_string()).unwrap();
    assert_eq!(code(&verify(&changed_path, &bundle_path, &[])), 1);
}

#[test]
fn bundle_reveals_no_private_value_and_matches_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (out, bundle_path) = prove(dir.path(), &example_path("portfolio.json"), "maintenance", "1000", None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let bundle = std::fs::read_to_string(&bundle_path).unwrap();
    let portfolio = read_json(&example_path("portfolio.json"));
    for account in portfolio["accounts"].as_array().unwrap() {
        assert!(!bundle.contains(account["salt"].as_str().unwrap()), "a salt leaked");
        for entry in account["positions"].as_array().unwrap().iter().chain(account["collateral"].as_array().unwrap()) {
            for key in ["qty", "amount", "instrument", "asset"] {
                if let Some(v) = entry.get(key) {
                    assert!(!bundle.contains(&format!("\"{}\"", v.as_str().unwrap())), "{key} {v} leaked");
                }
            }
        }
    }
    // Outside the circuit shape (a public size class), no private field name appears.
    let mut without_shape: Value = serde_json::from_str(&bundle).unwrap();
    without_shape.as_object_mut().unwrap().remove("circuit");
    let without_shape = without_shape.to_string();
    for key in ["\"positions\"", "\"collateral\"", "\"equity\"", "\"excess\"", "\"salt\""] {
        assert!(!without_shape.contains(key), "{key} appears in the bundle");
    }
    // The statement's commitments are those `commit` prints (what venues attest).
    let out = zkmargin(&["commit", "--json", "--portfolio", &text(&example_path("portfolio.json"))]);
    assert_eq!(code(&out), 0);
    let commits: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stated = read_json(&bundle_path)["statement"]["accounts"].clone();
    for (c, s) in commits.as_array().unwrap().iter().zip(stated.as_array().unwrap()) {
        assert_eq!(c["venue"], s["venue"]);
        assert_eq!(c["commitment"], s["commitment"]);
    }
}

#[test]
fn a_venue_computes_the_same_commitment_from_its_own_books() {
    let dir = tempfile::tempdir().unwrap();
    let portfolio = read_json(&example_path("portfolio.json"));
    let mut account = portfolio["accounts"][0].clone();
    // The venue lists positions in another order and knows nothing of other accounts.
    account["positions"].as_array_mut().unwrap().reverse();
    account["group"] = json!("books");
    let own = json!({"version": 1, "owner": "venue", "groups": [{"name": "books", "mode": "standard"}], "accounts": [account]});
    let path = dir.path().join("venue.json");
    std::fs::write(&path, own.to_string()).unwrap();
    let venue: Value = serde_json::from_slice(&zkmargin(&["commit", "--json", "--portfolio", &text(&path)]).stdout).unwrap();
    let institution: Value =
        serde_json::from_slice(&zkmargin(&["commit", "--json", "--portfolio", &text(&example_path("portfolio.json"))]).stdout).unwrap();
    assert_eq!(venue[0]["commitment"], institution[0]["commitment"]);
}

#[test]
fn init_adds_missing_salts_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut portfolio = read_json(&example_path("portfolio.json"));
    for account in portfolio["accounts"].as_array_mut().unwrap() {
        account.as_object_mut().unwrap().remove("salt");
    }
    let path = dir.path().join("p.json");
    std::fs::write(&path, portfolio.to_string()).unwrap();
    assert_eq!(code(&zkmargin(&["commit", "--portfolio", &text(&path)])), 2, "commit needs salts");
    assert_eq!(code(&zkmargin(&["init", "--portfolio", &text(&path)])), 0);
    let salted = read_json(&path);
    let salts: std::collections::HashSet<&str> =
        salted["accounts"].as_array().unwrap().iter().map(|a| a["salt"].as_str().unwrap()).collect();
    assert_eq!(salts.len(), 3, "fresh, distinct salts");
    assert_eq!(code(&zkmargin(&["init", "--portfolio", &text(&path)])), 0);
    assert_eq!(read_json(&path), salted, "existing salts are kept");
    assert_eq!(code(&zkmargin(&["commit", "--portfolio", &text(&path)])), 0);
}
