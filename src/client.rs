//! `serve` and the service's client commands (SPEC section 9): `publish`, `challenge
//! --server`, `submit`. Exit codes: 0 accepted / valid, 1 invalid or refused, 2 bad
//! input, 3 the service cannot be reached (or failed).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use zkmargin_service::Config;

use crate::error::CliError;
use crate::io;

/// Options of `serve`.
pub struct ServeArgs {
    pub listen: String,
    pub db: String,
    pub policy: PathBuf,
    pub token_file: Option<PathBuf>,
    pub workers: Option<usize>,
    pub queue: usize,
    pub desk_wasm: Option<PathBuf>,
    pub evm_key: Option<PathBuf>,
}

pub fn serve(args: ServeArgs) -> Result<(), CliError> {
    if zkmargin_service::store::database_url(&args.db).0 == zkmargin_service::store::Backend::Sqlite && !args.db.starts_with("sqlite:") {
        let mut inputs = vec![("--policy", args.policy.as_path())];
        inputs.extend(args.token_file.as_deref().map(|t| ("--token-file", t)));
        io::refuse_overwrite(("--db", Path::new(&args.db)), &inputs)?;
    }
    let policy = crate::trust::read_policy(&args.policy)?;
    let token = match &args.token_file {
        Some(path) => {
            let token = io::read_text(path)?.trim().to_string();
            if token.is_empty() {
                return Err(CliError::Usage(format!("--token-file {}: the file is empty", path.display())));
            }
            Some(token)
        }
        None => None,
    };
    let desk_wasm = match &args.desk_wasm {
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| CliError::Usage(format!("--desk-wasm {}: cannot read the file: {e}", path.display())))?;
            zkmargin_service::http::desk::check_wasm(&bytes)
                .map_err(|why| CliError::Usage(format!("--desk-wasm {}: {why}", path.display())))?;
            Some(bytes)
        }
        None => None,
    };
    let evm_key = args.evm_key.as_deref().map(crate::trust::read_evm_key).transpose()?;
    match (&evm_key, &policy.evm) {
        (Some(key), None) => eprintln!(
            "zkmargin serve: --evm-key {} given, but the policy has no evm section: GET /v1/proofs/{{id}}/evm-verdict answers 409",
            key.address()
        ),
        (None, Some(_)) => eprintln!("zkmargin serve: the policy has an evm section but no --evm-key: GET /v1/proofs/{{id}}/evm-verdict answers 409"),
        _ => {}
    }
    let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
    if token.is_none() {
        eprintln!("zkmargin serve: no --token-file: GET /v1/proofs/{{id}}, /v1/standing and the desk's reads are open to anyone");
    }
    let config = Config {
        listen: args.listen,
        db: args.db,
        policy,
        token,
        params_dir: zkmargin_verifier::params::default_dir(),
        workers,
        queue: args.queue,
        desk_wasm,
        evm_key,
    };
    zkmargin_service::run(config, |addr| {
        // A closed standard output does not stop the service (the line is for whoever
        // started it; `write_stdout` flushes).
        let _ = crate::io::write_stdout(format_args!("listening on http://{addr}\n"));
    })
    .map_err(|e| match e {
        // `--db` names a file that is not a database: bad input (exit 2), at once.
        zkmargin_service::ServiceError::Store(zkmargin_service::store::StoreError::NotADatabase(path)) => CliError::Input(
            zkmargin_circuits::input::InputError::new(&path, "", "--db: not a database (an SQLite file, or a new path to create one)"),
        ),
        e => CliError::Internal(e.to_string()),
    })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into()
}

fn url(server: &str, path: &str) -> String {
    format!("{}{path}", server.trim_end_matches('/'))
}

/// POSTs `body` (JSON text); returns the status and the JSON answer. Unreachable or a
/// 5xx after retries: exit 3. A 503 (queue full) is retried after its `Retry-After`.
fn post(server: &str, path: &str, body: Option<String>) -> Result<(u16, Value), CliError> {
    request(server, path, Some(body))
}

/// GETs `path`; returns the status and the JSON answer (as [`post`] does).
pub fn get(server: &str, path: &str) -> Result<(u16, Value), CliError> {
    request(server, path, None)
}

