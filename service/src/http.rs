//! The HTTP/JSON API (SPEC section 9) on axum.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zkmargin_circuits::fixed::{parse_units, DecimalKind};
use zkmargin_circuits::market::{Level, Market};
use zkmargin_verifier::bundle::Bundle;
use zkmargin_verifier::trust::MarketSignature;
use zkmargin_verifier::verify::{check_statement, Expectations};

use crate::check::{accepted_signatures, signatures_hash, Checker};
use crate::metrics::Metrics;
use crate::nonce::NonceKey;
use crate::pool::WorkerPool;
use crate::store::{Challenge, Dependencies, NewVerdict, Recorded, Store, StoredMarket, Verdict};
use crate::validate::{self, Invalid};
use zkmargin_circuits::statement::{parse_max_leverage, parse_min_equity, parse_min_ratio, Covenants};

pub mod desk;
mod list;
pub use desk::Desk;
pub use list::{DEFAULT_LIMIT, MAX_LIMIT};

/// Largest request body accepted (bytes); larger ones are answered 413.
pub const MAX_BODY_BYTES: usize = 8_000_000;

/// Seconds a client is told to wait when the verification queue is full.
pub const RETRY_AFTER_SECONDS: u64 = 2;

/// Everything a request handler needs.
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Verification and policy.
    pub checker: Arc<Checker>,
    /// The blocking workers.
    pub pool: Arc<WorkerPool>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Bearer token for reads (none: reads are open).
    pub token: Option<String>,
    /// Issues and checks the stateless nonces of `POST /v1/challenges`.
    pub nonces: NonceKey,
    /// The credit desk's page and what it keeps (see [`desk`]).
    pub desk: Desk,
    /// Signs EIP-712 verdicts for an EVM registry (with the policy's `evm` section).
    pub evm_key: Option<zkmargin_evm::EvmKey>,
}

pub(crate) type Shared = State<Arc<AppState>>;

/// An error answer: `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }
    pub(crate) fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", message)
    }
    pub(crate) fn internal(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message.to_string())
    }
}

impl From<crate::store::StoreError> for ApiError {
    /// 503 with `Retry-After`, saying only that storage failed: the database's own text
    /// (which may quote what was sent, or name tables and hosts) goes to the operator's
    /// log, never into an answer.
    fn from(e: crate::store::StoreError) -> Self {
        eprintln!("zkmargin serve: storage: {e}");
        let message = match e {
            crate::store::StoreError::Timeout => e.to_string(),
            _ => "the database is unavailable; retry later".to_string(),
        };
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({"error": {"code": self.code, "message": self.message}}))).into_response();
        response.extensions_mut().insert(ErrorCode(self.code));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        response
    }
}

#[derive(Clone, Copy)]
struct ErrorCode(&'static str);

/// Bodies are read to the end even when over the limit (up to this many bytes), so that
/// a client that sends its whole body before reading gets the 413 instead of a reset.
const DRAIN_LIMIT: usize = 64_000_000;

/// How long a request body may take to arrive.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("request body over {MAX_BODY_BYTES} bytes"));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut total = 0usize;
    let read = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError::malformed(format!("cannot read the request body: {e}")))?;
            total += chunk.len();
            if total <= MAX_BODY_BYTES {
                buf.extend_from_slice(&chunk);
            } else if total > DRAIN_LIMIT {
                break;
            }
        }
        Ok::<(), ApiError>(())
    };
    // A client that declares a body and sends it slowly, or never, does not hold a
    // connection (and its buffer) for ever.
    tokio::time::timeout(BODY_READ_TIMEOUT, read).await.map_err(|_| {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!("the request body did not arrive within {} s", BODY_READ_TIMEOUT.as_secs()),
        )
    })??;
    if total > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(buf)
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// RFC 3339 (UTC) for Unix milliseconds.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    hex::encode(buf)
}

/// The router with every endpoint of SPEC section 9.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/markets", post(post_market))
        .route("/v1/challenges", post(post_challenge))
        .route("/v1/proofs", post(post_proof))
        .route("/v1/proofs/{id}", get(get_proof))
        .route("/v1/proofs/{id}/evm-verdict", get(crate::evm::get_evm_verdict))
        .route("/v1/standing", get(get_standing))
        .route("/v1/proofs", get(list::list_proofs))
        .route("/v1/markets", get(list::list_markets))
        .route("/v1/proofs/{id}/detail", get(list::get_proof_detail))
        .route("/v1/markets/{digest}", get(list::get_market))
        .route("/v1/accounts", get(list::list_accounts))
        .route("/v1/policy", get(list::get_policy))
        .merge(desk::routes())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this endpoint")
        })
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

