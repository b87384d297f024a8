//! Health, readiness, unknown routes and the calling key's own metadata.

use std::time::Duration;

use andi::http::limits::Limits;
use andi::keys::grant::{Permission, Role};
use serde_json::Value;

use crate::helpers::{TestApp, assert_problem, spawn_app};

#[tokio::test]
async fn health_and_readiness_need_no_key() {
    let app = spawn_app().await;

    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["policyVersion"].as_str().unwrap().len(), 16);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_problem_json() {
    let app = spawn_app().await;

    let missing = app
        .client
        .get(app.url("/api/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_problem(missing, 404, "not_found", "an unknown route").await;

    let wrong_method = app
        .client
        .delete(app.url("/api/objects"))
        .send()
        .await
        .unwrap();
    assert_problem(
        wrong_method,
        405,
        "method_not_allowed",
        "DELETE on the collection",
    )
    .await;
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_client_id_is_kept() {
    let app = spawn_app().await;

    let minted = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(
        minted.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );

    let given = app
        .client
        .get(app.url("/api/objects"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-me-42");
    let body: Value = given.json().await.unwrap();
    assert_eq!(
        body["requestId"], "trace-me-42",
        "the error body quotes the same id"
    );
}

#[tokio::test]
async fn a_key_reads_its_own_metadata_but_never_its_secret() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, id) = app
        .create_key(&acme, Some(Role::Viewer), &[Permission::WorkspacesRead])
        .await;

    let response = app.get("/api/key", &key).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains(&key), "the secret is never returned");
    let body: Value = serde_json::from_str(&text).unwrap();

    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["start"], &key[..14]);
    assert_eq!(body["workspace"], "acme");
    assert_eq!(body["role"], "viewer");
    assert_eq!(body["permissions"], serde_json::json!(["workspaces.read"]));
    assert_eq!(
        body["effectivePermissions"],
        serde_json::json!(["objects.read", "workspaces.read"])
    );
    assert_eq!(body["environment"], "live");
    assert_eq!(body["status"], "active");
}

#[tokio::test]
async fn last_used_at_is_recorded_off_the_request_path() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app
        .create_key(&acme, None, &[Permission::ObjectsRead])
        .await;
    let created = andi::store::api_keys::find_key_by_digest(
        &app.db,
        andi::keys::secret::KeySecret::parse(&key).unwrap().digest(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        created.key.last_used_at.is_none(),
        "a new key has never been used"
    );

    let before = chrono::Utc::now();
    let body: Value = app.get("/api/key", &key).await.json().await.unwrap();
    let reported: chrono::DateTime<chrono::Utc> =
        body["lastUsedAt"].as_str().unwrap().parse().unwrap();
    assert!(
        reported >= before - chrono::Duration::milliseconds(1),
        "GET /api/key reports this request as the latest use, got {reported}"
    );

    let mut stored = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        stored = andi::store::api_keys::find_key_by_digest(
            &app.db,
            andi::keys::secret::KeySecret::parse(&key).unwrap().digest(),
        )
        .await
        .unwrap()
        .unwrap()
        .key
        .last_used_at;
        if stored.is_some() {
            break;
        }
    }
    let stored = stored.expect("lastUsedAt was written by the background flush");
    assert!(
        stored >= before - chrono::Duration::milliseconds(1),
        "the stored time is the use's, got {stored}"
    );
}

#[tokio::test]
async fn a_request_that_outlives_the_time_limit_answers_problem_json() {
    // A sign-in verifies a password with argon2id, which takes far longer than a millisecond.
    let limits = Limits {
        request_timeout: Duration::from_millis(1),
        ..Limits::default()
    };
    let app = TestApp::builder().limits(limits).spawn().await;

    let response = app
        .client
        .post(app.url("/sign-in"))
        .header("cookie", "andi_form=token1234")
        .form(&[
            ("csrf", "token1234"),
            ("email", "nobody@example.com"),
            ("password", "a wrong password"),
        ])
        .send()
        .await
        .unwrap();
    let body = assert_problem(response, 408, "request_timeout", "POST /sign-in").await;
    assert!(
        body["detail"].as_str().unwrap().contains("limit of 1ms"),
        "the detail says what happened: {body}"
    );
}
