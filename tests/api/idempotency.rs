//! `Idempotency-Key` on the creating POSTs: a retry with the same key and body replays the
//! first answer without running again; the same key with another body is 422; keys of one
//! credential are invisible to another.

use andi::keys::grant::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

async fn post(
    app: &TestApp,
    path: &str,
    key: &str,
    idempotency: &str,
    body: &Value,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(key)
        .header("idempotency-key", idempotency)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retried_create_is_answered_once_and_replayed() {
    let app = TestApp::builder().spawn().await;
    let workspace = app.create_workspace("acme").await;
    let (admin, _) = app.create_key(&workspace, Some(Role::Admin), &[]).await;
    let (other, _) = app.create_key(&workspace, Some(Role::Admin), &[]).await;
    let invoices = json!({"name": "Invoices", "attributes": {"number": {"type": "string"}}});

    let first = post(&app, "/api/objects", &admin, "req-1", &invoices).await;
    assert_eq!(first.status(), 201);
    assert_eq!(first.headers()["idempotent-replayed"], "false");
    let first_body: Value = first.json().await.unwrap();
    let retry = post(&app, "/api/objects", &admin, "req-1", &invoices).await;
    assert_eq!(retry.status(), 201, "not 409: the create did not run again");
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert!(
        retry.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(retry.json::<Value>().await.unwrap(), first_body);
    assert_eq!(app.count_definitions(&workspace).await, 1);

    let other_body = json!({"name": "Orders"});
    let reused = post(&app, "/api/objects", &admin, "req-1", &other_body).await;
    assert_eq!(reused.status(), 422);
    assert_eq!(
        reused.json::<Value>().await.unwrap()["code"],
        "idempotency_key_reused"
    );

    // Another credential's key of the same name is its own.
    let theirs = post(&app, "/api/objects", &other, "req-1", &invoices).await;
    assert_eq!(theirs.status(), 409, "it ran: the handle is taken");

    let too_long = post(&app, "/api/objects", &admin, &"k".repeat(256), &other_body).await;
    assert_eq!(too_long.status(), 400);
    assert_eq!(app.count_definitions(&workspace).await, 1);
}

#[tokio::test]
async fn a_retried_upsert_creates_its_records_once() {
    let app = TestApp::builder().spawn().await;
    let workspace = app.create_workspace("acme").await;
    let (admin, _) = app.create_key(&workspace, Some(Role::Admin), &[]).await;
    let created = app
        .post_json(
            "/api/objects",
            &admin,
            &json!({"name": "Notes", "attributes": {"text": {"type": "text"}}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    // Records without ids get new ones on every run, so only the key prevents duplicates.
    let batch = json!({"records": [{"attributes": {"text": "a"}}, {"attributes": {"text": "b"}}]});
    let path = "/api/objects/notes/data/upsert-many";
    let first: Value = post(&app, path, &admin, "load-7", &batch)
        .await
        .json()
        .await
        .unwrap();
    let retry = post(&app, path, &admin, "load-7", &batch).await;
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    let page: Value = app
        .get("/api/objects/notes/query?limit=10", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let without_key = app.post_json(path, &admin, &batch).await;
    assert_eq!(
        without_key.status(),
        200,
        "a request without the header runs as usual"
    );
}
