//! The credit desk's reads (token-protected like the others): paginated lists of verdicts,
//! markets and accounts, one stored market, and the policy in force.
//!
//! A list answers `{"items": [...], "next": CURSOR or null}`; the opaque cursor goes back
//! as `?before=CURSOR` for the next (older) page; `?limit=` defaults to [`DEFAULT_LIMIT`]
//! and is capped at [`MAX_LIMIT`]. A cursor this service did not give, or one of another
//! list, is 400 `malformed`.

use std::collections::HashMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use zkmargin_verifier::trust::MarketSignature;

use super::{authorize, now_ms, rfc3339, standing_fields, ApiError, Shared};
use crate::store::{ListedVerdict, Newest, VerdictFilter};

/// Items per page when `?limit=` is not given.
pub const DEFAULT_LIMIT: usize = 50;
/// Most items per page: a larger `?limit=` is capped to this.
pub const MAX_LIMIT: usize = 100;
/// Longest cursor accepted (the service's own are far shorter).
const MAX_CURSOR_CHARS: usize = 2048;

/// An opaque cursor: hex of the JSON array `[kind, a, b]` (the position of the last item
/// of a page, and which list it belongs to).
fn cursor<A: Serialize, B: Serialize>(kind: &str, a: A, b: B) -> String {
    hex::encode(serde_json::to_vec(&(kind, a, b)).unwrap_or_default())
}

fn bad_cursor(text: &str) -> ApiError {
    let shown: String = text.chars().take(80).collect();
    ApiError::malformed(format!(
        "?before={shown:?} is not a cursor of this list (pass back the \"next\" of a previous page, unchanged)"
    ))
}

/// Reads a cursor of `kind` back; anything else is 400.
fn uncursor<A: DeserializeOwned, B: DeserializeOwned>(kind: &str, text: &str) -> Result<(A, B), ApiError> {
    if text.len() > MAX_CURSOR_CHARS {
        return Err(bad_cursor(text));
    }
    let bytes = hex::decode(text).map_err(|_| bad_cursor(text))?;
    let (k, a, b): (String, A, B) = serde_json::from_slice(&bytes).map_err(|_| bad_cursor(text))?;
    if k != kind {
        return Err(bad_cursor(text));
    }
    Ok((a, b))
}

/// `?limit=`: a whole number ≥ 1; above [`MAX_LIMIT`] it is capped.
fn page_limit(limit: Option<&str>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => {
            let digits = text.trim_start_matches('0');
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || digits.is_empty() {
                return Err(ApiError::malformed(format!(
                    "?limit={text:?}: expected a whole number from 1 (at most {MAX_LIMIT} are given)"
                )));
            }
            // Any number of digits: a larger one is capped, not refused.
            Ok(digits.parse::<usize>().map_or(MAX_LIMIT, |n| n.min(MAX_LIMIT)))
        }
    }
}

fn newest_cursor(kind: &str, before: Option<&str>) -> Result<Option<Newest>, ApiError> {
    before.map(|b| uncursor::<i64, String>(kind, b).map(|(received_at, key)| Newest { received_at, key })).transpose()
}

fn page(items: Vec<Value>, next: Option<String>) -> Response {
    Json(json!({"items": items, "next": next})).into_response()
}

/// What every list does first: the token check, then its parameters and page size.
fn paged<T>(
    state: &super::AppState,
    headers: &HeaderMap,
    q: Result<Query<T>, QueryRejection>,
    limit: impl Fn(&T) -> Option<&str>,
) -> Result<(T, usize), ApiError> {
    authorize(state, headers)?;
    let Query(q) = q.map_err(|e| ApiError::malformed(e.body_text()))?;
    let limit = page_limit(limit(&q))?;
    Ok((q, limit))
}