async fn track(State(state): Shared, request: Request<Body>, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    state.metrics.request(&method, &route, response.status().as_u16());
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        state.metrics.refusal(code);
    }
    response
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarketPost {
    market: Value,
    #[serde(default)]
    signature: Option<MarketSignature>,
    #[serde(default)]
    signatures: Vec<MarketSignature>,
}

async fn post_market(State(state): Shared, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let body = read_body(&headers, body).await?;
    let body = std::str::from_utf8(&body).map_err(|e| ApiError::malformed(format!("request body: {e}")))?;
    let post: MarketPost = zkmargin_json::decode(body).map_err(|e| ApiError::malformed(format!("request body: {e}")))?;
    let market_json = post.market.to_string();
    let market = Market::from_json("market", &market_json).map_err(|e| ApiError::malformed(e.to_string()))?;
    validate::name(&market.id, false).map_err(|why| ApiError::malformed(format!("market: field `id`: {why}")))?;
    let signatures: Vec<MarketSignature> = post.signature.into_iter().chain(post.signatures).collect();
    if signatures.is_empty() {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "unsigned_market", "the market carries no publisher signature"));
    }
    let accepted = accepted_signatures(state.checker.policy(), &market, signatures)
        .map_err(|why| ApiError::new(StatusCode::FORBIDDEN, "untrusted_market", why))?;
    let digest = market.digest_hex();
    let stored = StoredMarket {
        digest: digest.clone(),
        id: market.id.clone(),
        as_of: market.as_of.clone(),
        market_json,
        signatures_json: serde_json::to_string(&accepted).map_err(ApiError::internal)?,
    };
    let merge = |old: &str| {
        let mut all: Vec<MarketSignature> = serde_json::from_str(old).unwrap_or_default();
        let before = all.len();
        for sig in &accepted {
            if !all.iter().any(|a| a.signer.eq_ignore_ascii_case(&sig.signer)) {
                all.push(sig.clone());
            }
        }
        (all.len() != before).then(|| serde_json::to_string(&all).unwrap_or_else(|_| old.to_string()))
    };
    let inserted = state.store.put_market(&stored, now_ms(), merge).await?;
    let status = if inserted { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(json!({"digest": digest, "id": market.id}))).into_response())
}

