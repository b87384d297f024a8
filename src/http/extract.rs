//! Extractors: [`Authenticated`], the key a `/api` route needs, and [`JsonBody`].
//!
//! Security-sensitive: every route that needs a key takes [`Authenticated`], which runs the
//! header rules, the key format check and the verification (in `auth`) before the handler
//! sees anything.
//!
//! Request bodies are JSON only. The body is read by the extractor but parsed by the handler
//! after authorization, so a caller without permission learns nothing from validation.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use chrono::Utc;
use serde_json::Value;

use super::error::ApiError;
use super::state::AppState;
use crate::auth::cache::VerifiedKey;
use crate::auth::{AuthError, credentials};
use crate::authz::RequestContext;
use crate::keys::api_key::ApiKey;
use crate::keys::secret::KeySecret;
use crate::principal::KeyPrincipal;

pub struct JsonBody {
    content_type: Option<String>,
    bytes: Bytes,
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
        let presented = credentials::presented_key(&parts.headers)?;
        let secret = KeySecret::parse(presented).map_err(AuthError::MalformedKey)?;
        let now = Utc::now();
        let VerifiedKey { principal, key } = state.keys.verify(&secret, now).await?;
        credentials::check_workspace_headers(&parts.headers, &principal.workspace)?;
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
                addr.ip()
            });
        let context = RequestContext {
            ip,
            time: now,
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
        };
        Ok(Authenticated {
            principal,
            key,
            context,
        })
    }
}