/// The token check, then the request path's one parameter.
fn authorized_path(
    state: &super::AppState,
    headers: &HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<String, ApiError> {
    authorize(state, headers)?;
    path.map(|Path(p)| p).map_err(|e| ApiError::malformed(e.body_text()))
}

/// `GET /v1/proofs/{id}/detail`: what the desk shows of one verdict: its list item, the
/// statement (null when not kept), the digest of the bytes posted and the venues'
/// attestations the bundle carried (null when the bundle was not kept: invalid verdicts
/// are stored without it).
pub(super) async fn get_proof_detail(
    State(state): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = authorized_path(&state, &headers, id)?;
    let detail = state
        .store
        .verdict_detail(&id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no verdict {id:?}")))?;
    let v = &detail.verdict;
    let digests: Vec<&str> = v.market_digest.as_deref().into_iter().collect();
    let heads = market_heads(&state, &digests).await?;
    let mut item = verdict_item(v, &heads);
    let parse = |text: &Option<String>| text.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()).filter(Value::is_object);
    item["statement"] = parse(&v.statement_json).unwrap_or(Value::Null);
    item["bundle_digest"] = json!(detail.bundle_digest);
    item["attestations"] = match parse(&detail.bundle_json) {
        Some(bundle) => bundle.get("attestations").cloned().unwrap_or_else(|| json!([])),
        None => Value::Null,
    };
    Ok(Json(item).into_response())
}

/// `GET /v1/proofs` parameters.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProofsQuery {
    before: Option<String>,
    limit: Option<String>,
    valid: Option<String>,
    venue: Option<String>,
    account: Option<String>,
}

/// What the desk shows of a stored market beside a verdict: its id and quote currency
/// (read from the market once, then kept: a market never changes under its digest).
#[derive(Clone, Debug, Deserialize)]
pub(super) struct MarketHead {
    id: String,
    quote: String,
}

/// Market heads kept by [`market_heads`] at most (a few hundred bytes each).
const CACHED_HEADS: usize = 10_000;

/// The heads of the markets with these digests (those stored here).
async fn market_heads(state: &super::AppState, digests: &[&str]) -> Result<HashMap<String, MarketHead>, ApiError> {
    let mut heads = HashMap::new();
    for digest in digests {
        if heads.contains_key(*digest) {
            continue;
        }
        let cached = state.desk.heads.lock().map_err(ApiError::internal)?.get(*digest).cloned();
        let head = match cached {
            Some(head) => Some(head),
            None => match state.store.market(digest).await? {
                Some(m) => {
                    let head: MarketHead = serde_json::from_str(&m.market_json).map_err(ApiError::internal)?;
                    let mut cache = state.desk.heads.lock().map_err(ApiError::internal)?;
                    if cache.len() >= CACHED_HEADS {
                        cache.clear();
                    }
                    cache.insert(digest.to_string(), head.clone());
                    Some(head)
                }
                None => None,
            },
        };
        if let Some(head) = head {
            heads.insert(digest.to_string(), head);
        }
    }
    Ok(heads)
}

/// The statement fields a list shows beside level and threshold: every other field whose
/// value is a string or a number (the covenants `min_ratio`, `min_equity`,
/// `max_leverage` and whatever a later format adds), the nonce excepted.
fn claims(statement: &Map<String, Value>) -> Map<String, Value> {
    statement
        .iter()
        .filter(|(k, v)| !matches!(k.as_str(), "level" | "threshold" | "nonce") && (v.is_string() || v.is_number()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A verdict as a list item: what the row holds, whatever it lacks.
fn verdict_item(v: &ListedVerdict, heads: &HashMap<String, MarketHead>) -> Value {
    let statement: Option<Map<String, Value>> =
        v.statement_json.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()).and_then(|s| match s {
            Value::Object(o) => Some(o),
            _ => None,
        });
    let field = |name: &str| statement.as_ref().and_then(|s| s.get(name)).and_then(Value::as_str).map(str::to_string);
    let accounts: Vec<Value> = statement
        .as_ref()
        .and_then(|s| s.get("accounts"))
        .and_then(Value::as_array)
        .map(|accounts| {
            accounts.iter().map(|a| json!({"venue": a["venue"], "account": a["account"], "group": a["group"]})).collect()
        })
        .unwrap_or_default();
    let head = v.market_digest.as_deref().and_then(|d| heads.get(d));
    json!({
        "id": v.id,
        "received_at": rfc3339(v.received_at),
        "valid": v.valid,
        "reason": v.reason,
        "level": v.level.clone().filter(|l| !l.is_empty()).or_else(|| field("level")),
        "threshold": v.threshold.clone().filter(|t| !t.is_empty()).or_else(|| field("threshold")),
        "covenants": statement.as_ref().map(claims).unwrap_or_default(),
        "market": {
            "id": head.map(|h| h.id.clone()),
            "digest": v.market_digest,
            "as_of": v.market_as_of,
            "quote": head.map(|h| h.quote.clone()),
        },
        "accounts": accounts,
    })
}

fn flag(name: &str, text: &str) -> Result<bool, ApiError> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::malformed(format!("?{name}={text:?}: expected true or false"))),
    }
}

