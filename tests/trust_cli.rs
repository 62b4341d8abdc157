//! End-to-end tests of the trust layer (SPEC section 8): keys, market signatures, venue
//! attestations carried in bundles, and verifier policies.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};

mod common;
use common::*;


fn public_key(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap().trim().to_string()
}

struct World {
    dir: tempfile::TempDir,
    commitments: Vec<Value>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        for name in ["publisher", "deribit", "okx", "binance", "mallory"] {
            ok(run(&["keygen", "--out", &s(&dir.path().join(name))]));
        }
        let out = ok(run(&["commit", "--json", "--portfolio", &s(&example_path("portfolio.json"))]));
        let commitments = serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone();
        World { dir, commitments }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The venue's attestation of account `i` (key, commitment and time overridable).
    fn attest(&self, i: usize, key: &str, commitment: Option<&str>, as_of: &str) -> PathBuf {
        let row = &self.commitments[i];
        let out = self.path(&format!("att-{i}-{key}.json"));
        let commitment = commitment.unwrap_or(row["commitment"].as_str().unwrap()).to_string();
        ok(run(&[
            "attest", "--key", &s(&self.path(&format!("{key}.key"))), "--venue", row["venue"].as_str().unwrap(),
            "--account", row["account"].as_str().unwrap(), "--commitment", &commitment, "--as-of", as_of, "--out", &s(&out),
        ]));
        out
    }

    fn policy(&self, max_age: u64) -> PathBuf {
        let policy = json!({
            "publishers": [public_key(self.dir.path(), "publisher")],
            "venues": {
                "deribit": [public_key(self.dir.path(), "deribit")],
                "okx": [public_key(self.dir.path(), "okx")],
                "binance": [public_key(self.dir.path(), "binance")]
            },
            "max_age_seconds": max_age,
            "require_nonce": true
        });
        let path = self.path(&format!("policy-{max_age}.json"));
        std::fs::write(&path, policy.to_string()).unwrap();
        path
    }

    fn sign_market(&self, key: &str) -> PathBuf {
        self.sign_market_at(key, &example_path("market.json"), &format!("market-{key}.sig"))
    }

    /// `key`'s signature of `market`, written to `name` in the world.
    fn sign_market_at(&self, key: &str, market: &Path, name: &str) -> PathBuf {
        let out = self.path(name);
        ok(run(&["sign-market", "--key", &s(&self.path(&format!("{key}.key"))), "--market", &s(market), "--out", &s(&out)]));
        out
    }

    fn prove(&self, name: &str, nonce: &str, attestations: &[PathBuf]) -> (Output, PathBuf) {
        self.prove_at(&example_path("market.json"), name, nonce, attestations)
    }

    /// The example portfolio proved against `market`.
    fn prove_at(&self, market: &Path, name: &str, nonce: &str, attestations: &[PathBuf]) -> (Output, PathBuf) {
        let out = self.path(name);
        let mut args = vec![
            "prove".to_string(), "--market".into(), s(market), "--portfolio".into(), s(&example_path("portfolio.json")),
            "--level".into(), "initial".into(), "--threshold".into(), "1000".into(), "--nonce".into(), nonce.into(), "--out".into(), s(&out),
        ];
        for a in attestations {
            args.extend(["--attestation".to_string(), s(a)]);
        }
        (run(&args.iter().map(String::as_str).collect::<Vec<_>>()), out)
    }

