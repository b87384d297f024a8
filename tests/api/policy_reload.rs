//! Hot reload while serving: a good edit is swapped in whole, a bad edit or a deleted
//! directory keeps the last good set and shows in `/readyz`, and requests racing reloads
//! only ever get decisions of a complete set.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use andi::authz::load;
use andi::keys::grant::Role;
use serde_json::Value;

use crate::helpers::{TestApp, TestDatabase};
use crate::policy_files::copy_of_shipped_policies;
use crate::serve::Server;

const DEBOUNCE: Duration = Duration::from_millis(100);
/// Long beside two writes in a row, so even a stalled machine puts no reload between them.
const SAVED_TOGETHER_DEBOUNCE: Duration = Duration::from_secs(5);

/// Denies listing objects to every key.
const GATE_CLOSED: &str = "// Closes listing.\n@id(\"gate\")\nforbid (principal, action == Andi::Action::\"listObjects\", resource);\n";
/// Harmless policies with the ids `gate` and `spare`: each repeats key-read-self.
const GATE_OPEN: &str = "// Harmless.\n@id(\"gate\")\npermit (principal is Andi::ApiKey, action == Andi::Action::\"readSelf\", resource is Andi::ApiKey)\nwhen { resource == principal };\n";
const SPARE: &str = "// Harmless.\n@id(\"spare\")\npermit (principal is Andi::ApiKey, action == Andi::Action::\"readSelf\", resource is Andi::ApiKey)\nwhen { resource == principal };\n";

/// A server on the policies of `dir`, reloading them `debounce` after they change.
async fn spawn_on(dir: &Path, debounce: Duration) -> TestApp {
    TestApp::builder()
        .policies(dir)
        .policy_reload_debounce(debounce)
        .spawn()
        .await
}

/// `/readyz` of the server at `address` (`http://host:port`).
async fn readyz(address: &str) -> Value {
    let response = reqwest::get(format!("{address}/readyz")).await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Polls `/readyz` until `done` holds (bounded: 20 s), and returns the last body.
async fn wait_for_readyz(address: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut body = Value::Null;
    for _ in 0..400 {
        body = readyz(address).await;
        if done(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("readyz never showed {what}; last: {body:#}");
}

/// How many policies ship, so adding one to `policies/` does not break these tests.
fn shipped_policies() -> usize {
    load(&crate::helpers::policy_dir())
        .unwrap()
        .policy_ids
        .len()
}

/// The version the files in `dir` would load as.
fn version_of(files: &[(&str, &str)]) -> String {
    let dir = copy_of_shipped_policies();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    load(dir.path()).unwrap().version
}

#[tokio::test]
async fn an_invalid_edit_keeps_the_last_good_set_and_readyz_reports_it_until_fixed() {
    let dir = copy_of_shipped_policies();
    let app = spawn_on(dir.path(), DEBOUNCE).await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Viewer), &[]).await;
    let start = readyz(&app.address).await;
    assert!(start["lastReloadError"].is_null(), "{start}");

    std::fs::write(dir.path().join("gate.cedar"), "// Oops.\n@id(\"gate\")\nforbid (principal, action == Andi::Action::\"listObjects\" resource);\n").unwrap();
    let refused = wait_for_readyz(&app.address, "the reload error", |body| {
        !body["lastReloadError"].is_null()
    })
    .await;
    assert_eq!(
        refused["policyVersion"], start["policyVersion"],
        "the last good set keeps serving"
    );
    let errors = refused["lastReloadError"]["errors"].to_string();
    assert!(
        errors.contains(&format!("{}:3:", dir.path().join("gate.cedar").display())),
        "file and line: {errors}"
    );
    assert_eq!(
        app.get("/api/objects", &key).await.status(),
        200,
        "still decided by the last good set"
    );

    std::fs::write(dir.path().join("gate.cedar"), GATE_CLOSED).unwrap();
    let fixed = wait_for_readyz(&app.address, "the fixed set", |body| {
        body["lastReloadError"].is_null()
    })
    .await;
    assert_ne!(fixed["policyVersion"], start["policyVersion"]);
    assert_eq!(fixed["policies"], shipped_policies() + 1);
    assert_eq!(
        app.get("/api/objects", &key).await.status(),
        403,
        "the new forbid policy decides"
    );
}

#[tokio::test]
async fn a_deleted_policy_directory_keeps_the_last_good_set_until_it_returns() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("policies");
    let copy = copy_of_shipped_policies();
    std::fs::create_dir(&dir).unwrap();
    for entry in std::fs::read_dir(copy.path()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let app = spawn_on(&dir, DEBOUNCE).await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Viewer), &[]).await;
    let version = readyz(&app.address).await["policyVersion"].clone();

    std::fs::remove_dir_all(&dir).unwrap();
    let refused = wait_for_readyz(&app.address, "the missing directory", |body| {
        !body["lastReloadError"].is_null()
    })
    .await;
    assert!(
        refused["lastReloadError"]["errors"]
            .to_string()
            .contains("cannot read the policy directory"),
        "{refused}"
    );
    assert_eq!(refused["policyVersion"], version);
    assert_eq!(
        app.get("/api/objects", &key).await.status(),
        200,
        "the last good set keeps deciding"
    );

    std::fs::create_dir(&dir).unwrap();
    for entry in std::fs::read_dir(copy.path()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("gate.cedar"), GATE_CLOSED).unwrap();
    wait_for_readyz(&app.address, "the restored directory", |body| {
        body["lastReloadError"].is_null() && body["policies"] == shipped_policies() + 1
    })
    .await;
    assert_eq!(app.get("/api/objects", &key).await.status(), 403);
}

