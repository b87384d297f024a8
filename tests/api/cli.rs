//! The `andi` command against the same database as a running server.

use std::process::{Command, Output};

use andi::auth::KeyCacheConfig;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

pub fn andi(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_andi"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env_remove("RUST_LOG")
        .output()
        .expect("run andi")
}

/// A server without a key cache reads every key from the database, so what the CLI writes
/// decides the next request. With the cache (`andi serve`'s default) a revocation made by
/// the CLI is honoured within two poll intervals instead: tests/api/revocation.rs.
async fn spawn_app_reading_every_key() -> TestApp {
    TestApp::builder()
        .key_cache(KeyCacheConfig {
            key_cache_capacity: 0,
            ..KeyCacheConfig::default()
        })
        .spawn()
        .await
}

pub fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "andi failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_key_created_on_the_command_line_works_over_http() {
    let app = spawn_app().await;
    assert!(
        andi(&app, &["workspace", "create", "acme", "--name", "Acme"])
            .status
            .success()
    );

    let created = json_of(&andi(
        &app,
        &[
            "key",
            "create",
            "--workspace",
            "acme",
            "--name",
            "ci",
            "--permission",
            "objects.read",
            "--json",
        ],
    ));

    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("andi_live_") && key.len() == 46, "{key}");
    let meta = &created["apiKey"];
    for field in [
        "id",
        "name",
        "start",
        "workspace",
        "role",
        "permissions",
        "environment",
        "createdAt",
        "expiresAt",
        "lastUsedAt",
        "revokedAt",
    ] {
        assert!(meta.get(field).is_some(), "apiKey has {field}: {meta}");
    }
    assert!(meta["id"].as_str().unwrap().starts_with("key_"));
    assert_eq!(meta["id"].as_str().unwrap().len(), 26);
    assert_eq!(meta["start"], &key[..14]);
    assert_eq!(meta["workspace"], "acme");
    assert_eq!(meta["permissions"], serde_json::json!(["objects.read"]));
    assert_eq!(meta["role"], Value::Null);
    assert_eq!(app.get("/api/objects", key).await.status(), 200);
    let write = app
        .post_json("/api/objects", key, &serde_json::json!({"name": "X"}))
        .await;
    assert_eq!(write.status(), 403);
}

#[tokio::test]
async fn without_json_the_secret_is_alone_on_stdout_with_a_warning() {
    let app = spawn_app().await;
    andi(&app, &["workspace", "create", "acme", "--name", "Acme"]);

    let output = andi(
        &app,
        &[
            "key",
            "create",
            "--workspace",
            "acme",
            "--name",
            "ci",
            "--role",
            "viewer",
        ],
    );

    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "only the secret is on stdout: {stdout:?}");
    assert!(lines[0].starts_with("andi_live_"));
    assert!(
        stderr(&output).contains("will not be shown again"),
        "{}",
        stderr(&output)
    );
    assert_eq!(app.get("/api/objects", lines[0]).await.status(), 200);
}

#[tokio::test]
async fn a_key_needs_a_permission_or_a_role() {
    let app = spawn_app().await;
    andi(&app, &["workspace", "create", "acme", "--name", "Acme"]);

    let output = andi(
        &app,
        &["key", "create", "--workspace", "acme", "--name", "ci"],
    );

    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("--permission") && message.contains("--role"),
        "{message}"
    );
    let listed = json_of(&andi(
        &app,
        &["key", "list", "--workspace", "acme", "--json"],
    ));
    assert_eq!(listed["items"], serde_json::json!([]), "no key was created");
}

