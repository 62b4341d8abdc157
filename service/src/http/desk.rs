//! The credit desk's page (`/desk/`): static files embedded in the binary (nothing fetched
//! from elsewhere), the WebAssembly verifier the operator passed with `--desk-wasm`, and
//! the IPA parameters its Web Worker needs (public, deterministic, SHA-256-pinned).
//!
//! Every answer here carries [`CONTENT_SECURITY_POLICY`]: scripts, styles, workers and
//! connections from this origin only, no inline script, and WebAssembly compilation
//! allowed (`'wasm-unsafe-eval'`, for the worker).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use zkmargin_verifier::params;

use super::list::MarketHead;
use super::{ApiError, AppState, Shared};

/// The page's policy for the browser: everything from this origin only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     worker-src 'self'; connect-src 'self'; img-src 'self'; style-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The exports the page's worker calls (`verifier/src/wasm.rs`).
pub const WASM_EXPORTS: [&str; 7] = ["memory", "alloc", "dealloc", "add_params", "verify", "result_ptr", "result_len"];

const INDEX_HTML: &str = include_str!("../../desk/index.html");
const DESK_CSS: &str = include_str!("../../desk/desk.css");
const DESK_JS: &str = include_str!("../../desk/desk.js");
const WORKER_JS: &str = include_str!("../../desk/worker.js");
const ICON_SVG: &str = include_str!("../../desk/icon.svg");
/// The verifier's calling convention, shared with the Node harness.
const CALLS_MJS: &str = include_str!("../../../verifier/js/calls.mjs");

/// What the desk's page needs beside the API.
pub struct Desk {
    /// Market heads (id, quote) by digest, read once per market for the lists.
    pub(super) heads: Mutex<HashMap<String, MarketHead>>,
    wasm: Option<Bytes>,
    params_dir: PathBuf,
    max_k: u32,
    /// Parameter files served so far, by k (at most one per pinned k); the lock also
    /// keeps two requests from generating the same file at once.
    params: tokio::sync::Mutex<HashMap<u32, Bytes>>,
}

impl Desk {
    /// The desk's state: the verifier module (checked with [`check_wasm`]; none: the
    /// page shows in-browser verification as disabled), where parameters are cached, and
    /// the largest k served (the policy's `max_k`).
    pub fn new(wasm: Option<Vec<u8>>, params_dir: PathBuf, max_k: u32) -> Desk {
        Desk {
            heads: Mutex::new(HashMap::new()),
            wasm: wasm.map(Bytes::from),
            params_dir,
            max_k,
            params: tokio::sync::Mutex::new(HashMap::new()),
        }
    }
}

/// Reads an unsigned LEB128 number at `*at`.
fn leb128(bytes: &[u8], at: &mut usize) -> Result<u32, String> {
    let mut value: u64 = 0;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(*at).ok_or("the module ends in the middle of a number")?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return u32::try_from(value).map_err(|_| "a number in the module is too large".to_string());
        }
    }
    Err("a number in the module is too long".into())
}

