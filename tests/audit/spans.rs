//! The auditor's trail: every decision is an `authz` span under its request's span, with the
//! key, action, resource, decision, determining policies and policy version; and, with
//! `ANDI_DECISION_LOG`, a JSON line that links to that trace by its trace id.

use andi::keys::grant::Role;
use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt;

use crate::helpers::TestApp;

fn attribute(span: &SpanData, key: &str) -> String {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
        .unwrap_or_else(|| {
            panic!(
                "span {} has no attribute {key}: {:?}",
                span.name, span.attributes
            )
        })
}

fn read_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect()
}

// A current-thread runtime (the default), so the server's tasks run on this thread and see
// the scoped subscriber.
#[tokio::test]
async fn each_decision_is_an_authz_span_under_its_request_and_its_log_line_names_the_trace() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    // At `info`, as the server logs by default: sea-orm's `trace` spans, when enabled,
    // sometimes never close, and then neither does the request span above them, which is
    // never exported (about one run in twenty before this filter).
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("audit-test")));
    // With exactly one live subscriber, tracing-core decides a callsite's interest from the
    // thread that first reaches it; a test on another thread (without a subscriber) would
    // then disable the `request` and `authz` spans for this one. A second live subscriber
    // makes it ask every subscriber instead.
    let _second_subscriber = tracing::Dispatch::new(tracing_subscriber::registry());
    let _scoped = tracing::subscriber::set_default(subscriber);

    let log_dir = tempfile::tempdir().unwrap();
    let log_path = log_dir.path().join("decisions.jsonl");
    let app = TestApp::builder().decision_log(&log_path).spawn().await;
    let log = app.decision_log.clone().unwrap();
    let version = app.authz.version();
    let acme = app.create_workspace("acme").await;
    let (key, key_id) = app.create_key(&acme, Some(Role::Viewer), &[]).await;

    let allowed = app
        .client
        .get(app.url("/api/objects"))
        .bearer_auth(&key)
        .header("x-request-id", "audit-allow")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    let denied = app
        .client
        .post(app.url("/api/objects"))
        .bearer_auth(&key)
        .header("x-request-id", "audit-deny")
        .json(&json!({"name": "Invoices"}))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);

    // The request span ends when its response body has been sent, a moment after the client
    // has it; wait for both request spans (bounded).
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
    let authz_spans: Vec<&SpanData> = spans.iter().filter(|s| s.name == "authz").collect();
    assert_eq!(
        authz_spans.len(),
        2,
        "one authz span per decision: {:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );

    let workspace = format!("Andi::Workspace::\"{}\"", acme.id);
    // A new definition is asked about before it has an id, as a placeholder.
    let new_object = "Andi::ObjectDefinition::\"missing:invoices\"".to_owned();
    let expected = [
        (
            "listObjects",
            workspace,
            "allow",
            "objects-read",
            "GET /api/objects",
        ),
        ("createObject", new_object, "deny", "", "POST /api/objects"),
    ];
    for (span, (action, resource, decision, policies, request)) in authz_spans.iter().zip(expected)
    {
        assert_eq!(attribute(span, "andi.principal"), key_id, "{action}");
        assert_eq!(attribute(span, "andi.workspace"), acme.id, "{action}");
        assert_eq!(attribute(span, "andi.action"), action);
        assert_eq!(attribute(span, "andi.resource"), resource, "{action}");
        assert_eq!(attribute(span, "andi.decision"), decision, "{action}");
        assert_eq!(attribute(span, "andi.policies"), policies, "{action}");
        assert_eq!(attribute(span, "andi.errors"), "", "{action}");
        assert_eq!(attribute(span, "andi.policy_version"), version, "{action}");
        let parent = spans
            .iter()
            .find(|s| s.span_context.span_id() == span.parent_span_id)
            .unwrap_or_else(|| panic!("the authz span of {action} has an exported parent"));
        assert_eq!(
            parent.name, request,
            "{action}: the parent is the request span"
        );
        assert_eq!(parent.span_context.trace_id(), span.span_context.trace_id());
    }

    log.flush();
    let lines = read_lines(&log_path);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (line, (span, request_id)) in lines
        .iter()
        .zip(authz_spans.iter().zip(["audit-allow", "audit-deny"]))
    {
        assert_eq!(line["requestId"], request_id);
        assert_eq!(
            line["traceId"],
            span.span_context.trace_id().to_string(),
            "the line links to the span's trace"
        );
        assert_eq!(line["decision"], attribute(span, "andi.decision"));
    }
}
