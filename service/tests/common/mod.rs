//! Shared fixtures for the service tests: keys, a policy, the example market signed, one
//! proof of the example portfolio (made once per test binary), a server in this process,
//! and the databases to run against (SQLite always; PostgreSQL when
//! `ZKMARGIN_TEST_POSTGRES_URL` is set).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use zkmargin_circuits::encoding::field_to_hex;
use zkmargin_circuits::market::{Level, Market};
use zkmargin_prover::portfolio::Portfolio;
use zkmargin_prover::statement::opening;
use zkmargin_service::{Config, Running};
use zkmargin_verifier::progress::Silent;
use zkmargin_verifier::trust::{Attestation, MarketSignature, Policy};

pub const TOKEN: &str = "desk-secret-token";
pub const AS_OF: &str = "2026-11-25T07:30:00Z";
/// The nonce the fixture bundle is proved with (tests seed it as issued by the service).
pub const NONCE: &str = "6a0b9c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f";

pub fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(file)
}

pub fn params_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("params")
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn public(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

pub const PUBLISHER: u8 = 1;
pub const MALLORY: u8 = 9;
const VENUES: [(&str, u8); 3] = [("deribit", 2), ("okx", 3), ("binance", 4)];

pub fn policy() -> Policy {
    let venues = VENUES.iter().map(|(v, seed)| (v.to_string(), vec![public(&key(*seed))])).collect();
    let mut policy: Policy = serde_json::from_value(json!({"publishers": [public(&key(PUBLISHER))], "max_age_seconds": 86400, "require_nonce": true})).unwrap();
    policy.venues = venues;
    policy
}

pub fn market_text() -> String {
    std::fs::read_to_string(example("market.json")).unwrap()
}

pub fn market() -> Market {
    Market::from_json("market.json", &market_text()).unwrap()
}

pub fn market_post(signer: Option<u8>) -> Value {
    let market: Value = serde_json::from_str(&market_text()).unwrap();
    match signer {
        Some(seed) => json!({"market": market, "signature": MarketSignature::sign(&key(seed), &self::market())}),
        None => json!({"market": market}),
    }
}

/// Each account's attestation by its venue, as of `as_of`.
pub fn attestations(as_of: &str) -> Vec<Attestation> {
    let portfolio = Portfolio::from_json("portfolio.json", &std::fs::read_to_string(example("portfolio.json")).unwrap()).unwrap();
    portfolio
        .accounts
        .iter()
        .map(|acc| {
            let seed = VENUES.iter().find(|(v, _)| *v == acc.venue).unwrap().1;
            Attestation::sign(&key(seed), &acc.venue, &acc.account, &field_to_hex(&opening(acc).commitment()), as_of).unwrap()
        })
        .collect()
}

/// The example portfolio proved at the initial level, threshold 1000, covenants
/// `min_ratio` 1.5 and `min_equity` 100000, nonce [`NONCE`], with every account attested:
/// a valid bundle under [`policy`]. Proved once.
pub fn bundle() -> Value {
    bundle_with_nonce(NONCE)
}

/// The same proved with `nonce` instead (once per nonce and test binary).
pub fn bundle_with_nonce(nonce: &str) -> Value {
    static BUNDLES: OnceLock<Mutex<HashMap<String, Value>>> = OnceLock::new();
    let mut bundles = BUNDLES.get_or_init(Default::default).lock().unwrap();
    bundles
        .entry(nonce.to_string())
        .or_insert_with(|| {
            let market = market();
            let portfolio =
                Portfolio::from_json("portfolio.json", &std::fs::read_to_string(example("portfolio.json")).unwrap()).unwrap();
            let mut proven =
                zkmargin_prover::prove::prove(&market, &portfolio, Level::Initial, &zkmargin_circuits::witness::Claim {
                    threshold_units: 1000 * 1_000_000,
                    covenants: zkmargin_circuits::statement::Covenants {
                        min_ratio: Some(1_500_000),
                        min_equity: Some(100_000_000_000),
                        max_leverage: None,
                    },
                }, nonce, &params_dir(), &Silent)
                    .unwrap();
            proven.bundle.attestations = attestations(AS_OF);
            serde_json::from_str(&proven.bundle.to_json()).unwrap()
        })
        .clone()
}

/// Another bundle (another canonical form) that is as valid as `bundle`, with the same
/// nonce: its first attestation carried twice (attestations are beside the proof).
pub fn another_valid_bundle(bundle: &Value) -> Value {
    let mut b = bundle.clone();
    let first = b["attestations"][0].clone();
    b["attestations"].as_array_mut().unwrap().push(first);
    b
}

/// The secret the tests give a database for its stateless nonces (see [`seed_secret`]).
pub const NONCE_SECRET: [u8; 32] = [0x5e; 32];

/// Stores [`NONCE_SECRET`] as the database's nonce key before any service starts on it,
/// so that the tests can make nonces the service takes as its own.
pub fn seed_secret(db: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = zkmargin_service::store::Store::open(db).await.unwrap();
        let stored = store.secret(zkmargin_service::nonce::SECRET_NAME, &hex::encode(NONCE_SECRET), 0).await.unwrap();
        assert_eq!(stored, hex::encode(NONCE_SECRET), "the database had a secret already");
        store.close().await;
    });
}