#[tokio::test]
async fn bad_arguments_are_refused_with_clear_errors() {
    let app = spawn_app().await;
    andi(&app, &["workspace", "create", "acme", "--name", "Acme"]);
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "key",
                "create",
                "--workspace",
                "acme",
                "--name",
                "ci",
                "--permission",
                "objects.delete",
            ],
            "unknown permission",
        ),
        (
            &[
                "key",
                "create",
                "--workspace",
                "acme",
                "--name",
                "ci",
                "--role",
                "owner",
            ],
            "unknown role",
        ),
        (
            &[
                "key",
                "create",
                "--workspace",
                "acme",
                "--name",
                "ci",
                "--role",
                "admin",
                "--expires-in",
                "soon",
            ],
            "not a duration",
        ),
        (
            &[
                "key",
                "create",
                "--workspace",
                "nope",
                "--name",
                "ci",
                "--role",
                "admin",
            ],
            "no workspace `nope`",
        ),
        (
            &["workspace", "create", "acme", "--name", "Again"],
            "already exists",
        ),
    ];
    for (args, expected) in cases {
        let output = andi(&app, args);
        assert!(!output.status.success(), "{args:?} fails");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[tokio::test]
async fn test_environment_and_expiry_are_honoured() {
    let app = spawn_app().await;
    andi(&app, &["workspace", "create", "acme", "--name", "Acme"]);

    let created = json_of(&andi(
        &app,
        &[
            "key",
            "create",
            "--workspace",
            "acme",
            "--name",
            "staging",
            "--role",
            "editor",
            "--environment",
            "test",
            "--expires-in",
            "30d",
            "--json",
        ],
    ));

    assert!(created["key"].as_str().unwrap().starts_with("andi_test_"));
    assert_eq!(created["apiKey"]["environment"], "test");
    let created_at =
        chrono::DateTime::parse_from_rfc3339(created["apiKey"]["createdAt"].as_str().unwrap())
            .unwrap();
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(created["apiKey"]["expiresAt"].as_str().unwrap())
            .unwrap();
    assert_eq!(expires_at - created_at, chrono::Duration::days(30));
    assert_eq!(
        app.get("/api/objects", created["key"].as_str().unwrap())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn revoking_on_the_command_line_stops_the_key_at_once() {
    let app = spawn_app_reading_every_key().await;
    andi(&app, &["workspace", "create", "acme", "--name", "Acme"]);
    let created = json_of(&andi(
        &app,
        &[
            "key",
            "create",
            "--workspace",
            "acme",
            "--name",
            "ci",
            "--role",
            "viewer",
            "--json",
        ],
    ));
    let key = created["key"].as_str().unwrap();
    assert_eq!(app.get("/api/objects", key).await.status(), 200);

    let revoked = json_of(&andi(
        &app,
        &[
            "key",
            "revoke",
            created["apiKey"]["id"].as_str().unwrap(),
            "--json",
        ],
    ));

    assert_eq!(revoked["status"], "revoked");
    assert_eq!(app.get("/api/objects", key).await.status(), 401);
    let listed = json_of(&andi(
        &app,
        &["key", "list", "--workspace", "acme", "--json"],
    ));
    assert_eq!(listed["items"][0]["status"], "revoked");
    assert!(
        !listed.to_string().contains(key),
        "listing never shows a secret"
    );
}

#[tokio::test]
async fn rotating_keeps_the_grants_and_honours_the_grace() {
    let app = spawn_app_reading_every_key().await;
    andi(&app, &["workspace", "create", "acme", "--name", "Acme"]);
    let first = json_of(&andi(
        &app,
        &[
            "key",
            "create",
            "--workspace",
            "acme",
            "--name",
            "ci",
            "--permission",
            "objects.read",
            "--json",
        ],
    ));
    let first_key = first["key"].as_str().unwrap();

    let graced = json_of(&andi(
        &app,
        &[
            "key",
            "rotate",
            first["apiKey"]["id"].as_str().unwrap(),
            "--grace",
            "24h",
            "--json",
        ],
    ));
    let second_key = graced["key"].as_str().unwrap();
    assert_ne!(first_key, second_key);
    assert_eq!(graced["apiKey"]["id"], first["apiKey"]["id"], "same key id");
    assert_eq!(
        graced["apiKey"]["permissions"],
        serde_json::json!(["objects.read"])
    );
    assert_eq!(graced["apiKey"]["name"], "ci");
    assert_eq!(
        app.get("/api/objects", first_key).await.status(),
        200,
        "the old key works during the grace"
    );
    assert_eq!(app.get("/api/objects", second_key).await.status(), 200);

    let immediate = json_of(&andi(
        &app,
        &[
            "key",
            "rotate",
            graced["apiKey"]["id"].as_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(
        app.get("/api/objects", second_key).await.status(),
        401,
        "without grace the old key expires at once"
    );
    assert_eq!(
        app.get("/api/objects", immediate["key"].as_str().unwrap())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn workspaces_are_listed() {
    let app = spawn_app().await;
    andi(&app, &["workspace", "create", "acme", "--name", "Acme Inc"]);
    andi(&app, &["workspace", "create", "globex", "--name", "Globex"]);

    let listed = json_of(&andi(&app, &["workspace", "list", "--json"]));

    let handles: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["handle"].as_str().unwrap())
        .collect();
    assert_eq!(handles, ["acme", "globex"]);
    assert_eq!(listed["items"][0]["name"], "Acme Inc");
    assert!(
        andi(&app, &["migrate"]).status.success(),
        "migrate is idempotent"
    );
}