/// Issues a stateless nonce (see [`crate::nonce`]): no database write, no fsync.
async fn post_challenge(State(state): Shared) -> Result<Response, ApiError> {
    let ttl = state.checker.policy().nonce_ttl_seconds.unwrap_or(zkmargin_verifier::trust::DEFAULT_NONCE_TTL_SECONDS);
    // Whole seconds, so the expiry printed is the expiry enforced.
    let expires_at = now_ms() / 1000 + ttl as i64;
    let nonce = state.nonces.issue(expires_at).ok_or_else(|| ApiError::internal("nonce_ttl_seconds is too large"))?;
    Ok((StatusCode::CREATED, Json(json!({"nonce": nonce, "expires_at": rfc3339(expires_at * 1000)}))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofQuery {
    threshold: Option<String>,
    level: Option<Level>,
    min_ratio: Option<String>,
    min_equity: Option<String>,
    max_leverage: Option<String>,
}

fn verdict_answer(v: &Verdict) -> Value {
    json!({"id": v.id, "valid": v.valid, "reason": v.reason})
}

async fn post_proof(
    State(state): Shared,
    query: Result<Query<ProofQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(&headers, body).await?;
    let Query(query) = query.map_err(|e| ApiError::malformed(e.body_text()))?;
    // What a lender asks beyond the policy: decided by the statement alone, before any
    // work, and never stored as a verdict (anyone may post a public bundle with a
    // requirement it fails; that must not answer the prover's own post of the same bytes).
    let requirements = Expectations {
        min_threshold_units: query
            .threshold
            .as_deref()
            .map(|t| parse_units(t, DecimalKind::Money).map_err(|e| ApiError::malformed(format!("threshold {t:?}: {e}"))))
            .transpose()?,
        level: query.level,
        covenants: Covenants {
            min_ratio: query.min_ratio.as_deref().map(parse_min_ratio).transpose().map_err(ApiError::malformed)?,
            min_equity: query.min_equity.as_deref().map(parse_min_equity).transpose().map_err(ApiError::malformed)?,
            max_leverage: query.max_leverage.as_deref().map(parse_max_leverage).transpose().map_err(ApiError::malformed)?,
        },
        ..Expectations::default()
    };
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::malformed("the body is not UTF-8"))?;
    let posted = Bundle::from_json("bundle", text).map_err(|e| ApiError::malformed(format!("not a proof bundle: {e}")))?;
    // Every string that could reach the database, a worker or a reason has its form
    // first, and a statement larger than any supported shape is refused here.
    validate::bundle(&posted).map_err(|e| match e {
        Invalid::Field(path, why) => ApiError::malformed(format!("field `{path}`: {why}")),
        Invalid::TooLarge(why) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "shape_too_large", why),
    })?;
    if let Err(why) = check_statement(&posted.statement, &requirements) {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "requirement_not_met", why.to_string()));
    }
    let max_k = state.checker.policy().max_k.unwrap_or(zkmargin_verifier::trust::DEFAULT_MAX_K);
    if posted.circuit.k > max_k {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "shape_too_large",
            format!("circuit size k = {} is above the policy's max_k = {max_k}", posted.circuit.k),
        ));
    }
    // The bundle is what it says, whatever its spelling: its canonical form is what is
    // verified, stored and keyed (SPEC section 9).
    let bundle = posted.canonical();
    // Issued here: a nonce of the service's form whose tag verifies (no database), or
    // one with a stored row (issued by schema 1). Nothing else is looked up further.
    let nonce = bundle.statement.nonce.clone();
    let Some((expires_at, row)) = nonce_state(&state, &nonce).await? else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_nonce",
            format!("the statement's nonce {nonce:?} was not issued by this service (POST /v1/challenges)"),
        ));
    };
    let canonical_digest = hex::encode(bundle.canonical_digest());
    let existing = state.store.latest_verdict(&canonical_digest, &hex::encode(Sha256::digest(&body))).await?;
    let Some(stored_market) = state.store.market(&bundle.market.digest).await? else {
        if let Some(v) = existing {
            return Ok((StatusCode::OK, Json(verdict_answer(&v))).into_response());
        }
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_market",
            format!("market {:?} with digest {} has not been published here", bundle.market.id, bundle.market.digest),
        ));
    };
    let depends_on = Dependencies {
        policy_hash: state.checker.policy_hash().to_string(),
        signatures_hash: signatures_hash(&stored_market.signatures_json),
    };
    // The latest verdict on this bundle stands while what it depended on is unchanged
    // (rows of schema 1 and 2 recorded nothing, and stand as before).
    if let Some(v) = &existing {
        if v.depends_on.as_ref().is_none_or(|d| *d == depends_on) {
            return Ok((StatusCode::OK, Json(verdict_answer(v))).into_response());
        }
    }
    // A bundle verified again passed these checks when it was first posted (its nonce
    // may be used by that very verdict, or have expired since); a new valid verdict on it
    // still has to consume its nonce (below, in the store).
    if existing.is_none() {
        if row.is_some_and(|r| r.used_by.is_some()) {
            return Err(nonce_used());
        }
        if expires_at <= now_ms() {
            return Err(nonce_expired(expires_at));
        }
    }
    let ticket = state.pool.admit().ok_or_else(|| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "the verification queue is full; retry later")
    })?;
    let checker = state.checker.clone();
    let metrics = state.metrics.clone();
    let bundle = Arc::new(bundle);
    // The policy's market age is measured at submission (not when a worker gets to it).
    let submitted = now_ms() / 1000;
    let (b, check_nonce, digest, market_json, signatures_json) = (
        bundle.clone(),
        nonce.clone(),
        stored_market.digest.clone(),
        stored_market.market_json.clone(),
        stored_market.signatures_json.clone(),
    );
    // Parsing the stored market (thousands of decimals for a large one) is CPU work too:
    // it runs on the worker, not on the async threads, once per market (cached).
    let outcome = state
        .pool
        .run(ticket, move || {
            let market = checker.market(&digest, &market_json)?;
            let signatures: Vec<MarketSignature> = serde_json::from_str(&signatures_json).map_err(|e| e.to_string())?;
            let started = Instant::now();
            let outcome = checker.check(&market, &signatures, &b, &check_nonce, submitted);
            metrics.verification(started.elapsed());
            outcome
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::internal(format!("verifier: {e}")))?
        .map(|reason| bounded_text(&reason, MAX_REASON_BYTES));
    let valid = outcome.is_none();
    if let Some(v) = &existing {
        // Verified again: the same outcome is the same verdict, now known to hold under
        // what it depends on today.
        if v.valid == valid && v.reason == outcome {
            state.store.refresh_dependencies(&v.id, &depends_on).await?;
            return Ok((StatusCode::OK, Json(verdict_answer(v))).into_response());
        }
    }
    let statement = &bundle.statement;
    let new = NewVerdict {
        verdict: Verdict {
            id: random_hex(16),
            bundle_digest: verdict_key(&canonical_digest, &depends_on),
            valid,
            reason: outcome,
            nonce,
            market_digest: stored_market.digest.clone(),
            market_as_of: stored_market.as_of.clone(),
            level: statement.level.to_string(),
            threshold: statement.threshold.clone(),
            statement_json: statement_record(statement, valid),
            received_at: now_ms(),
            canonical_digest: Some(canonical_digest),
            depends_on: Some(depends_on),
        },
        nonce_expires_at: expires_at,
        // Only an accepted bundle is kept whole (an invalid one costs its poster nothing,
        // not even its nonce, so it is kept as a bounded record: no bytes of the bundle,
        // no account rows, at most a summary of its statement).
        bundle_json: if valid { bundle.canonical_json() } else { String::new() },
        accounts: statement.accounts.iter().map(|a| (a.venue.clone(), a.account.clone())).collect(),
    };
    match state.store.record(&new).await? {
        Recorded::Stored => {
            state.metrics.verdict(new.verdict.valid);
            Ok((StatusCode::CREATED, Json(verdict_answer(&new.verdict))).into_response())
        }
        Recorded::Existing(v) => Ok((StatusCode::OK, Json(verdict_answer(&v))).into_response()),
        Recorded::NonceUsed => Err(nonce_used()),
        Recorded::NonceExpired => Err(nonce_expired(expires_at)),
    }
}