    fn verify(&self, proof: &Path, policy: &Path, sig: Option<&Path>, nonce: Option<&str>) -> (i32, String) {
        let mut args = vec!["verify".to_string(), "--market".into(), s(&example_path("market.json")), "--proof".into(), s(proof), "--policy".into(), s(policy)];
        if let Some(sig) = sig {
            args.extend(["--market-sig".to_string(), s(sig)]);
        }
        if let Some(n) = nonce {
            args.extend(["--nonce".to_string(), n.to_string()]);
        }
        let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        (out.status.code().unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

const NONCE: &str = "5f1c0e7a9b3d24c8e6a1f0b2d4c6e8a0";
const AS_OF: &str = "2026-11-25T07:30:00Z";

#[test]
fn keys_are_written_with_a_private_secret() {
    use std::os::unix::fs::PermissionsExt;
    let world = World::new();
    let mode = std::fs::metadata(world.path("deribit.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(public_key(world.dir.path(), "deribit").len(), 64);
}

#[test]
fn attested_signed_proof_passes_the_policy_and_every_fault_is_named() {
    let world = World::new();
    let attestations = world.attest_all(AS_OF);
    let (out, proof) = world.prove("proof.json", NONCE, &attestations);
    ok(out);
    assert_eq!(read(&proof)["attestations"].as_array().unwrap().len(), 3);
    let policy = world.policy(86_400);
    let sig = world.sign_market("publisher");
    assert_eq!(world.verify(&proof, &policy, Some(&sig), Some(NONCE)).0, 0);

    // Nonce: required by the policy, and must match.
    let (code, err) = world.verify(&proof, &policy, Some(&sig), None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nonce"));
    assert_eq!(world.verify(&proof, &policy, Some(&sig), Some("00")).0, 1);

    // Market signature: required, by a listed publisher.
    let (code, err) = world.verify(&proof, &policy, None, Some(NONCE));
    assert_eq!(code, 1);
    assert!(err.contains("market signature"), "{err}");
    let mallory_sig = world.sign_market("mallory");
    let (code, err) = world.verify(&proof, &policy, Some(&mallory_sig), Some(NONCE));
    assert_eq!(code, 1);
    assert!(err.contains("market-mallory.sig") && err.contains("not a listed publisher"), "{err}");
    let mut forged = read(&sig);
    forged["digest"] = json!("00".repeat(32));
    let forged_path = world.path("forged.sig");
    std::fs::write(&forged_path, forged.to_string()).unwrap();
    assert_eq!(world.verify(&proof, &policy, Some(&forged_path), Some(NONCE)).0, 1);

    // Attestations too old for the policy.
    let strict = world.policy(60);
    let (code, err) = world.verify(&proof, &strict, Some(&sig), Some(NONCE));
    assert_eq!(code, 1);
    assert!(err.contains("deribit/sub-1") && err.contains("as_of"), "{err}");

    // An attestation altered inside the bundle no longer verifies.
    let mut tampered = read(&proof);
    tampered["attestations"][1]["as_of"] = json!("2026-11-25T07:59:00Z");
    let tampered_path = world.path("tampered.json");
    std::fs::write(&tampered_path, tampered.to_string()).unwrap();
    let (code, err) = world.verify(&tampered_path, &policy, Some(&sig), Some(NONCE));
    assert_eq!(code, 1);
    assert!(err.contains("okx/main") && err.contains("signature"), "{err}");
}

#[test]
fn missing_or_foreign_attestations_fail_the_policy() {
    let world = World::new();
    let policy = world.policy(86_400);
    let sig = world.sign_market("publisher");
    // The isolated binance account carries no attestation.
    let partial = [world.attest(0, "deribit", None, AS_OF), world.attest(1, "okx", None, AS_OF)];
    let (out, proof) = world.prove("partial.json", NONCE, &partial);
    ok(out);
    let (code, err) = world.verify(&proof, &policy, Some(&sig), Some(NONCE));
    assert_eq!(code, 1);
    assert!(err.contains("binance/iso-btc") && err.contains("no attestation"), "{err}");
    // Deribit's account attested with okx's key: a valid signature by the wrong venue.
    let wrong_key = [world.attest(0, "okx", None, AS_OF), world.attest(1, "okx", None, AS_OF), world.attest(2, "binance", None, AS_OF)];
    let (out, proof) = world.prove("wrong-key.json", NONCE, &wrong_key);
    ok(out);
    let (code, err) = world.verify(&proof, &policy, Some(&sig), Some(NONCE));
    assert_eq!(code, 1);
    assert!(err.contains("deribit/sub-1") && err.contains("not a key listed"), "{err}");
}

#[test]
fn prove_refuses_an_attestation_of_another_commitment() {
    let world = World::new();
    let other = world.commitments[1]["commitment"].as_str().unwrap().to_string();
    let wrong = world.attest(0, "deribit", Some(&other), AS_OF);
    let (out, proof) = world.prove("refused.json", NONCE, std::slice::from_ref(&wrong));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(wrong.file_name().unwrap().to_str().unwrap()) && err.contains("commitment"), "{err}");
    assert!(!proof.exists());
}

#[test]
fn bad_trust_inputs_exit_2() {
    let world = World::new();
    let out = run(&["attest", "--key", &s(&world.path("deribit.key")), "--venue", "deribit", "--account", "a", "--commitment", "zz", "--as-of", AS_OF, "--out", &s(&world.path("x.json"))]);
    assert_eq!(out.status.code(), Some(2));
    let commitment = world.commitments[0]["commitment"].as_str().unwrap();
    let out = run(&["attest", "--key", &s(&world.path("deribit.key")), "--venue", "deribit", "--account", "a", "--commitment", commitment, "--as-of", "yesterday", "--out", &s(&world.path("x.json"))]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(world.path("broken.key"), "not a key").unwrap();
    let out = run(&["sign-market", "--key", &s(&world.path("broken.key")), "--market", &s(&example_path("market.json")), "--out", &s(&world.path("x.sig"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.key"));
    std::fs::write(world.path("policy.json"), r#"{"publishers": "nope"}"#).unwrap();
    let out = run(&["verify", "--market", &s(&example_path("market.json")), "--proof", &s(&world.path("none.json")), "--policy", &s(&world.path("policy.json"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("publishers"));
}

/// Writes `value` with one more key `extra` at the top level to `name` in the world.
fn with_extra_key(world: &World, source: &Path, name: &str, extra: &str) -> PathBuf {
    let mut value = read(source);
    value.as_object_mut().unwrap().insert(extra.to_string(), json!("1"));
    let path = world.path(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

fn assert_exit_2_naming(out: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr does not mention {n:?}: {err}");
    }
}

#[test]
fn unknown_keys_in_policies_signatures_and_attestations_exit_2() {
    let world = World::new();
    let market = s(&example_path("market.json"));
    let bundle = s(&world.path("none.json"));
    let policy = with_extra_key(&world, &world.policy(3600), "typo-policy.json", "max_age_second");
    let out = run(&["verify", "--market", &market, "--proof", &bundle, "--policy", &s(&policy)]);
    assert_exit_2_naming(&out, &["typo-policy.json", "max_age_second"]);

    let sig = with_extra_key(&world, &world.sign_market("publisher"), "typo.sig", "signatur");
    let out = run(&["verify", "--market", &market, "--proof", &bundle, "--policy", &s(&world.policy(3600)), "--market-sig", &s(&sig)]);
    assert_exit_2_naming(&out, &["typo.sig", "signatur"]);

    let attestation = with_extra_key(&world, &world.attest(0, "deribit", None, AS_OF), "typo.att", "as_off");
    let (out, proof) = world.prove("typo-proof.json", NONCE, std::slice::from_ref(&attestation));
    assert_exit_2_naming(&out, &["typo.att", "as_off"]);
    assert!(!proof.exists(), "nothing is written when an input is refused");
}

#[test]
fn keys_are_never_overwritten_nor_a_public_key_used_to_sign() {
    let world = World::new();
    let secret = std::fs::read(world.path("deribit.key")).unwrap();
    let out = run(&["keygen", "--out", &s(&world.path("deribit"))]);
    assert_exit_2_naming(&out, &["deribit.key", "already exists"]);
    assert_eq!(std::fs::read(world.path("deribit.key")).unwrap(), secret, "the secret key is untouched");

    let market = s(&example_path("market.json"));
    let out = run(&["sign-market", "--key", &s(&world.path("publisher.pub")), "--market", &market, "--out", &s(&world.path("x.sig"))]);
    assert_exit_2_naming(&out, &["publisher.pub", "public key"]);
    assert!(!world.path("x.sig").exists());
    let commitment = world.commitments[0]["commitment"].as_str().unwrap();
    let out = run(&[
        "attest", "--key", &s(&world.path("deribit.pub")), "--venue", "deribit", "--account", "sub-1", "--commitment", commitment,
        "--as-of", AS_OF, "--out", &s(&world.path("x.json")),
    ]);
    assert_exit_2_naming(&out, &["deribit.pub", "public key"]);
    // A public key renamed to NAME.key, beside its NAME.pub: not the secret of that key.
    let public = std::fs::read(world.path("okx.pub")).unwrap();
    std::fs::write(world.path("renamed.key"), &public).unwrap();
    std::fs::write(world.path("renamed.pub"), &public).unwrap();
    let out = run(&["sign-market", "--key", &s(&world.path("renamed.key")), "--market", &market, "--out", &s(&world.path("x.sig"))]);
    assert_exit_2_naming(&out, &["renamed.key", "not the secret key of"]);
    assert!(!world.path("x.sig").exists());
}

#[test]
fn policy_keys_and_limits_are_checked_when_the_policy_is_read() {
    let world = World::new();
    let good = read(&world.policy(3600));
    let cases = [
        ("/publishers", json!(["zz"]), "publishers[0]"),
        ("/publishers", json!([public_key(world.dir.path(), "publisher"), "ab".repeat(31)]), "publishers[1]"),
        ("/venues", json!({"okx": ["not a key"]}), "venues.okx[0]"),
        ("/publisher_quorum", json!(0), "publisher_quorum"),
        ("/nonce_ttl_seconds", json!(10_000_000_000u64), "nonce_ttl_seconds"),
        ("/max_k", json!(0), "max_k"),
    ];
    for (i, (pointer, value, field)) in cases.into_iter().enumerate() {
        let mut policy = good.clone();
        match policy.pointer_mut(pointer) {
            Some(slot) => *slot = value,
            None => {
                policy.as_object_mut().unwrap().insert(pointer[1..].to_string(), value);
            }
        }
        let path = world.path(&format!("bad-policy-{i}.json"));
        std::fs::write(&path, policy.to_string()).unwrap();
        let out = run(&["verify", "--market", &s(&example_path("market.json")), "--proof", &s(&world.path("none.json")), "--policy", &s(&path)]);
        assert_exit_2_naming(&out, &[&format!("bad-policy-{i}.json"), field]);
    }
}

#[test]
fn each_market_signature_counts_for_the_market_it_signs() {
    let world = World::new();
    let attestations = world.attest_all(AS_OF);
    let (out, proof_a) = world.prove("a.json", NONCE, &attestations);
    ok(out);
    let sig_a = world.sign_market("publisher");
    // A second snapshot (the example under another id, so another digest), proved and signed.
    let mut market_b = read(&example_path("market.json"));
    market_b["id"] = json!("example-b");
    let market_b_path = world.path("market-b.json");
    std::fs::write(&market_b_path, market_b.to_string()).unwrap();
    let (out, proof_b) = world.prove_at(&market_b_path, "b.json", NONCE, &attestations);
    ok(out);
    let sig_b = world.sign_market_at("publisher", &market_b_path, "market-b.sig");

    let (market_a, policy) = (s(&example_path("market.json")), s(&world.policy(86_400)));
    let both = |sigs: &[&Path]| {
        let mut args = vec![
            "verify".to_string(), "--market".into(), market_a.clone(), "--market".into(), s(&market_b_path), "--proof".into(), s(&proof_a),
            "--proof".into(), s(&proof_b), "--policy".into(), policy.clone(), "--nonce".into(), NONCE.into(),
        ];
        for sig in sigs {
            args.extend(["--market-sig".to_string(), s(sig)]);
        }
        run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    // Each bundle is checked against its own market's signature; the other's is not "wrong".
    ok(both(&[&sig_a, &sig_b]));
    // A bundle whose market nobody signed fails, naming the policy's requirement.
    let out = both(&[&sig_a]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("b.json") && err.contains("market signature") && !err.contains("a.json: "), "{err}");
    // A signature over neither market is still named as wrong for both.
    let mut forged = read(&sig_a);
    forged["digest"] = json!("00".repeat(32));
    let forged_path = world.path("forged.sig");
    std::fs::write(&forged_path, forged.to_string()).unwrap();
    let out = both(&[&sig_a, &sig_b, &forged_path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("forged.sig"));
}

#[test]
fn a_market_signature_without_a_policy_is_still_checked() {
    let world = World::new();
    let (out, proof) = world.prove("plain.json", NONCE, &[]);
    ok(out);
    let market = s(&example_path("market.json"));
    let verify = |sig: &Path| run(&["verify", "--market", &market, "--proof", &s(&proof), "--market-sig", &s(sig)]);
    ok(verify(&world.sign_market("mallory")));
    let mut altered = read(&world.sign_market("publisher"));
    let last = if altered["signature"].as_str().unwrap().ends_with('0') { "1" } else { "0" };
    let mut signature = altered["signature"].as_str().unwrap().to_string();
    signature.replace_range(127.., last);
    altered["signature"] = json!(signature);
    let altered_path = world.path("altered.sig");
    std::fs::write(&altered_path, altered.to_string()).unwrap();
    let out = verify(&altered_path);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("altered.sig") && err.contains("does not verify"), "{err}");
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.contains("plain.json: invalid: market signature") && line.contains("altered.sig"), "one verdict line per bundle: {line}");
    altered["digest"] = json!("00".repeat(32));
    std::fs::write(&altered_path, altered.to_string()).unwrap();
    let out = verify(&altered_path);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a given market"));
}

impl World {
    /// Every account's attestation by its own venue, as of `as_of`.
    fn attest_all(&self, as_of: &str) -> Vec<PathBuf> {
        ["deribit", "okx", "binance"].iter().enumerate().map(|(i, k)| self.attest(i, k, None, as_of)).collect()
    }

    /// The policy of [`World::policy`] (max age one day) with `extra` fields set, written
    /// to `name`.
    fn policy_with(&self, name: &str, extra: Value) -> PathBuf {
        let mut policy = read(&self.policy(86_400));
        for (k, v) in extra.as_object().unwrap() {
            policy[k] = v.clone();
        }
        let path = self.path(name);
        std::fs::write(&path, policy.to_string()).unwrap();
        path
    }

    /// `bundle` with its attestations re-dated (one time per account, in portfolio
    /// order), written to `name`: attestations are beside the proof, not bound by it.
    fn redated(&self, bundle: &Path, times: [&str; 3], name: &str) -> PathBuf {
        let mut b = read(bundle);
        let keys = ["deribit", "okx", "binance"];
        b["attestations"] = json!((0..3).map(|i| read(&self.attest(i, keys[i], None, times[i]))).collect::<Vec<_>>());
        let path = self.path(name);
        std::fs::write(&path, b.to_string()).unwrap();
        path
    }

    /// `verify --policy` of `proof` with the publisher's signature and the nonce, plus `args`.
    fn verify_with(&self, proof: &Path, policy: &Path, args: &[&str]) -> (i32, String) {
        let sig = self.sign_market("publisher");
        let mut all = vec!["verify", "--market"];
        let (market, proof, policy, sig) = (s(&example_path("market.json")), s(proof), s(policy), s(&sig));
        all.extend([market.as_str(), "--proof", &proof, "--policy", &policy, "--market-sig", &sig, "--nonce", NONCE]);
        all.extend(args);
        let out = run(&all);
        (out.status.code().unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn a_stale_market_and_a_late_attestation_are_refused_by_the_policy() {
    // The example market is dated 2026-11-25T08:00:00Z.
    let world = World::new();
    let attestations = world.attest_all(AS_OF);
    let (out, proof) = world.prove("fresh.json", NONCE, &attestations);
    ok(out);
    let hour = world.policy_with("hour.json", json!({"max_market_age_seconds": 3600}));
    assert_eq!(world.verify_with(&proof, &hour, &["--at", "2026-11-25T09:00:00Z"]).0, 0);
    assert_eq!(world.verify_with(&proof, &hour, &["--at", "2026-11-25T10:00:00+01:00"]).0, 0, "any RFC 3339 offset");
    let (code, err) = world.verify_with(&proof, &hour, &["--at", "2026-11-25T09:00:01Z"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("example-btc") && err.contains("3601 s old") && err.contains("max_market_age_seconds"), "{err}");
    // Without --at, the age is measured now (after the example's date).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    if now > 1_795_593_600 + 3600 {
        assert_eq!(world.verify_with(&proof, &hour, &[]).0, 1);
    }
    // A market dated more than 300 s ahead of the verifier's clock.
    assert_eq!(world.verify_with(&proof, &hour, &["--at", "2026-11-25T07:55:00Z"]).0, 0);
    let (code, err) = world.verify_with(&proof, &hour, &["--at", "2026-11-25T07:54:59Z"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("301 s after the verifier's clock"), "{err}");
    // A policy without the field does not limit the market's age.
    assert_eq!(world.verify_with(&proof, &world.policy(86_400), &["--at", "2030-01-01T00:00:00Z"]).0, 0);
    let (code, err) = world.verify_with(&proof, &hour, &["--at", "tomorrow"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--at"), "{err}");

    // An attestation dated after the market: 300 s of skew by default, no more.
    let policy = world.policy(86_400);
    let within = world.redated(&proof, [AS_OF, "2026-11-25T08:05:00Z", AS_OF], "within.json");
    assert_eq!(world.verify_with(&within, &policy, &[]).0, 0);
    let late = world.redated(&proof, [AS_OF, "2026-11-25T08:05:01Z", AS_OF], "late.json");
    let (code, err) = world.verify_with(&late, &policy, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("okx/main") && err.contains("max_attestation_skew_seconds (300)"), "{err}");
    let lenient = world.policy_with("lenient.json", json!({"max_attestation_skew_seconds": 3600}));
    assert_eq!(world.verify_with(&late, &lenient, &[]).0, 0);
}

#[test]
fn attestations_taken_at_different_times_are_refused_beyond_the_spread() {
    let world = World::new();
    let (out, proof) = world.prove("spread.json", NONCE, &world.attest_all(AS_OF));
    ok(out);
    // deribit's books at 07:30, okx's at 07:50: collateral moved from the first to the
    // second in between would count in both.
    let spread = world.redated(&proof, [AS_OF, "2026-11-25T07:50:00Z", AS_OF], "spread-20min.json");
    assert_eq!(world.verify_with(&spread, &world.policy(86_400), &[]).0, 0, "absent: not limited");
    let window = world.policy_with("window.json", json!({"max_attestation_spread_seconds": 60}));
    let (code, err) = world.verify_with(&spread, &window, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("1200 s") && err.contains("okx/main as of 2026-11-25T07:50:00Z") && err.contains("max_attestation_spread_seconds"), "{err}");
    assert_eq!(world.verify_with(&proof, &window, &[]).0, 0, "one cut-off for every account");
}
