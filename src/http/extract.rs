//! Extractors: [`Authenticated`], the key a `/api` route needs, and [`JsonBody`].
//!
//! Security-sensitive: every route that needs a key takes [`Authenticated`], which runs the
//! header rules, the key format check and the verification (in `auth`) before the handler
//! sees anything.
//!
//! Request bodies are JSON only. The body is read by the extractor but parsed by the handler
//! after authorization, so a caller without permission learns nothing from validation.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use chrono::Utc;
use serde_json::Value;

use super::error::ApiError;
use super::request_context::request_context;
use super::state::AppState;
use crate::auth::cache::VerifiedKey;
use crate::auth::rate_limit::{self, Admission};
use crate::auth::{AuthError, credentials};
use crate::authz::RequestContext;
use crate::keys::api_key::ApiKey;
use crate::keys::secret::KeySecret;
use crate::principal::KeyPrincipal;

pub struct JsonBody {
    content_type: Option<String>,
    bytes: Bytes,
    max_values: usize,
}

/// Nesting deeper than this is refused before parsing; no body of the API needs more.
const MAX_JSON_DEPTH: usize = 64;

/// An upper bound on the values a JSON text holds (every `,`, `:` and opening bracket
/// outside strings begins one more), and its deepest nesting: one pass, no allocation.
fn json_shape(text: &[u8]) -> (usize, usize) {
    let (mut values, mut depth, mut deepest) = (1, 0usize, 0);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in text {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                values += 1;
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' | b':' => values += 1,
            _ => {}
        }
    }
    (values, deepest)
}

impl JsonBody {
    /// Whether the request had no body at all (for routes where the body is optional).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Checks the media type and parses the body as JSON.
    pub fn parse(&self) -> Result<Value, ApiError> {
        let is_json = self.content_type.as_deref().is_some_and(|ct| {
            let essence = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "the request body must be JSON: send `Content-Type: application/json`".to_owned(),
            ));
        }
        // A parsed value takes tens of bytes however short its text, so a body of many tiny
        // values would cost many times its size in memory; its shape is bounded first.
        let (values, depth) = json_shape(&self.bytes);
        if depth > MAX_JSON_DEPTH {
            return Err(ApiError::BadRequest {
                code: "json_too_deep",
                detail: format!(
                    "the request body nests deeper than {MAX_JSON_DEPTH} levels; flatten it"
                ),
            });
        }
        if values > self.max_values {
            return Err(ApiError::BadRequest {
                code: "json_too_large",
                detail: format!(
                    "the request body holds more than {} JSON values (ANDI_MAX_JSON_VALUES); split it into smaller requests",
                    self.max_values
                ),
            });
        }
        serde_json::from_slice(&self.bytes).map_err(|e| ApiError::BadRequest {
            code: "malformed_json",
            detail: format!("the request body is not valid JSON: {e}"),
        })
    }
}

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge {
                        limit: state.limits.max_body_bytes,
                    }
                } else {
                    ApiError::BadRequest {
                        code: "unreadable_body",
                        detail: rejection.body_text(),
                    }
                }
            })?;
        Ok(JsonBody {
            content_type,
            bytes,
            max_values: state.limits.max_json_values,
        })
    }
}

/// Extractor for routes that need a key: the verified principal, the key as verified, and
/// the request's context.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: KeyPrincipal,
    pub key: Arc<ApiKey>,
    pub context: RequestContext,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let now = Utc::now();
        let context = request_context(parts, &state.trusted_proxies, now);
        let ip = context.ip;
        if let Some(wait) = state.auth_failures.refused(ip, Instant::now()) {
            let retry_after_secs = wait.as_secs().max(1);
            return Err(ApiError::TooManyRequests {
                detail: format!(
                    "too many failed authentications from your address; try again in {retry_after_secs} s with a valid key"
                ),
                retry_after_secs,
            });
        }
        let verified = async {
            let presented = credentials::presented_key(&parts.headers)?;
            let secret = KeySecret::parse(presented).map_err(AuthError::MalformedKey)?;
            Ok::<_, ApiError>(state.keys.verify(&secret, now).await?)
        };
        let VerifiedKey { principal, key, .. } = match verified.await {
            Ok(verified) => verified,
            Err(error) => {
                if matches!(error, ApiError::Auth(_)) {
                    state.auth_failures.failed(ip, Instant::now());
                }
                return Err(error);
            }
        };
        credentials::check_workspace_headers(&parts.headers, &principal.workspace)?;
        if let Some(limit) = key.rate_limit
            && let Admission::Limited { limit, reset_secs } =
                rate_limit::admit(&state.db, &principal.key_id, limit, now).await?
        {
            return Err(ApiError::RateLimited { limit, reset_secs });
        }
        Ok(Authenticated {
            principal,
            key,
            context,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::json_shape;

    #[test]
    fn the_shape_of_a_json_text_counts_its_values_and_nesting() {
        assert_eq!(
            json_shape(br#"{"records":[{"id":"a","attributes":{}}]}"#).1,
            4
        );
        let (values, _) = json_shape(br#"[1,2,3]"#);
        assert!(values >= 3, "{values}");
        let (values, depth) = json_shape(br#"{"text":"[{,:}] \" ,"}"#);
        assert_eq!(
            (values, depth),
            (3, 1),
            "brackets and commas inside strings do not count"
        );
    }
}
