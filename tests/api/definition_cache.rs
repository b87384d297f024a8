//! `GET /api/objects` is served from memory: a change through the same server shows in the
//! next listing, one through another server once the listing's lifetime ends, and a zero
//! lifetime turns the cache off.

use std::time::Duration;

use andi::keys::Permission;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Handles and names of the listed definitions.
async fn listed(client: &reqwest::Client, address: &str, key: &str) -> Vec<(String, String)> {
    let response = client
        .get(format!("{address}/api/objects"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["handle"].as_str().unwrap().to_owned(),
                item["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(handle: &str, name: &str) -> (String, String) {
    (handle.to_owned(), name.to_owned())
}

async fn writer(app: &TestApp) -> String {
    let acme = app.create_workspace("acme").await;
    app.create_key(
        &acme,
        None,
        &[Permission::ObjectsRead, Permission::ObjectsWrite],
    )
    .await
    .0
}

/// A second server on the same database, with its own caches.
async fn spawn_second_server(app: &TestApp, definition_cache_ttl: Duration) -> TestApp {
    TestApp::builder()
        .database_of(app)
        .definition_cache_ttl(definition_cache_ttl)
        .spawn()
        .await
}

#[tokio::test]
async fn a_definition_change_shows_in_the_next_listing_of_the_same_server() {
    let app = spawn_app().await;
    let key = writer(&app).await;
    assert!(listed(&app.client, &app.address, &key).await.is_empty());

    let created = app
        .post_json("/api/objects", &key, &json!({"name": "Invoices"}))
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(
        listed(&app.client, &app.address, &key).await,
        [pair("invoices", "Invoices")]
    );

    let patched = app
        .client
        .patch(app.url("/api/objects/invoices"))
        .bearer_auth(&key)
        .json(&json!({"name": "Bills"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    assert_eq!(
        listed(&app.client, &app.address, &key).await,
        [pair("invoices", "Bills")]
    );

    let deleted = app
        .client
        .delete(app.url("/api/objects/invoices"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(listed(&app.client, &app.address, &key).await.is_empty());
}

#[tokio::test]
async fn a_definition_created_through_another_server_is_listed_once_the_lifetime_ends() {
    let app = spawn_app().await;
    let key = writer(&app).await;
    let other = spawn_second_server(&app, Duration::from_secs(1)).await;
    assert!(listed(&app.client, &other.address, &key).await.is_empty());

    let created = app
        .post_json("/api/objects", &key, &json!({"name": "Invoices"}))
        .await;
    assert_eq!(created.status(), 201);

    // 5 s only means "never": the lifetime is 1 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while tokio::time::Instant::now() < deadline {
        seen = listed(&app.client, &other.address, &key).await;
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, [pair("invoices", "Invoices")]);
}

#[tokio::test]
async fn a_zero_lifetime_lists_from_the_database_every_time() {
    let app = spawn_app().await;
    let key = writer(&app).await;
    let uncached = spawn_second_server(&app, Duration::ZERO).await;
    assert!(
        listed(&app.client, &uncached.address, &key)
            .await
            .is_empty()
    );

    let created = app
        .post_json("/api/objects", &key, &json!({"name": "Invoices"}))
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(
        listed(&app.client, &uncached.address, &key).await,
        [pair("invoices", "Invoices")],
        "the change made through the first server shows at once"
    );
}
