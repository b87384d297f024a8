//! The HTTP application: the router of every route and the tower layers around it.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, State};
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use super::error::ApiError;
use super::state::AppState;
use super::{metrics, openapi, trace};
use crate::{console, request_id};

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    // Documented routes are registered with their OpenAPI description (src/openapi.rs).
    let (documented, _) = openapi::routes().split_for_parts();

    // One stack, applied once: each `Router::layer` call would box the route again, and
    // every layer would then clone (and box) the routes beneath it on each request.
    // Outside-in: request id, sensitive headers, trace, metrics, panic guard, timeout,
    // `no-store` for key routes, body limit, idempotency keys, then the route.
    let layers = ServiceBuilder::new()
        // Outermost, so every response (even a panic's or a timeout's) carries the id and
        // error bodies can quote it.
        .layer(axum::middleware::from_fn(request_id::middleware))
        // Before tracing sees the request, so no layer can record a credential.
        .layer(SetSensitiveRequestHeadersLayer::from_shared(Arc::new([
            header::AUTHORIZATION,
            header::COOKIE,
            HeaderName::from_static("x-api-key"),
        ])))
        .layer({
            let proxies = state.trusted_proxies.clone();
            TraceLayer::new_for_http()
                .make_span_with(move |request: &Request<Body>| {
                    trace::request_span(request, &proxies)
                })
                .on_response(trace::record_response)
        })
        // Inside the trace, outside the panic guard and the time limit, so a panic's 500
        // and a timeout's 408 are counted like any answer.
        .layer(axum::middleware::from_fn(metrics::record_request))
        .layer(CatchPanicLayer::custom(|_| {
            IntoResponse::into_response(ApiError::Internal(anyhow::anyhow!("handler panicked")))
        }))
        .layer(axum::middleware::from_fn_with_state(
            state.limits.request_timeout,
            time_limit,
        ))
        .layer(axum::middleware::from_fn(no_store_for_keys))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::idempotency::middleware,
        ));
    let router = Router::new()
        .merge(documented)
        .merge(console::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(layers);
    // Outside everything else, so a preflight is answered before any route or key check.
    let router = match state.cors_origins.layer() {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.with_state(state)
}

/// The routes whose answers carry a key's data: the calling key, and key listings, creations
/// (with the secret) and rotations in the session API and the console.
const KEY_ROUTES: &[&str] = &[
    "/api/key",
    "/api/v1/workspaces/{handle}/api-keys",
    "/api/v1/workspaces/{handle}/api-keys/{id}",
    "/api/v1/workspaces/{handle}/api-keys/{id}/rotate",
    "/workspaces/{handle}/api-keys",
    "/workspaces/{handle}/api-keys/{id}/revoke",
    "/workspaces/{handle}/api-keys/{id}/rotate",
];

/// `Cache-Control: no-store` on every answer of [`KEY_ROUTES`], so no browser or proxy keeps
/// a key's secret or metadata on disk.
async fn no_store_for_keys(request: Request<Body>, next: Next) -> Response {
    let keyed = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|route| KEY_ROUTES.contains(&route.as_str()));
    let mut response = next.run(request).await;
    if keyed {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Answers a request that outlives `limit` with a problem+json 408, like every other error.
async fn time_limit(State(limit): State<Duration>, request: Request<Body>, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout { after: limit }.into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route; GET /api/openapi.json lists every route".to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