#[tokio::test]
async fn files_saved_together_are_reloaded_once_as_a_whole() {
    let dir = copy_of_shipped_policies();
    std::fs::write(dir.path().join("a.cedar"), GATE_CLOSED).unwrap();
    std::fs::write(dir.path().join("b.cedar"), SPARE).unwrap();
    let app = spawn_on(dir.path(), SAVED_TOGETHER_DEBOUNCE).await;
    let target = version_of(&[("a.cedar", SPARE), ("b.cedar", GATE_OPEN)]);

    // Between the two writes the directory holds `spare` twice, which a reload would refuse.
    std::fs::write(dir.path().join("a.cedar"), SPARE).unwrap();
    std::fs::write(dir.path().join("b.cedar"), GATE_OPEN).unwrap();
    let body = wait_for_readyz(&app.address, "the new set", |body| {
        body["policyVersion"] == target.as_str()
    })
    .await;
    assert_eq!(
        body["policyReloads"], 1,
        "one reload for both files: {body:#}"
    );
    assert!(
        body["lastReloadError"].is_null(),
        "no reload saw the half-written state: {body:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_racing_reloads_get_decisions_of_a_complete_set_and_never_an_error() {
    let dir = copy_of_shipped_policies();
    let closed = [("a.cedar", GATE_CLOSED), ("b.cedar", SPARE)];
    let open = [("a.cedar", SPARE), ("b.cedar", GATE_OPEN)];
    for (name, text) in closed {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let (closed_version, open_version) = (version_of(&closed), version_of(&open));
    let app = Arc::new(spawn_on(dir.path(), DEBOUNCE).await);
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Viewer), &[]).await;

    let stop = Arc::new(AtomicBool::new(false));
    let hammers: Vec<_> = (0..4)
        .map(|_| {
            let (app, key, stop) = (app.clone(), key.clone(), stop.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                // Bounded in count as well as by the flips below.
                while !stop.load(Ordering::Relaxed) && answers.len() < 20_000 {
                    let response = app.get("/api/objects", &key).await;
                    let status = response.status().as_u16();
                    let body: Value = response.json().await.unwrap();
                    answers.push((status, body));
                }
                answers
            })
        })
        .collect();

    // Each flip rewrites both files; any state between them has a duplicate id.
    for round in 0..6 {
        let (files, version) = if round % 2 == 0 {
            (&open, &open_version)
        } else {
            (&closed, &closed_version)
        };
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        wait_for_readyz(&app.address, "the flipped set", |body| {
            body["policyVersion"] == version.as_str()
        })
        .await;
    }
    stop.store(true, Ordering::Relaxed);

    let (mut allowed, mut denied) = (0, 0);
    for hammer in hammers {
        for (status, body) in hammer.await.unwrap() {
            match status {
                200 => allowed += 1,
                403 => {
                    assert_eq!(body["code"], "insufficient_scope", "{body}");
                    assert!(
                        body["detail"]
                            .as_str()
                            .unwrap()
                            .contains("a policy denies `listObjects`"),
                        "the gate decided: {body}"
                    );
                    denied += 1;
                }
                other => panic!("a request during a reload got {other}: {body}"),
            }
        }
    }
    assert!(
        allowed > 0 && denied > 0,
        "both sets decided requests: {allowed} allowed, {denied} denied"
    );
}

// A process of its own: every server in this test binary reloads on SIGHUP, and a signal
// sent to the binary would count as a reload in the other tests.
#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_policy_set() {
    let dir = copy_of_shipped_policies();
    let database = TestDatabase::create().await;
    // Watching would reload too: only a quiet hour would set it off.
    let server = Server::start(
        &database.url,
        dir.path(),
        &["--policy-reload-debounce", "1h"],
    );
    let before = readyz(&server.address).await["policyVersion"].clone();

    std::fs::write(dir.path().join("gate.cedar"), GATE_CLOSED).unwrap();
    server.signal("HUP");
    let after = wait_for_readyz(&server.address, "the reloaded set", |body| {
        body["policies"] == shipped_policies() + 1
    })
    .await;
    assert_ne!(after["policyVersion"], before);
    server.stop();
}
