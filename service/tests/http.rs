//! The service over real HTTP on loopback (SPEC section 9), against SQLite and, when
//! `ZKMARGIN_TEST_POSTGRES_URL` is set, PostgreSQL.

use std::sync::{Arc, Barrier};

use serde_json::{json, Value};

mod common;
use common::*;

fn publish(base: &str) {
    let a = post_json(base, "/v1/markets", &market_post(Some(PUBLISHER)));
    assert!(a.status == 201 || a.status == 200, "{}", a.text);
}

/// The same bundle, byte for byte different (compact instead of pretty JSON).
fn compact(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn pretty(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap()
}

#[test]
fn the_flow_and_every_refusal() {
    let valid = bundle();
    for db in databases() {
        eprintln!("== {}", db.name);
        let server = Server::start(&db.url, policy(), 2, 8);
        let base = server.base.clone();

        assert_eq!(get(&base, "/healthz", None).status, 200);

        // Markets: unsigned, foreign-signed, malformed, then signed (201) and again (200).
        assert_error(&post_json(&base, "/v1/markets", &market_post(None)), 403, "unsigned_market");
        let foreign = post_json(&base, "/v1/markets", &market_post(Some(MALLORY)));
        assert_error(&foreign, 403, "untrusted_market");
        assert!(foreign.body["error"]["message"].as_str().unwrap().contains("not a listed publisher"));
        let mut forged = market_post(Some(PUBLISHER));
        forged["market"]["as_of"] = json!("2026-11-25T09:00:00Z");
        assert_error(&post_json(&base, "/v1/markets", &forged), 403, "untrusted_market");
        assert_error(&post(&base, "/v1/markets", b"{not json"), 400, "malformed");
        let first = post_json(&base, "/v1/markets", &market_post(Some(PUBLISHER)));
        assert_eq!(first.status, 201, "{}", first.text);
        assert_eq!(first.body["digest"], market().digest_hex());
        assert_eq!(post_json(&base, "/v1/markets", &market_post(Some(PUBLISHER))).status, 200);

        // Challenges: a fresh 32-byte nonce with its expiry.
        let c = post(&base, "/v1/challenges", b"");
        assert_eq!(c.status, 201, "{}", c.text);
        assert_eq!(c.body["nonce"].as_str().unwrap().len(), 64);
        let expires = zkmargin_circuits::time::parse_rfc3339(c.body["expires_at"].as_str().unwrap()).unwrap();
        let now = zkmargin_service::http::now_ms() / 1000;
        assert!((now + 590..=now + 601).contains(&expires), "{expires} vs {now}");
        assert_ne!(post(&base, "/v1/challenges", b"").body["nonce"], c.body["nonce"]);

        // Bundles refused before any work: malformed, unknown nonce, unknown market, too large.
        assert_error(&post(&base, "/v1/proofs", b"[1, 2"), 400, "malformed");
        assert_error(&post_json(&base, "/v1/proofs", &json!({"format": "zkmargin-proof/1"})), 400, "malformed");
        assert_error(&post_json(&base, "/v1/proofs", &valid), 422, "unknown_nonce");
        seed_nonce(&db.url, NONCE, 600_000);
        let mut other_market = valid.clone();
        other_market["market"]["digest"] = json!("00".repeat(32));
        assert_error(&post_json(&base, "/v1/proofs", &other_market), 422, "unknown_market");
        let mut huge = valid.clone();
        huge["circuit"]["k"] = json!(17);
        let a = post_json(&base, "/v1/proofs", &huge);
        assert_error(&a, 422, "shape_too_large");
        let oversized = vec![b' '; 9_000_000];
        assert_error(&post(&base, "/v1/proofs", &oversized), 413, "too_large");

        // Stored invalid verdicts: stale attestations, missing attestations, tampered
        // statement. None of them uses up the nonce.
        let mut stale = valid.clone();
        stale["attestations"] = serde_json::to_value(attestations("2026-11-20T07:30:00Z")).unwrap();
        let a = post_json(&base, "/v1/proofs", &stale);
        assert_eq!(a.status, 201, "{}", a.text);
        assert_eq!(a.body["valid"], false);
        assert!(a.body["reason"].as_str().unwrap().contains("as_of"), "{}", a.text);
        let mut missing = valid.clone();
        missing.as_object_mut().unwrap().remove("attestations");
        let a = post_json(&base, "/v1/proofs", &missing);
        assert_eq!((a.status, &a.body["valid"]), (201, &json!(false)), "{}", a.text);
        assert!(a.body["reason"].as_str().unwrap().contains("no attestation"), "{}", a.text);
        let mut tampered = valid.clone();
        tampered["statement"]["threshold"] = json!("1001.000000");
        let a = post_json(&base, "/v1/proofs", &tampered);
        assert_eq!((a.status, &a.body["valid"]), (201, &json!(false)), "{}", a.text);
        let tampered_id = a.body["id"].as_str().unwrap().to_string();
        // A requirement the statement does not meet: refused before any work and not
        // stored (anyone may post a public bundle first with a requirement it cannot meet;
        // the prover's own post of the same bytes must still get its verdict below).
        for query in ["?threshold=5000", "?level=maintenance", "?threshold=5000&level=initial"] {
            let a = post(&base, &format!("/v1/proofs{query}"), &compact(&valid));
            assert_error(&a, 422, "requirement_not_met");
            assert!(a.body["error"]["message"].as_str().unwrap().contains("required"), "{}", a.text);
        }
        // Each covenant (SPEC section 10): the statement claims min_ratio 1.5 and min_equity
        // 100000, no leverage cap.
        for (query, covenant) in
            [("?min_ratio=1.6", "min_ratio"), ("?min_equity=100000.000001", "min_equity"), ("?max_leverage=5", "max_leverage")]
        {
            let a = post(&base, &format!("/v1/proofs{query}"), &compact(&valid));
            assert_error(&a, 422, "requirement_not_met");
            assert!(a.body["error"]["message"].as_str().unwrap().contains(covenant), "{query}: {}", a.text);
        }
        for query in ["?min_ratio=0.5", "?min_equity=1.0000001", "?max_leverage=0", "?max_leverage=-1"] {
            assert_error(&post(&base, &format!("/v1/proofs{query}"), &compact(&valid)), 400, "malformed");
        }

        // The valid bundle: 201; the same bytes: 200 and the same verdict; other bytes
        // with the same nonce: 409.
        let accepted = post(&base, "/v1/proofs", &compact(&valid));
        assert_eq!(accepted.status, 201, "{}", accepted.text);
        assert_eq!(accepted.body["valid"], true, "{}", accepted.text);
        assert!(accepted.body["reason"].is_null());
        let id = accepted.body["id"].as_str().unwrap().to_string();
        let again = post(&base, "/v1/proofs", &compact(&valid));
        assert_eq!(again.status, 200);
        assert_eq!(again.body, accepted.body);
        // The same bytes with requirements they meet: the same verdict; with one they do not: 422.
        for query in ["?threshold=1000", "?level=initial", "?min_ratio=1.5&min_equity=-5"] {
            let a = post(&base, &format!("/v1/proofs{query}"), &compact(&valid));
            assert_eq!((a.status, &a.body), (200, &accepted.body), "{query}: {}", a.text);
        }
        assert_error(&post(&base, "/v1/proofs?threshold=1000.000001", &compact(&valid)), 422, "requirement_not_met");
        // Another spelling of the same bundle is the same bundle (its canonical form):
        // the same verdict. Another bundle with the same nonce: 409.
        let respelled = post(&base, "/v1/proofs", format!("{}\n", valid).as_bytes());
        assert_eq!((respelled.status, &respelled.body), (200, &accepted.body), "{}", respelled.text);
        assert_error(&post_json(&base, "/v1/proofs", &another_valid_bundle(&valid)), 409, "nonce_used");

        // An expired nonce: 410.
        let expired_nonce = "ee".repeat(32);
        seed_nonce(&db.url, &expired_nonce, -1000);
        let mut expired = valid.clone();
        expired["statement"]["nonce"] = json!(expired_nonce);
        assert_error(&post_json(&base, "/v1/proofs", &expired), 410, "nonce_expired");

        // Reads: token required.
        let path = format!("/v1/proofs/{id}");
        assert_error(&get(&base, &path, None), 401, "unauthorized");
        assert_error(&get(&base, &path, Some("wrong-token")), 401, "unauthorized");
        let v = get(&base, &path, Some(TOKEN));
        assert_eq!(v.status, 200, "{}", v.text);
        assert_eq!(v.body["valid"], true);
        assert_eq!(v.body["statement"], valid["statement"]);
        assert_eq!(v.body["market"]["digest"], market().digest_hex());
        let t = get(&base, &format!("/v1/proofs/{tampered_id}"), Some(TOKEN));
        assert_eq!(t.body["valid"], false);
        assert_error(&get(&base, "/v1/proofs/nope", Some(TOKEN)), 404, "not_found");
        assert_error(&get(&base, "/v1/proofs/%ff%fe", None), 401, "unauthorized");
        assert_error(&get(&base, "/v1/proofs/%ff%fe", Some(TOKEN)), 400, "malformed");

        let standing_path = "/v1/standing?venue=deribit&account=sub-1";
        assert_error(&get(&base, standing_path, None), 401, "unauthorized");
        assert_error(&get(&base, standing_path, Some("x")), 401, "unauthorized");
        let s = get(&base, standing_path, Some(TOKEN));
        assert_eq!(s.status, 200, "{}", s.text);
        assert_eq!(s.body["proof"], id.as_str());
        assert_eq!(s.body["level"], "initial");
        assert_eq!(s.body["threshold"], valid["statement"]["threshold"]);
        assert_eq!(s.body["market_as_of"], market().as_of);
        assert_eq!((&s.body["min_ratio"], &s.body["min_equity"]), (&json!("1.500000"), &json!("100000.000000")), "{}", s.text);
        assert!(s.body.get("max_leverage").is_none(), "a covenant not claimed is not stated: {}", s.text);
        // deribit/sub-1 is pooled with okx/main in the group "cross": the proof is the
        // pool's, and the answer says so.
        assert_eq!(s.body["group"], "cross", "{}", s.text);
        assert_eq!(s.body["pooled_with"], json!(["okx/main"]), "{}", s.text);
        let alone = get(&base, "/v1/standing?venue=binance&account=iso-btc", Some(TOKEN));
        assert_eq!((alone.status, &alone.body["pooled_with"]), (200, &json!([])), "{}", alone.text);
        assert!(s.body["received_at"].is_string());
        assert_error(&get(&base, "/v1/standing?venue=deribit&account=sub-9", Some(TOKEN)), 404, "no_standing");
        assert_error(&get(&base, "/v1/standing?venue=deribit", Some(TOKEN)), 400, "malformed");

        let m = get(&base, "/metrics", None);
        assert_eq!(m.status, 200);
        assert!(m.text.contains("zkmargin_verdicts_total{outcome=\"valid\"} 1"), "{}", m.text);
        assert!(m.text.contains("zkmargin_verdicts_total{outcome=\"invalid\"} 3"), "{}", m.text);
        assert!(m.text.contains("zkmargin_verification_seconds_count 4"), "{}", m.text);
        assert!(m.text.contains("zkmargin_verification_queue_depth 0"), "{}", m.text);
        assert!(m.text.contains("route=\"/v1/proofs\",status=\"409\""), "{}", m.text);
        server.stop();

        // After a restart everything acknowledged is still there.
        let server = Server::start(&db.url, policy(), 1, 1);
        let v = get(&server.base, &path, Some(TOKEN));
        assert_eq!((v.status, &v.body["valid"]), (200, &json!(true)));
        assert_error(&post_json(&server.base, "/v1/proofs", &another_valid_bundle(&valid)), 409, "nonce_used");
        assert_eq!(post(&server.base, "/v1/proofs", &pretty(&valid)).body, accepted.body);
        assert_eq!(post(&server.base, "/v1/proofs", &compact(&valid)).body, accepted.body);
        server.stop();
    }
}

#[test]
fn concurrent_submissions_with_one_nonce_accept_exactly_one() {
    // A nonce with a stored row (issued by schema 1), and a stateless one that has no row
    // until its first use: concurrent first inserts.
    for stateless in [false, true] {
        for db in databases() {
            eprintln!("== {} ({})", db.name, if stateless { "stateless nonce" } else { "stored nonce" });
            let valid = if stateless {
                seed_secret(&db.url);
                stateless_bundle().1
            } else {
                seed_nonce(&db.url, NONCE, 600_000);
                bundle()
            };
            exactly_one_accepted(&db, &valid);
        }
    }
}

fn exactly_one_accepted(db: &Db, valid: &Value) {
    {
        let server = Server::start(&db.url, policy(), 2, 16);
        publish(&server.base);
        // Four different byte strings of the same valid proof, plus one repeated.
        let variants: Vec<Vec<u8>> = vec![
            compact(valid),
            pretty(valid),
            format!("{}\n", valid).into_bytes(),
            format!(" {}", valid).into_bytes(),
            compact(valid),
        ];
        let answers = post_concurrently(&server.base, "/v1/proofs", variants);
        let created: Vec<&Answer> = answers.iter().filter(|a| a.status == 201).collect();
        assert_eq!(created.len(), 1, "{:?}", answers.iter().map(|a| (a.status, a.text.clone())).collect::<Vec<_>>());
        assert_eq!(created[0].body["valid"], true);
        for a in &answers {
            match a.status {
                201 => {}
                // Every spelling is the same bundle (its canonical form): the winner's
                // verdict, never a 409.
                200 => assert_eq!(a.body, created[0].body),
                other => panic!("unexpected {other}: {}", a.text),
            }
        }
        let store_verdicts = verdicts(&db.url);
        assert_eq!(store_verdicts.iter().filter(|v| v.valid).count(), 1);
        server.stop();
    }
}

/// Far in the future (2100-01-01, Unix seconds): the expiry of the stateless nonce the
/// valid bundle of these tests carries.
const FAR: i64 = 4_102_444_800;

/// A stateless nonce under [`NONCE_SECRET`] and the example proved with it (once).
fn stateless_bundle() -> (String, Value) {
    static NONCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let nonce = NONCE.get_or_init(|| stateless_nonce(FAR)).clone();
    let bundle = bundle_with_nonce(&nonce);
    (nonce, bundle)
}

fn with_nonce(bundle: &Value, nonce: &str) -> Value {
    let mut b = bundle.clone();
    b["statement"]["nonce"] = json!(nonce);
    b
}

#[test]
fn stateless_nonces_are_checked_and_used_once_across_restarts() {
    let (nonce, valid) = stateless_bundle();
    for db in databases() {
        eprintln!("== {}", db.name);
        seed_secret(&db.url);
        let server = Server::start(&db.url, policy(), 2, 8);
        let base = server.base.clone();
        publish(&base);

        // Issuing writes nothing; the nonce opens, under the database's secret, to the
        // expiry announced.
        let c = post(&base, "/v1/challenges", b"");
        assert_eq!(c.status, 201, "{}", c.text);
        let issued = c.body["nonce"].as_str().unwrap().to_string();
        assert_eq!(issued.len(), 64);
        assert!(issued.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{issued}");
        let expires = zkmargin_circuits::time::parse_rfc3339(c.body["expires_at"].as_str().unwrap()).unwrap();
        assert_eq!(zkmargin_service::nonce::NonceKey::new(&NONCE_SECRET).expiry(&issued), Some(expires));
        assert!(challenge_row(&db.url, &issued).is_none(), "issuing a challenge wrote a row");

        // Forged nonces are refused like any nonce not issued here: another secret's, and
        // ours with its expiry moved.
        let foreign = zkmargin_service::nonce::NonceKey::new(&[1; 32]).issue(FAR).unwrap();
        assert_error(&post_json(&base, "/v1/proofs", &with_nonce(&valid, &foreign)), 422, "unknown_nonce");
        let mut moved = hex::decode(&nonce).unwrap();
        moved[15] ^= 1;
        assert_error(&post_json(&base, "/v1/proofs", &with_nonce(&valid, &hex::encode(moved))), 422, "unknown_nonce");
        // Expired: 410.
        let past = stateless_nonce(zkmargin_service::http::now_ms() / 1000 - 1);
        assert_error(&post_json(&base, "/v1/proofs", &with_nonce(&valid, &past)), 410, "nonce_expired");
        // The nonce just issued is this service's: the bundle is verified (and found
        // invalid, being proved for another nonce), not refused.
        let a = post_json(&base, "/v1/proofs", &with_nonce(&valid, &issued));
        assert_eq!((a.status, &a.body["valid"]), (201, &json!(false)), "{}", a.text);

        // The valid bundle: accepted, its nonce's row written with the verdict; another
        // bundle with the same nonce: 409; uppercase hex is the same nonce and the same
        // bundle: the same verdict.
        let accepted = post(&base, "/v1/proofs", &compact(&valid));
        assert_eq!((accepted.status, &accepted.body["valid"]), (201, &json!(true)), "{}", accepted.text);
        let id = accepted.body["id"].as_str().unwrap().to_string();
        assert_eq!(challenge_row(&db.url, &nonce).and_then(|r| r.used_by), Some(id));
        assert_error(&post_json(&base, "/v1/proofs", &another_valid_bundle(&valid)), 409, "nonce_used");
        let upper = with_nonce(&valid, &nonce.to_ascii_uppercase());
        assert_eq!(post_json(&base, "/v1/proofs", &upper).body, accepted.body);
        server.stop();

        // After a restart: still used once; the same bundle gives the same verdict.
        let server = Server::start(&db.url, policy(), 1, 4);
        assert_error(&post_json(&server.base, "/v1/proofs", &another_valid_bundle(&valid)), 409, "nonce_used");
        assert_eq!(post(&server.base, "/v1/proofs", &pretty(&valid)).body, accepted.body);
        assert_eq!(post(&server.base, "/v1/proofs", &compact(&valid)).body, accepted.body);
        server.stop();
    }
}

#[test]
fn the_nonce_secret_is_made_once_and_shared_by_replicas_and_restarts() {
    let valid = bundle();
    for db in databases() {
        eprintln!("== {}", db.name);
        // Two services on one database (replicas behind a load balancer), no secret
        // seeded: a nonce issued by either is taken by the other.
        let a = Server::start(&db.url, policy(), 1, 4);
        let b = Server::start(&db.url, policy(), 1, 4);
        publish(&a.base);
        let from_a = post(&a.base, "/v1/challenges", b"").body["nonce"].as_str().unwrap().to_string();
        let from_b = post(&b.base, "/v1/challenges", b"").body["nonce"].as_str().unwrap().to_string();
        let answer = post_json(&b.base, "/v1/proofs", &with_nonce(&valid, &from_a));
        assert_eq!((answer.status, &answer.body["valid"]), (201, &json!(false)), "{}", answer.text);
        a.stop();
        b.stop();
        // And by the service after a restart.
        let c = Server::start(&db.url, policy(), 1, 4);
        let answer = post_json(&c.base, "/v1/proofs", &with_nonce(&valid, &from_b));
        assert_eq!((answer.status, &answer.body["valid"]), (201, &json!(false)), "{}", answer.text);
        c.stop();
    }
}

fn verdicts(db: &str) -> Vec<zkmargin_service::store::Verdict> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = zkmargin_service::store::Store::open(db).await.unwrap();
        let all = store.all_verdicts().await.unwrap();
        store.close().await;
        all
    })
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let valid = bundle();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("busy.db").display().to_string();
    // One worker, no queue: while one verification runs (the first one also rebuilds the
    // verifying key), every other submission is turned away.
    let server = Server::start(&db, policy(), 1, 0);
    publish(&server.base);
    seed_nonce(&db, NONCE, 600_000);
    let n = 6;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let mut b = valid.clone();
            b["statement"]["threshold"] = json!(format!("{}.000000", 2000 + i));
            let (base, barrier) = (server.base.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                post(&base, "/v1/proofs", &compact(&b))
            })
        })
        .collect();
    let answers: Vec<Answer> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let busy: Vec<&Answer> = answers.iter().filter(|a| a.status == 503).collect();
    assert!(!busy.is_empty(), "{:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
    for a in &busy {
        assert_error(a, 503, "busy");
        assert!(a.retry_after.as_deref().is_some_and(|s| s.parse::<u64>().is_ok()));
    }
    assert!(answers.iter().all(|a| a.status == 503 || (a.status == 201 && a.body["valid"] == false)));
    server.stop();
}

