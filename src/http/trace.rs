//! The request span: a SERVER span named `METHOD /route/template` with the stable HTTP
//! semantic-convention attributes, continuing the caller's trace when the request carries
//! W3C `traceparent` / `tracestate`, so Andi's spans (and the decision log's `traceId`) join
//! the trace of the client that called it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath};
use axum::http::{Request, Response};
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::error::ErrorCode;
use super::metrics::method_label;
use super::request_context::TrustedProxies;
use crate::request_id;

/// Opens the span of one request. The route template, not the path, names it, so spans of
/// one operation group together and no path segment (an object's name) ends up in a name.
pub fn request_span(request: &Request<Body>, proxies: &Arc<TrustedProxies>) -> Span {
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let id = request
        .headers()
        .get(request_id::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| proxies.client_ip(peer.ip(), request.headers()));
    let span = tracing::info_span!(
        "request",
        otel.name = %match route {
            Some(route) => format!("{method} {route}"),
            None => method.to_owned(),
        },
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = method,
        http.route = route,
        url.path = %request.uri().path(),
        url.scheme = "http",
        client.address = client.map(tracing::field::display),
        user_agent.original = request
            .headers()
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        request_id = %id,
    );
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
    // Only a well-formed `traceparent` gives a valid remote context; anything else starts
    // a new trace, as the W3C recommendation says.
    if opentelemetry::trace::TraceContextExt::span(&parent)
        .span_context()
        .is_valid()
    {
        // Fails only when no OpenTelemetry layer is installed, when there is no trace to join.
        let _ = span.set_parent(parent);
    }
    span
}

/// Records the answer on the request span: the status, and for a failure the stable error
/// code (`error.type`), so a trace says why a request was refused (`unknown_key`, …).
pub fn record_response(response: &Response<Body>, latency: Duration, span: &Span) {
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        span.record("error.type", *code);
    }
    // A server span is an error only when the server failed (5xx), per the conventions.
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    tracing::debug!(
        status = status.as_u16(),
        latency_ms = latency.as_millis() as u64,
        "response"
    );
}
