//! `GET /api/objects` is served from memory: a change through the same server shows in the
//! next listing, one through another server once the listing's lifetime ends, and a zero
//! lifetime turns the cache off.

use std::time::Duration;

use andi::keys::grant::Permission;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Longer than any test here runs: a listing this server cached stays until it changes here.
const LONG: Duration = Duration::from_secs(60);

/// Handles and names of the listed definitions.
async fn listed(server: &TestApp, key: &str) -> Vec<(String, String)> {
    let response = server.get("/api/objects", key).await;
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

/// A second server on `app`'s database, with its own caches.
async fn second_server(app: &TestApp, definition_cache_ttl: Duration) -> TestApp {
    TestApp::builder()
        .database_of(app)
        .definition_cache_ttl(definition_cache_ttl)
        .spawn()
        .await
}

async fn patch_name(app: &TestApp, key: &str, handle: &str, name: &str) {
    let patched = app
        .client
        .patch(app.url(&format!("/api/objects/{handle}")))
        .bearer_auth(key)
        .json(&json!({"name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
}

#[tokio::test]
async fn a_definition_change_shows_in_the_next_listing_of_the_same_server() {
    let app = TestApp::builder().definition_cache_ttl(LONG).spawn().await;
    let key = writer(&app).await;
    assert!(listed(&app, &key).await.is_empty());

    let created = app
        .post_json("/api/objects", &key, &json!({"name": "Invoices"}))
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(listed(&app, &key).await, [pair("invoices", "Invoices")]);

    patch_name(&app, &key, "invoices", "Bills").await;
    assert_eq!(listed(&app, &key).await, [pair("invoices", "Bills")]);

    let deleted = app
        .client
        .delete(app.url("/api/objects/invoices"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(listed(&app, &key).await.is_empty());
}

#[tokio::test]
async fn a_change_through_another_server_is_not_listed_until_the_lifetime_ends() {
    let app = spawn_app().await;
    let key = writer(&app).await;
    let created = app
        .post_json("/api/objects", &key, &json!({"name": "Invoices"}))
        .await;
    assert_eq!(created.status(), 201);
    let other = second_server(&app, LONG).await;
    assert_eq!(listed(&other, &key).await, [pair("invoices", "Invoices")]);

    patch_name(&app, &key, "invoices", "Bills").await;
    assert_eq!(
        listed(&app, &key).await,
        [pair("invoices", "Bills")],
        "the server that made the change lists it at once"
    );
    assert_eq!(
        listed(&other, &key).await,
        [pair("invoices", "Invoices")],
        "the other server still lists what it cached"
    );

    let created = other
        .post_json("/api/objects", &key, &json!({"name": "Orders"}))
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(
        listed(&other, &key).await,
        [pair("invoices", "Bills"), pair("orders", "Orders")],
        "a change through the other server shows there at once, and the listing is read again"
    );
}

#[tokio::test]
async fn a_definition_created_through_another_server_is_listed_once_the_lifetime_ends() {
    let app = spawn_app().await;
    let key = writer(&app).await;
    let other = second_server(&app, Duration::from_secs(1)).await;
    assert!(listed(&other, &key).await.is_empty());

    let created = app
        .post_json("/api/objects", &key, &json!({"name": "Invoices"}))
        .await;
    assert_eq!(created.status(), 201);

    // 5 s only means "never": the lifetime is 1 s.
    let started = tokio::time::Instant::now();
    let deadline = started + Duration::from_secs(5);
    let mut seen = Vec::new();
    while tokio::time::Instant::now() < deadline {
        seen = listed(&other, &key).await;
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "listed by the other server after {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(seen, [pair("invoices", "Invoices")]);
}

#[tokio::test]
async fn a_zero_lifetime_lists_from_the_database_every_time() {
    let app = spawn_app().await;
    let key = writer(&app).await;
    let uncached = second_server(&app, Duration::ZERO).await;
    assert!(listed(&uncached, &key).await.is_empty());

    let created = app
        .post_json("/api/objects", &key, &json!({"name": "Invoices"}))
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(
        listed(&uncached, &key).await,
        [pair("invoices", "Invoices")],
        "the change made through the first server shows at once"
    );
}
