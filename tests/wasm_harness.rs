//! The WebAssembly verifier through its plain-Node harness (`verifier/js/verify.mjs`) on a
//! valid and a tampered bundle. Skips, saying why, when node or the wasm32 target is not
//! installed (`.ci/wasm.sh` runs the same checks and does not skip).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn available() -> Result<(), String> {
    Command::new("node").arg("--version").output().map_err(|_| "node is not installed".to_string())?;
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|_| "rustup is not installed".to_string())?;
    if !String::from_utf8_lossy(&targets.stdout).contains("wasm32-unknown-unknown") {
        return Err("the wasm32-unknown-unknown target is not installed (rustup target add wasm32-unknown-unknown)".into());
    }
    Ok(())
}

fn node(wasm: &Path, args: &[&str]) -> Output {
    Command::new("node")
        .arg(root().join("verifier/js/verify.mjs"))
        .args(args)
        .env("ZKMARGIN_WASM", wasm)
        .env("ZKMARGIN_PARAMS", Path::new(env!("CARGO_TARGET_TMPDIR")).join("params"))
        .output()
        .unwrap()
}

/// Proves the example portfolio on `market` at the initial level, threshold 1000.
fn prove(market: &Path, out: &Path) {
    let out = assert_cmd::Command::cargo_bin("zkmargin")
        .unwrap()
        .env("ZKMARGIN_PARAMS", Path::new(env!("CARGO_TARGET_TMPDIR")).join("params"))
        .args(["prove", "--market"])
        .arg(market)
        .args(["--portfolio"])
        .arg(root().join("examples/portfolio.json"))
        .args(["--level", "initial", "--threshold", "1000", "--min-ratio", "1.5", "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_wasm_verifier_accepts_a_valid_bundle_and_refuses_a_tampered_one() {
    if let Err(why) = available() {
        eprintln!("skipping the WebAssembly harness test: {why}");
        return;
    }
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().to_path_buf();
    let build = Command::new(env!("CARGO"))
        .current_dir(root())
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "-p", "zkmargin-verifier", "--release", "--target", "wasm32-unknown-unknown", "--no-default-features"])
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    let wasm = target.join("wasm32-unknown-unknown/release/zkmargin_verifier.wasm");

    let dir = tempfile::tempdir().unwrap();
    let market = root().join("examples/market.json");
    let proof = dir.path().join("proof.json");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    prove(&market, &proof);

    let out = node(&wasm, &[&s(&market), &s(&proof), "--level", "initial", "--threshold", "1000"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));

    let bundle: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    let mut tampered = bundle.clone();
    let mut bytes = hex::decode(bundle["proof"].as_str().unwrap()).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    tampered["proof"] = json!(hex::encode(bytes));
    let mut raised = bundle.clone();
    raised["statement"]["threshold"] = json!("1000.000001");
    let mut covenant = bundle.clone();
    covenant["statement"]["min_ratio"] = json!("1.600000");
    for (name, bad) in [("tampered", tampered), ("raised", raised), ("covenant raised", covenant)] {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, bad.to_string()).unwrap();
        let out = node(&wasm, &[&s(&market), &s(&path)]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("invalid"), "{name}");
    }
    // What the lender asks is enforced in WebAssembly too, covenants included.
    let out = node(&wasm, &[&s(&market), &s(&proof), "--level", "maintenance"]);
    assert_eq!(out.status.code(), Some(1));
    let out = node(&wasm, &[&s(&market), &s(&proof), "--min-ratio", "1.5"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    for covenant in [["--min-ratio", "1.6"], ["--max-leverage", "10"]] {
        let out = node(&wasm, &[&s(&market), &s(&proof), covenant[0], covenant[1]]);
        assert_eq!(out.status.code(), Some(1), "{covenant:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&covenant[0][2..].replace('-', "_")), "{covenant:?}: {text}");
    }
    // An initial-level proof for a maintenance request only on a monotone market: on one
    // whose maintenance loss factor is above its initial one, refused with that reason.
    let out = node(&wasm, &[&s(&market), &s(&proof), "--level", "maintenance", "--level-at-least"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let mut lax: Value = serde_json::from_str(&std::fs::read_to_string(&market).unwrap()).unwrap();
    lax["id"] = json!("lax-initial");
    lax["loss_factor"]["maintenance"] = json!("3.0");
    let lax_market = dir.path().join("lax-market.json");
    std::fs::write(&lax_market, lax.to_string()).unwrap();
    let lax_proof = dir.path().join("lax-proof.json");
    prove(&lax_market, &lax_proof);
    let out = node(&wasm, &[&s(&lax_market), &s(&lax_proof), "--level", "maintenance", "--level-at-least", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not monotone"), "{}", String::from_utf8_lossy(&out.stdout));
    let out = node(&wasm, &[&s(&market), &s(&dir.path().join("missing.json"))]);
    assert_eq!(out.status.code(), Some(2));
}
