//! Authentication and the header rules, through HTTP. Every rejected request is a write
//! (`POST /api/objects`), so "nothing changed" is checked by counting definitions.

use andi::keys::grant::{Permission, Role};
use andi::keys::lifecycle;
use andi::keys::secret::Environment;
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};

fn definition() -> Value {
    json!({"name": "Invoices", "attributes": {"amount": {"type": "number"}}})
}

async fn post_with_headers(app: &TestApp, headers: &[(&str, String)]) -> reqwest::Response {
    let mut request = app.client.post(app.url("/api/objects")).json(&definition());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.expect("request sent")
}

#[tokio::test]
async fn a_valid_key_lists_objects_with_either_header() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app
        .create_key(&acme, None, &[Permission::ObjectsRead])
        .await;

    let bearer = app.get("/api/objects", &key).await;
    assert_eq!(bearer.status(), 200);
    assert_eq!(bearer.json::<Value>().await.unwrap(), json!({"items": []}));

    let api_key = app
        .client
        .get(app.url("/api/objects"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(api_key.status(), 200);

    let both = app
        .client
        .get(app.url("/api/objects"))
        .header("x-api-key", &key)
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        both.status(),
        200,
        "the same key in both headers is accepted"
    );
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Editor), &[]).await;

    let response = post_with_headers(&app, &[("authorization", format!("bearer {key}"))]).await;

    assert_eq!(response.status(), 201);
    assert_eq!(app.count_definitions(&acme).await, 1);
}

/// A description, the headers sent, and the expected status, code and challenge.
type Case<'a> = (
    &'a str,
    Vec<(&'a str, String)>,
    u16,
    &'a str,
    Option<&'a str>,
);

#[tokio::test]
async fn malformed_and_missing_credentials_are_rejected_and_change_nothing() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Admin), &[]).await;
    let (other_key, _) = app.create_key(&acme, Some(Role::Admin), &[]).await;
    let mut wrong_checksum = key.clone();
    let last = wrong_checksum.pop().unwrap();
    wrong_checksum.push(if last == 'a' { 'b' } else { 'a' });
    let unknown = andi::keys::secret::KeySecret::generate(Environment::Live)
        .expose()
        .to_owned();
    let huge = format!("Bearer andi_live_{}", "A".repeat(10 * 1024));

    let cases: Vec<Case> = vec![
        (
            "no header",
            vec![],
            401,
            "missing_credentials",
            Some("Bearer realm=\"andi\""),
        ),
        (
            "Bearer with nothing after it",
            vec![("authorization", "Bearer".into())],
            401,
            "malformed_key",
            Some("invalid_token"),
        ),
        (
            "Bearer and a space",
            vec![("authorization", "Bearer ".into())],
            401,
            "malformed_key",
            Some("invalid_token"),
        ),
        (
            "Basic credentials",
            vec![("authorization", "Basic dXNlcjpwYXNz".into())],
            401,
            "unsupported_auth_scheme",
            Some("Bearer realm=\"andi\""),
        ),
        (
            "valid prefix, wrong checksum",
            vec![("authorization", format!("Bearer {wrong_checksum}"))],
            401,
            "malformed_key",
            Some("invalid_token"),
        ),
        (
            "a 10 KB header",
            vec![("authorization", huge.clone())],
            401,
            "malformed_key",
            Some("invalid_token"),
        ),
        (
            "a well-formed key nobody issued",
            vec![("authorization", format!("Bearer {unknown}"))],
            401,
            "unknown_key",
            Some("invalid_token"),
        ),
        (
            "a key with another prefix",
            vec![("x-api-key", "sk_live_abcdef".into())],
            401,
            "malformed_key",
            Some("invalid_token"),
        ),
        (
            "two different keys in the two headers",
            vec![
                ("authorization", format!("Bearer {key}")),
                ("x-api-key", other_key.clone()),
            ],
            400,
            "conflicting_credentials",
            Some("invalid_request"),
        ),
        (
            "a workspace header naming another workspace",
            vec![
                ("authorization", format!("Bearer {key}")),
                ("x-workspace-handle", "globex".into()),
            ],
            403,
            "workspace_mismatch",
            None,
        ),
        (
            "a workspace id header naming another workspace",
            vec![
                ("authorization", format!("Bearer {key}")),
                ("x-workspace-id", "ws_other".into()),
            ],
            403,
            "workspace_mismatch",
            None,
        ),
    ];

    for (description, headers, status, code, challenge) in cases {
        let response = post_with_headers(&app, &headers).await;
        let www_authenticate = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = assert_problem(response, status, code, description).await;
        match challenge {
            Some(expected) => {
                assert!(
                    www_authenticate.as_deref().is_some_and(|h| h
                        .starts_with("Bearer realm=\"andi\"")
                        && h.contains(expected)),
                    "{description}: WWW-Authenticate {www_authenticate:?}"
                )
            }
            None => assert_eq!(www_authenticate, None, "{description}: no challenge"),
        }
        let text = body.to_string();
        for secret in [&key, &other_key, &wrong_checksum, &unknown] {
            assert!(
                !text.contains(secret.as_str()),
                "{description}: the body must not echo a key"
            );
        }
        assert!(
            !text.contains(&"A".repeat(64)),
            "{description}: the body must not echo the header"
        );
        assert_eq!(
            app.count_definitions(&acme).await,
            0,
            "{description}: nothing was created"
        );
    }
}

