//! Key lifecycle in the audit trail: every create, rotate and revoke, through the CLI or the
//! console, is a line of the decision log naming who did it, to which key, with which
//! grants, and what came of it; and key listings show who created each key.

use std::path::Path;
use std::process::{Command, Output};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::cli::json_of;
use crate::console::Person;
use crate::helpers::{TestApp, spawn_app};

fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// `andi …` run by the operating-system user `user`, appending to the decision log `log`.
fn andi_as(app: &TestApp, user: &str, log: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_andi"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("ANDI_DECISION_LOG", log)
        .env("USER", user)
        .env_remove("LOGNAME")
        .env_remove("RUST_LOG")
        .output()
        .expect("run andi")
}

/// The key events of `key`, as an auditor would select them with jq.
fn events_of<'a>(lines: &'a [Value], key: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["key"] == key && l["event"].is_string())
        .collect()
}

#[tokio::test]
async fn an_auditor_finds_who_revoked_a_key_made_with_the_cli_and_when_from_the_log_alone() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.jsonl");
    let created = json_of(&andi_as(
        &app,
        "alice",
        &log,
        &[
            "key",
            "create",
            "--workspace",
            "acme",
            "--name",
            "ci",
            "--role",
            "viewer",
            "--meta",
            "region=EU",
            "--json",
        ],
    ));
    let id = created["apiKey"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["apiKey"]["createdBy"], "cli:alice");

    let before = Utc::now();
    let revoked = andi_as(&app, "bob", &log, &["key", "revoke", &id]);
    assert!(revoked.status.success(), "{revoked:?}");
    let after = Utc::now();
    let refused = andi_as(&app, "bob", &log, &["key", "rotate", &id]);
    assert!(!refused.status.success(), "a revoked key cannot be rotated");

    let lines = read_lines(&log);
    let events = events_of(&lines, &id);
    assert_eq!(
        events.iter().map(|e| &e["event"]).collect::<Vec<_>>(),
        ["createApiKey", "revokeApiKey", "rotateApiKey"],
        "{lines:#?}"
    );
    let revocation = events[1];
    assert_eq!(revocation["actor"], "cli:bob", "who revoked it");
    assert_eq!(revocation["outcome"], "done");
    let when: DateTime<Utc> = revocation["time"].as_str().unwrap().parse().unwrap();
    assert!(
        before <= when && when <= after,
        "when it was revoked: {when}, between {before} and {after}"
    );
    assert_eq!(revocation["workspace"], acme.id.as_str());
    assert_eq!(
        revocation["grants"],
        json!({"role": "viewer", "permissions": []})
    );
    assert_eq!(events[0]["actor"], "cli:alice", "who created it");
    assert_eq!(events[2]["outcome"], "refused", "{}", events[2]);
    assert!(
        events[2]["reason"].as_str().unwrap().contains("is revoked"),
        "the refusal says why: {}",
        events[2]
    );

    let listed = json_of(&crate::cli::andi(
        &app,
        &["key", "list", "--workspace", "acme", "--json"],
    ));
    assert_eq!(listed["items"][0]["createdBy"], "cli:alice");
    let table = crate::cli::andi(&app, &["key", "list", "--workspace", "acme"]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("CREATED BY") && table.contains("cli:alice"),
        "{table}"
    );
    assert!(
        table.contains("METADATA") && table.contains("region=EU"),
        "{table}"
    );
}

/// The session's CSRF token, from a page's `<meta name="csrf-token">`.
async fn csrf(person: &Person) -> String {
    let page = person.page("/workspaces").await;
    let marker = "<meta name=\"csrf-token\" content=\"";
    let start = page.find(marker).unwrap() + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

async fn send(
    person: &Person,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = person
        .client
        .request(method, person.url(path))
        .header("x-csrf-token", csrf(person).await);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn key_changes_through_the_console_name_the_signed_in_user_in_the_log_and_the_listing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.jsonl");
    let app = TestApp::builder().decision_log(&log).spawn().await;
    let ada = Person::admin_of(&app, "ada@example.com", "acme").await;

    let issued = send(
        &ada,
        reqwest::Method::POST,
        "/api/v1/workspaces/acme/api-keys",
        Some(json!({"name": "ci", "permissions": ["objects.read"]})),
    )
    .await;
    assert_eq!(issued.status(), 201);
    let issued: Value = issued.json().await.unwrap();
    let id = issued["apiKey"]["id"].as_str().unwrap().to_owned();
    let key_path = format!("/api/v1/workspaces/acme/api-keys/{id}");
    let rotated = send(
        &ada,
        reqwest::Method::POST,
        &format!("{key_path}/rotate"),
        None,
    )
    .await;
    assert_eq!(rotated.status(), 201);
    let revoked = send(&ada, reqwest::Method::DELETE, &key_path, None).await;
    assert_eq!(revoked.status(), 200);
    let again = send(
        &ada,
        reqwest::Method::POST,
        &format!("{key_path}/rotate"),
        None,
    )
    .await;
    assert_eq!(again.status(), 409);
    let listed: Value = ada
        .get("/api/v1/workspaces/acme/api-keys")
        .await
        .json()
        .await
        .unwrap();
    let page = ada.page("/workspaces/acme/api-keys").await;
    app.stop().await;

    let lines = read_lines(&log);
    // Ada's id as the log knows her: the principal of her allowed revocation decision.
    let ada_id = lines
        .iter()
        .find(|l| l["action"] == "revokeApiKey" && l["decision"] == "allow")
        .map(|l| l["principal"].as_str().unwrap().to_owned())
        .unwrap();
    assert!(ada_id.starts_with("usr_"), "{ada_id}");
    let events = events_of(&lines, &id);
    let summary: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("createApiKey", ada_id.as_str(), "done"),
            ("rotateApiKey", ada_id.as_str(), "done"),
            ("revokeApiKey", ada_id.as_str(), "done"),
            ("rotateApiKey", ada_id.as_str(), "refused"),
        ],
        "{lines:#?}"
    );
    assert_eq!(
        events[0]["grants"],
        json!({"role": null, "permissions": ["objects.read"]})
    );
    assert!(
        events.iter().all(|e| e["requestId"].is_string()),
        "each event names its request: {events:#?}"
    );
    assert_eq!(listed["items"][0]["createdBy"], ada_id.as_str());
    assert!(
        page.contains(&ada_id),
        "the keys page shows who created each key"
    );
}
