//! EIP-712 verdicts for an EVM registry (issue 21): `GET /v1/proofs/{id}/evm-verdict`
//! signs a stored valid verdict with the service's secp256k1 key (`serve --evm-key`) for
//! the chain and registry of the policy's `evm` section, and the policy's
//! `accept_external_nonces` lets a proof carry a nonce a lender's contract derived.
//!
//! The signed struct is derived from what was stored with the verdict (the statement, the
//! market's digest and `as_of`) and the policy's TTL, never from a clock, and signing is
//! deterministic (RFC 6979): asking again, or asking another service of the quorum that
//! verified the same proof, gives the same verdict.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use zkmargin_circuits::statement::Statement;
use zkmargin_evm::verdict::parse_address;
use zkmargin_evm::{MarginVerdict, VerdictError};
use zkmargin_verifier::trust::Policy;

use crate::http::{ApiError, Shared};

/// Whether the policy takes `nonce` (lowercase hex) as a nonce a lender's contract
/// derived: `evm.accept_external_nonces` and exactly 32 bytes.
pub fn accepts_external(policy: &Policy, nonce: &str) -> bool {
    policy.evm.as_ref().is_some_and(|e| e.accept_external_nonces)
        && nonce.len() == 64
        && nonce.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `GET /v1/proofs/{id}/evm-verdict`: `{"domain", "verdict", "signer", "signature"}` for a
/// stored valid verdict; 404 for an unknown or invalid one; 409 without an EVM key or the
/// policy's `evm` section; 422 `nonce_not_bytes32` for a statement whose nonce is not 32
/// bytes. Open to anyone (no token): a signed verdict says nothing the statement does not.
pub async fn get_evm_verdict(State(state): Shared, id: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::malformed(e.body_text()))?;
    let (Some(key), Some(evm)) = (&state.evm_key, &state.checker.policy().evm) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "evm_not_configured",
            "this service signs no EVM verdicts (it needs serve --evm-key and the policy's evm section)",
        ));
    };
    let not_found = |why: String| ApiError::new(StatusCode::NOT_FOUND, "not_found", why);
    let v = state.store.verdict(&id).await?.ok_or_else(|| not_found(format!("no verdict {id:?}")))?;
    if !v.valid {
        return Err(not_found(format!("verdict {id:?} is not valid: only valid verdicts are signed")));
    }
    let corrupt = |what: &str| ApiError::internal(format!("stored verdict {id:?}: {what}"));
    let statement: Statement = serde_json::from_str(&v.statement_json).map_err(|_| corrupt("statement"))?;
    let digest: [u8; 32] =
        hex::decode(&v.market_digest).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| corrupt("market digest"))?;
    let as_of = zkmargin_circuits::time::parse_rfc3339(&v.market_as_of).map_err(|_| corrupt("market as_of"))?;
    let verdict = MarginVerdict::for_statement(&statement, &digest, as_of, evm.verdict_ttl_seconds).map_err(|e| match e {
        VerdictError::NonceLength(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "nonce_not_bytes32", e.to_string()),
        other => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_an_evm_verdict", other.to_string()),
    })?;
    let registry = parse_address("policy", "evm.registry", &evm.registry).map_err(ApiError::internal)?;
    let signed = key.sign_verdict(verdict, evm.chain_id, registry);
    Ok(Json(signed.to_json()).into_response())
}
