//! Decisions equal Cedar's on the full entity graph: entities a policy names by literal are
//! held or the policy is refused, and the context cannot be stepped around (encoded paths,
//! HEAD for GET, forged forwarding headers).

use andi::authz::load;
use andi::keys::grant::{Permission, Role};
use serde_json::json;

use crate::helpers::TestApp;
use crate::policy_files::copy_of_shipped_policies;

/// A server on the shipped policies plus `extra.cedar`, with an `invoices` object, an admin
/// key and a reader key.
struct Fixture {
    app: TestApp,
    admin: String,
    reader: String,
    _policies: tempfile::TempDir,
}

async fn fixture_with(extra: &str, trusted_proxies: &str) -> Fixture {
    let policies = copy_of_shipped_policies();
    std::fs::write(policies.path().join("extra.cedar"), extra).unwrap();
    let app = TestApp::builder()
        .policies(policies.path())
        .trusted_proxies(trusted_proxies)
        .spawn()
        .await;
    let workspace = app.create_workspace("acme").await;
    let (admin, _) = app.create_key(&workspace, Some(Role::Admin), &[]).await;
    let (reader, _) = app
        .create_key(&workspace, None, &[Permission::ObjectsRead])
        .await;
    let created = app
        .post_json(
            "/api/objects",
            &admin,
            &json!({"name": "Invoices", "attributes": {"number": {"type": "text"}}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    Fixture {
        app,
        admin,
        reader,
        _policies: policies,
    }
}

async fn fixture(extra: &str) -> Fixture {
    fixture_with(extra, "").await
}

#[tokio::test]
async fn a_role_named_by_literal_is_held_so_its_forbid_applies_to_every_key() {
    // Cedar on the full entity graph: the viewer role is in objects.read, so this forbids
    // everyone. With the role missing from the decision, every key without it was allowed.
    let f = fixture(
        r#"@id("viewer-reads-forbid")
forbid (principal, action == Andi::Action::"getObject", resource)
when { Andi::Role::"viewer" in Andi::Permission::"objects.read" };
"#,
    )
    .await;
    for key in [&f.admin, &f.reader] {
        let response = f.app.get("/api/objects/invoices", key).await;
        assert_eq!(response.status(), 403);
    }
    let listing = f.app.get("/api/objects", &f.admin).await;
    assert_eq!(listing.status(), 200, "only getObject is forbidden");
}

#[tokio::test]
async fn an_action_named_by_literal_is_held_with_its_groups() {
    // The literal is another action than the one asked about, so only a decision holding
    // every action entity sees that getObject is in objects.read.
    let f = fixture(
        r#"@id("reads-are-frozen")
forbid (principal, action, resource)
when { Andi::Action::"getObject" in Andi::Action::"objects.read" && action == Andi::Action::"listObjects" };
"#,
    )
    .await;
    assert_eq!(f.app.get("/api/objects", &f.admin).await.status(), 403);
    assert_eq!(
        f.app.get("/api/objects/invoices", &f.admin).await.status(),
        200
    );
}

#[test]
fn a_policy_reading_a_key_named_by_literal_is_refused_at_its_line() {
    let dir = copy_of_shipped_policies();
    let file = dir.path().join("pinned.cedar");
    std::fs::write(
        &file,
        r#"@id("only-if-b-is-test")
forbid (principal, action, resource is Andi::ObjectDefinition)
unless { Andi::ApiKey::"key_b".environment == "test" };
"#,
    )
    .unwrap();
    let errors = match load(dir.path()) {
        Ok(_) => panic!("a policy reading an unheld entity must be refused"),
        Err(errors) => errors.to_string(),
    };
    let at = format!("{}:3", file.display());
    assert!(errors.contains(&at), "want {at} in:\n{errors}");
    assert!(
        errors.contains(r#"Andi::ApiKey::"key_b""#) && errors.contains("principal =="),
        "the reason and the way out are named:\n{errors}"
    );
}

#[test]
fn comparing_with_a_key_named_by_literal_loads() {
    let dir = copy_of_shipped_policies();
    std::fs::write(
        dir.path().join("pinned.cedar"),
        r#"@id("not-key-b")
forbid (principal, action, resource) when { principal == Andi::ApiKey::"key_b" };
"#,
    )
    .unwrap();
    load(dir.path()).unwrap_or_else(|e| panic!("must load:\n{e}"));
}

#[tokio::test]
async fn an_encoded_path_is_decided_as_the_path_it_names() {
    let f = fixture(
        r#"@id("no-invoices-by-path")
forbid (principal, action, resource) when { context.path like "/api/objects/invoices*" };
"#,
    )
    .await;
    for path in [
        "/api/objects/invoices",
        "/api/objects/%69nvoices",
        "/api/objects/%69%6E%76oices",
    ] {
        let response = f.app.get(path, &f.admin).await;
        assert_eq!(response.status(), 403, "{path}");
    }
    assert_eq!(f.app.get("/api/objects", &f.admin).await.status(), 200);
}

#[tokio::test]
async fn head_is_decided_as_get() {
    let f = fixture(
        r#"@id("no-get-listing")
forbid (principal, action == Andi::Action::"listObjects", resource) when { context.method == "GET" };
"#,
    )
    .await;
    let head = f
        .app
        .client
        .head(f.app.url("/api/objects"))
        .bearer_auth(&f.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 403);
}

const FORBID_ONE_ADDRESS: &str = r#"@id("no-203-0-113-9")
forbid (principal, action == Andi::Action::"listObjects", resource)
when { context.ip == ip("203.0.113.9") };
"#;

async fn list_forwarded_for(f: &Fixture, forwarded_for: &str) -> u16 {
    f.app
        .client
        .get(f.app.url("/api/objects"))
        .bearer_auth(&f.reader)
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn forwarding_headers_are_ignored_unless_the_peer_is_a_trusted_proxy() {
    let untrusted = fixture(FORBID_ONE_ADDRESS).await;
    // The test client connects from 127.0.0.1, which is not trusted here: its header is
    // what any client could send, so the policy sees the socket's address.
    assert_eq!(list_forwarded_for(&untrusted, "203.0.113.9").await, 200);

    let behind_proxy = fixture_with(FORBID_ONE_ADDRESS, "127.0.0.1").await;
    assert_eq!(list_forwarded_for(&behind_proxy, "203.0.113.9").await, 403);
    assert_eq!(list_forwarded_for(&behind_proxy, "198.51.100.1").await, 200);
    // A client cannot hide behind an address written before its own.
    assert_eq!(
        list_forwarded_for(&behind_proxy, "198.51.100.1, 203.0.113.9").await,
        403
    );
}
