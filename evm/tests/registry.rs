//! The registry contract in a real EVM (revm), deployed from the committed artifact
//! (`contracts/out/MarginVerdictRegistry.json`): every rule of `submit`, the views, the
//! Rust encoding against the contract's hash, the offline decision against the
//! contract's, and the gas targets of issue 21.

#[path = "support/chain.rs"]
mod chain;

use alloy_sol_types::{SolCall, SolError, SolEvent, SolValue};
use chain::{intrinsic_gas, registry_artifact, Chain, Outcome};
use zkmargin_evm::abi::{self, MarginVerdict};
use zkmargin_evm::decide::{decide, submit_calldata, SignerSet};
use zkmargin_evm::{alloy_primitives::Log, alloy_sol_types, Address, EvmKey, SignedVerdict, B256, U256};

const CHAIN: u64 = 31337;
const AS_OF: u64 = 1_795_939_200; // 2026-11-29T08:00:00Z
const TTL: u64 = 3_600;

fn deployer() -> Address {
    Address::from([0xde; 20])
}

fn keys() -> Vec<EvmKey> {
    (1..=5u8).map(|i| EvmKey::from_bytes(&[i; 32]).unwrap()).collect()
}

/// A chain at the market's time + 60 s with a registry of the first `n` keys, quorum `k`.
fn setup(n: usize, k: usize) -> (Chain, Address, Vec<EvmKey>) {
    let mut chain = Chain::new(CHAIN, AS_OF + 60);
    let keys = keys();
    let signers: Vec<Address> = keys[..n].iter().map(EvmKey::address).collect();
    let registry = deploy_registry(&mut chain, &signers, k);
    (chain, registry, keys)
}

fn deploy_registry(chain: &mut Chain, signers: &[Address], k: usize) -> Address {
    let mut initcode = registry_artifact().bytecode;
    initcode.extend((signers.to_vec(), U256::from(k)).abi_encode_params());
    chain.deploy(deployer(), initcode)
}

fn verdict(nonce: u8) -> MarginVerdict {
    MarginVerdict {
        nonce: B256::from([nonce; 32]),
        marketDigest: B256::from([0xaa; 32]),
        marketAsOf: AS_OF,
        statementHash: B256::from([0xbb; 32]),
        level: 0,
        threshold: U256::from(1_000_000_000_000u64),
        validUntil: AS_OF + TTL,
    }
}

fn signed(keys: &[EvmKey], which: &[usize], v: &MarginVerdict, registry: Address) -> Vec<SignedVerdict> {
    which.iter().map(|&i| keys[i].sign_verdict(v.clone(), CHAIN, registry)).collect()
}

fn submit_data(v: &MarginVerdict, sigs: &[SignedVerdict]) -> Vec<u8> {
    abi::submitCall { verdict: v.clone(), signatures: sigs.iter().map(|s| s.signature.to_vec().into()).collect() }.abi_encode()
}

/// Submits, and checks first that the offline decision (`zkmargin evm check`) agrees with
/// the contract's on acceptance.
fn submit(chain: &mut Chain, registry: Address, set: &SignerSet, v: &MarginVerdict, sigs: &[SignedVerdict], now: u64) -> Outcome {
    let outcome = chain.send(deployer(), registry, submit_data(v, sigs));
    let digest = v.signing_hash(&zkmargin_evm::domain(CHAIN, registry));
    let offline = decide(set, v, &digest, &sigs.iter().map(|s| (s.signature, Some(s.signer))).collect::<Vec<_>>(), now);
    let accepted = matches!(outcome, Outcome::Ok { .. });
    // The one rule only the chain can check: a newer verdict stored for the nonce.
    let older = matches!(&outcome, Outcome::Reverted { data, .. } if data.starts_with(&abi::OlderVerdict::SELECTOR));
    if !older {
        assert_eq!(offline.is_ok(), accepted, "offline {offline:?} vs contract {outcome:?}");
    }
    outcome
}

fn set_of(keys: &[EvmKey], n: usize, k: usize) -> SignerSet {
    SignerSet::new(keys[..n].iter().map(EvmKey::address).collect(), k).unwrap()
}

