//! What HTTP clients expect: no caching of a key's data, `Location` on a 201, and CORS only
//! for the origins an operator lists.

use andi::keys::grant::Role;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

#[tokio::test]
async fn the_calling_keys_metadata_is_never_stored_by_a_cache() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Viewer), &[]).await;

    let response = app.get("/api/key", &key).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let refused = app.get("/api/key", "andi_live_not-a-key").await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["cache-control"],
        "no-store",
        "a refusal of the route too"
    );
}

#[tokio::test]
async fn a_created_object_answers_201_with_its_location() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Admin), &[]).await;

    let created = app
        .post_json(
            "/api/objects",
            &key,
            &json!({"name": "Invoices", "handle": "invoices", "fields": {"total": {"type": "integer"}}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/api/objects/invoices");
    assert_eq!(
        app.get(&location, &key).await.status(),
        200,
        "it names the object"
    );
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url("/api/objects"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cors_is_off_unless_origins_are_listed() {
    let app = spawn_app().await;
    let response = preflight(&app, "https://app.example.com").await;
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin"),
        "no origin is allowed by default"
    );
}

#[tokio::test]
async fn a_listed_origin_gets_its_preflight_answered_and_can_read_answers() {
    let app = TestApp::builder()
        .cors_origins("https://app.example.com")
        .spawn()
        .await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Viewer), &[]).await;

    let allowed = preflight(&app, "https://app.example.com").await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let headers = allowed.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let allowed_headers = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );
    assert!(
        !headers.contains_key("access-control-allow-credentials"),
        "cookies never cross origins"
    );

    let other = preflight(&app, "https://evil.example.org").await;
    assert!(
        !other.headers().contains_key("access-control-allow-origin"),
        "an unlisted origin is not allowed"
    );

    let read = app
        .client
        .get(app.url("/api/objects"))
        .bearer_auth(&key)
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(
        read.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let exposed = read.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
}

#[tokio::test]
async fn a_bad_query_string_is_named_as_such_and_an_unknown_route_points_at_the_shipped_document() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Admin), &[]).await;
    let created = app
        .post_json(
            "/api/objects",
            &key,
            &json!({"name": "Invoices", "handle": "invoices", "fields": {"total": {"type": "integer"}}}),
        )
        .await;
    assert_eq!(created.status(), 201);

    let bad = app.get("/api/objects/invoices/query?limit=0", &key).await;
    let body = crate::helpers::assert_problem(bad, 400, "validation_failed", "limit=0").await;
    assert_eq!(body["detail"], "the query string is invalid");

    let missing = app.get("/api/nothing-here", &key).await;
    let body = crate::helpers::assert_problem(missing, 404, "not_found", "unknown route").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("/api/openapi.json") && !detail.contains("API.md"),
        "{detail}"
    );
    let document = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        document.status(),
        200,
        "the document it points at is served"
    );
}

/// Whether `text` is an RFC 3339 UTC time with exactly six fractional digits.
fn has_microsecond_precision(text: &str) -> bool {
    text.strip_suffix('Z')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(_, fraction)| {
            fraction.len() == 6 && fraction.bytes().all(|b| b.is_ascii_digit())
        })
}

#[tokio::test]
async fn definitions_keys_and_records_write_times_with_one_precision() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Admin), &[]).await;
    let definition: serde_json::Value = app
        .post_json(
            "/api/objects",
            &key,
            &json!({"name": "Invoices", "handle": "invoices", "fields": {"total": {"type": "integer"}}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let records: serde_json::Value = app
        .post_json(
            "/api/objects/invoices/data/upsert-many",
            &key,
            &json!({"records": [{"attributes": {"total": 1}}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let own_key: serde_json::Value = app.get("/api/key", &key).await.json().await.unwrap();

    for (what, value) in [
        ("definition createdAt", &definition["createdAt"]),
        ("definition updatedAt", &definition["updatedAt"]),
        ("record createdAt", &records["records"][0]["createdAt"]),
        ("record updatedAt", &records["records"][0]["updatedAt"]),
        ("key createdAt", &own_key["createdAt"]),
        ("key updatedAt", &own_key["updatedAt"]),
    ] {
        let text = value.as_str().unwrap_or_else(|| panic!("{what}: {value}"));
        assert!(has_microsecond_precision(text), "{what}: {text}");
    }
}
