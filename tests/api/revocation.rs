//! Revocation reaches servers that cache keys: the one that revoked at once, another server
//! on the same database and a server beside the CLI within about a second. The bound
//! polled for here (5 s) only means "never propagated"; each test prints the time it took
//! (`cargo test --test api revocation -- --nocapture`), which is a measurement, not a check.

#![expect(
    clippy::expect_used,
    reason = "test helpers stop the test at a broken assumption"
)]

use std::sync::Arc;
use std::time::Duration;

use andi::app::AppState;
use andi::auth::KeyVerifier;
use andi::authz::Authz;
use andi::config::Limits;
use andi::keys::{self, Grants, NewKey, Permission};
use andi::store;
use andi::workspace::{self, Workspace, WorkspaceHandle};
use chrono::Utc;
use sea_orm::DatabaseConnection;

use crate::helpers::{TestDatabase, assert_problem, policy_dir, serve};

const NEVER_PROPAGATED: Duration = Duration::from_secs(5);

/// A server as `andi serve` runs it: key cache on, following the revocation sequence.
pub(crate) struct CachingServer {
    address: String,
    keys: Arc<KeyVerifier>,
}

pub(crate) async fn spawn_caching_server(db: &DatabaseConnection) -> CachingServer {
    let authz = Authz::load(&policy_dir()).expect("shipped policies load");
    let state = AppState::new(db.clone(), authz, Limits::default());
    state.keys.spawn_revocation_watcher();
    let keys = Arc::clone(&state.keys);
    let address = serve(state).await;
    CachingServer { address, keys }
}

pub(crate) async fn status(
    client: &reqwest::Client,
    server: &CachingServer,
    key: &str,
) -> reqwest::Response {
    client
        .get(format!("{}/api/key", server.address))
        .bearer_auth(key)
        .send()
        .await
        .expect("request sent")
}

/// Uses the key on each server over more than one poll interval, so each holds it in its
/// cache (entries made before a server's first read of the sequence are dropped by it).
async fn warm(client: &reqwest::Client, servers: &[&CachingServer], key: &str) {
    for _ in 0..4 {
        for server in servers {
            assert_eq!(
                status(client, server, key).await.status(),
                200,
                "the key works before it is revoked"
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Polls until the server rejects the key; the response, or `None` if it never did. Prints
/// how long it took, labelled `what`.
async fn rejected_within(
    client: &reqwest::Client,
    server: &CachingServer,
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

async fn workspace_with_key(db: &DatabaseConnection) -> (Workspace, String, String) {
    let acme = workspace::create_workspace(
        db,
        WorkspaceHandle::parse("acme").expect("handle"),
        "Acme",
        Utc::now(),
    )
    .await
    .expect("create workspace");
    let new = NewKey {
        name: "worker".to_owned(),
        grants: Grants::new(None, vec![Permission::ObjectsRead]).expect("grants"),
        environment: andi::auth::Environment::Live,
        expires_in: None,
    };
    let (secret, key) = keys::create_key(db, &acme, new, Utc::now())
        .await
        .expect("create key");
    (acme, secret.expose().to_owned(), key.id)
}

#[tokio::test]
async fn a_key_revoked_on_one_server_is_rejected_by_another_on_the_same_database() {
    let database = TestDatabase::create().await;
    let db = store::connect(&database.url).await.expect("connect");
    store::migrate(&db).await.expect("migrate");
    let (_, key, key_id) = workspace_with_key(&db).await;
    let first = spawn_caching_server(&db).await;
    let second =
        spawn_caching_server(&store::connect(&database.url).await.expect("second pool")).await;
    let client = reqwest::Client::new();
    warm(&client, &[&first, &second], &key).await;

    first
        .keys
        .revoke(&key_id, Utc::now())
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
    let database = TestDatabase::create().await;
    let db = store::connect(&database.url).await.expect("connect");
    store::migrate(&db).await.expect("migrate");
    let (_, key, key_id) = workspace_with_key(&db).await;
    let server = spawn_caching_server(&db).await;
    let client = reqwest::Client::new();
    warm(&client, &[&server], &key).await;

    let revoked = tokio::process::Command::new(env!("CARGO_BIN_EXE_andi"))
        .args(["key", "revoke", &key_id, "--database-url", &database.url])
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
    let database = TestDatabase::create().await;
    let db = store::connect(&database.url).await.expect("connect");
    store::migrate(&db).await.expect("migrate");
    let (_, old_key, key_id) = workspace_with_key(&db).await;
    let first = spawn_caching_server(&db).await;
    let second =
        spawn_caching_server(&store::connect(&database.url).await.expect("second pool")).await;
    let client = reqwest::Client::new();
    warm(&client, &[&first, &second], &old_key).await;

    let (new_key, _) = first
        .keys
        .rotate(&key_id, chrono::Duration::zero(), Utc::now())
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