#[test]
fn a_client_that_trickles_its_headers_is_disconnected() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let db = databases().into_iter().next().expect("SQLite is always there");
    let server = Server::start(&db.url, policy(), 1, 1);
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: loopback\r\n").unwrap();
    slow.set_read_timeout(Some(zkmargin_service::HEADER_READ_TIMEOUT * 3)).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    // The server closes the connection (after at most a 408): read returns end of file.
    let closed = slow.read_to_end(&mut answer).is_ok();
    let waited = started.elapsed();
    assert!(closed, "the connection is still open after {waited:?}");
    assert!(waited >= zkmargin_service::HEADER_READ_TIMEOUT - Duration::from_secs(1), "closed after {waited:?}");
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"), "{}", String::from_utf8_lossy(&answer));
    // Whoever sends a whole request is served as before.
    assert_eq!(get(&server.base, "/healthz", None).status, 200);
    server.stop();
}

#[test]
fn a_market_older_than_the_policy_allows_makes_an_invalid_verdict() {
    // The example market is dated 2026-11-25T08:00:00Z; the service's clock is later.
    let valid = bundle();
    let age = zkmargin_service::http::now_ms() / 1000 - zkmargin_circuits::time::parse_rfc3339(&market().as_of).unwrap();
    assert!(age > 3600, "the example market is more than an hour old by now");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("age.db").display().to_string();
    let mut strict = policy();
    strict.max_market_age_seconds = Some(3600);
    let server = Server::start(&db, strict, 1, 4);
    // Any signed market is stored; its age counts when a proof is verified against it.
    publish(&server.base);
    seed_nonce(&db, NONCE, 600_000);
    let a = post(&server.base, "/v1/proofs", &compact(&valid));
    assert_eq!((a.status, &a.body["valid"]), (201, &json!(false)), "{}", a.text);
    let reason = a.body["reason"].as_str().unwrap();
    assert!(reason.contains("max_market_age_seconds") && reason.contains("s old"), "{reason}");
    server.stop();
    // The same market under a policy that allows its age: valid.
    let mut lenient = policy();
    lenient.max_market_age_seconds = Some(age as u64 + 86_400);
    let server = Server::start(&db, lenient, 1, 4);
    let a = post(&server.base, "/v1/proofs", &pretty(&valid));
    assert_eq!((a.status, &a.body["valid"]), (201, &json!(true)), "{}", a.text);
    server.stop();
}
