//! Request bodies: JSON only. The body is read by the extractor but parsed by the handler
//! after authorization, so a caller without permission learns nothing from validation.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use serde_json::Value;

use crate::app::AppState;
use crate::error::ApiError;

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
