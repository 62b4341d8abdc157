//! The lender's verifier through the binary (SPEC section 6, `verify` extensions; issue 8):
//! many bundles in one call, batches with a tampered bundle, repeated markets, level,
//! account and vacuous-statement refusals, netting policies, bounded cost and malformed
//! input.
//!
//! Bundles are proven here from the example (four small proofs, made once per run and
//! shared by every test), never stored: the circuit and the encodings change.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::*;

fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(file)
}

fn write(p: &Path, v: &Value) -> PathBuf {
    std::fs::write(p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p.to_path_buf()
}




fn public_key(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap().trim().to_string()
}

/// Bundles proven once for the whole test binary.
struct Fixture {
    dir: PathBuf,
    /// The example market.
    market: PathBuf,
    /// The example market under another id (another digest).
    market2: PathBuf,
    /// A third market no bundle is about.
    market3: PathBuf,
    /// Example portfolio, initial level, threshold 1000, nonce "aa..", venue attestations inside.
    init_a: PathBuf,
    /// Example portfolio, initial level, threshold 2000, nonce "bb..".
    init_b: PathBuf,
    /// Every account in its own group, initial level, threshold 0, attestations inside.
    isolated: PathBuf,
    /// Example portfolio on `market2`, maintenance level.
    maint2: PathBuf,
    /// The publisher's signature of `market`.
    market_sig: PathBuf,
}

impl Fixture {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A policy trusting the fixture's keys, with the given netting (None: field absent).
    fn policy(&self, netting: Option<&str>) -> PathBuf {
        let key = |n| public_key(&self.dir, n);
        let mut policy = json!({
            "publishers": [key("publisher")],
            "venues": {"deribit": [key("deribit")], "okx": [key("okx")], "binance": [key("binance")]},
            "max_age_seconds": 86400,
            "require_nonce": false
        });
        if let Some(n) = netting {
            policy["netting"] = json!(n);
        }
        write(&self.path(&format!("policy-{}.json", netting.unwrap_or("default"))), &policy)
    }
}

fn prove(dir: &Path, market: &Path, portfolio: &Path, level: &str, threshold: &str, nonce: &str, out: &str) -> PathBuf {
    let out = dir.join(out);
    ok(run(&[
        "prove", "--market", &s(market), "--portfolio", &s(portfolio), "--level", level, "--threshold", threshold,
        "--nonce", nonce, "--out", &s(&out),
    ]));
    out
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("verify-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let market = example("market.json");
        let mut m2 = read(&market);
        m2["id"] = json!("example-second-market");
        let market2 = write(&dir.join("market2.json"), &m2);
        m2["id"] = json!("example-third-market");
        let market3 = write(&dir.join("market3.json"), &m2);
        let portfolio = example("portfolio.json");
        let mut iso = read(&portfolio);
        iso["groups"] = json!([
            {"name": "g-deribit", "mode": "portfolio"},
            {"name": "g-okx", "mode": "portfolio"},
            {"name": "iso-perp", "mode": "standard"}
        ]);
        iso["accounts"][0]["group"] = json!("g-deribit");
        iso["accounts"][1]["group"] = json!("g-okx");
        // Alone, the deribit account is underwater (the point of a netting rule): fund it.
        iso["accounts"][0]["collateral"][1]["amount"] = json!("50000");
        let iso_path = write(&dir.join("isolated-portfolio.json"), &iso);

        let init_a = prove(&dir, &market, &portfolio, "initial", "1000", &"aa".repeat(32), "init-a.json");
        let init_b = prove(&dir, &market, &portfolio, "initial", "2000", &"bb".repeat(32), "init-b.json");
        let isolated = prove(&dir, &market, &iso_path, "initial", "0", &"cc".repeat(32), "isolated.json");
        let maint2 = prove(&dir, &market2, &portfolio, "maintenance", "1000", &"dd".repeat(32), "maint2.json");

        // Trust layer: the publisher signs the market, each venue attests its account;
        // the attestations are added to two bundles (they are not bound by the proof).
        for name in ["publisher", "deribit", "okx", "binance"] {
            ok(run(&["keygen", "--out", &s(&dir.join(name))]));
        }
        let market_sig = dir.join("market.sig");
        ok(run(&["sign-market", "--key", &s(&dir.join("publisher.key")), "--market", &s(&market), "--out", &s(&market_sig)]));
        let attest = |portfolio: &Path, tag: &str| {
            let commits: Value = serde_json::from_slice(&ok(run(&["commit", "--json", "--portfolio", &s(portfolio)])).stdout).unwrap();
            let mut attestations = Vec::new();
            for (i, row) in commits.as_array().unwrap().iter().enumerate() {
                let venue = row["venue"].as_str().unwrap();
                let out = dir.join(format!("att-{tag}-{i}.json"));
                ok(run(&[
                    "attest", "--key", &s(&dir.join(format!("{venue}.key"))), "--venue", venue, "--account",
                    row["account"].as_str().unwrap(), "--commitment", row["commitment"].as_str().unwrap(), "--as-of",
                    "2026-11-25T07:30:00Z", "--out", &s(&out),
                ]));
                attestations.push(read(&out));
            }
            attestations
        };
        for (bundle, portfolio) in [(&init_a, &portfolio), (&isolated, &iso_path)] {
            let mut b = read(bundle);
            b["attestations"] = json!(attest(portfolio, bundle.file_stem().unwrap().to_str().unwrap()));
            write(bundle, &b);
        }
        Fixture { dir, market, market2, market3, init_a, init_b, isolated, maint2, market_sig }
    })
}

