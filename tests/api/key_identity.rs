//! What policies match a key by: its id, which a rotation keeps; its metadata, as tags; and
//! the objects it is limited to.

use andi::keys::grant::Role;
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::cli::{andi, json_of};
use crate::helpers::{TestApp, assert_problem, spawn_app};
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
        .rotate_key(
            &crate::helpers::TEST_ACTOR,
            &worker_id,
            Duration::hours(1),
            Utc::now(),
        )
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

/// A server on the shipped policies plus `extra` (when given), sharing `first`'s database.
async fn server_with_policy(first: &TestApp, extra: Option<&str>) -> (TestApp, tempfile::TempDir) {
    let policies = copy_of_shipped_policies();
    if let Some(extra) = extra {
        std::fs::write(policies.path().join("extra.cedar"), extra).unwrap();
    }
    let app = TestApp::builder()
        .database_of(first)
        .policies(policies.path())
        .spawn()
        .await;
    (app, policies)
}

fn create_key(app: &TestApp, extra: &[&str]) -> (String, Value) {
    let mut args = vec![
        "key",
        "create",
        "--workspace",
        "acme",
        "--name",
        "worker",
        "--role",
        "editor",
        "--json",
    ];
    args.extend_from_slice(extra);
    let issued = json_of(&andi(app, &args));
    (
        issued["key"].as_str().unwrap().to_owned(),
        issued["apiKey"].clone(),
    )
}

#[tokio::test]
async fn a_policy_reads_key_metadata_set_with_the_cli_as_tags() {
    let first = spawn_app().await;
    first.create_workspace("acme").await;
    let (app, _policies) = server_with_policy(
        &first,
        Some(
            r#"@id("eu-keys-only")
forbid (principal is Andi::ApiKey, action == Andi::Action::"listObjects", resource)
unless { principal.hasTag("region") && principal.getTag("region") == "EU" };
"#,
        ),
    )
    .await;
    let (eu, eu_view) = create_key(&app, &["--meta", "region=EU", "--meta", "team=billing"]);
    let (us, _) = create_key(&app, &["--meta", "region=US"]);
    let (none, _) = create_key(&app, &[]);
    assert_eq!(
        eu_view["metadata"],
        json!({"region": "EU", "team": "billing"})
    );

    assert_eq!(app.get("/api/objects", &eu).await.status(), 200);
    for (description, key) in [("a US key", &us), ("a key without metadata", &none)] {
        assert_eq!(
            app.get("/api/objects", key).await.status(),
            403,
            "{description} is refused by the tag policy"
        );
    }
    let listed = json_of(&andi(
        &app,
        &["key", "list", "--workspace", "acme", "--json"],
    ));
    let regions: Vec<&Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["metadata"])
        .collect();
    assert_eq!(
        regions,
        [
            &json!({"region": "EU", "team": "billing"}),
            &json!({"region": "US"}),
            &json!({})
        ],
        "listings show the metadata"
    );
    let refused = andi(
        &app,
        &[
            "key",
            "create",
            "--workspace",
            "acme",
            "--name",
            "x",
            "--role",
            "viewer",
            "--meta",
            "region",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is not `key=value`"),
        "a bad pair says what to write"
    );
}

