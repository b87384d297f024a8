//! Revocation reaches servers that cache keys: the one that revoked at once, another server
//! on the same database and a server beside the CLI within about a second. The bound
//! polled for here (5 s) only means "never propagated"; each test prints the time it took
//! (`cargo test --test api revocation -- --nocapture`), which is a measurement, not a check.

#![expect(
    clippy::expect_used,
    reason = "test helpers stop the test at a broken assumption"
)]

use std::time::Duration;

use andi::keys::grant::Permission;
use chrono::Utc;

use crate::helpers::{TestApp, assert_problem, spawn_app};

const NEVER_PROPAGATED: Duration = Duration::from_secs(5);

pub(crate) async fn status(
    client: &reqwest::Client,
    server: &TestApp,
    key: &str,
) -> reqwest::Response {
    client
        .get(server.url("/api/key"))
        .bearer_auth(key)
        .send()
        .await
        .expect("request sent")
}

/// Uses the key on each server, so each holds it in its cache: a server reads the
/// revocation sequence before it serves, so its cache is trusted from the first request.
async fn warm(client: &reqwest::Client, servers: &[&TestApp], key: &str) {
    for server in servers {
        assert_eq!(
            status(client, server, key).await.status(),
            200,
            "the key works before it is revoked"
        );
    }
}

/// Polls until the server rejects the key; the response, or `None` if it never did. Prints
/// how long it took, labelled `what`.
async fn rejected_within(
    client: &reqwest::Client,
    server: &TestApp,
    key: &str,
    bound: Duration,
    what: &str,
) -> Option<reqwest::Response> {
    let started = tokio::time::Instant::now();
    let deadline = started + bound;
    while tokio::time::Instant::now() < deadline {
        let response = status(client, server, key).await;
        if response.status() == 401 {
            eprintln!(
                "{what}: rejected after {} ms",
                started.elapsed().as_millis()
            );
            return Some(response);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// A key of a new workspace `acme` that may read objects: its secret and id.
async fn key_of_new_workspace(app: &TestApp) -> (String, String) {
    let acme = app.create_workspace("acme").await;
    app.create_key(&acme, None, &[Permission::ObjectsRead])
        .await
}

#[tokio::test]
async fn a_key_revoked_on_one_server_is_rejected_by_another_on_the_same_database() {
    let first = spawn_app().await;
    let second = TestApp::builder().database_of(&first).spawn().await;
    let (key, key_id) = key_of_new_workspace(&first).await;
    let client = reqwest::Client::new();
    warm(&client, &[&first, &second], &key).await;

    first
        .state
        .revoke_key(&crate::helpers::TEST_ACTOR, &key_id, Utc::now())
        .await
        .expect("revoke");

    let at_once = status(&client, &first, &key).await;
    assert_problem(
        at_once,
        401,
        "revoked_key",
        "the revoking server, on the next request",
    )
    .await;
    let elsewhere = rejected_within(
        &client,
        &second,
        &key,
        NEVER_PROPAGATED,
        "revoked on another server",
    )
    .await
    .expect("the other server must stop accepting the revoked key");
    assert_problem(elsewhere, 401, "revoked_key", "the other server").await;
}

#[tokio::test]
async fn a_key_revoked_with_the_cli_while_the_server_runs_is_rejected() {
    let server = spawn_app().await;
    let (key, key_id) = key_of_new_workspace(&server).await;
    let client = reqwest::Client::new();
    warm(&client, &[&server], &key).await;

    let revoked = tokio::process::Command::new(env!("CARGO_BIN_EXE_andi"))
        .args([
            "key",
            "revoke",
            &key_id,
            "--database-url",
            &server.database_url,
        ])
        .output()
        .await
        .expect("run andi key revoke");
    assert!(
        revoked.status.success(),
        "andi key revoke: {}",
        String::from_utf8_lossy(&revoked.stderr)
    );

    let response = rejected_within(
        &client,
        &server,
        &key,
        NEVER_PROPAGATED,
        "revoked by the CLI",
    )
    .await
    .expect("the server must stop accepting a key the CLI revoked");
    assert_problem(
        response,
        401,
        "revoked_key",
        "after the CLI revoked the key",
    )
    .await;
}

#[tokio::test]
async fn a_key_rotated_without_grace_on_one_server_expires_on_another() {
    let first = spawn_app().await;
    let second = TestApp::builder().database_of(&first).spawn().await;
    let (old_key, key_id) = key_of_new_workspace(&first).await;
    let client = reqwest::Client::new();
    warm(&client, &[&first, &second], &old_key).await;

    let (new_key, _) = first
        .state
        .rotate_key(
            &crate::helpers::TEST_ACTOR,
            &key_id,
            chrono::Duration::zero(),
            Utc::now(),
        )
        .await
        .expect("rotate");

    assert_problem(
        status(&client, &first, &old_key).await,
        401,
        "expired_key",
        "the rotating server",
    )
    .await;
    let elsewhere = rejected_within(
        &client,
        &second,
        &old_key,
        NEVER_PROPAGATED,
        "rotated on another server",
    )
    .await
    .expect("the other server must stop accepting the rotated-out key");
    assert_problem(elsewhere, 401, "expired_key", "the other server").await;
    assert_eq!(
        status(&client, &second, new_key.expose()).await.status(),
        200,
        "the new key works everywhere"
    );
}
