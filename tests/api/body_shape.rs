//! A request body's memory is bounded by its shape, not only its size: a body of many tiny
//! values or of deep nesting is refused before it is parsed, with a code that says which.

use andi::http::limits::Limits;
use andi::keys::grant::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

#[tokio::test]
async fn bodies_of_too_many_values_or_too_deep_nesting_are_refused_before_parsing() {
    let app = TestApp::builder()
        .limits(Limits {
            max_json_values: 1_000,
            ..Limits::default()
        })
        .spawn()
        .await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Admin), &[]).await;

    let many: Vec<Value> = (0..2_000).map(|_| json!(0)).collect();
    let response = app
        .post_json(
            "/api/objects",
            &key,
            &json!({"name": "Notes", "attributes": {}, "padding": many}),
        )
        .await;
    let body = assert_problem(response, 400, "json_too_large", "2,000 values").await;
    assert!(body["detail"].as_str().unwrap().contains("1000"), "{body}");

    let mut deep = json!(0);
    for _ in 0..100 {
        deep = json!([deep]);
    }
    let response = app
        .post_json(
            "/api/objects",
            &key,
            &json!({"name": "Notes", "deep": deep}),
        )
        .await;
    assert_problem(response, 400, "json_too_deep", "100 levels").await;

    let response = app
        .post_json(
            "/api/objects",
            &key,
            &json!({"name": "Notes", "attributes": {"body": {"type": "text"}}}),
        )
        .await;
    assert_eq!(
        response.status(),
        201,
        "a body within both bounds is served"
    );
}
