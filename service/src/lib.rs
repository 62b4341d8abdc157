//! zkmargin-service: the venue's (or lender's) verification service, `zkmargin serve`
//! (SPEC section 9).
//!
//! - [`http`]: the HTTP/JSON API on axum (tokio);
//! - [`store`]: markets, challenges and verdicts in SQLite or PostgreSQL (sqlx, one
//!   schema, versioned migrations applied at start);
//! - [`pool`]: the bounded pool of verification worker threads (at a lower OS priority);
//! - [`nonce`]: the stateless, self-authenticating nonces of `POST /v1/challenges`;
//! - [`check`]: the single adapter to the verifier library (proof and policy);
//! - [`validate`]: the form of everything a client sends, checked before storage;
//! - [`evm`]: EIP-712 verdicts for an EVM registry (`GET /v1/proofs/{id}/evm-verdict`)
//!   and the policy's external nonces;
//! - [`metrics`]: Prometheus text.
//!
//! Dependencies run one way: the binary → this crate → the verifier → the circuits (and
//! → zkmargin-evm → the circuits, for EIP-712 verdicts).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod check;
pub mod evm;
pub mod http;
pub mod metrics;
pub mod nonce;
pub mod pool;
pub mod store;
pub mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use zkmargin_verifier::trust::Policy;

/// How to run the service.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:8080`; port 0 picks a free one).
    pub listen: String,
    /// Database: an SQLite file path (or `sqlite:` URL), or a `postgres://` URL.
    pub db: String,
    /// The trust policy.
    pub policy: Policy,
    /// Bearer token required for reads (`GET /v1/proofs/{id}`, `GET /v1/standing` and the
    /// desk's lists).
    pub token: Option<String>,
    /// Where the IPA parameters are cached.
    pub params_dir: PathBuf,
    /// Concurrent verifications (blocking workers).
    pub workers: usize,
    /// Verifications that may wait for a worker before requests get 503.
    pub queue: usize,
    /// The WebAssembly verifier the desk's page runs in the browser (`--desk-wasm`,
    /// checked with [`http::desk::check_wasm`]); none: that part of the page is disabled.
    pub desk_wasm: Option<Vec<u8>>,
    /// The secp256k1 key that signs EIP-712 verdicts (`GET /v1/proofs/{id}/evm-verdict`,
    /// with the policy's `evm` section); none: that endpoint answers 409.
    pub evm_key: Option<zkmargin_evm::EvmKey>,
}

/// Failures to start or run the service.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The address could not be bound, or serving failed.
    #[error("{0}")]
    Io(String),
}

/// A running service (in this process).
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    store: store::Store,
}

impl Running {
    /// Stops accepting requests, lets the ones in flight finish, closes the database.
    pub async fn stop(mut self) -> Result<(), ServiceError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let result = self.task.await.map_err(|e| ServiceError::Io(e.to_string()))?;
        self.store.close().await;
        result.map_err(|e| ServiceError::Io(e.to_string()))
    }

    /// Serves until SIGINT or SIGTERM, then stops gracefully.
    pub async fn until_signal(self) -> Result<(), ServiceError> {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(|e| ServiceError::Io(e.to_string()))?;
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        self.stop().await
    }
}

/// How many niceness steps below the service the verification workers run:
/// [`pool::DEFAULT_NICENESS`], or the value of the environment variable
/// `ZKMARGIN_WORKER_NICE` (0 to 19; 0 keeps them at the service's own priority).
fn worker_niceness() -> i32 {
    std::env::var("ZKMARGIN_WORKER_NICE")
        .ok()
        .and_then(|v| v.trim().parse::<i32>().ok())
        .map(|n| n.clamp(0, 19))
        .unwrap_or(pool::DEFAULT_NICENESS)
}

/// Opens the database (applying migrations), binds the address and starts serving.
pub async fn start(config: Config) -> Result<Running, ServiceError> {
    let store = store::Store::open(&config.db).await?;
    let mut fresh = [0u8; 32];
    rand::fill(&mut fresh[..]);
    let secret = store.secret(nonce::SECRET_NAME, &hex::encode(fresh), http::now_ms()).await?;
    let secret = hex::decode(&secret).map_err(|_| store::StoreError::Corrupt(format!("secret {} is not hex", nonce::SECRET_NAME)))?;
    let listener =
        TcpListener::bind(&config.listen).await.map_err(|e| ServiceError::Io(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener.local_addr().map_err(|e| ServiceError::Io(e.to_string()))?;
    let state = Arc::new(http::AppState {
        store: store.clone(),
        checker: Arc::new(check::Checker::new(config.params_dir.clone(), config.policy.clone())),
        pool: pool::WorkerPool::with_niceness(config.workers, config.queue, worker_niceness()),
        metrics: Arc::new(metrics::Metrics::default()),
        token: config.token.clone(),
        nonces: nonce::NonceKey::new(&secret),
        desk: http::Desk::new(
            config.desk_wasm.clone(),
            config.params_dir.clone(),
            config.policy.max_k.unwrap_or(zkmargin_verifier::trust::DEFAULT_MAX_K),
        ),
        evm_key: config.evm_key.clone(),
    });
    let (tx, rx) = oneshot::channel::<()>();
    let app = http::router(state);
    let task = tokio::spawn(serve_connections(listener, app, rx));
    Ok(Running { addr, shutdown: Some(tx), task, store })
}

/// How long a client may take to send a request's headers (also the longest a kept-alive
/// connection waits idle for its next request) before the connection is closed: a
/// client that opens connections and trickles bytes cannot hold them, and the file
/// descriptors they cost, for ever.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves HTTP/1.1 connections on `listener` until `shutdown`, then lets the requests in
/// flight finish. `axum::serve` does the same but sets no timer, so hyper's header read
/// timeout never fires; this loop is that function with [`HEADER_READ_TIMEOUT`] set.
async fn serve_connections(listener: TcpListener, app: axum::Router, mut shutdown: oneshot::Receiver<()>) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;

    let (closing, closing_rx) = tokio::sync::watch::channel(());
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors or a connection reset before it was accepted:
                // keep serving the others.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let mut closing_rx = closing_rx.clone();
        connections.spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = closing_rx.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
        // Finished connections leave the set as they go.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = closing.send(());
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Runs the service on a new multi-threaded runtime until SIGINT or SIGTERM; `ready`
/// is called with the bound address once requests are accepted.
pub fn run(config: Config, ready: impl FnOnce(SocketAddr)) -> Result<(), ServiceError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(config.workers.max(1) + 4)
        .build()
        .map_err(|e| ServiceError::Io(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let running = start(config).await?;
        ready(running.addr);
        running.until_signal().await
    })
}
