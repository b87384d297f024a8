//! `Idempotency-Key` on the POSTs that create (`POST /api/objects`, `upsert-many`), as
//! Stripe has it: the first answer is stored for a day and a retry with the same key and
//! the same body gets it again, marked `Idempotent-Replayed: true`, without running twice.
//! The same key with another body is `422`; while the first request runs, a retry is `409`.
//!
//! Keys are scoped by a digest of the credential that sent them, so two clients cannot
//! read each other's answers, and no credential is stored. Answers a retry should not
//! replay (a failed authentication or authorization, which a policy change may turn, a
//! refusal to run now, a server error) are not stored.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::state::AppState;
use crate::store::idempotency::{self, Claim, StoredAnswer};

pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long a first answer is replayed.
const KEPT_FOR: Duration = Duration::hours(24);

/// The longest key accepted, as Stripe's.
const MAX_KEY_LENGTH: usize = 255;

/// Headers of the first answer that a replay repeats.
const REPLAYED_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

/// Whether `POST path` creates, and so takes an idempotency key.
fn creates(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    path == "/api/objects"
        || path
            .strip_prefix("/api/objects/")
            .and_then(|rest| rest.strip_suffix("/data/upsert-many"))
            .is_some_and(|handle| !handle.is_empty() && !handle.contains('/'))
}

pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST || !creates(request.uri().path()) {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER).cloned() else {
        return next.run(request).await;
    };
    let Some(credential) = credential(request.headers()) else {
        // Unauthenticated: let the route answer 401.
        return next.run(request).await;
    };
    match run_once(&state, key, credential, request, next).await {
        Ok(response) | Err(response) => response,
    }
}

/// The header that authenticates the request, whichever the client used.
fn credential(headers: &HeaderMap) -> Option<Vec<u8>> {
    headers
        .get(header::AUTHORIZATION)
        .or_else(|| headers.get("x-api-key"))
        .map(|value| value.as_bytes().to_vec())
}

fn hex_digest(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

async fn run_once(
    state: &AppState,
    key: HeaderValue,
    credential: Vec<u8>,
    request: Request,
    next: Next,
) -> Result<Response, Response> {
    let key = match key.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= MAX_KEY_LENGTH => key.to_owned(),
        _ => {
            return Err(ApiError::BadRequest {
                code: "invalid_idempotency_key",
                detail: format!(
                    "`Idempotency-Key` must be 1 to {MAX_KEY_LENGTH} visible ASCII characters, e.g. a UUID"
                ),
            }
            .into_response());
        }
    };
    let (parts, body) = request.into_parts();
    let limit = state.limits.max_body_bytes;
    let body = to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge { limit }.into_response())?;
    let scope = hex_digest(&[&credential]);
    let fingerprint = hex_digest(&[
        parts.method.as_str().as_bytes(),
        parts.uri.path().as_bytes(),
        &body,
    ]);
    let now = Utc::now();
    let claim = idempotency::claim(&state.db, &scope, &key, &fingerprint, now, now - KEPT_FOR)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    match claim {
        Claim::InProgress => Err(ApiError::Conflict {
            code: "idempotency_key_in_use",
            detail: "a request with this Idempotency-Key is still running; retry once it has answered".to_owned(),
        }
        .into_response()),
        Claim::Used { fingerprint: first, .. } if first != fingerprint => Err(ApiError::Unprocessable {
            code: "idempotency_key_reused",
            detail: "this Idempotency-Key was used for another request (another route or body); use a new key for a new request".to_owned(),
        }
        .into_response()),
        Claim::Used { answer, .. } => Ok(replay(&answer)),
        Claim::New => {
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            Ok(remember(state, &scope, &key, response).await)
        }
    }
}

/// Stores the first answer (unless a retry should run again) and hands it on.
async fn remember(state: &AppState, scope: &str, key: &str, response: Response) -> Response {
    let status = response.status();
    let run_again = status.is_server_error()
        || matches!(
            status,
            StatusCode::UNAUTHORIZED
                | StatusCode::FORBIDDEN
                | StatusCode::REQUEST_TIMEOUT
                | StatusCode::CONFLICT
                | StatusCode::TOO_MANY_REQUESTS
        );
    if run_again {
        if let Err(error) = idempotency::release(&state.db, scope, key).await {
            tracing::warn!(%error, "could not release an idempotency key");
        }
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return ApiError::Internal(anyhow::anyhow!("the answer could not be read to store it"))
            .into_response();
    };
    let headers: Map<String, Value> = REPLAYED_HEADERS
        .iter()
        .filter_map(|name| {
            let value = parts.headers.get(name)?.to_str().ok()?;
            Some((name.as_str().to_owned(), Value::from(value)))
        })
        .collect();
    let answer = StoredAnswer {
        status: status.as_u16(),
        headers: Value::Object(headers).to_string(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    if let Err(error) = idempotency::complete(&state.db, scope, key, &answer).await {
        // The write happened; a retry would run it again, which is what a client without
        // the key would get too.
        tracing::warn!(%error, "could not store an idempotent answer");
    }
    parts
        .headers
        .insert(REPLAYED, HeaderValue::from_static("false"));
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(answer: &StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body.clone()).into_response();
    let headers = response.headers_mut();
    let stored: Map<String, Value> = serde_json::from_str(&answer.headers).unwrap_or_default();
    for (name, value) in stored {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::try_from(name),
            value.as_str().map(HeaderValue::from_str),
        ) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_creating_posts_take_a_key() {
        assert!(creates("/api/objects"));
        assert!(creates("/api/objects/invoices/data/upsert-many"));
        assert!(!creates("/api/objects/invoices/data/delete-many"));
        assert!(!creates("/api/objects/invoices/query"));
        assert!(!creates("/api/objects//data/upsert-many"));
    }
}
