//! The decision log: one JSON line per decision, appended to the file, never truncating it.

use andi::keys::grant::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

fn read_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect()
}

#[tokio::test]
async fn the_decision_log_has_one_line_per_decision_and_appends_to_an_existing_file() {
    let log_dir = tempfile::tempdir().unwrap();
    let log_path = log_dir.path().join("decisions.jsonl");
    std::fs::write(&log_path, "{\"from\":\"yesterday\"}\n").unwrap();
    let app = TestApp::builder().decision_log(&log_path).spawn().await;
    let log = app.decision_log.clone().unwrap();
    let version = app.authz.version();
    let acme = app.create_workspace("acme").await;
    let (key, key_id) = app.create_key(&acme, Some(Role::Editor), &[]).await;

    for i in 0..5 {
        let response = app
            .client
            .get(app.url("/api/objects"))
            .bearer_auth(&key)
            .header("x-request-id", format!("list-{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let denied = app
        .client
        .get(app.url("/api/workspace"))
        .bearer_auth(&key)
        .header("x-request-id", "read-ws")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    // Stopping writes every queued line, as when `andi serve` stops.
    app.stop().await;

    let lines = read_lines(&log_path);
    assert_eq!(
        lines.len(),
        7,
        "the earlier line and six decisions: {lines:#?}"
    );
    assert_eq!(
        lines[0],
        json!({"from": "yesterday"}),
        "the file is appended to, never truncated"
    );
    for (i, line) in lines[1..6].iter().enumerate() {
        assert_eq!(line["requestId"], format!("list-{i}"));
        assert_eq!(line["principal"], key_id);
        assert_eq!(line["workspace"], acme.id);
        assert_eq!(line["action"], "listObjects");
        assert_eq!(
            line["resource"],
            format!("Andi::Workspace::\"{}\"", acme.id)
        );
        assert_eq!(line["decision"], "allow");
        assert_eq!(line["policies"], json!(["objects-read"]));
        assert_eq!(line["errors"], json!([]));
        assert_eq!(line["policyVersion"], version);
        assert!(
            line["time"]
                .as_str()
                .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
            "{line}"
        );
        assert!(
            line["traceId"].is_null(),
            "no trace without an exporter: {line}"
        );
    }
    let last = &lines[6];
    assert_eq!(last["requestId"], "read-ws");
    assert_eq!(last["action"], "readWorkspace");
    assert_eq!(last["decision"], "deny");
    assert_eq!(last["policies"], json!([]));
    assert!(
        !std::fs::read_to_string(&log_path)
            .unwrap()
            .contains("andi_live_"),
        "no secret is logged"
    );
    assert_eq!(log.dropped(), 0);
}
