//! What a fault-and-abuse campaign found (issue 22, items 1 to 5), over real HTTP on
//! loopback, against SQLite and, when `ZKMARGIN_TEST_POSTGRES_URL` is set, PostgreSQL:
//! client strings checked before storage, bounded records of invalid verdicts, verdicts
//! keyed by the bundle's canonical form and by what they depended on, and bounded
//! answers when the database fails.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::*;

fn publish(base: &str) {
    let a = post_json(base, "/v1/markets", &market_post(Some(PUBLISHER)));
    assert!(a.status == 201 || a.status == 200, "{}", a.text);
}

/// A service on `db` under [`policy`] with the example market published and [`NONCE`]
/// issued: the server and its base URL.
fn ready(db: &str) -> (Server, String) {
    let server = Server::start(db, policy(), 1, 4);
    let base = server.base.clone();
    publish(&base);
    seed_nonce(db, NONCE, 600_000);
    (server, base)
}

/// The verifications run so far, from `/metrics`.
fn verifications(base: &str) -> u64 {
    let m = get(base, "/metrics", None);
    m.text
        .lines()
        .find_map(|l| l.strip_prefix("zkmargin_verification_seconds_count "))
        .map(|n| n.trim().parse().unwrap())
        .unwrap_or(0)
}

/// Asserts a 4xx answer that holds no database error text.
fn refused_cleanly(a: &Answer, status: u16, code: &str) {
    assert_error(a, status, code);
    for leak in ["byte sequence", "encoding", "UTF8", "sqlx", "error returned", "SQLSTATE", "refused", "pool timed out", "os error"] {
        assert!(!a.text.contains(leak), "the answer holds {leak:?}: {}", a.text);
    }
}

#[test]
fn nul_bytes_and_malformed_strings_never_reach_storage() {
    let valid = bundle();
    for db in databases() {
        eprintln!("== {}", db.name);
        let (server, base) = ready(&db.url);

        // 1. A verdict id holding NUL: no such verdict, never looked up.
        refused_cleanly(&get(&base, "/v1/proofs/%00", Some(TOKEN)), 404, "not_found");
        refused_cleanly(&get(&base, &format!("/v1/proofs/{}%00", "ab".repeat(15)), Some(TOKEN)), 404, "not_found");
        // 2. A standing query for a venue holding NUL, or '/': malformed names.
        refused_cleanly(&get(&base, "/v1/standing?venue=%00&account=a", Some(TOKEN)), 400, "malformed");
        refused_cleanly(&get(&base, "/v1/standing?venue=deribit&account=a%01", Some(TOKEN)), 400, "malformed");
        refused_cleanly(&get(&base, "/v1/standing?venue=a%2Fb&account=a", Some(TOKEN)), 400, "malformed");
        // 3. A statement nonce holding NUL.
        let mut b = valid.clone();
        b["statement"]["nonce"] = json!("\u{0}");
        refused_cleanly(&post_json(&base, "/v1/proofs", &b), 400, "malformed");
        // A nonce of another form is nobody's nonce (422), without a lookup.
        b["statement"]["nonce"] = json!("ab");
        refused_cleanly(&post_json(&base, "/v1/proofs", &b), 422, "unknown_nonce");
        // 4. A market digest holding NUL.
        let mut b = valid.clone();
        b["market"]["digest"] = json!(format!("{}\u{0}", "ab".repeat(31)));
        refused_cleanly(&post_json(&base, "/v1/proofs", &b), 400, "malformed");
        // 5. An account name holding NUL: refused before any verification.
        let mut b = valid.clone();
        b["statement"]["accounts"][0]["account"] = json!("sub\u{0}1");
        let a = post_json(&base, "/v1/proofs", &b);
        refused_cleanly(&a, 400, "malformed");
        assert!(a.body["error"]["message"].as_str().unwrap().contains("statement.accounts[0].account"), "{}", a.text);
        // The same for the attestations' names and a group's name.
        let mut b = valid.clone();
        b["attestations"][1]["venue"] = json!("ok\u{0}x");
        refused_cleanly(&post_json(&base, "/v1/proofs", &b), 400, "malformed");
        let mut b = valid.clone();
        b["statement"]["groups"][0]["name"] = json!("x".repeat(129));
        refused_cleanly(&post_json(&base, "/v1/proofs", &b), 400, "malformed");
        assert_eq!(verifications(&base), 0, "nothing above reached a worker");
        // A market whose id holds NUL, validly signed: malformed, not stored.
        let mut market = market();
        market.id = "m\u{0}".into();
        let mut signed = market_post(None);
        signed["market"]["id"] = json!(market.id);
        signed["signature"] = serde_json::to_value(zkmargin_verifier::trust::MarketSignature::sign(&key(PUBLISHER), &market)).unwrap();
        refused_cleanly(&post_json(&base, "/v1/markets", &signed), 400, "malformed");

        // The service still works, and every refusal above left the database unchanged.
        let a = post(&base, "/v1/proofs", valid.to_string().as_bytes());
        assert_eq!((a.status, &a.body["valid"]), (201, &json!(true)), "{}", a.text);
        let id = a.body["id"].as_str().unwrap();
        assert_eq!(get(&base, &format!("/v1/proofs/{}", id.to_ascii_uppercase()), Some(TOKEN)).status, 200);
        server.stop();
    }
}