/// A stateless nonce under [`NONCE_SECRET`], expiring at `expires_at` (Unix seconds).
pub fn stateless_nonce(expires_at: i64) -> String {
    zkmargin_service::nonce::NonceKey::new(&NONCE_SECRET).issue(expires_at).unwrap()
}

/// The challenge row of `nonce`, if any.
pub fn challenge_row(db: &str, nonce: &str) -> Option<zkmargin_service::store::Challenge> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = zkmargin_service::store::Store::open(db).await.unwrap();
        let row = store.challenge(nonce).await.unwrap();
        store.close().await;
        row
    })
}

/// A database for one test: a fresh SQLite file, or a fresh PostgreSQL database.
pub struct Db {
    pub name: &'static str,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// The databases to run a storage test against.
pub fn databases() -> Vec<Db> {
    let dir = tempfile::tempdir().unwrap();
    let mut dbs = vec![Db { name: "sqlite", url: dir.path().join("service.db").display().to_string(), _dir: Some(dir) }];
    match std::env::var("ZKMARGIN_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => dbs.push(Db { name: "postgres", url: fresh_postgres(&url), _dir: None }),
        _ => eprintln!("ZKMARGIN_TEST_POSTGRES_URL is not set: skipping the PostgreSQL run of this test"),
    }
    dbs
}

/// Creates a new, empty database on the server of `url`; its URL.
pub fn fresh_postgres(url: &str) -> String {
    let name = format!("zkmargin_test_{}", hex::encode(rand::random::<[u8; 8]>()));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut conn = sqlx::PgConnection::connect_with(&sqlx::postgres::PgConnectOptions::from_str(url).unwrap()).await.unwrap();
        conn.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    });
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

/// The tests' service configuration: loopback, any free port, [`TOKEN`], the tests'
/// parameter cache, no desk verifier.
pub fn config(db: &str, policy: Policy, workers: usize, queue: usize) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        db: db.to_string(),
        policy,
        token: Some(TOKEN.into()),
        params_dir: params_dir(),
        workers,
        queue,
        desk_wasm: None,
        evm_key: None,
    }
}

/// A service running in this process on a loopback port.
pub struct Server {
    pub runtime: tokio::runtime::Runtime,
    pub running: Option<Running>,
    pub base: String,
}

impl Server {
    pub fn start(db: &str, policy: Policy, workers: usize, queue: usize) -> Server {
        Server::start_config(config(db, policy, workers, queue))
    }

    /// [`Server::start`] with a secp256k1 key for EIP-712 verdicts.
    pub fn start_with_evm_key(db: &str, policy: Policy, workers: usize, queue: usize, evm_key: Option<zkmargin_evm::EvmKey>) -> Server {
        Server::start_config(Config { evm_key, ..config(db, policy, workers, queue) })
    }

    /// A service with this configuration.
    pub fn start_config(config: Config) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let running = runtime.block_on(zkmargin_service::start(config)).unwrap();
        let base = format!("http://{}", running.addr);
        Server { runtime, running: Some(running), base }
    }

    pub fn stop(mut self) {
        if let Some(r) = self.running.take() {
            self.runtime.block_on(r.stop()).unwrap();
        }
    }
}

/// Seeds a nonce as issued by the service, expiring `ttl_ms` from now (negative: expired).
pub fn seed_nonce(db: &str, nonce: &str, ttl_ms: i64) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = zkmargin_service::store::Store::open(db).await.unwrap();
        let now = zkmargin_service::http::now_ms();
        store.issue_challenge(nonce, now, now + ttl_ms).await.unwrap();
        store.close().await;
    });
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(300))).build().into()
}

/// A response: status, headers of interest, body as JSON (or a string).
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Value,
    pub text: String,
}

fn answer(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = result.unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let text = response.body_mut().read_to_string().unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, retry_after, body, text }
}

pub fn post(base: &str, path: &str, body: &[u8]) -> Answer {
    answer(agent().post(format!("{base}{path}")).header("content-type", "application/json").send(body))
}

/// Posts each body to `path` from its own thread, all released at once; the answers in
/// the bodies' order.
pub fn post_concurrently(base: &str, path: &str, bodies: Vec<Vec<u8>>) -> Vec<Answer> {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(bodies.len()));
    let handles: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let (base, path, barrier) = (base.to_string(), path.to_string(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                post(&base, &path, &body)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

pub fn post_json(base: &str, path: &str, body: &Value) -> Answer {
    post(base, path, body.to_string().as_bytes())
}

pub fn get(base: &str, path: &str, token: Option<&str>) -> Answer {
    let mut request = agent().get(format!("{base}{path}"));
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    answer(request.call())
}

/// Asserts an error answer: the status and `{"error": {"code", "message"}}`.
pub fn assert_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.text);
    assert_eq!(a.body["error"]["code"], code, "{}", a.text);
    assert!(a.body["error"]["message"].is_string(), "{}", a.text);
}
