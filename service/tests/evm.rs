//! EIP-712 verdicts (issue 21) over real HTTP on loopback: `GET /v1/proofs/{id}/evm-verdict`
//! signs only stored valid verdicts, deterministically, for the policy's registry; the
//! policy's `accept_external_nonces` takes a nonce the service did not issue, once, also
//! under concurrent posts; SQLite and, when `ZKMARGIN_TEST_POSTGRES_URL` is set, PostgreSQL.

use serde_json::{json, Value};
use zkmargin_circuits::statement::Statement;
use zkmargin_evm::{EvmKey, MarginVerdict, SignedVerdict};

mod common;
use common::*;

const REGISTRY: &str = "0xe3a207e4225D459095491Ea75D30B31968dfF887";
const TTL: u64 = 3_600;

fn evm_policy(external: bool) -> zkmargin_verifier::trust::Policy {
    let mut p = policy();
    p.evm = Some(
        serde_json::from_value(json!({"chain_id": 31337, "registry": REGISTRY, "verdict_ttl_seconds": TTL, "accept_external_nonces": external}))
            .unwrap(),
    );
    p
}

fn key() -> EvmKey {
    EvmKey::from_bytes(&[0x42; 32]).unwrap()
}

fn publish(base: &str) {
    let a = post_json(base, "/v1/markets", &market_post(Some(PUBLISHER)));
    assert!(a.status == 201 || a.status == 200, "{}", a.text);
}

/// What a service must sign for `bundle`: derived here from the statement and market.
fn expected(bundle: &Value) -> MarginVerdict {
    let statement: Statement = serde_json::from_value(bundle["statement"].clone()).unwrap();
    let m = market();
    let as_of = zkmargin_circuits::time::parse_rfc3339(&m.as_of).unwrap();
    MarginVerdict::for_statement(&statement, &m.digest(), as_of, TTL).unwrap()
}

#[test]
fn only_valid_stored_verdicts_are_signed_deterministically() {
    let valid = bundle();
    for db in databases() {
        eprintln!("== {}", db.name);
        let server = Server::start_with_evm_key(&db.url, evm_policy(true), 2, 8, Some(key()));
        publish(&server.base);
        // The fixture's nonce was not issued here: taken as external.
        let a = post_json(&server.base, "/v1/proofs", &valid);
        assert_eq!((a.status, &a.body["valid"]), (201, &json!(true)), "{}", a.text);
        let id = a.body["id"].as_str().unwrap().to_string();
        // No token needed (the service has one for its other reads).
        let first = get(&server.base, &format!("/v1/proofs/{id}/evm-verdict"), None);
        assert_eq!(first.status, 200, "{}", first.text);
        let signed = SignedVerdict::from_json("answer", &first.text).unwrap();
        assert_eq!(signed.signer, key().address());
        assert_eq!((signed.chain_id, signed.registry.to_checksum(None).as_str()), (31337, REGISTRY));
        assert_eq!(signed.verdict, expected(&valid));
        let recovered = zkmargin_evm::alloy_primitives::Signature::from_raw_array(&signed.signature)
            .unwrap()
            .recover_address_from_prehash(&signed.signing_hash())
            .unwrap();
        assert_eq!(recovered, key().address());
        assert_eq!(get(&server.base, &format!("/v1/proofs/{id}/evm-verdict"), None).text, first.text, "deterministic");

        // A statement changed after proving is a stored invalid verdict: never signed.
        let mut tampered = with_nonce(&valid, &"cd".repeat(32));
        tampered["statement"]["threshold"] = json!("999.000000");
        let b = post_json(&server.base, "/v1/proofs", &tampered);
        assert_eq!((b.status, &b.body["valid"]), (201, &json!(false)), "{}", b.text);
        let refused = get(&server.base, &format!("/v1/proofs/{}/evm-verdict", b.body["id"].as_str().unwrap()), None);
        assert_error(&refused, 404, "not_found");
        assert_error(&get(&server.base, "/v1/proofs/0123abcd/evm-verdict", None), 404, "not_found");

        // The external nonce is used once: the same proof in other bytes is the same bundle
        // (its canonical form, SPEC section 9) and gets its verdict again; another valid
        // bundle under that nonce is 409.
        let again = post(&server.base, "/v1/proofs", &serde_json::to_vec_pretty(&valid).unwrap());
        assert_eq!((again.status, &again.body), (200, &a.body), "{}", again.text);
        assert_error(&post_json(&server.base, "/v1/proofs", &another_valid_bundle(&valid)), 409, "nonce_used");
        server.stop();

        // Without the key, or without the policy's evm section: 409.
        for (policy, evm_key) in [(evm_policy(true), None), (policy(), Some(key()))] {
            let server = Server::start_with_evm_key(&db.url, policy, 1, 4, evm_key);
            assert_error(&get(&server.base, &format!("/v1/proofs/{id}/evm-verdict"), None), 409, "evm_not_configured");
            server.stop();
        }
        // Without accept_external_nonces, a nonce not issued here is refused as before.
        let server = Server::start_with_evm_key(&db.url, evm_policy(false), 1, 4, Some(key()));
        let fresh = with_nonce(&valid, &"ab".repeat(32));
        assert_error(&post_json(&server.base, "/v1/proofs", &fresh), 422, "unknown_nonce");
        server.stop();
    }
}

fn with_nonce(bundle: &Value, nonce: &str) -> Value {
    let mut b = bundle.clone();
    b["statement"]["nonce"] = json!(nonce);
    b
}

#[test]
fn an_external_nonce_is_accepted_once_under_concurrent_posts() {
    let valid = bundle();
    for db in databases() {
        eprintln!("== {}", db.name);
        let server = Server::start_with_evm_key(&db.url, evm_policy(true), 2, 16, Some(key()));
        publish(&server.base);
        // Four bundles as valid as each other under one external nonce, each its own
        // canonical form (the attestations beside the proof differ).
        let with_copy = |b: &Value, a: usize| {
            let mut b = b.clone();
            let copy = b["attestations"][a].clone();
            b["attestations"].as_array_mut().unwrap().push(copy);
            b
        };
        let variants: Vec<Vec<u8>> = [valid.clone(), with_copy(&valid, 0), with_copy(&valid, 1), with_copy(&with_copy(&valid, 0), 1)]
            .iter()
            .map(|b| serde_json::to_vec(b).unwrap())
            .collect();
        let answers = post_concurrently(&server.base, "/v1/proofs", variants);
        let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
        assert_eq!(statuses.iter().filter(|&&s| s == 201).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|&s| s == 201 || s == 409), "{statuses:?}");
        server.stop();
    }
}

#[test]
fn a_nonce_that_is_not_32_bytes_gets_no_verdict_to_sign() {
    // Every nonce the service takes is 32 bytes (its own, or a lender's contract's with
    // accept_external_nonces): a statement with a 4-byte nonce gets no verdict at all, even
    // with a row of that nonce in the database (the form is checked before any lookup), so
    // no EVM verdict can carry a nonce a contract could not match.
    let short = "0badc0de";
    let bundle = bundle_with_nonce(short);
    for db in databases() {
        eprintln!("== {}", db.name);
        seed_nonce(&db.url, short, 600_000);
        let server = Server::start_with_evm_key(&db.url, evm_policy(true), 1, 4, Some(key()));
        publish(&server.base);
        assert_error(&post_json(&server.base, "/v1/proofs", &bundle), 422, "unknown_nonce");
        server.stop();
    }
}