/// Whether a statement's nonce was issued here, and until when (Unix ms), with its
/// stored row if it has one (which says whether it was used). The nonce's form and tag
/// are checked first, without the database: a nonce that is not 64 hex characters is
/// nobody's and is never looked up.
async fn nonce_state(state: &AppState, nonce: &str) -> Result<Option<(i64, Option<Challenge>)>, ApiError> {
    if !validate::is_hex(nonce, 2 * crate::nonce::NONCE_BYTES) {
        return Ok(None);
    }
    let tagged = state.nonces.expiry(nonce);
    let row = state.store.challenge(nonce).await?;
    Ok(match (tagged, row) {
        (Some(seconds), row) => Some((seconds * 1000, row)),
        (None, Some(row)) => Some((row.expires_at, Some(row))),
        // A nonce a lender's contract derived (the policy's evm.accept_external_nonces):
        // any 32 bytes, used at most once like any other, never expiring.
        (None, None) if crate::evm::accepts_external(state.checker.policy(), nonce) => Some((i64::MAX, None)),
        (None, None) => None,
    })
}

/// Longest reason stored with a verdict, in bytes (longer ones are cut, saying so).
pub const MAX_REASON_BYTES: usize = 1024;

/// Longest statement stored whole with an invalid verdict, in bytes of its JSON; a larger
/// one is stored as a summary (level, threshold, nonce, how many groups and accounts).
pub const MAX_INVALID_STATEMENT_BYTES: usize = 2048;

/// `text` cut to at most `max` bytes (at a character boundary), saying so.
fn bounded_text(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max - 16;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} [... cut]", &text[..end])
}

/// What is stored of a statement: the whole statement for a valid verdict (no larger
/// than the largest supported shape); for an invalid one the whole statement only up to
/// [`MAX_INVALID_STATEMENT_BYTES`], else a summary.
fn statement_record(statement: &zkmargin_circuits::statement::Statement, valid: bool) -> String {
    let whole = serde_json::to_string(statement).expect("a statement always serializes");
    if valid || whole.len() <= MAX_INVALID_STATEMENT_BYTES {
        return whole;
    }
    json!({
        "summary": "the statement of an invalid verdict, too long to keep whole",
        "level": statement.level,
        "threshold": bounded_text(&statement.threshold, 64),
        "nonce": bounded_text(&statement.nonce, 128),
        "groups": statement.groups.len(),
        "accounts": statement.accounts.len(),
    })
    .to_string()
}

