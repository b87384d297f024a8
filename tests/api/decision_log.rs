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

#[tokio::test]
async fn a_query_records_the_filter_the_policies_became_and_no_line_per_row() {
    let policies = crate::policy_files::copy_of_shipped_policies();
    std::fs::write(
        policies.path().join("confidential.cedar"),
        r#"@id("confidential")
forbid (principal is Andi::ApiKey, action, resource is Andi::Record)
when { resource.attributes has confidential && resource.attributes.confidential }
unless { principal in Andi::Role::"admin" };
"#,
    )
    .unwrap();
    let log_dir = tempfile::tempdir().unwrap();
    let log_path = log_dir.path().join("decisions.jsonl");
    let app = TestApp::builder()
        .policies(policies.path())
        .decision_log(&log_path)
        .spawn()
        .await;
    let acme = app.create_workspace("acme").await;
    let (admin, _) = app.create_key(&acme, Some(Role::Admin), &[]).await;
    let (viewer, viewer_id) = app.create_key(&acme, Some(Role::Viewer), &[]).await;
    let created = app
        .post_json(
            "/api/objects",
            &admin,
            &json!({"name": "Customers", "attributes": {"confidential": {"type": "boolean"}}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let records: Vec<Value> = (0..6)
        .map(|i| json!({"attributes": {"confidential": i % 2 == 0}}))
        .collect();
    let written = app
        .post_json(
            "/api/objects/customers/data/upsert-many",
            &admin,
            &json!({ "records": records }),
        )
        .await;
    assert_eq!(written.status(), 200);

    let page = app
        .client
        .get(app.url("/api/objects/customers/query"))
        .bearer_auth(&viewer)
        .header("x-request-id", "q-1")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page: Value = page.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    app.stop().await;

    let lines: Vec<Value> = read_lines(&log_path)
        .into_iter()
        .filter(|line| line["requestId"] == "q-1")
        .collect();
    let actions: Vec<&str> = lines
        .iter()
        .map(|line| line["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec!["queryRecords", "getRecord"],
        "the query's decision and its filter, no line per row: {lines:#?}"
    );
    let filter = &lines[1];
    assert_eq!(filter["decision"], "filter");
    assert_eq!(filter["principal"], viewer_id.as_str());
    assert!(
        filter["resource"]
            .as_str()
            .unwrap()
            .starts_with("Andi::ObjectDefinition::"),
        "{filter}"
    );
    assert_eq!(
        filter["filter"],
        "not (confidential exists and confidential eq true)"
    );
    assert_eq!(filter["rowsDecided"], false);
    assert_eq!(filter["policies"], json!(["confidential", "objects-read"]));
}
