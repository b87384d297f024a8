//! The HTTP side of the metrics: `GET /metrics` (Prometheus text), and the layer that
//! records every answered request by route template, method and status.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::AppState;
use crate::{metrics, store};

/// The Prometheus text exposition format this endpoint answers with.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every series in Prometheus's text format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    description = "Every metric in Prometheus text format (docs/operations.md lists them). No key needed: serve it only where the scraper reaches it.",
    responses((status = 200, description = "Prometheus text", content_type = "text/plain"))
)]
pub async fn metrics_get(State(state): State<AppState>) -> Result<Response, ApiError> {
    record_pool(&state);
    let text = metrics::get()
        .prometheus_text()
        .map_err(ApiError::Internal)?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROMETHEUS_TEXT),
    );
    Ok(response)
}

/// Samples the database pool into its gauges.
pub fn record_pool(state: &AppState) {
    let usage = store::pool_usage(&state.db);
    metrics::get().pool(usage.used, usage.idle, usage.max);
}

/// Records each request once its response is ready. Added with `Router::layer`, so the
/// matched route template is known; an unmatched path is recorded without a route, so a
/// scan of made-up paths cannot grow the number of series.
pub async fn record_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    metrics::get().request(
        method,
        route.as_ref().map(MatchedPath::as_str),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The method as a static label; any other method is `_OTHER`, as the HTTP semantic
/// conventions say, so a client cannot mint series with made-up methods.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "_OTHER",
    }
}
