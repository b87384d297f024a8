//! What policies match a key by: its id, which a rotation keeps.

use andi::keys::grant::Role;
use chrono::{Duration, Utc};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};
use crate::policy_files::copy_of_shipped_policies;

#[tokio::test]
async fn a_policy_that_names_a_key_keeps_applying_after_the_key_is_rotated() {
    let first = spawn_app().await;
    let acme = first.create_workspace("acme").await;
    let (worker, worker_id) = first.create_key(&acme, Some(Role::Admin), &[]).await;
    let (other, _) = first.create_key(&acme, Some(Role::Admin), &[]).await;
    // The shipped example, pinned to the worker's key: no test client is on its networks.
    let policies = copy_of_shipped_policies();
    let example =
        std::fs::read_to_string(crate::helpers::policy_dir().join("examples/ip-allow-list.cedar"))
            .unwrap()
            .replace("key_7QmX2rTz9LkV4nWc1pHs0a", &worker_id);
    std::fs::write(policies.path().join("ip-allow-list.cedar"), example).unwrap();
    let app = TestApp::builder()
        .database_of(&first)
        .policies(policies.path())
        .spawn()
        .await;
    let create = |n: usize| json!({"name": format!("Object {n}"), "attributes": {}});

    let before = app.post_json("/api/objects", &worker, &create(1)).await;
    assert_eq!(
        before.status(),
        403,
        "the pinned key may not write from here"
    );

    let (rotated, key) = app
        .state
        .rotate_key(&worker_id, Duration::hours(1), Utc::now())
        .await
        .unwrap();
    assert_eq!(key.id, worker_id, "the rotated key keeps its id");
    for (description, secret) in [
        ("the new secret", rotated.expose()),
        ("the secret in its grace", worker.as_str()),
    ] {
        let me = app.get("/api/key", secret).await;
        assert_eq!(me.status(), 200, "{description} still authenticates");
        let written = app.post_json("/api/objects", secret, &create(2)).await;
        assert_eq!(
            written.status(),
            403,
            "the policy pinned to the key applies to {description}"
        );
    }
    let unpinned = app.post_json("/api/objects", &other, &create(3)).await;
    assert_eq!(unpinned.status(), 201, "other keys are not affected");
}