#[tokio::test]
async fn a_matching_workspace_header_is_accepted_and_ignored() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Editor), &[]).await;

    let response = post_with_headers(
        &app,
        &[
            ("authorization", format!("Bearer {key}")),
            ("x-workspace-handle", "acme".into()),
            ("x-workspace-id", acme.id.clone()),
        ],
    )
    .await;

    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn revoked_expired_and_rotated_keys_are_rejected_with_401() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let now = Utc::now();

    let (revoked, revoked_id) = app.create_key(&acme, Some(Role::Admin), &[]).await;
    lifecycle::revoke_key(&app.db, crate::helpers::test_audit(), &revoked_id, now)
        .await
        .unwrap();

    let (expired, _) = app
        .create_key_with(
            &acme,
            Some(Role::Admin),
            &[],
            Environment::Live,
            Some(Duration::seconds(1)),
        )
        .await;
    // Expiry is checked against the request time; a key created with a one-second life is
    // made stale by moving its expiry into the past rather than by sleeping.
    set_expiry(&app, &expired, now - Duration::seconds(1)).await;

    let (rotated, rotated_id) = app.create_key(&acme, Some(Role::Admin), &[]).await;
    let (successor, _) = lifecycle::rotate_key(
        &app.db,
        crate::helpers::test_audit(),
        &rotated_id,
        Duration::hours(1),
        now - Duration::hours(2),
    )
    .await
    .unwrap();

    let cases = [
        ("a revoked key", &revoked, "revoked_key"),
        ("an expired key", &expired, "expired_key"),
        ("a rotated key after its grace", &rotated, "expired_key"),
    ];
    for (description, key, code) in cases {
        let response = post_with_headers(&app, &[("authorization", format!("Bearer {key}"))]).await;
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_problem(response, 401, code, description).await;
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{description}: {challenge}"
        );
        assert_eq!(
            app.count_definitions(&acme).await,
            0,
            "{description}: nothing was created"
        );
    }

    let response = post_with_headers(
        &app,
        &[("authorization", format!("Bearer {}", successor.expose()))],
    )
    .await;
    assert_eq!(response.status(), 201, "the rotated key's successor works");
}

async fn set_expiry(app: &TestApp, secret: &str, at: chrono::DateTime<Utc>) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let digest = andi::keys::secret::KeySecret::parse(secret)
        .unwrap()
        .digest();
    let found = andi::store::api_keys::find_key_by_digest(&app.db, digest)
        .await
        .unwrap()
        .unwrap();
    andi::store::entity::api_key::Entity::update_many()
        .col_expr(
            andi::store::entity::api_key::Column::ExpiresAt,
            Expr::value(at),
        )
        .filter(andi::store::entity::api_key::Column::Id.eq(found.key.id))
        .exec(&app.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_rotated_key_keeps_working_during_its_grace() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (old, old_id) = app
        .create_key(&acme, None, &[Permission::ObjectsRead])
        .await;

    let (new, rotated) = lifecycle::rotate_key(
        &app.db,
        crate::helpers::test_audit(),
        &old_id,
        Duration::hours(24),
        Utc::now(),
    )
    .await
    .unwrap();

    assert_eq!(app.get("/api/objects", &old).await.status(), 200);
    assert_eq!(app.get("/api/objects", new.expose()).await.status(), 200);
    assert_eq!(rotated.id, old_id, "the key keeps its id");
    assert_eq!(
        rotated.grants.permissions(),
        &[Permission::ObjectsRead],
        "same grants"
    );
    for (description, secret) in [
        ("the previous secret", old.as_str()),
        ("the new secret", new.expose()),
    ] {
        let me: Value = app.get("/api/key", secret).await.json().await.unwrap();
        assert_eq!(
            me["id"],
            old_id.as_str(),
            "{description} authenticates as the same key"
        );
    }
}

#[tokio::test]
async fn a_key_only_sees_its_own_workspace() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let globex = app.create_workspace("globex").await;
    let (acme_key, _) = app.create_key(&acme, Some(Role::Editor), &[]).await;
    let (globex_key, _) = app.create_key(&globex, Some(Role::Editor), &[]).await;
    let created = app
        .post_json("/api/objects", &acme_key, &definition())
        .await;
    assert_eq!(created.status(), 201);

    let listed: Value = app
        .get("/api/objects", &globex_key)
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(
        listed,
        json!({"items": []}),
        "globex sees none of acme's objects"
    );
    let same_handle = app
        .post_json("/api/objects", &globex_key, &definition())
        .await;
    assert_eq!(
        same_handle.status(),
        201,
        "handles are unique per workspace only"
    );
    assert_eq!(app.count_definitions(&acme).await, 1);
}

#[tokio::test]
async fn a_read_only_key_cannot_create_and_nothing_changes() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Viewer), &[]).await;

    let response = app
        .post_json("/api/objects", &key, &json!({"name": "Invoices"}))
        .await;
    let challenge = response
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body = assert_problem(
        response,
        403,
        "insufficient_scope",
        "viewer creating an object",
    )
    .await;

    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert_eq!(body["missingPermission"], "objects.write");
    assert_eq!(body["action"], "createObject");
    assert_eq!(app.count_definitions(&acme).await, 0);
}

#[tokio::test]
async fn a_key_without_workspaces_read_cannot_read_the_workspace() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (reader, _) = app
        .create_key(&acme, None, &[Permission::ObjectsRead])
        .await;
    let (admin, _) = app.create_key(&acme, Some(Role::Admin), &[]).await;

    let denied = app.get("/api/workspace", &reader).await;
    let body = assert_problem(
        denied,
        403,
        "insufficient_scope",
        "objects.read key reading the workspace",
    )
    .await;
    assert_eq!(body["missingPermission"], "workspaces.read");

    let allowed: Value = app
        .get("/api/workspace", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(allowed["id"], acme.id.as_str());
    assert_eq!(allowed["handle"], "acme");
    assert!(allowed["createdAt"].is_string());
}
