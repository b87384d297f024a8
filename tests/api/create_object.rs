//! `POST /api/objects`: the definition's shape is validated as `API.md` describes.

use andi::keys::grant::Role;
use serde_json::{Value, json};

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn a_definition_is_stored_as_given_and_listed() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Editor), &[]).await;
    let body = json!({
        "name": "Expense Report",
        "description": "What employees spend",
        "attributes": {
            "amount": {"type": "number", "required": true, "name": "Amount"},
            "status": {"type": "select", "options": [{"value": "open", "label": "Open", "color": "green"}, {"value": "paid"}]},
            "owner": {"type": "email", "unique": true}
        }
    });

    let response = app.post_json("/api/objects", &key, &body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();

    assert!(created["id"].as_str().unwrap().starts_with("obj_"));
    assert_eq!(
        created["handle"], "expense-report",
        "the handle is the name in kebab case"
    );
    assert_eq!(created["description"], "What employees spend");
    assert_eq!(
        created["attributes"]["amount"],
        json!({"type": "number", "name": "Amount", "required": true, "unique": false, "filterable": false})
    );
    assert_eq!(
        created["attributes"]["status"]["options"][0],
        json!({"value": "open", "label": "Open", "color": "green"})
    );
    assert_eq!(created["attributes"]["owner"]["unique"], true);
    let listed: Value = app.get("/api/objects", &key).await.json().await.unwrap();
    assert_eq!(listed["items"], json!([created]));
}

#[tokio::test]
async fn fields_is_an_alias_of_attributes_and_a_handle_may_be_given() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Editor), &[]).await;

    let response = app
        .post_json("/api/objects", &key, &json!({"name": "Budget", "handle": "budgets-2026", "fields": {"total": {"type": "integer"}}}))
        .await;

    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["handle"], "budgets-2026");
    assert_eq!(created["attributes"]["total"]["type"], "integer");
}

#[tokio::test]
async fn a_relationship_must_point_to_an_existing_object() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Editor), &[]).await;
    let invoices = json!({"name": "Invoices", "attributes": {"customer": {"type": "relationship", "object": "customers"}}});

    let missing = app.post_json("/api/objects", &key, &invoices).await;
    let body = assert_problem(
        missing,
        400,
        "validation_failed",
        "relationship to a missing object",
    )
    .await;
    assert_eq!(
        body["issues"][0]["path"],
        json!(["attributes", "customer", "object"])
    );
    assert_eq!(app.count_definitions(&acme).await, 0);

    let customers = app
        .post_json("/api/objects", &key, &json!({"name": "Customers"}))
        .await;
    assert_eq!(customers.status(), 201);
    assert_eq!(
        app.post_json("/api/objects", &key, &invoices)
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn bad_bodies_are_rejected_with_their_reasons_and_change_nothing() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Editor), &[]).await;
    let send_raw = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/api/objects"))
            .bearer_auth(&key)
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let malformed = send_raw("{\"name\": \"Invoices\",", "application/json")
        .await
        .unwrap();
    let body = assert_problem(malformed, 400, "malformed_json", "malformed JSON").await;
    assert!(
        body["detail"].as_str().unwrap().contains("line 1"),
        "the detail locates the error: {body}"
    );

    let not_json = send_raw("name=Invoices", "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_problem(not_json, 415, "unsupported_media_type", "a form body").await;

    let unknown_type = app
        .post_json(
            "/api/objects",
            &key,
            &json!({"name": "Invoices", "attributes": {"amount": {"type": "money"}}}),
        )
        .await;
    let body = assert_problem(
        unknown_type,
        400,
        "validation_failed",
        "an unknown attribute type",
    )
    .await;
    assert_eq!(
        body["issues"][0]["path"],
        json!(["attributes", "amount", "type"])
    );
    assert!(
        body["issues"][0]["message"]
            .as_str()
            .unwrap()
            .contains("money")
    );

    let many_problems = app
        .post_json(
            "/api/objects",
            &key,
            &json!({"handle": "Not A Handle", "colour": 1, "attributes": {"Amount": {"type": "string"}, "tags": {"type": "multiselect"}}}),
        )
        .await;
    let body = assert_problem(
        many_problems,
        400,
        "validation_failed",
        "several problems at once",
    )
    .await;
    let paths: Vec<Value> = body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].clone())
        .collect();
    for expected in [
        json!(["name"]),
        json!(["handle"]),
        json!(["colour"]),
        json!(["attributes", "Amount"]),
        json!(["attributes", "tags", "options"]),
    ] {
        assert!(
            paths.contains(&expected),
            "an issue at {expected} in {paths:?}"
        );
    }

    assert_eq!(app.count_definitions(&acme).await, 0);
}

#[tokio::test]
async fn a_duplicate_handle_is_a_conflict() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Editor), &[]).await;
    let body = json!({"name": "Invoices", "attributes": {"amount": {"type": "number"}}});
    assert_eq!(
        app.post_json("/api/objects", &key, &body).await.status(),
        201
    );

    let duplicate = app
        .post_json(
            "/api/objects",
            &key,
            &json!({"name": "Other", "handle": "invoices"}),
        )
        .await;

    let problem = assert_problem(duplicate, 409, "handle_taken", "a duplicate handle").await;
    assert!(problem["detail"].as_str().unwrap().contains("invoices"));
    let listed: Value = app.get("/api/objects", &key).await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        listed["items"][0]["name"], "Invoices",
        "the first definition is untouched"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused() {
    let app = crate::helpers::TestApp::builder()
        .limits(andi::http::limits::Limits {
            max_body_bytes: 1024,
            ..Default::default()
        })
        .spawn()
        .await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Editor), &[]).await;

    let response = app
        .post_json("/api/objects", &key, &json!({"name": "x".repeat(2048)}))
        .await;

    assert_problem(
        response,
        413,
        "payload_too_large",
        "a 2 KB body over a 1 KB limit",
    )
    .await;
    assert_eq!(app.count_definitions(&acme).await, 0);
}
