//! On-chain use, step 1 (issue 21), end to end: a lender contract in a real EVM (revm,
//! the committed artifacts) extends credit only after a quorum of two verifier services —
//! two `zkmargin serve` processes on loopback with different secp256k1 keys, each
//! verifying the proof itself — signed the verdict. Also `keygen --scheme secp256k1`,
//! `evm verdict`, `evm calldata` and `evm check` with their exit codes.

use std::path::{Path, PathBuf};
use std::process::Child;

use serde_json::{json, Value};
use zkmargin_evm::alloy_sol_types::{self, SolCall, SolError, SolValue};
use zkmargin_evm::{abi, Address, SignedVerdict, B256, U256};

mod common;
use common::*;

#[path = "../evm/tests/support/chain.rs"]
mod chain;
use chain::{lender_artifact, registry_artifact, Chain, Outcome};

const AS_OF: &str = "2026-11-25T07:30:00Z";
/// The example market's `as_of` (2026-11-25T08:00:00Z), Unix seconds.
const MARKET_AS_OF: u64 = 1_795_593_600;
const CHAIN: u64 = 31337;
const TTL: u64 = 3_600;
/// The lender's least proven excess: 1,000 (units of 10^-6).
const MIN_THRESHOLD: u64 = 1_000_000_000;

alloy_sol_types::sol! {
    #![sol(alloy_sol_types = zkmargin_evm::alloy_sol_types)]
    function nonceFor(address borrower, uint256 loanId) returns (bytes32);
    function borrow(uint256 loanId, uint256 amount);
    function credit(address borrower) returns (uint256);
    error NotCovered(bytes32 nonce);
}

fn deployer() -> Address {
    Address::from([0xde; 20])
}

fn borrower() -> Address {
    Address::from([0xb0; 20])
}

/// A `zkmargin serve` process with its own database and EVM key.
struct Service {
    child: Child,
    base: String,
}