/// SQLite's size after a checkpoint (pages in use), and the bytes of verdict rows.
fn sqlite_size(path: &str) -> u64 {
    use sqlx::{Connection, Row};
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{path}")).await.unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await.unwrap();
        let pages: i64 = sqlx::query("PRAGMA page_count").fetch_one(&mut conn).await.unwrap().get(0);
        let size: i64 = sqlx::query("PRAGMA page_size").fetch_one(&mut conn).await.unwrap().get(0);
        conn.close().await.unwrap();
        (pages * size) as u64
    })
}

/// The verdicts stored, and the bytes their statements and reasons hold (either database).
fn rows(db: &str) -> (usize, usize) {
    let verdicts = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let store = zkmargin_service::store::Store::open(db).await.unwrap();
        let all = store.all_verdicts().await.unwrap();
        store.close().await;
        all
    });
    let bytes = verdicts.iter().map(|v| v.statement_json.len() + v.reason.as_deref().map_or(0, str::len)).sum();
    (verdicts.len(), bytes)
}

#[test]
fn an_invalid_post_stores_a_bounded_record_and_too_many_accounts_are_refused() {
    let valid = bundle();
    for db in databases() {
        eprintln!("== {}", db.name);
        let (server, base) = ready(&db.url);
        // One invalid verdict first, so that the tables and their pages exist.
        let mut first = valid.clone();
        first["statement"]["threshold"] = json!("1000.000001");
        assert_eq!(post_json(&base, "/v1/proofs", &first).status, 201);
        let before = (db.name == "sqlite").then(|| sqlite_size(&db.url));

        // About 6 MB, invalid: a statement of the largest supported shape (64 accounts)
        // with names as long as allowed, and copies of an attestation.
        let mut big = valid.clone();
        let account = big["statement"]["accounts"][0].clone();
        big["statement"]["accounts"] = Value::Array(
            (0..64)
                .map(|i| {
                    let mut a = account.clone();
                    a["account"] = json!(format!("{i:03}{}", "a".repeat(125)));
                    a["commitment"] = json!(format!("{i:02x}{}", "0".repeat(62)));
                    a
                })
                .collect(),
        );
        assert!(big["statement"].to_string().len() > 10_000);
        let copy = big["attestations"][0].clone();
        big["attestations"] = Value::Array(vec![copy.clone(); 6_000_000 / copy.to_string().len()]);
        let text = big.to_string();
        assert!(text.len() > 5_500_000 && text.len() < 8_000_000, "{}", text.len());
        let a = post(&base, "/v1/proofs", text.as_bytes());
        assert_eq!((a.status, &a.body["valid"]), (201, &json!(false)), "{}", &a.text[..a.text.len().min(500)]);
        let (count, bytes) = rows(&db.url);
        assert_eq!(count, 2);
        assert!(bytes < 4096, "the two invalid verdicts hold {bytes} bytes of statement and reason");
        if let Some(before) = before {
            let grown = sqlite_size(&db.url) - before;
            eprintln!("a {} byte invalid post grew the database by {grown} bytes", text.len());
            assert!(grown <= 8192, "a {} byte invalid post grew the database by {grown} bytes", text.len());
        }

        // More accounts (or groups) than the largest supported shape: 422 before any
        // verification, nothing stored.
        let ran = verifications(&base);
        let mut wide = valid.clone();
        let account = wide["statement"]["accounts"][0].clone();
        wide["statement"]["accounts"] = Value::Array(
            (0..45_000).map(|i| {
                let mut a = account.clone();
                a["account"] = json!(format!("made-up-{i}"));
                a
            })
            .collect(),
        );
        let a = post_json(&base, "/v1/proofs", &wide);
        refused_cleanly(&a, 422, "shape_too_large");
        assert!(a.body["error"]["message"].as_str().unwrap().contains("64 accounts"), "{}", a.text);
        let mut groups = valid.clone();
        groups["statement"]["groups"] = Value::Array((0..17).map(|i| json!({"name": format!("g{i}"), "mode": "portfolio"})).collect());
        refused_cleanly(&post_json(&base, "/v1/proofs", &groups), 422, "shape_too_large");
        assert_eq!(verifications(&base), ran);
        assert_eq!(rows(&db.url).0, 2, "nothing stored");
        server.stop();
    }
}