/// `GET /v1/proofs[?valid=true|false][&venue=V[&account=A]][&before=CURSOR][&limit=N]`:
/// stored verdicts, newest first.
pub(super) async fn list_proofs(
    State(state): Shared,
    headers: HeaderMap,
    q: Result<Query<ProofsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (q, limit) = paged(&state, &headers, q, |q| q.limit.as_deref())?;
    let before = newest_cursor("proofs", q.before.as_deref())?;
    let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
    let filter = VerdictFilter {
        valid: q.valid.as_deref().map(|v| flag("valid", v)).transpose()?,
        venue: nonempty(q.venue),
        account: nonempty(q.account),
    };
    if filter.account.is_some() && filter.venue.is_none() {
        return Err(ApiError::malformed("?account= needs ?venue= (an account is named within its venue)"));
    }
    let (rows, more) = state.store.list_verdicts(&filter, before.as_ref(), limit).await?;
    let digests: Vec<&str> = rows.iter().filter_map(|v| v.market_digest.as_deref()).collect();
    let heads = market_heads(&state, &digests).await?;
    let next = rows.last().filter(|_| more).map(|v| cursor("proofs", v.received_at, &v.id));
    Ok(page(rows.iter().map(|v| verdict_item(v, &heads)).collect(), next))
}

