//! `GET /metrics`: every series an operator alerts on, in Prometheus text, without a key.

use andi::keys::grant::Role;

use crate::helpers::{TestApp, policy_dir};

/// The sample lines of `text` (not comments) whose name is `name` and that carry every
/// label of `labels`.
fn samples<'a>(text: &'a str, name: &str, labels: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .collect()
}

#[tokio::test]
async fn metrics_show_requests_decisions_keys_policies_the_decision_log_and_the_pool() {
    let log_dir = tempfile::tempdir().unwrap();
    let app = TestApp::builder()
        .decision_log(&log_dir.path().join("decisions.jsonl"))
        .spawn()
        .await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Viewer), &[]).await;

    // A miss, then a hit of the key cache; an allowed read and a denied write.
    assert_eq!(app.get("/api/objects", &key).await.status(), 200);
    assert_eq!(app.get("/api/objects", &key).await.status(), 200);
    let denied = app
        .post_json(
            "/api/objects",
            &key,
            &serde_json::json!({"name": "Invoices"}),
        )
        .await;
    assert_eq!(denied.status(), 403);
    assert_eq!(app.get("/api/no-such-route", &key).await.status(), 404);
    app.authz.reload(&policy_dir()).unwrap();
    app.decision_log.as_ref().unwrap().flush();

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200, "no key is needed");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "Prometheus text format"
    );
    let text = response.text().await.unwrap();

    for (name, labels, what) in [
        (
            "http_server_request_duration_seconds_count",
            &[
                r#"http_request_method="GET""#,
                r#"http_route="/api/objects""#,
                r#"http_response_status_code="200""#,
            ][..],
            "requests by route template, method and status",
        ),
        (
            "http_server_request_duration_seconds_bucket",
            &[r#"http_route="/api/objects""#, r#"le="0.005""#][..],
            "the latency histogram",
        ),
        (
            "http_server_request_duration_seconds_count",
            &[r#"http_response_status_code="404""#][..],
            "an unmatched path, without a route",
        ),
        (
            "andi_authz_decisions_total",
            &[r#"action="listObjects""#, r#"outcome="allow""#][..],
            "allowed decisions",
        ),
        (
            "andi_authz_decisions_total",
            &[r#"action="createObject""#, r#"outcome="deny""#][..],
            "denied decisions",
        ),
        (
            "andi_key_cache_lookups_total",
            &[r#"result="hit""#][..],
            "key cache hits",
        ),
        (
            "andi_key_cache_lookups_total",
            &[r#"result="miss""#][..],
            "key cache misses",
        ),
        (
            "andi_key_revocations_poll_age_seconds",
            &[][..],
            "the age of the last revocation read",
        ),
        (
            "andi_policy_reloads_total",
            &[r#"result="loaded""#][..],
            "policy reloads",
        ),
        // The series is process-wide and other tests' servers load other policy sets at
        // the same time, so only its presence is asserted here.
        (
            "andi_policy_info",
            &[r#"version=""#][..],
            "the live policy version",
        ),
        (
            "andi_decision_log_lines_total",
            &[r#"outcome="written""#][..],
            "decision log lines written",
        ),
        (
            "db_client_connection_count",
            &[r#"db_client_connection_state="used""#][..],
            "pool connections in use",
        ),
        (
            "db_client_connection_count",
            &[r#"db_client_connection_state="idle""#][..],
            "idle pool connections",
        ),
        ("db_client_connection_max", &[][..], "the pool's size"),
    ] {
        assert!(
            !samples(&text, name, labels).is_empty(),
            "{what}: no {name} with {labels:?} in\n{text}"
        );
    }
    assert!(
        samples(
            &text,
            "http_server_request_duration_seconds_count",
            &["no-such-route"]
        )
        .is_empty(),
        "an unknown path is no route label"
    );
}
