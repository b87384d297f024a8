//! `andi key revoke` and `rotate` beside a server that is busy writing to the same database:
//! the CLI's transaction waits its turn for the write lock instead of failing with
//! "database is locked" (SQLite), and the key is refused as soon as the command returns.
//! Two servers on one database revoking at the same time likewise never fail a revoke.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use andi::keys::grant::Permission;
use serde_json::json;

use crate::object_support::setup;

const WRITERS: usize = 4;
/// Each writer stops after this many batches even if the CLI calls are not done.
const MAX_BATCHES: usize = 2_000;

async fn andi(database_url: &str, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_andi"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("run andi")
}

#[tokio::test]
async fn the_cli_revokes_and_rotates_keys_while_clients_write_batches() {
    let s = setup().await;
    s.define(json!({"name": "Notes", "attributes": {"body": {"type": "text"}}}))
        .await;
    let mut victims = Vec::new();
    for _ in 0..10 {
        victims.push(
            s.app
                .create_key(&s.workspace, None, &[Permission::ObjectsRead])
                .await,
        );
    }

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let stop = Arc::clone(&stop);
            let client = s.app.client.clone();
            let url = s.app.url("/api/objects/notes/data/upsert-many");
            let key = s.key.clone();
            tokio::spawn(async move {
                let mut batches = 0;
                while !stop.load(Ordering::Relaxed) && batches < MAX_BATCHES {
                    let records: Vec<_> = (0..100)
                        .map(|n| json!({"id": format!("w{writer}-{n}"), "attributes": {"body": format!("batch {batches}")}}))
                        .collect();
                    let response = client
                        .post(&url)
                        .bearer_auth(&key)
                        .json(&json!({ "records": records }))
                        .send()
                        .await
                        .expect("request sent");
                    assert_eq!(response.status(), 200, "writer {writer}, batch {batches}");
                    batches += 1;
                }
                batches
            })
        })
        .collect();
    // Let the writers get going before the first CLI call.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    for (n, (secret, id)) in victims.iter().enumerate() {
        let command = if n % 2 == 0 { "revoke" } else { "rotate" };
        let output = andi(&s.app.database_url, &["key", command, id, "--json"]).await;
        assert!(
            output.status.success(),
            "andi key {command} beside busy writers: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            s.app.get("/api/key", secret).await.status(),
            401,
            "the key is refused after andi key {command}"
        );
    }
    let cli_time = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut batches = 0;
    for writer in writers {
        batches += writer.await.expect("writer finished");
    }
    eprintln!(
        "cli beside writers: {} CLI calls in {} ms while {WRITERS} clients wrote {batches} batches",
        victims.len(),
        cli_time.as_millis()
    );
}

#[tokio::test]
async fn two_servers_on_one_database_revoke_keys_at_the_same_time() {
    let first = crate::helpers::TestApp::builder().spawn().await;
    let second = crate::helpers::TestApp::builder()
        .database_of(&first)
        .spawn()
        .await;
    let acme = first.create_workspace("acme").await;
    let mut keys = Vec::new();
    for _ in 0..40 {
        keys.push(
            first
                .create_key(&acme, None, &[Permission::ObjectsRead])
                .await
                .1,
        );
    }
    let revokes: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let state = if n % 2 == 0 {
                first.state.clone()
            } else {
                second.state.clone()
            };
            let id = id.clone();
            tokio::spawn(async move {
                state
                    .revoke_key(&crate::helpers::TEST_ACTOR, &id, chrono::Utc::now())
                    .await
            })
        })
        .collect();
    let mut failed = Vec::new();
    for revoke in revokes {
        if let Err(error) = revoke.await.expect("revoke finished") {
            failed.push(error.to_string());
        }
    }
    assert!(failed.is_empty(), "every revoke succeeds: {failed:?}");
}
