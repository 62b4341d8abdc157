//! The venue service end to end (SPEC section 9), through the real `zkmargin` binary:
//! the three-party flow with the client commands, and durability under SIGKILL.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::*;

const TOKEN: &str = "desk-token-1234";
const AS_OF: &str = "2026-11-25T07:30:00Z";

/// Keys, signed market, attestations, policy and token file, made once per test binary.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn get() -> &'static World {
        static WORLD: OnceLock<World> = OnceLock::new();
        WORLD.get_or_init(|| {
            let world = World { dir: tempfile::tempdir().unwrap() };
            for name in ["publisher", "deribit", "okx", "binance", "mallory"] {
                ok(run(&["keygen", "--out", &s(&world.path(name))]));
            }
            for who in ["publisher", "mallory"] {
                ok(run(&["sign-market", "--key", &s(&world.path(&format!("{who}.key"))), "--market", &s(&example_path("market.json")),
                    "--out", &s(&world.path(&format!("{who}.sig")))]));
            }
            let out = ok(run(&["commit", "--json", "--portfolio", &s(&example_path("portfolio.json"))]));
            let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
            for row in rows.as_array().unwrap() {
                let venue = row["venue"].as_str().unwrap();
                ok(run(&["attest", "--key", &s(&world.path(&format!("{venue}.key"))), "--venue", venue, "--account",
                    row["account"].as_str().unwrap(), "--commitment", row["commitment"].as_str().unwrap(), "--as-of", AS_OF,
                    "--out", &s(&world.path(&format!("{venue}.att")))]));
            }
            let key = |name: &str| std::fs::read_to_string(world.path(&format!("{name}.pub"))).unwrap().trim().to_string();
            let policy = json!({
                "publishers": [key("publisher")],
                "venues": {"deribit": [key("deribit")], "okx": [key("okx")], "binance": [key("binance")]},
                "max_age_seconds": 86400,
                "require_nonce": true,
                "nonce_ttl_seconds": 3600,
                "max_k": 14
            });
            std::fs::write(world.path("policy.json"), policy.to_string()).unwrap();
            std::fs::write(world.path("token"), format!("{TOKEN}\n")).unwrap();
            world
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Proves the example portfolio with `nonce` and every attestation into `out`.
    fn prove(&self, nonce: &str, out: &Path) {
        let mut args: Vec<String> = ["prove", "--market", &s(&example_path("market.json")), "--portfolio",
            &s(&example_path("portfolio.json")), "--level", "initial", "--threshold", "1000", "--nonce", nonce, "--out", &s(out)]
            .iter().map(|x| x.to_string()).collect();
        for venue in ["deribit", "okx", "binance"] {
            args.extend(["--attestation".to_string(), s(&self.path(&format!("{venue}.att")))]);
        }
        ok(run(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    }
}

/// A `zkmargin serve` process.
struct Service {
    child: Child,
    base: String,
}

impl Service {
    fn start(db: &str) -> Service {
        let world = World::get();
        let (child, base) = spawn_serve(&["--listen", "127.0.0.1:0", "--db", db, "--policy", &s(&world.path("policy.json")),
            "--token-file", &s(&world.path("token")), "--workers", "2", "--queue", "32"]);
        Service { child, base }
    }

    /// SIGKILL: no shutdown, no flush, nothing.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(120))).build().into()
}

fn request(method: &str, url: &str, body: Option<&[u8]>, token: Option<&str>) -> Result<(u16, Value), ureq::Error> {
    let agent = agent();
    let mut response = match (method, body) {
        ("GET", _) => {
            let mut r = agent.get(url);
            if let Some(t) = token {
                r = r.header("authorization", format!("Bearer {t}"));
            }
            r.call()?
        }
        (_, Some(b)) => agent.post(url).send(b)?,
        (_, None) => agent.post(url).send_empty()?,
    };
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string()?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

fn databases(dir: &Path) -> Vec<(&'static str, String)> {
    let mut dbs = vec![("sqlite", s(&dir.join("venue.db")))];
    match std::env::var("ZKMARGIN_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => dbs.push(("postgres", fresh_postgres(&url))),
        _ => eprintln!("ZKMARGIN_TEST_POSTGRES_URL is not set: skipping the PostgreSQL run of this test"),
    }
    dbs
}

fn fresh_postgres(url: &str) -> String {
    use sqlx::{Connection, Executor};
    let name = format!("zkmargin_cli_{}", hex::encode(rand::random::<[u8; 8]>()));
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        conn.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    });
    let (base, query) = url.split_once('?').map(|(b, q)| (b, format!("?{q}"))).unwrap_or((url, String::new()));
    let scheme_end = base.find("://").unwrap() + 3;
    let host = base[scheme_end..].find('/').map(|i| &base[..scheme_end + i]).unwrap_or(base);
    format!("{host}/{name}{query}")
}

#[test]
fn publisher_institution_and_desk_through_the_service() {
    let world = World::get();
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&s(&dir.path().join("venue.db")));
    let server = service.base.clone();

    // The publisher posts its signed market; a foreign signature is refused.
    let out = run(&["publish", "--server", &server, "--market", &s(&example_path("market.json")), "--market-sig", &s(&world.path("mallory.sig"))]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("403"));
    let out = ok(run(&["publish", "--server", &server, "--market", &s(&example_path("market.json")), "--market-sig", &s(&world.path("publisher.sig"))]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("published"));

    // The institution gets a nonce from the service, proves and submits.
    let out = ok(run(&["challenge", "--server", &server]));
    let nonce = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(nonce.len(), 64);
    let bundle = dir.path().join("proof.json");
    world.prove(&nonce, &bundle);
    // Anyone who sees the bundle posts it first, re-serialised (a leading space, compact
    // JSON): that is the same bundle, and its verdict is the prover's.
    let mut replay: Value = serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    let replay_path = dir.path().join("replay.json");
    std::fs::write(&replay_path, format!(" {replay}")).unwrap();
    let (status, first) = request("POST", &format!("{server}/v1/proofs"), Some(&std::fs::read(&replay_path).unwrap()), None).unwrap();
    assert_eq!((status, &first["valid"]), (201, &json!(true)), "{first}");
    // The prover's own submit of its original bytes: valid, exit 0, that verdict.
    let out = ok(run(&["submit", "--server", &server, "--proof", &s(&bundle)]));
    let verdict: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict, first);
    // The same bytes again: the same verdict.
    let out = ok(run(&["submit", "--server", &server, "--proof", &s(&bundle)]));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), verdict);

    // Refusals and their exit codes: another bundle (an attestation carried twice) with
    // the nonce an accepted proof used: 409.
    let first_attestation = replay["attestations"][0].clone();
    let mut another = replay.clone();
    another["attestations"].as_array_mut().unwrap().push(first_attestation);
    std::fs::write(&replay_path, another.to_string()).unwrap();
    let out = run(&["submit", "--server", &server, "--proof", &s(&replay_path)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("409"), "{}", String::from_utf8_lossy(&out.stderr));
    // A statement changed after proving (under a fresh nonce): a stored invalid verdict.
    let fresh = String::from_utf8(ok(run(&["challenge", "--server", &server])).stdout).unwrap().trim().to_string();
    replay["statement"]["nonce"] = json!(fresh);
    std::fs::write(&replay_path, replay.to_string()).unwrap();
    let out = run(&["submit", "--server", &server, "--proof", &s(&replay_path)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["valid"], false);
    std::fs::write(&replay_path, "not json").unwrap();
    assert_eq!(run(&["submit", "--server", &server, "--proof", &s(&replay_path)]).status.code(), Some(2));
    assert_eq!(run(&["submit", "--server", &server, "--proof", &s(&dir.path().join("missing.json"))]).status.code(), Some(2));

    // The desk reads the institution's standing, with its token.
    let standing = format!("{server}/v1/standing?venue=okx&account=main");
    assert_eq!(request("GET", &standing, None, None).unwrap().0, 401);
    let (status, body) = request("GET", &standing, None, Some(TOKEN)).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["proof"], verdict["id"]);
    assert_eq!(body["level"], "initial");
    assert_eq!(body["threshold"], "1000.000000");
    assert_eq!(body["market_as_of"], "2026-11-25T08:00:00Z");
    let (status, body) = request("GET", &format!("{server}/v1/proofs/{}", verdict["id"].as_str().unwrap()), None, Some(TOKEN)).unwrap();
    assert_eq!((status, &body["valid"]), (200, &json!(true)));
    assert_eq!(body["statement"]["nonce"], nonce.as_str());
    drop(service);

    // A service that cannot be reached: exit 3.
    let out = run(&["submit", "--server", &server, "--proof", &s(&bundle)]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(run(&["challenge", "--server", &server]).status.code(), Some(3));
}

/// Two bundles proved once per test binary, with fixed nonces the durability test seeds
/// into each database as issued by the service.
fn durable_bundles() -> &'static Vec<(String, Value)> {
    static BUNDLES: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        let world = World::get();
        (0..2u8)
            .map(|i| {
                let nonce = format!("{:02x}", 0xd0 + i).repeat(32);
                let out = world.path(&format!("durable-{i}.json"));
                world.prove(&nonce, &out);
                (nonce, serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap())
            })
            .collect()
    })
}