fn verify(args: &[&str]) -> Output {
    let mut all = vec!["verify"];
    all.extend(args);
    run(&all)
}

fn json_lines(out: &Output) -> Vec<Value> {
    stdout(out).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_batch_of_valid_bundles_is_valid_line_by_line() {
    let f = fixture();
    let (m, m2) = (s(&f.market), s(&f.market2));
    let bundles = [s(&f.init_a), s(&f.init_b), s(&f.isolated), s(&f.maint2)];
    let mut args = vec!["--market", &m, "--market", &m2];
    for b in &bundles {
        args.extend(["--proof", b.as_str()]);
    }
    let out = verify(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(String::from).collect();
    assert_eq!(lines.len(), bundles.len(), "one line per bundle: {lines:?}");
    for (line, b) in lines.iter().zip(&bundles) {
        assert!(line.starts_with(&format!("{b}: valid")), "{line}");
    }
    assert!(lines[0].contains("1000.000000") && lines[1].contains("2000.000000"), "{lines:?}");

    args.push("--json");
    let out = verify(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let objects = json_lines(&out);
    assert_eq!(objects.len(), 4);
    assert_eq!(objects[0]["file"], json!(bundles[0]));
    assert_eq!(objects[0]["valid"], json!(true));
    assert_eq!(objects[0]["reason"], Value::Null);
    assert_eq!(objects[0]["level"], json!("initial"));
    assert_eq!(objects[0]["threshold"], json!("1000.000000"));
    assert_eq!(objects[3]["level"], json!("maintenance"));
    let accounts = objects[0]["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3);
    assert_eq!((accounts[0]["venue"].as_str(), accounts[0]["account"].as_str()), (Some("deribit"), Some("sub-1")));
}

#[test]
fn a_tampered_bundle_in_the_middle_of_a_batch_is_the_only_one_named() {
    let f = fixture();
    // Same market, level and shape: one batch. The middle one's proof has a flipped byte.
    let mut bad = read(&f.init_b);
    let mut proof = hex::decode(bad["proof"].as_str().unwrap()).unwrap();
    let at = proof.len() / 3;
    proof[at] ^= 0x04;
    bad["proof"] = json!(hex::encode(proof));
    let bad = write(&f.path("tampered-middle.json"), &bad);
    let copy = f.path("init-a-copy.json");
    std::fs::copy(&f.init_a, &copy).unwrap();
    let (m, a, b, c) = (s(&f.market), s(&f.init_a), s(&bad), s(&copy));
    let out = verify(&["--market", &m, "--proof", &a, "--proof", &b, "--proof", &c, "--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let verdicts = json_lines(&out);
    let valid: Vec<bool> = verdicts.iter().map(|v| v["valid"].as_bool().unwrap()).collect();
    assert_eq!(valid, [true, false, true]);
    assert!(verdicts[1]["reason"].as_str().unwrap().contains("does not verify"), "{}", verdicts[1]);
    let err = stderr(&out);
    assert!(err.contains(&b) && !err.contains(&format!("{a}:")) && !err.contains(&format!("{c}:")), "{err}");
}

#[test]
fn each_bundle_is_checked_against_the_market_it_names() {
    let f = fixture();
    let (m, m2, m3) = (s(&f.market), s(&f.market2), s(&f.market3));
    let (a, d) = (s(&f.init_a), s(&f.maint2));
    let out = verify(&["--market", &m2, "--market", &m, "--proof", &a, "--proof", &d]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // The second bundle's market is not given: invalid, saying so; the first is valid.
    let out = verify(&["--market", &m, "--market", &m3, "--proof", &a, "--proof", &d, "--json"]);
    assert_eq!(code(&out), 1);
    let verdicts = json_lines(&out);
    assert_eq!(verdicts[0]["valid"], json!(true));
    assert_eq!(verdicts[1]["valid"], json!(false));
    let reason = verdicts[1]["reason"].as_str().unwrap();
    assert!(reason.contains("example-second-market") && reason.contains("not one of the markets given"), "{reason}");
    // With one market given, a bundle about another names both.
    let out = verify(&["--market", &m, "--proof", &d]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("example-second-market"), "{}", stderr(&out));
    // An unreadable market or bundle file: exit 2, naming it.
    let missing = s(&f.path("no-such-market.json"));
    let out = verify(&["--market", &m, "--market", &missing, "--proof", &a]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no-such-market.json"), "{}", stderr(&out));
    let missing = s(&f.path("no-such-bundle.json"));
    let out = verify(&["--market", &m, "--proof", &a, "--proof", &missing]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no-such-bundle.json"), "{}", stderr(&out));
}

#[test]
fn the_level_asked_for_is_enforced() {
    let f = fixture();
    let (m, m2, a, d) = (s(&f.market), s(&f.market2), s(&f.init_a), s(&f.maint2));
    assert_eq!(code(&verify(&["--market", &m, "--proof", &a, "--level", "initial"])), 0);
    let out = verify(&["--market", &m, "--proof", &a, "--level", "maintenance"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("initial level, not the required maintenance level"), "{}", stderr(&out));
    // Initial is the stricter level: accepted for maintenance only when the lender says so.
    let out = verify(&["--market", &m, "--proof", &a, "--level", "maintenance", "--level-at-least"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = verify(&["--market", &m, "--proof", &a, "--level-at-least", "maintenance"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = verify(&["--market", &m2, "--proof", &d, "--level", "initial", "--level-at-least"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("maintenance level, not the required initial level"), "{}", stderr(&out));
    assert_eq!(code(&verify(&["--market", &m, "--proof", &a, "--level", "bogus"])), 2);
}

#[test]
fn an_initial_proof_answers_a_maintenance_request_only_on_a_monotone_market() {
    // A market whose maintenance loss factor (3.0) is above its initial one (1.0): the
    // example book meets initial margin and fails maintenance margin there.
    let f = fixture();
    let mut lax = read(&f.market);
    lax["id"] = json!("lax-initial");
    lax["loss_factor"]["maintenance"] = json!("3.0");
    let market = write(&f.path("lax-market.json"), &lax);
    let report: Value =
        serde_json::from_slice(&ok(run(&["margin", "--json", "--market", &s(&market), "--portfolio", &s(&example("portfolio.json"))])).stdout)
            .unwrap();
    assert!(report["total"]["maintenance_excess"].as_str().unwrap().starts_with('-'), "{report}");
    let proof = prove(&f.dir, &market, &example("portfolio.json"), "initial", "1000", &"ee".repeat(32), "lax-initial.json");
    let (m, p) = (s(&market), s(&proof));
    assert_eq!(code(&verify(&["--market", &m, "--proof", &p, "--level", "initial"])), 0);
    for args in [&["--level", "maintenance", "--level-at-least"][..], &["--level-at-least", "maintenance"][..]] {
        let mut all = vec!["--market", &m, "--proof", &p];
        all.extend(args);
        let out = verify(&all);
        assert_eq!(code(&out), 1, "{args:?}: {}", stdout(&out));
        assert!(stderr(&out).contains("not monotone") && stderr(&out).contains("lax-initial"), "{}", stderr(&out));
        all.push("--json");
        let line = &json_lines(&verify(&all))[0];
        assert_eq!(line["valid"], false);
        assert!(line["reason"].as_str().unwrap().contains("monotone"), "{line}");
    }
}

#[test]
fn the_accounts_asked_for_must_be_in_the_statement() {
    let f = fixture();
    let (m, a) = (s(&f.market), s(&f.init_a));
    let out = verify(&["--market", &m, "--proof", &a, "--account", "deribit/sub-1", "--account", "binance/iso-btc"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = verify(&["--market", &m, "--proof", &a, "--account", "deribit/sub-1", "--account", "deribit/sub-9"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("deribit/sub-9 is not in the statement"), "{}", stderr(&out));
    assert_eq!(code(&verify(&["--market", &m, "--proof", &a, "--account", "no-slash"])), 2);
}

#[test]
fn vacuous_statements_are_invalid() {
    let f = fixture();
    let original = read(&f.init_a);
    let mut none = original.clone();
    none["statement"]["accounts"] = json!([]);
    let mut empty_group = original.clone();
    empty_group["statement"]["groups"].as_array_mut().unwrap().push(json!({"name": "ghost", "mode": "portfolio"}));
    for (name, bundle, why) in [("no-accounts.json", none, "no account"), ("ghost-group.json", empty_group, "\"ghost\" has no account")] {
        let path = write(&f.path(name), &bundle);
        let out = verify(&["--market", &s(&f.market), "--proof", &s(&path)]);
        assert_eq!(code(&out), 1, "{name}");
        assert!(stderr(&out).contains("vacuous statement") && stderr(&out).contains(why), "{}", stderr(&out));
    }
}

#[test]
fn each_netting_policy_accepts_and_refuses() {
    let f = fixture();
    let (m, sig) = (s(&f.market), s(&f.market_sig));
    let (cross, iso) = (s(&f.init_a), s(&f.isolated));
    for (netting, cross_ok) in [(None, true), (Some("cross-venue"), true), (Some("within-venue"), false), (Some("isolated"), false)] {
        let policy = s(&f.policy(netting));
        let out = verify(&["--market", &m, "--market-sig", &sig, "--policy", &policy, "--proof", &cross, "--proof", &iso, "--json"]);
        let verdicts = json_lines(&out);
        assert_eq!(verdicts[1]["valid"], json!(true), "{netting:?}: {}", verdicts[1]);
        assert_eq!(verdicts[0]["valid"], json!(cross_ok), "{netting:?}: {}", verdicts[0]);
        assert_eq!(code(&out), if cross_ok { 0 } else { 1 });
        if !cross_ok {
            let reason = verdicts[0]["reason"].as_str().unwrap();
            assert!(reason.contains("netting") && reason.contains("\"cross\""), "{reason}");
        }
    }
    // A policy with an unknown netting rule is bad input.
    let mut policy = read(&f.policy(None));
    policy["netting"] = json!("anything-goes");
    let policy = write(&f.path("policy-bogus.json"), &policy);
    assert_eq!(code(&verify(&["--market", &m, "--market-sig", &sig, "--policy", &s(&policy), "--proof", &cross])), 2);
}

#[test]
fn a_bundle_claiming_a_large_k_is_refused_at_once_without_parameters() {
    let f = fixture();
    let empty = tempfile::tempdir().unwrap();
    let original = read(&f.init_a);
    let mut cases = vec![];
    let mut big = original.clone();
    big["circuit"]["k"] = json!(18);
    cases.push(("k18.json", big.clone(), vec![], "above the verifier's limit of 16"));
    cases.push(("k18-allowed.json", big, vec!["--max-k", "18"], "above what its shape needs"));
    let mut wide = original.clone();
    wide["circuit"]["accounts"] = json!(64);
    cases.push(("wide.json", wide, vec!["--max-k", "18"], "needs 4 and 2"));
    for (name, bundle, extra, why) in cases {
        let path = write(&f.path(name), &bundle);
        let (m, p) = (s(&f.market), s(&path));
        let mut args = vec!["verify", "--market", &m, "--proof", &p];
        args.extend(extra);
        let started = Instant::now();
        let out = run_with(empty.path(), &args);
        let elapsed = started.elapsed();
        assert_eq!(code(&out), 1, "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{name}: {}", stderr(&out));
        assert!(elapsed < Duration::from_millis(900), "{name}: took {elapsed:?}");
        assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0, "{name}: a parameter file was written");
    }
}

#[test]
fn malformed_json_and_hex_are_refused_without_panics() {
    let f = fixture();
    let m = s(&f.market);
    let text = std::fs::read_to_string(&f.init_a).unwrap();
    let original = read(&f.init_a);
    let proof = original["proof"].as_str().unwrap().to_string();
    // Not JSON (a truncated file): bad input, exit 2, naming the file.
    let truncated = f.path("truncated.json");
    std::fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    let out = verify(&["--market", &m, "--proof", &s(&truncated)]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("truncated.json"), "{}", stderr(&out));
    // JSON with broken values: invalid, exit 1.
    let edits: Vec<(&str, Value, &str)> = vec![
        ("/proof", json!(&proof[..proof.len() - 1]), "not hex"),
        ("/proof", json!(&proof[..proof.len() / 2]), "does not verify"),
        ("/proof", json!(""), "does not verify"),
        ("/proof", json!(format!("{proof}zz")), "not hex"),
        ("/statement/accounts/0/commitment", json!(&original["statement"]["accounts"][0]["commitment"].as_str().unwrap()[..63]), "not a field element"),
        ("/market/digest", json!("abc"), "not one of|digest"),
        ("/statement/threshold", json!("1e9"), "threshold"),
        ("/circuit/k", json!(-1), "not a valid proof bundle"),
        ("/circuit", json!(null), "not a valid proof bundle"),
        ("/proof", json!("00".repeat(2_200_000)), "over the 4 MB limit"),
    ];
    for (pointer, value, why) in edits {
        let mut bundle = original.clone();
        *bundle.pointer_mut(pointer).unwrap() = value;
        let path = write(&f.path("malformed.json"), &bundle);
        let out = verify(&["--market", &m, "--proof", &s(&path)]);
        assert_eq!(code(&out), 1, "{pointer}: {}", stderr(&out));
        assert!(why.split('|').any(|w| stderr(&out).contains(w)), "{pointer}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{pointer}: {}", stderr(&out));
    }
}