impl Service {
    fn start(dir: &Path, name: &str, policy: &Path, evm_key: Option<&Path>) -> Service {
        let (db, policy) = (s(&dir.join(format!("{name}.db"))), s(policy));
        let mut args = vec!["--listen", "127.0.0.1:0", "--db", &db, "--policy", &policy, "--workers", "1"];
        let key = evm_key.map(s);
        if let Some(key) = &key {
            args.extend(["--evm-key", key.as_str()]);
        }
        let (child, base) = spawn_serve(&args);
        Service { child, base }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}


fn address_of(pub_file: &Path) -> Address {
    std::fs::read_to_string(pub_file).unwrap().trim().parse().unwrap()
}

/// The submit id printed by `zkmargin submit`.
fn submit(server: &str, bundle: &Path) -> Value {
    let out = run(&["submit", "--server", server, "--proof", &s(bundle)]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| json!({"stderr": stderr(&out), "code": code(&out)}))
}

fn lender_nonce(chain: &mut Chain, lender: Address, loan: u64) -> B256 {
    let out = chain.call(borrower(), lender, nonceForCall { borrower: borrower(), loanId: U256::from(loan) }.abi_encode());
    B256::from_slice(out.output())
}

fn credit_of(chain: &mut Chain, lender: Address) -> U256 {
    U256::from_be_slice(chain.call(borrower(), lender, creditCall { borrower: borrower() }.abi_encode()).output())
}

#[test]
fn a_lender_extends_credit_only_after_a_quorum_of_two_services_signed() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);

    // Keys: the publisher and venues (Ed25519), three verifier services (secp256k1).
    for name in ["publisher", "deribit", "okx", "binance"] {
        ok(run(&["keygen", "--out", &s(&path(name))]));
    }
    for name in ["svc-a", "svc-b", "svc-c"] {
        let out = ok(run(&["keygen", "--scheme", "secp256k1", "--out", &s(&path(name))]));
        let address = address_of(&path(&format!("{name}.pub")));
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("EVM address: {}", address.to_checksum(None))));
    }
    ok(run(&["sign-market", "--key", &s(&path("publisher.key")), "--market", &s(&example_path("market.json")), "--out", &s(&path("market.sig"))]));
    let rows: Value = serde_json::from_slice(&ok(run(&["commit", "--json", "--portfolio", &s(&example_path("portfolio.json"))])).stdout).unwrap();
    for row in rows.as_array().unwrap() {
        let venue = row["venue"].as_str().unwrap();
        ok(run(&["attest", "--key", &s(&path(&format!("{venue}.key"))), "--venue", venue, "--account", row["account"].as_str().unwrap(),
            "--commitment", row["commitment"].as_str().unwrap(), "--as-of", AS_OF, "--out", &s(&path(&format!("{venue}.att")))]));
    }

    // The chain: a registry of the three services with quorum 2, and a lender asking for
    // an initial-margin proof of at least 1,000.
    let mut chain = Chain::new(CHAIN, MARKET_AS_OF + 600);
    let signers: Vec<Address> = ["svc-a", "svc-b", "svc-c"].iter().map(|n| address_of(&path(&format!("{n}.pub")))).collect();
    let mut initcode = registry_artifact().bytecode;
    initcode.extend((signers.clone(), U256::from(2)).abi_encode_params());
    let registry = chain.deploy(deployer(), initcode);
    let mut initcode = lender_artifact().bytecode;
    initcode.extend((registry, U256::ZERO, U256::from(MIN_THRESHOLD)).abi_encode_params()); // level 0 (initial) as a uint8 word
    let lender = chain.deploy(deployer(), initcode);

    // The services' policy: the same registry and TTL, nonces the lender derives accepted.
    let key = |name: &str| std::fs::read_to_string(path(&format!("{name}.pub"))).unwrap().trim().to_string();
    let policy = json!({
        "publishers": [key("publisher")],
        "venues": {"deribit": [key("deribit")], "okx": [key("okx")], "binance": [key("binance")]},
        "max_age_seconds": 86400, "require_nonce": true, "max_k": 14,
        "evm": {"chain_id": CHAIN, "registry": registry.to_checksum(None), "verdict_ttl_seconds": TTL, "accept_external_nonces": true}
    });
    std::fs::write(path("policy.json"), policy.to_string()).unwrap();
    let a = Service::start(dir.path(), "a", &path("policy.json"), Some(&path("svc-a.key")));
    let b = Service::start(dir.path(), "b", &path("policy.json"), Some(&path("svc-b.key")));
    for service in [&a, &b] {
        ok(run(&["publish", "--server", &service.base, "--market", &s(&example_path("market.json")), "--market-sig", &s(&path("market.sig"))]));
    }

    // The borrower proves with the nonce the lender derives for its loan 7.
    let nonce = lender_nonce(&mut chain, lender, 7);
    let bundle = path("proof.json");
    let mut prove = vec!["prove".to_string(), "--market".into(), s(&example_path("market.json")), "--portfolio".into(),
        s(&example_path("portfolio.json")), "--level".into(), "initial".into(), "--threshold".into(), "1000".into(), "--nonce".into(),
        hex::encode(nonce), "--out".into(), s(&bundle)];
    for venue in ["deribit", "okx", "binance"] {
        prove.extend(["--attestation".to_string(), s(&path(&format!("{venue}.att")))]);
    }
    ok(run(&prove.iter().map(String::as_str).collect::<Vec<_>>()));

    // No verdict yet: no credit.
    let borrow = borrowCall { loanId: U256::from(7), amount: U256::from(500) }.abi_encode();
    let refused = chain.send(borrower(), lender, borrow.clone());
    assert_eq!(NotCovered::abi_decode(refused.revert_data()).unwrap().nonce, nonce);

    // Each service verifies the proof itself and signs its own verdict.
    let mut files = Vec::new();
    for (service, name) in [(&a, "a"), (&b, "b")] {
        let verdict = submit(&service.base, &bundle);
        assert_eq!(verdict["valid"], true, "{verdict}");
        let file = path(&format!("verdict-{name}.json"));
        let id = verdict["id"].as_str().unwrap();
        ok(run(&["evm", "verdict", "--server", &service.base, "--proof-id", id, "--out", &s(&file)]));
        // Asking again gives the same bytes (RFC 6979: deterministic signatures).
        let again = path(&format!("verdict-{name}-again.json"));
        ok(run(&["evm", "verdict", "--server", &service.base, "--proof-id", id, "--out", &s(&again)]));
        assert_eq!(std::fs::read(&file).unwrap(), std::fs::read(&again).unwrap());
        files.push(file);
    }
    let va = SignedVerdict::from_json("a", &std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let vb = SignedVerdict::from_json("b", &std::fs::read_to_string(&files[1]).unwrap()).unwrap();
    assert_eq!(va.verdict, vb.verdict, "two services that verified the same proof sign the same struct");
    assert_eq!((va.signer, vb.signer), (signers[0], signers[1]));
    assert_eq!((va.verdict.nonce, va.verdict.level, va.verdict.threshold), (nonce, 0, U256::from(MIN_THRESHOLD)));
    assert_eq!((va.verdict.marketAsOf, va.verdict.validUntil), (MARKET_AS_OF, MARKET_AS_OF + TTL));

    // Offline: one signature is refused, two accepted.
    let at = "2026-11-25T08:10:00Z";
    let list = signers.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",");
    let one = run(&["evm", "check", "--verdict", &s(&files[0]), "--signers", &list, "--quorum", "2", "--at", at]);
    assert_eq!(code(&one), 1, "{}", stderr(&one));
    assert!(stderr(&one).contains("quorum is 2"), "{}", stderr(&one));
    let both = ok(run(&["evm", "check", "--verdict", &s(&files[0]), "--verdict", &s(&files[1]), "--signers", &list, "--quorum", "2", "--at", at]));
    assert!(String::from_utf8_lossy(&both.stdout).starts_with("accepted: 2 distinct"));
    let late = run(&["evm", "check", "--verdict", &s(&files[0]), "--verdict", &s(&files[1]), "--signers", &list, "--quorum", "2", "--at", "2026-11-25T09:00:01Z"]);
    assert_eq!(code(&late), 1);
    assert!(stderr(&late).contains("expired"));
    let elsewhere = run(&["evm", "check", "--verdict", &s(&files[0]), "--verdict", &s(&files[1]), "--signers", &list, "--quorum", "2", "--at", at, "--chain-id", "1"]);
    assert_eq!(code(&elsewhere), 1);

    // On chain: one service's signature is not enough, and the lender still refuses.
    let calldata = |files: &[&PathBuf]| {
        let mut args = vec!["evm".to_string(), "calldata".into()];
        for f in files {
            args.extend(["--verdict".to_string(), s(f)]);
        }
        let out = ok(run(&args.iter().map(String::as_str).collect::<Vec<_>>()));
        hex::decode(String::from_utf8(out.stdout).unwrap().trim().strip_prefix("0x").unwrap()).unwrap()
    };
    let outcome = chain.send(deployer(), registry, calldata(&[&files[0]]));
    assert!(abi::QuorumNotReached::abi_decode(outcome.revert_data()).is_ok(), "{outcome:?}");
    assert!(matches!(chain.send(borrower(), lender, borrow.clone()), Outcome::Reverted { .. }));

    // Both: the registry accepts the calldata command's output, and the lender lends.
    let outcome = chain.send(deployer(), registry, calldata(&[&files[0], &files[1]]));
    assert!(matches!(outcome, Outcome::Ok { .. }), "{outcome:?}");
    let lent = chain.send(borrower(), lender, borrow.clone());
    assert!(matches!(lent, Outcome::Ok { logs: 1, .. }), "{lent:?}");
    assert_eq!(credit_of(&mut chain, lender), U256::from(500));
    eprintln!("gas: the lender's borrow (isCovered through a contract call) {}", lent.gas());
    // Another loan of the same borrower is another nonce: not covered.
    let other = borrowCall { loanId: U256::from(8), amount: U256::from(1) }.abi_encode();
    assert!(matches!(chain.send(borrower(), lender, other), Outcome::Reverted { .. }));
    // After the verdict's validUntil, no more credit on it.
    chain.set_time(MARKET_AS_OF + TTL + 1);
    assert!(matches!(chain.send(borrower(), lender, borrow), Outcome::Reverted { .. }));

    // The services sign only valid verdicts: a tampered statement (threshold raised after
    // proving, under the lender's nonce for loan 9) is a stored invalid verdict, and its
    // evm-verdict is refused (404, exit 1).
    let mut tampered = read(&bundle);
    tampered["statement"]["nonce"] = json!(hex::encode(lender_nonce(&mut chain, lender, 9)));
    tampered["statement"]["threshold"] = json!("2000.000000");
    let tampered_path = path("tampered.json");
    std::fs::write(&tampered_path, tampered.to_string()).unwrap();
    let verdict = submit(&a.base, &tampered_path);
    assert_eq!(verdict["valid"], false, "{verdict}");
    let refused = run(&["evm", "verdict", "--server", &a.base, "--proof-id", verdict["id"].as_str().unwrap(), "--out", &s(&path("no.json"))]);
    assert_eq!(code(&refused), 1, "{}", stderr(&refused));
    assert!(stderr(&refused).contains("404"));
    assert!(!path("no.json").exists());
    // A nonce the lender derived is used once: the same proof in other bytes is the same
    // bundle (its canonical form) and gets its verdict again; another valid bundle under
    // that nonce (one attestation carried twice) is 409.
    std::fs::write(path("compact.json"), read(&bundle).to_string()).unwrap();
    let again = run(&["submit", "--server", &b.base, "--proof", &s(&path("compact.json"))]);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    let mut other = read(&bundle);
    let first = other["attestations"][0].clone();
    other["attestations"].as_array_mut().unwrap().push(first);
    std::fs::write(path("other.json"), other.to_string()).unwrap();
    let again = run(&["submit", "--server", &b.base, "--proof", &s(&path("other.json"))]);
    assert_eq!(code(&again), 1);
    assert!(stderr(&again).contains("409"), "{}", stderr(&again));

    // A service without an EVM key answers 409; an unknown id 404.
    let plain = Service::start(dir.path(), "plain", &path("policy.json"), None);
    let out = run(&["evm", "verdict", "--server", &plain.base, "--proof-id", "abc", "--out", &s(&path("x.json"))]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("409") && stderr(&out).contains("evm_not_configured"), "{}", stderr(&out));
    let out = run(&["evm", "verdict", "--server", &a.base, "--proof-id", "0123abcd", "--out", &s(&path("x.json"))]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("404"));
}