/// A POST (`Some(body)`) or a GET (`None`).
fn request(server: &str, path: &str, post: Option<Option<String>>) -> Result<(u16, Value), CliError> {
    // A malformed address is the user's input (exit 2), not an unreachable service (3).
    if !server.starts_with("http://") || server.len() == "http://".len() {
        return Err(CliError::Usage(format!("--server {server:?}: expected http://HOST:PORT (the client speaks plain HTTP)")));
    }
    let agent = agent();
    let target = url(server, path);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = match &post {
            Some(Some(b)) => agent.post(&target).header("content-type", "application/json").send(b.as_bytes()),
            Some(None) => agent.post(&target).header("content-type", "application/json").send_empty(),
            None => agent.get(&target).call(),
        };
        let mut response = result.map_err(|e| CliError::Internal(format!("cannot reach the service at {target}: {e}")))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let text = response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| CliError::Internal(format!("{target}: cannot read the answer: {e}")))?;
        if status == 503 && attempts < 5 {
            std::thread::sleep(Duration::from_secs(retry_after.unwrap_or(2).min(30)));
            continue;
        }
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|_| json!({"error": {"code": "not_json", "message": text}}));
        return Ok((status, value));
    }
}

fn error_text(value: &Value) -> String {
    let e = &value["error"];
    format!("{}: {}", e["code"].as_str().unwrap_or("error"), e["message"].as_str().unwrap_or(""))
}

/// An error status as an exit code: 400 / 413 bad input (2), 5xx the service (3), any
/// other refusal (1).
pub fn refused(status: u16, value: &Value) -> CliError {
    let message = format!("the service answered {status}: {}", error_text(value));
    match status {
        400 | 413 => CliError::Usage(message),
        500..=599 => CliError::Internal(message),
        _ => CliError::Rejected(message),
    }
}

pub fn publish(server: &str, market: &Path, sigs: &[PathBuf]) -> Result<(), CliError> {
    let market_value: Value = {
        io::read_market(market)?;
        serde_json::from_str(&io::read_text(market)?).map_err(|e| CliError::Internal(e.to_string()))?
    };
    let signatures = sigs
        .iter()
        .map(|p| crate::trust::read_market_sig(p).map(|s| serde_json::to_value(s).expect("a signature serializes")))
        .collect::<Result<Vec<_>, _>>()?;
    let body = match signatures.as_slice() {
        [one] => json!({"market": market_value, "signature": one}),
        many => json!({"market": market_value, "signatures": many}),
    };
    let (status, value) = post(server, "/v1/markets", Some(body.to_string()))?;
    match status {
        200 | 201 => {
            let digest = value["digest"].as_str().unwrap_or("");
            let what = if status == 201 { "published" } else { "already published" };
            outln!("{what}: market {digest}");
            Ok(())
        }
        _ => Err(refused(status, &value)),
    }
}

pub fn challenge(server: &str) -> Result<(), CliError> {
    let (status, value) = post(server, "/v1/challenges", None)?;
    if status != 201 {
        return Err(refused(status, &value));
    }
    let nonce = value["nonce"].as_str().ok_or_else(|| CliError::Internal(format!("unexpected answer: {value}")))?;
    outln!("{nonce}");
    eprintln!("expires at {}", value["expires_at"].as_str().unwrap_or("?"));
    Ok(())
}

pub fn submit(server: &str, proof: &Path) -> Result<(), CliError> {
    let text = io::read_text(proof)?;
    if let Err(e) = serde_json::from_str::<Value>(&text) {
        return Err(CliError::Input(zkmargin_circuits::input::InputError::new(&proof.display().to_string(), "", format!("not JSON: {e}"))));
    }
    let (status, value) = post(server, "/v1/proofs", Some(text))?;
    match status {
        200 | 201 => {
            outln!("{}", serde_json::to_string_pretty(&value).map_err(|e| CliError::Internal(e.to_string()))?);
            if value["valid"].as_bool() == Some(true) {
                Ok(())
            } else {
                Err(CliError::Rejected(format!("invalid proof: {}", value["reason"].as_str().unwrap_or("no reason given"))))
            }
        }
        _ => Err(refused(status, &value)),
    }
}