/// Checks that `bytes` are a WebAssembly module (magic number, version 1) that exports
/// what the page's worker calls ([`WASM_EXPORTS`]): the verifier built by `cargo build
/// -p zkmargin-verifier --release --target wasm32-unknown-unknown --no-default-features`.
pub fn check_wasm(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err("not a WebAssembly module (no \\0asm magic number)".into());
    }
    if bytes[4..8] != [1, 0, 0, 0] {
        return Err(format!("WebAssembly binary version {:?}, expected 1", &bytes[4..8]));
    }
    let mut exports = Vec::new();
    let mut at = 8;
    while at < bytes.len() {
        let id = bytes[at];
        at += 1;
        let size = leb128(bytes, &mut at)? as usize;
        let end = at.checked_add(size).filter(|&e| e <= bytes.len()).ok_or("a section runs past the end of the module")?;
        if id == 7 {
            let mut p = at;
            for _ in 0..leb128(bytes, &mut p)? {
                let len = leb128(bytes, &mut p)? as usize;
                let name = bytes.get(p..p + len).ok_or("an export name runs past its section")?;
                exports.push(String::from_utf8_lossy(name).into_owned());
                p += len + 1;
                leb128(bytes, &mut p)?;
                if p > end {
                    return Err("the export section is damaged".into());
                }
            }
        }
        at = end;
    }
    let missing: Vec<&str> = WASM_EXPORTS.iter().copied().filter(|e| !exports.iter().any(|x| x == e)).collect();
    if !missing.is_empty() {
        return Err(format!(
            "the module does not export {} (not zkmargin's verifier: build it with `cargo build -p zkmargin-verifier \
             --release --target wasm32-unknown-unknown --no-default-features`)",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// An answer of the page: its content type and cache rule, and the security headers.
fn asset(content_type: &'static str, cache: &'static str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The page's files change with the binary: the browser asks again each time.
const FRESH: &str = "no-cache";

async fn index() -> Response {
    asset("text/html; charset=utf-8", FRESH, INDEX_HTML)
}

async fn file(State(state): Shared, name: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let Path(name) = name.map_err(|e| ApiError::malformed(e.body_text()))?;
    Ok(match name.as_str() {
        "index.html" => asset("text/html; charset=utf-8", FRESH, INDEX_HTML),
        "desk.css" => asset("text/css; charset=utf-8", FRESH, DESK_CSS),
        "desk.js" => asset("text/javascript; charset=utf-8", FRESH, DESK_JS),
        "worker.js" => asset("text/javascript; charset=utf-8", FRESH, WORKER_JS),
        "calls.mjs" => asset("text/javascript; charset=utf-8", FRESH, CALLS_MJS),
        "icon.svg" => asset("image/svg+xml", FRESH, ICON_SVG),
        "config.json" => asset(
            "application/json",
            FRESH,
            json!({"wasm": state.desk.wasm.is_some(), "max_k": state.desk.max_k}).to_string(),
        ),
        "verifier.wasm" => match &state.desk.wasm {
            Some(bytes) => asset("application/wasm", FRESH, bytes.clone()),
            None => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "this service was started without --desk-wasm: in-browser verification is disabled",
                ))
            }
        },
        _ => return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no desk file {name:?}"))),
    })
}

/// `GET /desk/params/{k}`: the IPA parameter file for k (k pinned, at most the policy's
/// `max_k`), read from the service's parameter cache, or generated there as `verify`
/// does, and checked against its pinned SHA-256 before it is served.
async fn params_file(State(state): Shared, k: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let Path(k) = k.map_err(|e| ApiError::malformed(e.body_text()))?;
    let not_served = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no parameters for k = {k:?} here (a pinned k up to the policy's max_k = {})", state.desk.max_k),
        )
    };
    let k: u32 = k.parse().map_err(|_| not_served())?;
    if k > state.desk.max_k || !params::PINNED.iter().any(|(pk, _)| *pk == k) {
        return Err(not_served());
    }
    let mut served = state.desk.params.lock().await;
    let bytes = match served.get(&k) {
        Some(bytes) => bytes.clone(),
        None => {
            let dir = state.desk.params_dir.clone();
            let bytes = tokio::task::spawn_blocking(move || {
                params::load_or_create(&dir, k).map_err(|e| e.to_string())?;
                let path = dir.join(params::file_name(k));
                let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                params::check_pinned(k, &bytes)?;
                Ok::<_, String>(Bytes::from(bytes))
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
            served.insert(k, bytes.clone());
            bytes
        }
    };
    drop(served);
    Ok(asset("application/octet-stream", "public, max-age=31536000, immutable", bytes))
}

/// The page's routes: `/desk` (redirected to `/desk/`), `/desk/`, its files, and
/// `/desk/params/{k}`.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/desk", get(|| async { Redirect::permanent("/desk/") }))
        .route("/desk/", get(index))
        .route("/desk/{name}", get(file))
        .route("/desk/params/{k}", get(params_file))
}
