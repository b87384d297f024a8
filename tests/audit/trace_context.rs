//! W3C trace context: a request that carries `traceparent` is a SERVER span in the caller's
//! trace, named by its route template, with the HTTP semantic-convention attributes; its
//! decisions and their decision-log lines are in that trace too, and a refused
//! authentication says why.

use andi::keys::grant::Role;
use opentelemetry::trace::{SpanKind, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;

use crate::helpers::TestApp;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

// A current-thread runtime, so the server's tasks see the scoped subscriber (see spans.rs).
#[tokio::test]
async fn a_request_with_traceparent_is_a_server_span_in_the_callers_trace() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    // At `info`, as the server logs by default: sea-orm's `trace` spans, when enabled,
    // sometimes never close, and then neither does the request span above them, which is
    // never exported (about one run in twenty before this filter).
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("trace-test")));
    let _second_subscriber = tracing::Dispatch::new(tracing_subscriber::registry());
    let _scoped = tracing::subscriber::set_default(subscriber);

    let log_dir = tempfile::tempdir().unwrap();
    let log_path = log_dir.path().join("decisions.jsonl");
    let app = TestApp::builder().decision_log(&log_path).spawn().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Viewer), &[]).await;

    let traced = app
        .client
        .get(app.url("/api/objects"))
        .bearer_auth(&key)
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01"))
        .header("tracestate", "vendor=value")
        .send()
        .await
        .unwrap();
    assert_eq!(traced.status(), 200);
    let refused = app
        .client
        .get(app.url("/api/objects"))
        .bearer_auth("andi_live_not-a-key")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let mut spans = Vec::new();
    for _ in 0..200 {
        provider.force_flush().unwrap();
        spans = exporter.get_finished_spans().unwrap();
        if spans
            .iter()
            .filter(|s| s.span_kind == SpanKind::Server)
            .count()
            >= 2
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let trace_id = TraceId::from_hex(TRACE_ID).unwrap();
    let server: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect();
    let joined = server
        .iter()
        .find(|s| s.span_context.trace_id() == trace_id)
        .unwrap_or_else(|| panic!("no server span in the caller's trace: {server:?}"));
    assert_eq!(joined.name, "GET /api/objects");
    assert_eq!(
        joined.parent_span_id.to_string(),
        CALLER_SPAN_ID,
        "the caller's span is the parent"
    );
    assert!(joined.parent_span_is_remote);
    assert_eq!(
        joined.span_context.trace_state().get("vendor"),
        Some("value"),
        "tracestate is carried on"
    );
    for (name, value) in [
        ("http.request.method", "GET"),
        ("http.route", "/api/objects"),
        ("url.path", "/api/objects"),
        ("http.response.status_code", "200"),
        ("client.address", "127.0.0.1"),
    ] {
        assert_eq!(attribute(joined, name).as_deref(), Some(value), "{name}");
    }
    let authz = spans
        .iter()
        .find(|s| s.name == "authz")
        .expect("the decision's span");
    assert_eq!(authz.span_context.trace_id(), trace_id);

    let refused = server
        .iter()
        .find(|s| s.span_context.trace_id() != trace_id)
        .expect("the refused request's span, in a trace of its own");
    assert_eq!(
        attribute(refused, "http.response.status_code").as_deref(),
        Some("401")
    );
    assert_eq!(
        attribute(refused, "error.type").as_deref(),
        Some("malformed_key"),
        "the span says why authentication failed"
    );

    app.decision_log.as_ref().unwrap().flush();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let line: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(
        line["traceId"], TRACE_ID,
        "the decision log names the joined trace"
    );
}
