//! The HTTP application: the router of every route and the tower layers around it.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode, header};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use super::error::ApiError;
use super::openapi;
use super::state::AppState;
use crate::{console, request_id};

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    // Documented routes are registered with their OpenAPI description (src/openapi.rs).
    let (documented, _) = openapi::routes().split_for_parts();

    Router::new()
        .merge(documented)
        .merge(console::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Layers run outside-in from the last added: request id, sensitive headers, trace,
        // panic guard, timeout, body limit, then the route.
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.limits.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::Internal(anyhow::anyhow!(
                "handler panicked"
            )))
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    let id = request
                        .headers()
                        .get(request_id::HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id = %id,
                        status = tracing::field::Empty,
                    )
                })
                .on_response(
                    |response: &axum::http::Response<Body>,
                     latency: std::time::Duration,
                     span: &tracing::Span| {
                        span.record("status", response.status().as_u16());
                        tracing::debug!(
                            status = response.status().as_u16(),
                            latency_ms = latency.as_millis() as u64,
                            "response"
                        );
                    },
                ),
        )
        // Before tracing sees the request, so no layer can record a credential.
        .layer(SetSensitiveRequestHeadersLayer::from_shared(Arc::new([
            header::AUTHORIZATION,
            header::COOKIE,
            HeaderName::from_static("x-api-key"),
        ])))
        // Outermost, so every response (even a panic's or a timeout's) carries the id and
        // error bodies can quote it.
        .layer(axum::middleware::from_fn(request_id::middleware))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route; see API.md for the routes".to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
