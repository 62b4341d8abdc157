//! Service throughput against the library's, on the medium sample (issue 9's targets):
//! sustained verifications per second through `POST /v1/proofs` (SQLite, in-process
//! server, loopback) against the verifier library verifying the same bundles on as many
//! threads, and the latency of `POST /v1/challenges` under that load.
//!
//! `cargo run --release -p zkmargin-service --example throughput [-- N [WORKERS]]` (N
//! bundles, default 24; WORKERS service workers, default one per core; the workers'
//! niceness is `ZKMARGIN_WORKER_NICE`, default 10). Every bundle is the one medium proof with its statement's nonce changed
//! to a distinct issued nonce: each is fully verified (and found invalid), at the cost
//! of a valid one, and stored as a distinct verdict.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use zkmargin_circuits::market::{Level, Market};
use zkmargin_prover::portfolio::Portfolio;
use zkmargin_prover::sample::{self, Profile};
use zkmargin_service::Config;
use zkmargin_verifier::bundle::Bundle;
use zkmargin_verifier::params;
use zkmargin_verifier::progress::Silent;
use zkmargin_verifier::trust::{MarketSignature, Policy};
use zkmargin_verifier::verify::{Expectations, Verifier};

fn spare(i: usize) -> String {
    format!("{:064x}", 0xbe00 + i)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(600))).build().into()
}

fn post(base: &str, path: &str, body: &[u8]) -> (u16, Value) {
    let mut r = agent().post(format!("{base}{path}")).send(body).unwrap();
    let status = r.status().as_u16();
    (status, serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null))
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(24);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let service_workers: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(threads);
    let loadavg = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    eprintln!("load average at start: {}", loadavg());
    let params_dir = params::default_dir();
    let generated = sample::generate(Profile::Medium, 1);
    let market = Market::from_json("market", &generated.market_json).unwrap();
    let portfolio = Portfolio::from_json("portfolio", &generated.portfolio_json).unwrap();
    let started = Instant::now();
    let proven = zkmargin_prover::prove::prove(&market, &portfolio, Level::Initial, &Default::default(), &spare(999), &params_dir, &Silent).unwrap();
    eprintln!("proved the medium sample (k = {}) in {:.1?}", proven.bundle.circuit.k, started.elapsed());
    let variants: Vec<Bundle> = (0..n)
        .map(|i| {
            let mut b = proven.bundle.clone();
            b.statement.nonce = spare(i);
            b
        })
        .collect();

    // The library: one shared verifier (key built once), `threads` threads.
    let verifier = Arc::new(Verifier::new(params_dir.clone()));
    let started = Instant::now();
    verifier.verify(&market, &proven.bundle, &Expectations::default()).unwrap();
    eprintln!("library: key rebuilt and first verification in {:.2?}", started.elapsed());
    let queue = Arc::new(Mutex::new(variants.clone()));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (queue, verifier, market) = (queue.clone(), verifier.clone(), market.clone());
            std::thread::spawn(move || loop {
                let Some(b) = queue.lock().unwrap().pop() else { break };
                verifier.verify(&market, &b, &Expectations { nonce: Some(b.statement.nonce.clone()), ..Default::default() }).unwrap();
            })
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().unwrap());
    let library = started.elapsed();

    // The service: in-process, SQLite, `threads` workers, clients on loopback.
    let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    let policy: Policy = serde_json::from_value(json!({"publishers": [hex::encode(key.verifying_key().to_bytes())]})).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db").display().to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let running = runtime
        .block_on(zkmargin_service::start(Config {
            listen: "127.0.0.1:0".into(),
            db: db.clone(),
            policy,
            token: None,
            params_dir,
            workers: service_workers,
            queue: n + 8,
            desk_wasm: None,
            evm_key: None,
        }))
        .unwrap();
    let base = format!("http://{}", running.addr);
    runtime.block_on(async {
        let store = zkmargin_service::store::Store::open(&db).await.unwrap();
        let now = zkmargin_service::http::now_ms();
        for i in (0..n).chain([999]) {
            store.issue_challenge(&spare(i), now, now + 3_600_000).await.unwrap();
        }
    });
    let market_value: Value = serde_json::from_str(&generated.market_json).unwrap();
    let sig = MarketSignature::sign(&key, &market);
    assert_eq!(post(&base, "/v1/markets", json!({"market": market_value, "signature": sig}).to_string().as_bytes()).0, 201);
    let started = Instant::now();
    let (status, _) = post(&base, "/v1/proofs", proven.bundle.to_json().as_bytes());
    eprintln!("service: key rebuilt and first verification in {:.2?} ({status})", started.elapsed());

    let bodies = Arc::new(Mutex::new(variants.iter().map(|b| b.to_json()).collect::<Vec<_>>()));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = {
        let (base, done) = (base.clone(), done.clone());
        std::thread::spawn(move || {
            let mut latencies = Vec::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let t = Instant::now();
                assert_eq!(post(&base, "/v1/challenges", b"").0, 201);
                latencies.push(t.elapsed());
                std::thread::sleep(Duration::from_millis(20));
            }
            latencies
        })
    };
    let started = Instant::now();
    let clients: Vec<_> = (0..threads * 2)
        .map(|_| {
            let (base, bodies) = (base.clone(), bodies.clone());
            std::thread::spawn(move || loop {
                let Some(body) = bodies.lock().unwrap().pop() else { break };
                let (status, v) = post(&base, "/v1/proofs", body.as_bytes());
                assert_eq!(status, 201, "{v}");
            })
        })
        .collect();
    clients.into_iter().for_each(|c| c.join().unwrap());
    let service = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut latencies = probe.join().unwrap();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1];
    runtime.block_on(running.stop()).unwrap();

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "medium sample, {n} bundles, library {threads} threads, service {service_workers} workers at niceness +{}; load average at end {}",
        std::env::var("ZKMARGIN_WORKER_NICE").unwrap_or_else(|_| zkmargin_service::pool::DEFAULT_NICENESS.to_string()),
        loadavg()
    );
    println!("library: {:.2?} ({:.2} verifications/s)", library, rate(library));
    println!("service: {:.2?} ({:.2} verifications/s), library/service time ratio {:.2}", service, rate(service), service.as_secs_f64() / library.as_secs_f64());
    println!(
        "POST /v1/challenges under load: {} requests, p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        latencies.len(),
        pct(0.50),
        pct(0.99),
        latencies.last().unwrap()
    );
}