#[test]
fn a_re_serialised_bundle_gets_the_original_verdict_and_a_different_bundle_never_does() {
    let valid = bundle();
    for db in databases() {
        eprintln!("== {}", db.name);
        let (server, base) = ready(&db.url);

        // Bundles that differ from the prover's: stored invalid, and never served for it.
        let mut late = valid.clone();
        late["attestations"][2]["as_of"] = json!("2026-11-25T07:31:00Z"); // its signature no longer verifies
        let a = post_json(&base, "/v1/proofs", &late);
        assert_eq!((a.status, &a.body["valid"]), (201, &json!(false)), "{}", a.text);
        let mut fewer = valid.clone();
        fewer["attestations"].as_array_mut().unwrap().pop();
        let a = post_json(&base, "/v1/proofs", &fewer);
        assert_eq!((a.status, &a.body["valid"]), (201, &json!(false)), "{}", a.text);

        // A third party posts the prover's bundle re-serialised: keys reordered,
        // whitespace, hex in upper case, attestations reversed.
        let mut respelled = valid.clone();
        respelled["proof"] = json!(valid["proof"].as_str().unwrap().to_ascii_uppercase());
        respelled["market"]["digest"] = json!(valid["market"]["digest"].as_str().unwrap().to_ascii_uppercase());
        respelled["attestations"].as_array_mut().unwrap().reverse();
        let text = format!("  {}\n", serde_json::to_string_pretty(&respelled).unwrap().replace("\"format\"", "\"format\" "));
        let first = post(&base, "/v1/proofs", text.as_bytes());
        assert_eq!((first.status, &first.body["valid"]), (201, &json!(true)), "{}", first.text);
        // The prover's own post of its original bytes: the same verdict, 200.
        let own = post(&base, "/v1/proofs", serde_json::to_string_pretty(&valid).unwrap().as_bytes());
        assert_eq!((own.status, &own.body), (200, &first.body), "{}", own.text);
        // The stored statement is the canonical one, and the verdict names its digest.
        let v = get(&base, &format!("/v1/proofs/{}", first.body["id"].as_str().unwrap()), Some(TOKEN));
        assert_eq!(v.body["statement"], valid["statement"]);
        let canonical = zkmargin_verifier::bundle::Bundle::from_json("b", &valid.to_string()).unwrap().canonical_digest();
        assert_eq!(v.body["bundle_digest"], hex::encode(canonical));
        server.stop();
    }
}

/// A policy listing two publishers, needing `quorum` of them.
fn two_publishers(quorum: u32) -> zkmargin_verifier::trust::Policy {
    let mut p = policy();
    p.publishers.push(hex::encode(key(5).verifying_key().to_bytes()));
    p.publisher_quorum = Some(quorum);
    p
}