/// The unique key of a verdict: the bundle's canonical digest and what it depended on.
fn verdict_key(canonical_digest: &str, d: &Dependencies) -> String {
    let mut h = Sha256::new();
    h.update(b"zkmargin-verdict/1\n");
    for part in [canonical_digest, &d.policy_hash, &d.signatures_hash] {
        h.update(part.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

fn nonce_used() -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "nonce_used", "the nonce was already used by an accepted proof")
}

fn nonce_expired(at: i64) -> ApiError {
    ApiError::new(StatusCode::GONE, "nonce_expired", format!("the nonce expired at {}", rfc3339(at)))
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &state.token else { return Ok(()) };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let ok = given.is_some_and(|g| {
        g.len() == token.len() && g.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    });
    if ok {
        Ok(())
    } else {
        let mut e = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid bearer token is required");
        if given.is_none() {
            e.message = "missing bearer token (Authorization: Bearer <token>)".into();
        }
        Err(e)
    }
}

async fn get_proof(
    State(state): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let Path(id) = id.map_err(|e| ApiError::malformed(e.body_text()))?;
    // Only an id of the form the service gives (32 hex characters) can name a verdict:
    // nothing else is looked up.
    if !validate::is_hex(&id, validate::VERDICT_ID_HEX) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no verdict {id:?} (a verdict id is {} hex characters)", validate::VERDICT_ID_HEX),
        ));
    }
    let v = state
        .store
        .verdict(&id.to_ascii_lowercase())
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no verdict {id:?}")))?;
    let statement: Value = serde_json::from_str(&v.statement_json).map_err(ApiError::internal)?;
    Ok(Json(json!({
        "id": v.id,
        "valid": v.valid,
        "reason": v.reason,
        "statement": statement,
        "market": {"digest": v.market_digest, "as_of": v.market_as_of},
        "bundle_digest": v.canonical_digest.as_ref().unwrap_or(&v.bundle_digest),
        "received_at": rfc3339(v.received_at),
    }))
    .into_response())
}

async fn get_standing(
    State(state): Shared,
    headers: HeaderMap,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let Query(query) = query.map_err(|e| ApiError::malformed(e.body_text()))?;
    let (Some(venue), Some(account)) = (query.get("venue"), query.get("account")) else {
        return Err(ApiError::malformed("query parameters venue and account are required"));
    };
    validate::name(venue, true).map_err(|why| ApiError::malformed(format!("query parameter venue: {why}")))?;
    validate::name(account, false).map_err(|why| ApiError::malformed(format!("query parameter account: {why}")))?;
    let now = now_ms();
    let since = state.checker.policy().standing_ttl_seconds.map(|ttl| now - ttl as i64 * 1000).unwrap_or(i64::MIN);
    let v = state.store.standing(venue, account, since).await?.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "no_standing", format!("no valid proof covers {venue}/{account}"))
    })?;
    // What the standing means: the proof covers the account's group, a pool whose other
    // accounts may be what covers this one.
    let statement: zkmargin_circuits::statement::Statement = serde_json::from_str(&v.statement_json).map_err(ApiError::internal)?;
    let group = statement.accounts.iter().find(|a| &a.venue == venue && &a.account == account).map(|a| a.group.clone());
    let pooled_with: Vec<String> = statement
        .accounts
        .iter()
        .filter(|a| Some(&a.group) == group.as_ref() && !(&a.venue == venue && &a.account == account))
        .map(|a| format!("{}/{}", a.venue, a.account))
        .collect();
    let mut answer = serde_json::Map::new();
    answer.insert("venue".into(), json!(venue));
    answer.insert("account".into(), json!(account));
    answer.insert("group".into(), json!(group));
    answer.insert("pooled_with".into(), json!(pooled_with));
    answer.extend(standing_fields(&v, now));
    Ok(Json(answer).into_response())
}

/// What an account's standing says of the valid verdict `v` at `now` (Unix ms): the proof,
/// its level and threshold, the covenants it claims (each only when claimed), its
/// market's `as_of`, when it was received, and its age (since the market's `as_of`).
fn standing_fields(v: &Verdict, now: i64) -> serde_json::Map<String, Value> {
    let market_time = zkmargin_circuits::time::parse_rfc3339(&v.market_as_of).map(|s| s * 1000).unwrap_or(v.received_at);
    let statement = serde_json::from_str::<zkmargin_circuits::statement::Statement>(&v.statement_json).ok();
    let mut fields = json!({
        "proof": v.id,
        "level": v.level,
        "threshold": v.threshold,
        "market_as_of": v.market_as_of,
        "received_at": rfc3339(v.received_at),
        "age_seconds": (now - market_time).max(0) / 1000,
    });
    if let Some(st) = statement {
        for (name, value) in [("min_ratio", st.min_ratio), ("min_equity", st.min_equity), ("max_leverage", st.max_leverage)] {
            if let Some(value) = value {
                fields[name] = json!(value);
            }
        }
    }
    match fields {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// `{"status": "ok"}` when the database can take a write now (see
/// [`Store::health`]), else 503 within [`crate::store::STORAGE_TIMEOUT`].
async fn healthz(State(state): Shared) -> Result<Response, ApiError> {
    state.store.health().await?;
    Ok(Json(json!({"status": "ok"})).into_response())
}

async fn metrics(State(state): Shared) -> Response {
    let text = state.metrics.render(state.pool.queued(), state.pool.running());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}