#[test]
fn secp256k1_keys_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let out = ok(run(&["keygen", "--scheme", "secp256k1", "--out", &s(&path("svc"))]));
    let key = std::fs::read_to_string(path("svc.key")).unwrap();
    assert!(key.starts_with("0x") && key.trim().len() == 66, "{key}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(path("svc.key")).unwrap().permissions().mode() & 0o777, 0o600);
    let address = std::fs::read_to_string(path("svc.pub")).unwrap().trim().to_string();
    assert!(String::from_utf8_lossy(&out.stdout).contains(&address));
    // Never overwritten.
    let again = run(&["keygen", "--scheme", "secp256k1", "--out", &s(&path("svc"))]);
    assert_eq!(code(&again), 2);
    assert_eq!(std::fs::read_to_string(path("svc.key")).unwrap(), key);
    // An Ed25519 key, or the address file, is no EVM key (exit 2 before serving).
    ok(run(&["keygen", "--out", &s(&path("ed"))]));
    std::fs::write(path("policy.json"), "{}").unwrap();
    for bad in ["ed.key", "svc.pub"] {
        let out = run(&["serve", "--listen", "127.0.0.1:0", "--db", &s(&path("x.db")), "--policy", &s(&path("policy.json")), "--evm-key", &s(&path(bad))]);
        assert_eq!(code(&out), 2, "{bad}: {}", stderr(&out));
    }
    // An EVM key cannot sign a market either.
    let out = run(&["sign-market", "--key", &s(&path("svc.key")), "--market", &s(&example_path("market.json")), "--out", &s(&path("m.sig"))]);
    assert_eq!(code(&out), 2);
    // A policy's evm section is strict.
    std::fs::write(path("bad-policy.json"), r#"{"evm": {"chain_id": 1, "registry": "0x00", "verdict_ttl_seconds": 60}}"#).unwrap();
    let out = run(&["serve", "--listen", "127.0.0.1:0", "--db", &s(&path("x.db")), "--policy", &s(&path("bad-policy.json"))]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("evm.registry"), "{}", stderr(&out));
    std::fs::write(path("bad-policy.json"), r#"{"evm": {"chain_id": 1, "registry": "0x00", "verdict_ttl": 60}}"#).unwrap();
    assert_eq!(code(&run(&["serve", "--db", &s(&path("x.db")), "--policy", &s(&path("bad-policy.json"))])), 2);

    // Verdict files: strict, and all of one verdict.
    let signed = zkmargin_evm::EvmKey::from_bytes(&[7; 32]).unwrap().sign_verdict(
        zkmargin_evm::verdict::test_vector().0,
        CHAIN,
        Address::from([9; 20]),
    );
    std::fs::write(path("v.json"), signed.to_json().to_string()).unwrap();
    let mut other = signed.to_json();
    other["verdict"]["threshold"] = json!("1");
    std::fs::write(path("other.json"), other.to_string()).unwrap();
    let mut extra = signed.to_json();
    extra["note"] = json!("x");
    std::fs::write(path("extra.json"), extra.to_string()).unwrap();
    let signer = signed.signer.to_string();
    let check = |args: &[&str]| {
        let mut all = vec!["evm", "check"];
        all.extend_from_slice(args);
        run(&all)
    };
    let v = s(&path("v.json"));
    assert_eq!(code(&check(&["--verdict", &v, "--signers", &signer, "--quorum", "1", "--at", "2026-11-29T08:30:00Z"])), 0);
    let mismatch = check(&["--verdict", &v, "--verdict", &s(&path("other.json")), "--signers", &signer, "--quorum", "1"]);
    assert_eq!(code(&mismatch), 2);
    assert!(stderr(&mismatch).contains("verdict.threshold"), "{}", stderr(&mismatch));
    let out = check(&["--verdict", &s(&path("extra.json")), "--signers", &signer, "--quorum", "1"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("note"));
    assert_eq!(code(&check(&["--verdict", &v, "--signers", "0x12", "--quorum", "1"])), 2);
    assert_eq!(code(&check(&["--verdict", &v, "--signers", &signer, "--quorum", "2"])), 2);
    assert_eq!(code(&check(&["--verdict", &v, "--signers", &signer, "--quorum", "1", "--at", "soon"])), 2);
    assert_eq!(code(&check(&["--verdict", &s(&path("missing.json")), "--signers", &signer, "--quorum", "1"])), 2);
    assert_eq!(code(&run(&["evm", "calldata", "--verdict", &v, "--verdict", &s(&path("other.json"))])), 2);
    // An unlisted signer is refused (exit 1), naming the file.
    let out = check(&["--verdict", &v, "--signers", &Address::from([1; 20]).to_string(), "--quorum", "1", "--at", "2026-11-29T08:30:00Z"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("v.json") && stderr(&out).contains("not a listed signer"), "{}", stderr(&out));
}