/// `GET /v1/markets` and `GET /v1/accounts` parameters.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    before: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/markets[?before=CURSOR][&limit=N]`: stored markets, newest first, with the
/// publishers that signed them.
pub(super) async fn list_markets(
    State(state): Shared,
    headers: HeaderMap,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (q, limit) = paged(&state, &headers, q, |q| q.limit.as_deref())?;
    let before = newest_cursor("markets", q.before.as_deref())?;
    let (rows, more) = state.store.list_markets(before.as_ref(), limit).await?;
    let digests: Vec<&str> = rows.iter().map(|m| m.digest.as_str()).collect();
    let heads = market_heads(&state, &digests).await?;
    let items = rows
        .iter()
        .map(|m| {
            let signatures: Vec<MarketSignature> = serde_json::from_str(&m.signatures_json).unwrap_or_default();
            json!({
                "id": m.id,
                "digest": m.digest,
                "as_of": m.as_of,
                "quote": heads.get(&m.digest).map(|h| h.quote.clone()),
                "received_at": rfc3339(m.received_at),
                "signers": signatures.iter().map(|s| s.signer.to_ascii_lowercase()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let next = rows.last().filter(|_| more).map(|m| cursor("markets", m.received_at, &m.digest));
    Ok(page(items, next))
}

/// `GET /v1/markets/{digest}`: the stored market itself (its JSON, as the desk's
/// in-browser verifier needs it).
pub(super) async fn get_market(
    State(state): Shared,
    headers: HeaderMap,
    digest: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let digest = authorized_path(&state, &headers, digest)?;
    let market = state
        .store
        .market(&digest.to_ascii_lowercase())
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no market with digest {digest:?}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], market.market_json).into_response())
}

/// `GET /v1/accounts[?before=CURSOR][&limit=N]`: every account a stored verdict covers,
/// by venue and name, each with its standing: the latest valid proof covering it (the
/// fields of `GET /v1/standing`), `stale` when it is older than the policy's
/// `standing_ttl_seconds` (then `GET /v1/standing` answers 404 for it) and `stale_at`
/// (null without a TTL); `standing` is null when no valid proof covers the account.
pub(super) async fn list_accounts(
    State(state): Shared,
    headers: HeaderMap,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (q, limit) = paged(&state, &headers, q, |q| q.limit.as_deref())?;
    let after = q.before.as_deref().map(|b| uncursor::<String, String>("accounts", b)).transpose()?;
    let (rows, more) = state.store.list_accounts(after.as_ref(), limit).await?;
    let now = now_ms();
    let ttl_ms = state.checker.policy().standing_ttl_seconds.map(|ttl| ttl.saturating_mul(1000).min(i64::MAX as u64) as i64);
    let mut items = Vec::with_capacity(rows.len());
    let mut standings = Vec::with_capacity(rows.len());
    for (venue, account) in &rows {
        standings.push(state.store.standing(venue, account, i64::MIN).await?);
    }
    let digests: Vec<&str> = standings.iter().flatten().map(|v| v.market_digest.as_str()).collect();
    let heads = market_heads(&state, &digests).await?;
    for ((venue, account), standing) in rows.iter().zip(standings) {
        let standing = standing.map(|v| {
            let mut fields = standing_fields(&v, now);
            let head = heads.get(&v.market_digest);
            fields.insert(
                "market".into(),
                json!({"id": head.map(|h| h.id.clone()), "digest": v.market_digest, "quote": head.map(|h| h.quote.clone())}),
            );
            let stale_at = ttl_ms.map(|ttl| v.received_at.saturating_add(ttl));
            fields.insert("stale".into(), json!(stale_at.is_some_and(|at| at < now)));
            fields.insert("stale_at".into(), json!(stale_at.map(rfc3339)));
            Value::Object(fields)
        });
        items.push(json!({"venue": venue, "account": account, "standing": standing}));
    }
    let next = rows.last().filter(|_| more).map(|(venue, account)| cursor("accounts", venue, account));
    Ok(page(items, next))
}

/// `GET /v1/policy`: the policy in force (public keys and limits only; what the desk
/// needs, e.g. `standing_ttl_seconds` and the listed publishers).
pub(super) async fn get_policy(State(state): Shared, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    Ok(Json(serde_json::to_value(state.checker.policy()).map_err(ApiError::internal)?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let c = cursor("proofs", 1_700_000_000_123i64, "abc");
        assert_eq!(uncursor::<i64, String>("proofs", &c).unwrap(), (1_700_000_000_123, "abc".to_string()));
        // Another list's cursor, a cut or edited one, not hex, too long: refused.
        assert!(uncursor::<i64, String>("markets", &c).is_err());
        assert!(uncursor::<i64, String>("proofs", &c[..c.len() - 2]).is_err());
        assert!(uncursor::<i64, String>("proofs", "zz").is_err());
        assert!(uncursor::<i64, String>("proofs", &hex::encode(b"[\"proofs\",\"x\",\"abc\"]")).is_err());
        assert!(uncursor::<i64, String>("proofs", &hex::encode(b"[\"proofs\",1,\"abc\",4]")).is_err());
        assert!(uncursor::<i64, String>("proofs", &"0".repeat(MAX_CURSOR_CHARS + 2)).is_err());
    }

    #[test]
    fn limits_default_cap_and_refuse_nonsense() {
        assert_eq!(page_limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(page_limit(Some("7")).unwrap(), 7);
        assert_eq!(page_limit(Some("100000000000000000000000")).unwrap(), MAX_LIMIT);
        assert_eq!(page_limit(Some("007")).unwrap(), 7);
        assert_eq!(page_limit(Some("5000")).unwrap(), MAX_LIMIT);
        for bad in ["0", "-1", "ten", "", "1.5"] {
            assert!(page_limit(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_verdict_without_its_statement_lists_what_it_has() {
        let bare = ListedVerdict {
            id: "v1".into(),
            valid: false,
            reason: Some("too large".into()),
            market_digest: None,
            market_as_of: None,
            level: None,
            threshold: Some(String::new()),
            statement_json: Some(String::new()),
            received_at: 0,
        };
        let item = verdict_item(&bare, &HashMap::new());
        assert_eq!(item["id"], "v1");
        assert_eq!(item["reason"], "too large");
        assert_eq!(item["threshold"], Value::Null);
        assert_eq!(item["accounts"], json!([]));
        assert_eq!(item["market"]["digest"], Value::Null);
        // A statement with covenants: they are listed, the nonce is not.
        let full = ListedVerdict {
            statement_json: Some(
                json!({"level": "initial", "threshold": "5.000000", "nonce": "ab", "min_ratio": "1.5",
                       "groups": [], "accounts": [{"venue": "okx", "account": "a", "group": "g", "commitment": "00"}]})
                .to_string(),
            ),
            ..bare
        };
        let item = verdict_item(&full, &HashMap::new());
        assert_eq!(item["threshold"], "5.000000");
        assert_eq!(item["level"], "initial");
        assert_eq!(item["covenants"], json!({"min_ratio": "1.5"}));
        assert_eq!(item["accounts"], json!([{"venue": "okx", "account": "a", "group": "g"}]));
    }
}