fn is_covered(chain: &mut Chain, registry: Address, nonce: B256, level: u8, min: u64) -> bool {
    let data = abi::isCoveredCall { nonce, level, minThreshold: U256::from(min) }.abi_encode();
    abi::isCoveredCall::abi_decode_returns(chain.call(deployer(), registry, data).output()).unwrap()
}

fn verdict_of(chain: &mut Chain, registry: Address, nonce: B256) -> MarginVerdict {
    let data = abi::verdictOfCall { nonce }.abi_encode();
    abi::verdictOfCall::abi_decode_returns(chain.call(deployer(), registry, data).output()).unwrap()
}

fn reverted_with<E: SolError + PartialEq + std::fmt::Debug>(outcome: &Outcome, expected: E) {
    let data = outcome.revert_data();
    let got = E::abi_decode(data).unwrap_or_else(|_| panic!("reverted with {}, not {}", hex::encode(data), E::SIGNATURE));
    assert_eq!(got, expected);
}

#[test]
fn k_of_n_signatures_are_accepted_and_readable() {
    let (mut chain, registry, keys) = setup(3, 2);
    let set = set_of(&keys, 3, 2);
    let v = verdict(1);
    assert!(!is_covered(&mut chain, registry, v.nonce, 0, 0));
    let outcome = submit(&mut chain, registry, &set, &v, &signed(&keys, &[0, 2], &v, registry), AS_OF + 60);
    let Outcome::Ok { logs, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(logs, 1, "one VerdictAccepted event");
    assert_eq!(verdict_of(&mut chain, registry, v.nonce), v);
    // isCovered: exact level, threshold at most the proven one, unexpired.
    assert!(is_covered(&mut chain, registry, v.nonce, 0, 1_000_000_000_000));
    assert!(is_covered(&mut chain, registry, v.nonce, 0, 0));
    assert!(!is_covered(&mut chain, registry, v.nonce, 0, 1_000_000_000_001));
    assert!(!is_covered(&mut chain, registry, v.nonce, 1, 0), "an initial verdict does not answer a maintenance request");
    assert!(!is_covered(&mut chain, registry, B256::from([9; 32]), 0, 0));
    chain.set_time(AS_OF + TTL + 1);
    assert!(!is_covered(&mut chain, registry, v.nonce, 0, 0), "an expired verdict covers nothing");
    // All three, in any order, are accepted too (on a fresh nonce).
    chain.set_time(AS_OF + 60);
    let w = verdict(2);
    assert!(matches!(submit(&mut chain, registry, &set, &w, &signed(&keys, &[2, 1, 0], &w, registry), AS_OF + 60), Outcome::Ok { .. }));
    // The event names the nonce and the statement hash.
    let logs = chain_logs(&mut chain, registry, &verdict(3), &signed(&keys, &[0, 1], &verdict(3), registry));
    let event = logs.iter().find_map(|l| abi::VerdictAccepted::decode_log(l).ok()).expect("VerdictAccepted");
    assert_eq!((event.nonce, event.statementHash, event.threshold), (verdict(3).nonce, verdict(3).statementHash, verdict(3).threshold));
}

fn chain_logs(chain: &mut Chain, registry: Address, v: &MarginVerdict, sigs: &[SignedVerdict]) -> Vec<Log> {
    chain.send_logs(deployer(), registry, submit_data(v, sigs))
}

#[test]
fn fewer_than_k_distinct_listed_signers_are_refused() {
    let (mut chain, registry, keys) = setup(3, 2);
    let set = set_of(&keys, 3, 2);
    let v = verdict(1);
    // K − 1.
    let outcome = submit(&mut chain, registry, &set, &v, &signed(&keys, &[1], &v, registry), AS_OF + 60);
    reverted_with(&outcome, abi::QuorumNotReached { distinct: U256::from(1), quorum: U256::from(2) });
    // The same signer twice counts once.
    let outcome = submit(&mut chain, registry, &set, &v, &signed(&keys, &[1, 1], &v, registry), AS_OF + 60);
    reverted_with(&outcome, abi::QuorumNotReached { distinct: U256::from(1), quorum: U256::from(2) });
    // An unlisted signer (key 3 is not in the registry) refuses the whole call.
    let outcome = submit(&mut chain, registry, &set, &v, &signed(&keys, &[1, 3], &v, registry), AS_OF + 60);
    reverted_with(&outcome, abi::UnlistedSigner { recovered: keys[3].address() });
    // No signature at all.
    let outcome = submit(&mut chain, registry, &set, &v, &[], AS_OF + 60);
    reverted_with(&outcome, abi::QuorumNotReached { distinct: U256::ZERO, quorum: U256::from(2) });
    assert!(!is_covered(&mut chain, registry, v.nonce, 0, 0));
}

#[test]
fn signatures_for_another_chain_or_registry_are_refused() {
    let (mut chain, registry, keys) = setup(3, 2);
    let set = set_of(&keys, 3, 2);
    let v = verdict(1);
    let good = signed(&keys, &[0], &v, registry);
    for (chain_id, at) in [(CHAIN + 1, registry), (CHAIN, Address::from([0x42; 20]))] {
        let foreign = keys[1].sign_verdict(v.clone(), chain_id, at);
        let sigs = [good[0].clone(), foreign];
        let outcome = submit(&mut chain, registry, &set, &v, &sigs, AS_OF + 60);
        let recovered = abi::UnlistedSigner::abi_decode(outcome.revert_data()).unwrap().recovered;
        assert_ne!(recovered, keys[1].address());
    }
    // A second registry with the same signers on the same chain refuses the first one's
    // signatures too.
    let other = deploy_registry(&mut chain, &set_signers(&keys, 3), 2);
    let outcome = chain.send(deployer(), other, submit_data(&v, &signed(&keys, &[0, 1], &v, registry)));
    assert!(abi::UnlistedSigner::abi_decode(outcome.revert_data()).is_ok());
}

fn set_signers(keys: &[EvmKey], n: usize) -> Vec<Address> {
    keys[..n].iter().map(EvmKey::address).collect()
}

#[test]
fn expired_verdicts_are_refused() {
    let (mut chain, registry, keys) = setup(3, 2);
    let set = set_of(&keys, 3, 2);
    let v = verdict(1);
    let sigs = signed(&keys, &[0, 1], &v, registry);
    chain.set_time(v.validUntil + 1);
    let outcome = submit(&mut chain, registry, &set, &v, &sigs, v.validUntil + 1);
    reverted_with(&outcome, abi::VerdictExpired { validUntil: v.validUntil, now_: U256::from(v.validUntil + 1) });
    // At validUntil exactly it is still accepted.
    chain.set_time(v.validUntil);
    assert!(matches!(submit(&mut chain, registry, &set, &v, &sigs, v.validUntil), Outcome::Ok { .. }));
}

#[test]
fn an_older_verdict_never_replaces_a_newer_one() {
    let (mut chain, registry, keys) = setup(3, 2);
    let set = set_of(&keys, 3, 2);
    let old = verdict(1);
    let mut new = verdict(1);
    new.marketAsOf = AS_OF + 30;
    new.validUntil = AS_OF + 30 + TTL;
    new.threshold = U256::from(5u8);
    let old_sigs = signed(&keys, &[0, 1], &old, registry);
    let new_sigs = signed(&keys, &[1, 2], &new, registry);
    assert!(matches!(submit(&mut chain, registry, &set, &new, &new_sigs, AS_OF + 60), Outcome::Ok { .. }));
    let outcome = submit(&mut chain, registry, &set, &old, &old_sigs, AS_OF + 60);
    reverted_with(&outcome, abi::OlderVerdict { marketAsOf: AS_OF, storedMarketAsOf: AS_OF + 30 });
    assert_eq!(verdict_of(&mut chain, registry, new.nonce), new);
    // The same verdict again (same as_of) is accepted: a relay may repeat it.
    assert!(matches!(submit(&mut chain, registry, &set, &new, &new_sigs, AS_OF + 60), Outcome::Ok { .. }));
    // In the other order, the newer one replaces the older one.
    let (mut chain, registry, _) = setup(3, 2);
    let old_sigs = signed(&keys, &[0, 1], &old, registry);
    let new_sigs = signed(&keys, &[1, 2], &new, registry);
    assert!(matches!(submit(&mut chain, registry, &set, &old, &old_sigs, AS_OF + 60), Outcome::Ok { .. }));
    assert!(matches!(submit(&mut chain, registry, &set, &new, &new_sigs, AS_OF + 60), Outcome::Ok { .. }));
    assert_eq!(verdict_of(&mut chain, registry, new.nonce), new);
}

#[test]
fn any_field_changed_after_signing_is_refused() {
    let (mut chain, registry, keys) = setup(3, 2);
    let set = set_of(&keys, 3, 2);
    let v = verdict(1);
    let sigs = signed(&keys, &[0, 1], &v, registry);
    for field in 0..7 {
        let mut w = v.clone();
        match field {
            0 => w.nonce = B256::from([2; 32]),
            1 => w.marketDigest.0[31] ^= 1,
            2 => w.marketAsOf += 1,
            3 => w.statementHash.0[0] ^= 1,
            4 => w.level = 1,
            5 => w.threshold += U256::from(1),
            _ => w.validUntil += 1,
        }
        let outcome = submit(&mut chain, registry, &set, &w, &sigs, AS_OF + 60);
        assert!(abi::UnlistedSigner::abi_decode(outcome.revert_data()).is_ok(), "field {field}: {outcome:?}");
    }
    assert!(!is_covered(&mut chain, registry, B256::from([2; 32]), 0, 0));
    assert!(matches!(submit(&mut chain, registry, &set, &v, &sigs, AS_OF + 60), Outcome::Ok { .. }));
}

#[test]
fn malleable_high_s_signatures_are_refused() {
    let (mut chain, registry, keys) = setup(3, 2);
    let set = set_of(&keys, 3, 2);
    let v = verdict(1);
    let mut sigs = signed(&keys, &[0, 1], &v, registry);
    // s' = n − s with the parity flipped: the same signer recovers from it (ecrecover
    // alone would accept it), but OpenZeppelin's ECDSA refuses it.
    let n = U256::from_be_slice(&hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141").unwrap());
    let sig = zkmargin_evm::alloy_primitives::Signature::from_raw_array(&sigs[1].signature).unwrap();
    let high = zkmargin_evm::alloy_primitives::Signature::new(sig.r(), n - sig.s(), !sig.v());
    assert_eq!(high.recover_address_from_prehash(&sigs[1].signing_hash()).unwrap(), keys[1].address());
    sigs[1].signature = high.as_bytes();
    let outcome = submit(&mut chain, registry, &set, &v, &sigs, AS_OF + 60);
    reverted_with(&outcome, abi::ECDSAInvalidSignatureS { s: B256::from(n - sig.s()) });
}

/// The README's test vector: this verdict, chain 31337, the registry this deployer's
/// first contract lands at. The Rust encoding (alloy) and the contract's agree.
#[test]
fn rust_encoding_equals_the_contracts_hash() {
    let (mut chain, registry, _) = setup(3, 2);
    let (v, chain_id, expected_registry) = zkmargin_evm::verdict::test_vector();
    assert_eq!((registry, chain_id), (expected_registry, CHAIN));
    let struct_hash = alloy_sol_types::SolStruct::eip712_hash_struct(&v);
    let digest = v.signing_hash(&zkmargin_evm::domain(CHAIN, registry));
    let on_chain = |chain: &mut Chain, data: Vec<u8>| B256::from_slice(chain.call(deployer(), registry, data).output());
    assert_eq!(on_chain(&mut chain, abi::hashVerdictCall { v: v.clone() }.abi_encode()), struct_hash);
    assert_eq!(on_chain(&mut chain, abi::digestOfCall { v: v.clone() }.abi_encode()), digest);
    assert_eq!(hex::encode(struct_hash), README_STRUCT_HASH);
    assert_eq!(hex::encode(digest), README_DIGEST);
    // The type hash the contract publishes is keccak256 of the documented type string.
    let data = alloy_sol_types::SolCall::abi_encode(&VERDICT_TYPEHASHCall {});
    assert_eq!(
        B256::from_slice(chain.call(deployer(), registry, data).output()),
        zkmargin_evm::alloy_primitives::keccak256(zkmargin_evm::VERDICT_TYPE)
    );
}

alloy_sol_types::sol! {
    function VERDICT_TYPEHASH() returns (bytes32);
}

const README_STRUCT_HASH: &str = "88fd4e2473fc8afd502b20d598c9c51c609251a6c180ad3ef229656d95748ec8";
const README_DIGEST: &str = "e07106989234bdcad6e6842db666d3b90c2d7545270f0b1cb3f12ab6d5d6cea3";

#[test]
fn the_calldata_of_submit_is_accepted() {
    let (mut chain, registry, keys) = setup(3, 2);
    let v = verdict(1);
    let data = submit_calldata(&signed(&keys, &[2, 0], &v, registry)).unwrap();
    assert!(matches!(chain.send(deployer(), registry, data), Outcome::Ok { .. }));
    assert_eq!(verdict_of(&mut chain, registry, v.nonce), v);
}

#[test]
fn deployment_checks_its_signers_and_quorum() {
    let mut chain = Chain::new(CHAIN, AS_OF);
    let a = Address::from([1; 20]);
    let b = Address::from([2; 20]);
    for (signers, k) in [(vec![a, b], 3usize), (vec![a, b], 0), (vec![a, a], 1), (vec![Address::ZERO], 1), (vec![], 1)] {
        let mut initcode = registry_artifact().bytecode;
        initcode.extend((signers.clone(), U256::from(k)).abi_encode_params());
        let outcome = chain.send_create(deployer(), initcode);
        assert!(matches!(outcome, Outcome::Reverted { .. }), "{signers:?} k={k}: {outcome:?}");
        assert!(SignerSet::new(signers, k).is_err());
    }
}

/// Issue 21's targets: submit with K = 2 ≤ 120,000 gas, each further signature ≤ 10,000,
/// isCovered ≤ 5,000 (its execution, without the 21,000 of a transaction), runtime code ≤
/// 24,576 bytes (EIP-170). Gas is deterministic; the figures are printed for BENCHMARKS.md.
#[test]
fn gas_and_size_targets() {
    let (mut chain, registry, keys) = setup(5, 2);
    let runtime = chain.code(registry);
    // The committed runtime code, with the immutables (quorum, the cached domain) filled in.
    assert_eq!(runtime.len(), registry_artifact().deployed.len());
    assert!(runtime.len() <= 24_576, "runtime code {} bytes", runtime.len());
    let mut gas = Vec::new();
    for n in 2..=5usize {
        let v = verdict(n as u8);
        let g = chain.send(deployer(), registry, submit_data(&v, &signed(&keys, &(0..n).collect::<Vec<_>>(), &v, registry))).gas();
        gas.push(g);
    }
    let further: Vec<u64> = gas.windows(2).map(|w| w[1] - w[0]).collect();
    let data = abi::isCoveredCall { nonce: verdict(2).nonce, level: 0, minThreshold: U256::from(1) }.abi_encode();
    let covered_tx = chain.call(deployer(), registry, data.clone()).gas();
    let covered = covered_tx - intrinsic_gas(&data);
    // A replacement for a nonce already stored (storage already non-zero) costs less.
    let v = verdict(2);
    let replace = chain.send(deployer(), registry, submit_data(&v, &signed(&keys, &[3, 4], &v, registry))).gas();
    eprintln!(
        "gas: submit K=2 (new nonce) {}, with 3/4/5 signatures {:?} (each further: {:?}); replacing a stored verdict {}; \
         isCovered {} execution ({} as a transaction); runtime code {} bytes",
        gas[0], &gas[1..], further, replace, covered, covered_tx, runtime.len()
    );
    assert!(gas[0] <= 120_000, "submit K=2: {} gas", gas[0]);
    assert!(further.iter().all(|&g| g <= 10_000), "further signatures: {further:?}");
    assert!(covered <= 5_000, "isCovered: {covered} gas");
}