#[test]
fn a_verdict_is_verified_again_when_what_it_depended_on_changed() {
    let valid = bundle();
    for db in databases() {
        eprintln!("== {}", db.name);
        // The market is stored with one signature under a quorum of 1.
        let server = Server::start(&db.url, two_publishers(1), 1, 4);
        publish(&server.base);
        seed_nonce(&db.url, NONCE, 600_000);
        server.stop();

        // The quorum is raised to 2; a third party posts the prover's bundle first.
        let server = Server::start(&db.url, two_publishers(2), 1, 4);
        let base = server.base.clone();
        let early = post_json(&base, "/v1/proofs", &valid);
        assert_eq!((early.status, &early.body["valid"]), (201, &json!(false)), "{}", early.text);
        assert!(early.body["reason"].as_str().unwrap().contains("1 distinct"), "{}", early.text);
        assert_eq!(post_json(&base, "/v1/proofs", &valid).body, early.body, "nothing changed: the same verdict");
        // The second publisher signs: the market's signature set changes.
        let mut both = market_post(Some(PUBLISHER));
        both["signatures"] = json!([both["signature"].clone(), zkmargin_verifier::trust::MarketSignature::sign(&key(5), &market())]);
        both.as_object_mut().unwrap().remove("signature");
        assert_eq!(post_json(&base, "/v1/markets", &both).status, 200);
        // The prover's post: verified again, valid, a new verdict.
        let own = post(&base, "/v1/proofs", serde_json::to_string_pretty(&valid).unwrap().as_bytes());
        assert_eq!((own.status, &own.body["valid"]), (201, &json!(true)), "{}", own.text);
        assert_ne!(own.body["id"], early.body["id"]);
        assert_eq!(post_json(&base, "/v1/proofs", &valid).body, own.body);
        let s = get(&base, "/v1/standing?venue=okx&account=main", Some(TOKEN));
        assert_eq!(s.body["proof"], own.body["id"]);
        server.stop();

        // The policy changes (okx's key is no longer trusted): verified again, invalid, a
        // new verdict; the accepted one stays what it was.
        let mut distrust = two_publishers(2);
        distrust.venues.insert("okx".into(), vec![hex::encode(key(MALLORY).verifying_key().to_bytes())]);
        let server = Server::start(&db.url, distrust, 1, 4);
        let now_invalid = post_json(&server.base, "/v1/proofs", &valid);
        assert_eq!((now_invalid.status, &now_invalid.body["valid"]), (201, &json!(false)), "{}", now_invalid.text);
        assert!(now_invalid.body["reason"].as_str().unwrap().contains("okx/main"), "{}", now_invalid.text);
        assert_eq!(get(&server.base, &format!("/v1/proofs/{}", own.body["id"].as_str().unwrap()), Some(TOKEN)).body["valid"], true);
        server.stop();

        // Back to the policy it was accepted under: valid again, and that is the verdict
        // already accepted (its nonce is used by it), not a new one.
        let server = Server::start(&db.url, two_publishers(2), 1, 4);
        let again = post_json(&server.base, "/v1/proofs", &valid);
        assert_eq!((again.status, &again.body), (200, &own.body), "{}", again.text);
        // Another bundle with the same nonce is still refused.
        assert_error(&post_json(&server.base, "/v1/proofs", &another_valid_bundle(&valid)), 409, "nonce_used");
        server.stop();
    }
}

#[test]
fn a_file_that_is_not_a_database_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    std::fs::write(&path, r#"{"publishers": []}"#).unwrap();
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let err = runtime.block_on(zkmargin_service::store::Store::open(&path.display().to_string())).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    let text = err.to_string();
    assert!(text.contains("not a database") && text.contains(&path.display().to_string()), "{text}");
    assert_eq!(std::fs::read(&path).unwrap(), br#"{"publishers": []}"#, "the file is untouched");
}

/// Holds SQLite's write lock on `ZKMARGIN_TEST_LOCK_DB` until its standard input closes:
/// the other process of [`a_write_locked_sqlite_database_is_unhealthy`] (run by it).
#[test]
#[ignore = "a helper process, started by a_write_locked_sqlite_database_is_unhealthy"]
fn hold_the_write_lock() {
    use sqlx::Connection;
    let Ok(path) = std::env::var("ZKMARGIN_TEST_LOCK_DB") else { return };
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{path}")).await.unwrap();
        let tx = conn.begin_with("BEGIN IMMEDIATE").await.unwrap();
        println!("locked");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        tx.rollback().await.unwrap();
    });
}