fn store_call<T>(db: &str, f: impl AsyncFnOnce(&zkmargin_service::store::Store) -> T) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let store = zkmargin_service::store::Store::open(db).await.unwrap();
        let out = f(&store).await;
        store.close().await;
        out
    })
}

/// Nonces issued but only ever carried by invalid bundles.
fn spare_nonce(c: usize) -> String {
    format!("{:02x}", 0xa0 + c).repeat(32)
}

#[derive(Debug)]
struct Ack {
    status: u16,
    id: String,
    valid: bool,
    nonce: String,
}

#[test]
fn acknowledged_verdicts_survive_sigkill_and_no_nonce_is_accepted_twice() {
    let bundles = durable_bundles();
    let dir = tempfile::tempdir().unwrap();
    for (name, db) in databases(dir.path()) {
        eprintln!("== {name}");
        store_call(&db, async |store| {
            let now = zkmargin_service::http::now_ms();
            for nonce in bundles.iter().map(|(n, _)| n.clone()).chain((0..4).map(spare_nonce)) {
                store.issue_challenge(&nonce, now, now + 3_600_000).await.unwrap();
            }
        });
        let service = Service::start(&db);
        let sig: Value = serde_json::from_str(&std::fs::read_to_string(World::get().path("publisher.sig")).unwrap()).unwrap();
        let market: Value = serde_json::from_str(&std::fs::read_to_string(example_path("market.json")).unwrap()).unwrap();
        let (status, _) = request("POST", &format!("{}/v1/markets", service.base), Some(json!({"market": market, "signature": sig}).to_string().as_bytes()), None).unwrap();
        assert_eq!(status, 201);

        let base = Arc::new(Mutex::new(service.base.clone()));
        let done = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(Mutex::new(Vec::<Ack>::new()));
        let started = Instant::now();
        let clients: Vec<_> = (0..4usize)
            .map(|c| {
                let (base, done, acks) = (base.clone(), done.clone(), acks.clone());
                let bundles = bundles.clone();
                std::thread::spawn(move || {
                    for i in 0..10usize {
                        let (nonce, bundle) = &bundles[(c + i) % bundles.len()];
                        // Every third request is a valid bundle (a new byte string of it);
                        // the others are invalid (a unique tampered threshold each).
                        let body = if i % 3 == 0 {
                            format!("{}{bundle}", " ".repeat(c * 16 + i)).into_bytes()
                        } else {
                            // Under a nonce no valid proof ever uses, so that it is
                            // verified (and found invalid) rather than refused with 409.
                            let mut b = bundle.clone();
                            b["statement"]["nonce"] = json!(spare_nonce(c));
                            b["statement"]["threshold"] = json!(format!("{}.{:06}", 1000 + c, i));
                            b.to_string().into_bytes()
                        };
                        // Retried while the service is down (bounded in time).
                        while !done.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(120) {
                            let url = format!("{}/v1/proofs", base.lock().unwrap());
                            match request("POST", &url, Some(&body), None) {
                                Ok((status @ (200 | 201), v)) => {
                                    acks.lock().unwrap().push(Ack {
                                        status,
                                        id: v["id"].as_str().unwrap().to_string(),
                                        valid: v["valid"].as_bool().unwrap(),
                                        nonce: nonce.clone(),
                                    });
                                    break;
                                }
                                Ok((409, _)) => break,
                                Ok((503, _)) => std::thread::sleep(Duration::from_millis(200)),
                                Ok((status, v)) => panic!("unexpected {status}: {v}"),
                                // The service was killed under us.
                                Err(_) => std::thread::sleep(Duration::from_millis(200)),
                            }
                        }
                    }
                })
            })
            .collect();

        // Kill the service three times while the clients run, restarting it each time.
        let mut service = Some(service);
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(4000));
            service.take().unwrap().kill();
            let restarted = Service::start(&db);
            *base.lock().unwrap() = restarted.base.clone();
            service = Some(restarted);
        }
        for c in clients {
            c.join().unwrap();
        }
        service.take().unwrap().kill();
        let acks = Arc::try_unwrap(acks).unwrap().into_inner().unwrap();
        eprintln!("{} acknowledged ({} valid) in {:.1?}", acks.len(), acks.iter().filter(|a| a.valid).count(), started.elapsed());
        assert!(acks.iter().filter(|a| a.status == 201).count() >= 10, "too few submissions were acknowledged");

        // After the last SIGKILL: every acknowledged verdict is there, as acknowledged.
        let service = Service::start(&db);
        for ack in &acks {
            let (status, v) = request("GET", &format!("{}/v1/proofs/{}", service.base, ack.id), None, Some(TOKEN)).unwrap();
            assert_eq!(status, 200, "verdict {} acknowledged with {} is gone", ack.id, ack.status);
            assert_eq!(v["valid"], ack.valid);
            if ack.valid {
                assert_eq!(v["statement"]["nonce"], ack.nonce.as_str());
            }
        }
        drop(service);
        let stored = store_call(&db, async |store| store.all_verdicts().await.unwrap());
        let mut digests: Vec<&str> = stored.iter().map(|v| v.bundle_digest.as_str()).collect();
        digests.sort();
        digests.dedup();
        assert_eq!(digests.len(), stored.len(), "a verdict is duplicated");
        for (nonce, _) in bundles {
            let accepted = stored.iter().filter(|v| v.valid && &v.nonce == nonce).count();
            assert!(accepted <= 1, "nonce {nonce} accepted {accepted} times");
        }
        let created: Vec<&Ack> = acks.iter().filter(|a| a.status == 201).collect();
        let mut ids: Vec<&str> = created.iter().map(|a| a.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), created.len(), "one verdict acknowledged twice with 201");
    }
}

#[test]
fn serve_refuses_a_file_that_is_not_a_database_at_once() {
    let world = World::get();
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("venue.db");
    std::fs::write(&garbage, "this is no SQLite file\n").unwrap();
    let started = Instant::now();
    let out = run(&["serve", "--listen", "127.0.0.1:0", "--db", &s(&garbage), "--policy", &s(&world.path("policy.json"))]);
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&s(&garbage)) && err.contains("not a database"), "{err}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(std::fs::read(&garbage).unwrap(), b"this is no SQLite file\n", "the file is untouched");
}
