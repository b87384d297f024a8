use andi::keys::{Permission, Role};
use serde_json::json;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn a_valid_key_lists_objects_with_either_header() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, None, &[Permission::ObjectsRead]).await;

    let bearer = app.get("/api/objects", &key).await;
    assert_eq!(bearer.status(), 200);
    assert_eq!(bearer.json::<serde_json::Value>().await.unwrap(), json!({"items": []}));

    let api_key = app.client.get(app.url("/api/objects")).header("x-api-key", &key).send().await.unwrap();
    assert_eq!(api_key.status(), 200);

    let lower = app.client.get(app.url("/api/objects")).header("authorization", format!("bearer {key}")).send().await.unwrap();
    assert_eq!(lower.status(), 200, "the scheme is case-insensitive");
}

#[tokio::test]
async fn a_read_only_key_cannot_create_and_nothing_changes() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Viewer), &[]).await;

    let response = app.post_json("/api/objects", &key, &json!({"name": "Invoices"})).await;
    let challenge = response.headers().get("www-authenticate").unwrap().to_str().unwrap().to_owned();
    let body = assert_problem(response, 403, "insufficient_scope", "viewer creating an object").await;
    assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");
    assert_eq!(body["missingPermission"], "objects.write");
    assert_eq!(body["action"], "createObject");
    assert_eq!(app.count_definitions(&acme).await, 0);
}