#[test]
fn a_write_locked_sqlite_database_is_unhealthy() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    let valid = bundle();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("locked.db").display().to_string();
    let (server, _) = ready(&db);
    assert_eq!(get(&server.base, "/healthz", None).status, 200);

    // Another process takes the write lock and keeps it.
    let mut holder = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "hold_the_write_lock", "--ignored", "--nocapture", "--test-threads=1"])
        .env("ZKMARGIN_TEST_LOCK_DB", &db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(holder.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("locked") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the helper process ended without the lock");
    }
    let started = Instant::now();
    let health = get(&server.base, "/healthz", None);
    let waited = started.elapsed();
    assert_error(&health, 503, "storage");
    assert!(health.retry_after.is_some());
    assert!(waited < Duration::from_secs(3), "healthz took {waited:?}");
    // A submission cannot be stored either: a bounded 503, not a verdict.
    let started = Instant::now();
    let a = post_json(&server.base, "/v1/proofs", &valid);
    assert_error(&a, 503, "storage");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());

    // The lock released: healthy again, and the submission is accepted.
    holder.stdin.take().unwrap().write_all(b"done\n").unwrap();
    assert!(holder.wait().unwrap().success());
    assert_eq!(get(&server.base, "/healthz", None).status, 200);
    let a = post_json(&server.base, "/v1/proofs", &valid);
    assert_eq!((a.status, &a.body["valid"]), (201, &json!(true)), "{}", a.text);
    server.stop();
}

/// A PostgreSQL server of this test's own (the one `ZKMARGIN_TEST_POSTGRES_URL` names is
/// shared), started with `.ci/start-postgres` on a free port, stopped on drop.
struct OwnPostgres {
    dir: tempfile::TempDir,
    url: String,
}

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/start-postgres");
        let out = std::process::Command::new("bash").arg(script).arg(dir.path()).env("ZKMARGIN_PG_PORT", port.to_string()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
        OwnPostgres { dir, url }
    }

    fn stop(&self) {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .unwrap()
            .map(|e| e.unwrap().path().join("bin/pg_ctl"))
            .filter(|p| p.exists())
            .max()
            .unwrap();
        let data = self.dir.path().join("data");
        let command = format!("'{}' -D '{}' -m immediate stop", bin.display(), data.display());
        let status = if running_as_root() {
            std::process::Command::new("su").args(["postgres", "-s", "/bin/sh", "-c", &command]).output().unwrap()
        } else {
            std::process::Command::new("sh").args(["-c", &command]).output().unwrap()
        };
        let _ = status;
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        if self.dir.path().join("data/postmaster.pid").exists() {
            self.stop();
        }
    }
}

fn running_as_root() -> bool {
    std::process::Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false)
}

#[test]
fn a_stopped_postgresql_is_a_bounded_503() {
    if std::env::var("ZKMARGIN_TEST_POSTGRES_URL").map_or(true, |u| u.is_empty()) {
        eprintln!("ZKMARGIN_TEST_POSTGRES_URL is not set (no PostgreSQL here): skipping the stopped-PostgreSQL test");
        return;
    }
    let valid = bundle();
    let pg = OwnPostgres::start();
    let db = fresh_postgres(&pg.url);
    let (server, base) = ready(&db);
    let id = post_json(&base, "/v1/proofs", &{
        let mut b = valid.clone();
        b["statement"]["threshold"] = json!("1000.000001");
        b
    })
    .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(get(&base, "/healthz", None).status, 200);

    pg.stop();
    type Request<'a> = Box<dyn Fn() -> Answer + 'a>;
    let requests: Vec<(&str, Request)> = vec![
        ("healthz", Box::new(|| get(&base, "/healthz", None))),
        ("proof", Box::new(|| post_json(&base, "/v1/proofs", &valid))),
        ("verdict", Box::new(|| get(&base, &format!("/v1/proofs/{id}"), Some(TOKEN)))),
        ("standing", Box::new(|| get(&base, "/v1/standing?venue=okx&account=main", Some(TOKEN)))),
        ("market", Box::new(|| post_json(&base, "/v1/markets", &market_post(Some(PUBLISHER))))),
    ];
    for (what, request) in &requests {
        let started = Instant::now();
        let a = request();
        let took = started.elapsed();
        eprintln!("{what}: {} in {took:?}", a.status);
        refused_cleanly(&a, 503, "storage");
        assert!(a.retry_after.is_some(), "{what}: no Retry-After");
        assert!(took < Duration::from_secs(3), "{what} took {took:?}");
    }
    server.stop();
}
