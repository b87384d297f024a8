//! `andi policy validate | test | explain`, run as the security team runs them.

use std::path::Path;
use std::process::{Command, Output};

use andi::keys::grant::{Permission, Role};

use crate::helpers::{policy_dir, spawn_app};
use crate::policy_files::copy_of_shipped_policies;

fn andi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_andi"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("ANDI_POLICY_DIR")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn validate_accepts_the_shipped_policies_and_names_their_ids() {
    let output = andi(&[
        "policy",
        "validate",
        "--dir",
        policy_dir().to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{output:?}");
    let out = stdout(&output);
    assert!(out.contains("valid (version "), "{out}");
    assert!(out.contains("workspace-isolation"), "{out}");
}

#[test]
fn validate_prints_each_error_with_file_line_and_column_and_exits_1() {
    let dir = copy_of_shipped_policies();
    std::fs::write(dir.path().join("bad.cedar"), "// typo\n@id(\"typo\")\npermit (principal, action == Andi::Action::\"getObjekt\", resource);\n").unwrap();
    let output = andi(&["policy", "validate", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let out = stdout(&output);
    assert!(
        out.contains(&format!(
            "{}:3:30: ",
            dir.path().join("bad.cedar").display()
        )),
        "{out}"
    );
}

#[test]
fn test_runs_every_shipped_case_and_ends_with_the_counts() {
    let output = andi(&["policy", "test", "--dir", policy_dir().to_str().unwrap()]);
    let out = stdout(&output);
    assert!(output.status.success(), "{out}");
    let last = out.lines().last().unwrap();
    let passed: usize = last
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("last line: {last}"));
    assert!(passed >= 40, "the base and example cases ran: {last}");
}

#[test]
fn test_prints_one_line_per_failed_case_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&policy_dir(), dir.path());
    let cases = dir.path().join("tests/isolation.json");
    let text = std::fs::read_to_string(&cases).unwrap().replacen(
        "\"decision\": \"deny\"",
        "\"decision\": \"allow\"",
        1,
    );
    std::fs::write(&cases, text).unwrap();
    let output = andi(&["policy", "test", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    let failures: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert_eq!(failures.len(), 1, "{out}");
    assert!(
        failures[0].contains("an admin key cannot list the objects of another workspace: expected allow, got deny (determining policies: workspace-isolation)"),
        "{out}"
    );
    assert!(
        out.lines().last().unwrap().ends_with(" passed, 1 failed"),
        "{out}"
    );
}

#[tokio::test]
async fn explain_shows_the_decision_and_where_the_determining_policy_is_written() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let globex = app.create_workspace("globex").await;
    let (_, key_id) = app
        .create_key(&acme, Some(Role::Viewer), &[Permission::WorkspacesRead])
        .await;
    let dir = policy_dir();
    let explain = |resource: String, action: &str| {
        andi(&[
            "policy",
            "explain",
            "--key",
            &key_id,
            "--action",
            action,
            "--resource",
            &resource,
            "--dir",
            dir.to_str().unwrap(),
            "--database-url",
            &app.database_url,
        ])
    };

    let allowed = explain(format!("Workspace::\"{}\"", acme.id), "listObjects");
    let out = stdout(&allowed);
    assert!(allowed.status.success(), "{allowed:?}");
    assert!(out.starts_with("decision: allow\n"), "{out}");
    assert!(
        out.contains(&format!(
            "objects-read  {}:5",
            dir.join("base.cedar").display()
        )),
        "{out}"
    );
    assert!(out.contains("evaluation errors: none"), "{out}");

    let denied = explain(
        format!("Andi::Workspace::\"{}\"", globex.id),
        "readWorkspace",
    );
    let out = stdout(&denied);
    assert!(
        denied.status.success(),
        "explaining a denial succeeds: {denied:?}"
    );
    assert!(out.starts_with("decision: deny\n"), "{out}");
    assert!(
        out.contains(&format!(
            "workspace-isolation  {}:3",
            dir.join("isolation.cedar").display()
        )),
        "{out}"
    );

    let unknown = andi(&[
        "policy",
        "explain",
        "--key",
        "key_missing",
        "--action",
        "listObjects",
        "--resource",
        "Workspace::\"ws_1\"",
        "--database-url",
        &app.database_url,
    ]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no key `key_missing`"),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn explain_of_a_query_prints_the_residual_the_filter_and_its_sql() {
    use andi::keys::api_key::NewKey;
    use andi::keys::grant::Grants;
    use andi::keys::lifecycle;
    use andi::keys::metadata::KeyMetadata;
    use andi::keys::secret::Environment;

    let policies = copy_of_shipped_policies();
    let shipped = policy_dir();
    std::fs::copy(
        shipped.join("examples/region-isolation.cedar"),
        policies.path().join("region-isolation.cedar"),
    )
    .unwrap();
    let app = crate::helpers::TestApp::builder()
        .policies(policies.path())
        .spawn()
        .await;
    let acme = app.create_workspace("acme").await;
    let (admin, _) = app.create_key(&acme, Some(Role::Admin), &[]).await;
    let created = app
        .post_json(
            "/api/objects",
            &admin,
            &serde_json::json!({"name": "Customers", "attributes": {"region": {"type": "text"}}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let new = NewKey {
        name: "eu-support".to_owned(),
        grants: Grants::new(Some(Role::Viewer), vec![]).unwrap(),
        environment: Environment::Live,
        expires_in: None,
        metadata: KeyMetadata::parse_pairs(["region=EU"]).unwrap(),
        objects: None,
        rate_limit: None,
    };
    let (_, key) = lifecycle::create_key(
        &app.db,
        crate::helpers::test_audit(),
        &acme,
        new,
        chrono::Utc::now(),
    )
    .await
    .unwrap();

    let explained = andi(&[
        "policy",
        "explain",
        "--key",
        &key.id,
        "--action",
        "queryRecords",
        "--resource",
        "ObjectDefinition::\"customers\"",
        "--dir",
        policies.path().to_str().unwrap(),
        "--database-url",
        &app.database_url,
    ]);
    let out = stdout(&explained);
    assert!(explained.status.success(), "{explained:?}");
    assert!(out.starts_with("decision: allow\n"), "{out}");
    assert!(
        out.contains("residual: forbid example-region-isolation: when { !"),
        "{out}"
    );
    assert!(
        out.contains("filter: region exists and region eq \"EU\"\n"),
        "{out}"
    );
    assert!(out.contains("rows decided one by one: no"), "{out}");
    assert!(out.contains("sql: SELECT "), "{out}");
    assert!(out.contains("'EU'"), "{out}");
}