#[tokio::test]
async fn a_key_limited_to_objects_acts_on_those_objects_only_and_lists_only_them() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (admin, _) = app
        .create_key(&acme, Some(andi::keys::grant::Role::Admin), &[])
        .await;
    for name in ["Invoices", "Customers"] {
        let created = app
            .post_json(
                "/api/objects",
                &admin,
                &json!({"name": name, "attributes": {"number": {"type": "text"}}}),
            )
            .await;
        assert_eq!(created.status(), 201);
    }
    let (limited, view) = create_key(&app, &["--objects", "invoices"]);
    assert_eq!(view["objects"], json!(["invoices"]), "the limit is shown");

    let listed: Value = app
        .get("/api/objects", &limited)
        .await
        .json()
        .await
        .unwrap();
    let handles: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["handle"].as_str().unwrap())
        .collect();
    assert_eq!(handles, ["invoices"], "the listing shows only its objects");

    let upsert = json!({"records": [{"id": "r1", "attributes": {"number": "1"}}]});
    let cases = [
        ("get its object", "GET", "/api/objects/invoices", 200),
        (
            "write its records",
            "POST",
            "/api/objects/invoices/data/upsert-many",
            200,
        ),
        (
            "read its record",
            "GET",
            "/api/objects/invoices/data/r1",
            200,
        ),
        ("get another object", "GET", "/api/objects/customers", 403),
        (
            "write another object's records",
            "POST",
            "/api/objects/customers/data/upsert-many",
            403,
        ),
        (
            "query another object",
            "GET",
            "/api/objects/customers/query",
            403,
        ),
    ];
    for (description, method, path, status) in cases {
        let request = match method {
            "GET" => app.client.get(app.url(path)),
            _ => app.client.post(app.url(path)).json(&upsert),
        };
        let response = request.bearer_auth(&limited).send().await.unwrap();
        assert_eq!(
            response.status(),
            status,
            "a limited key may {description}?"
        );
    }
    let everything: Value = app.get("/api/objects", &admin).await.json().await.unwrap();
    assert_eq!(
        everything["items"].as_array().unwrap().len(),
        2,
        "an unlimited key still lists every object"
    );
}

#[tokio::test]
async fn a_rate_limited_key_is_answered_429_with_rate_limit_headers_by_every_server() {
    let first = spawn_app().await;
    let acme = first.create_workspace("acme").await;
    let second = TestApp::builder().database_of(&first).spawn().await;
    // A day's window: the test cannot straddle two windows unless it runs across midnight.
    let (limited, view) = create_key(&first, &["--rate-limit", "3/1d"]);
    assert_eq!(
        view["rateLimit"],
        json!({"requests": 3, "windowSecs": 86400}),
        "the limit is shown"
    );
    let (unlimited, _) = first.create_key(&acme, Some(Role::Viewer), &[]).await;

    let mut statuses = Vec::new();
    for n in 0..6 {
        let server = if n % 2 == 0 { &first } else { &second };
        statuses.push(server.get("/api/objects", &limited).await.status().as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 429, 429, 429],
        "the two servers share one count"
    );
    let refused = second.get("/api/objects", &limited).await;
    let headers = refused.headers().clone();
    assert_problem(refused, 429, "rate_limited", "over the limit").await;
    assert_eq!(headers["ratelimit-limit"], "3");
    assert_eq!(headers["ratelimit-remaining"], "0");
    let reset: u64 = headers["ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&reset), "reset in {reset} s");
    assert_eq!(headers["retry-after"], headers["ratelimit-reset"]);
    assert_eq!(
        first.get("/api/objects", &unlimited).await.status(),
        200,
        "other keys are not affected"
    );
}

#[tokio::test]
async fn concurrent_requests_on_two_servers_never_pass_a_rate_limit() {
    let first = spawn_app().await;
    first.create_workspace("acme").await;
    let second = TestApp::builder().database_of(&first).spawn().await;
    let (limited, _) = create_key(&first, &["--rate-limit", "5/1d"]);
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..24 {
        let server = if n % 2 == 0 { &first } else { &second };
        let request = server
            .client
            .get(server.url("/api/objects"))
            .bearer_auth(&limited);
        requests.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    let statuses: Vec<u16> = requests.join_all().await;
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    let limited_count = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((admitted, limited_count), (5, 19), "{statuses:?}");
}

#[tokio::test]
async fn the_openapi_document_lists_the_rate_limited_answer_on_keyed_routes() {
    let app = spawn_app().await;
    let document: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let limited = &document["paths"]["/api/objects"]["get"]["responses"]["429"];
    for header in [
        "Retry-After",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
    ] {
        assert!(
            limited["headers"][header].is_object(),
            "{header}: {limited}"
        );
    }
    assert!(
        document["paths"]["/healthz"]["get"]["responses"]["429"].is_null(),
        "routes without a key are never rate limited"
    );
}
