//! The console's JSON API: session only, CSRF-protected, admins manage keys.

use andi::keys::grant::Permission;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::console::{PASSWORD, Person};
use crate::helpers::{assert_problem, spawn_app};

impl Person {
    /// The session's CSRF token, from a page's `<meta name="csrf-token">`.
    async fn csrf(&self) -> String {
        let page = self.page("/workspaces").await;
        let marker = "<meta name=\"csrf-token\" content=\"";
        let start = page.find(marker).expect("signed-in pages carry the token") + marker.len();
        page[start..].split('"').next().unwrap().to_owned()
    }

    async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let token = self.csrf().await;
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("x-csrf-token", token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }
}

#[tokio::test]
async fn the_console_api_refuses_api_keys_with_401_saying_a_session_is_required() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app
        .create_key(
            &acme,
            None,
            &[Permission::ObjectsRead, Permission::WorkspacesRead],
        )
        .await;
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/workspaces"),
        (reqwest::Method::POST, "/api/v1/workspaces"),
        (reqwest::Method::GET, "/api/v1/workspaces/acme/api-keys"),
        (reqwest::Method::POST, "/api/v1/workspaces/acme/api-keys"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&key)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let body = assert_problem(
            response,
            401,
            "session_required",
            &format!("{method} {path} with a key"),
        )
        .await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("needs a signed-in console session"),
            "{body}"
        );
    }
    let anonymous = app
        .client
        .get(app.url("/api/v1/workspaces"))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "session_required", "no session").await;
}

#[tokio::test]
async fn a_signed_in_admin_manages_keys_through_the_json_api() {
    let app = spawn_app().await;
    let ada = Person::new(&app);
    ada.sign_up("ada@example.com", PASSWORD).await;

    let created = ada
        .api(
            reqwest::Method::POST,
            "/api/v1/workspaces",
            Some(json!({"handle": "acme", "name": "Acme"})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(
        created.json::<Value>().await.unwrap()["role"],
        "admin",
        "the creator is the admin"
    );
    let mine: Value = ada.get("/api/v1/workspaces").await.json().await.unwrap();
    assert_eq!(mine["items"][0]["handle"], "acme");

    let issued = ada
        .api(
            reqwest::Method::POST,
            "/api/v1/workspaces/acme/api-keys",
            Some(json!({"name": "ci", "permissions": ["objects.read"]})),
        )
        .await;
    assert_eq!(issued.status(), StatusCode::CREATED);
    let issued: Value = issued.json().await.unwrap();
    let secret = issued["key"].as_str().unwrap().to_owned();
    let id = issued["apiKey"]["id"].as_str().unwrap().to_owned();
    assert_eq!(issued["apiKey"]["permissions"], json!(["objects.read"]));
    assert_eq!(app.get("/api/objects", &secret).await.status(), 200);

    let listed = ada
        .get("/api/v1/workspaces/acme/api-keys")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        listed.contains(&id) && !listed.contains(&secret),
        "listing never shows a secret"
    );

    let rotated = ada
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/workspaces/acme/api-keys/{id}/rotate"),
            Some(json!({"grace": "1h"})),
        )
        .await;
    assert_eq!(rotated.status(), StatusCode::CREATED);
    let rotated: Value = rotated.json().await.unwrap();
    let new_secret = rotated["key"].as_str().unwrap().to_owned();
    assert_eq!(
        rotated["apiKey"]["id"],
        id.as_str(),
        "a rotated key keeps its id"
    );
    assert_eq!(
        rotated["apiKey"]["start"],
        &new_secret[..14],
        "the key shows its new secret's start"
    );
    assert_eq!(
        app.get("/api/objects", &secret).await.status(),
        200,
        "the old secret works during the grace"
    );
    let listed: Value = ada
        .get("/api/v1/workspaces/acme/api-keys")
        .await
        .json()
        .await
        .unwrap();
    let shown: Vec<&Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["id"] == id.as_str())
        .collect();
    assert_eq!(shown.len(), 1, "a rotated key is listed once: {listed}");
    assert_eq!(shown[0]["start"], &new_secret[..14]);

    let revoked = ada
        .api(
            reqwest::Method::DELETE,
            &format!("/api/v1/workspaces/acme/api-keys/{id}"),
            None,
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(revoked.json::<Value>().await.unwrap()["status"], "revoked");
    for (description, secret) in [
        ("the new secret", &new_secret),
        ("the graced secret", &secret),
    ] {
        assert_eq!(
            app.get("/api/objects", secret).await.status(),
            401,
            "revoking the key stops {description}"
        );
    }
}

#[tokio::test]
async fn state_changing_json_requests_need_the_csrf_header() {
    let app = spawn_app().await;
    let ada = Person::new(&app);
    ada.sign_up("ada@example.com", PASSWORD).await;
    let response = ada
        .client
        .post(ada.url("/api/v1/workspaces"))
        .json(&json!({"handle": "acme", "name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "csrf_failed", "no X-CSRF-Token").await;
    let mine: Value = ada.get("/api/v1/workspaces").await.json().await.unwrap();
    assert_eq!(mine["items"], json!([]), "nothing was created");
}

#[tokio::test]
async fn a_member_cannot_manage_keys_and_a_stranger_cannot_see_the_workspace() {
    let app = spawn_app().await;
    let ada = Person::admin_of(&app, "ada@example.com", "acme").await;
    let bob = Person::new(&app);
    bob.sign_up("bob@example.com", PASSWORD).await;

    let hidden = bob.get("/api/v1/workspaces/acme/api-keys").await;
    assert_problem(hidden, 404, "not_found", "a non-member").await;

    ada.submit(
        "/workspaces/acme/members",
        "/workspaces/acme/members",
        &[("email", "bob@example.com"), ("role", "member")],
    )
    .await;
    assert_eq!(
        bob.get("/api/v1/workspaces/acme/api-keys").await.status(),
        200,
        "members may list"
    );
    let denied = bob
        .api(
            reqwest::Method::POST,
            "/api/v1/workspaces/acme/api-keys",
            Some(json!({"name": "mine", "permissions": ["objects.write"]})),
        )
        .await;
    let body = assert_problem(denied, 403, "forbidden", "a member creating a key").await;
    assert!(
        body["detail"].as_str().unwrap().contains("only admins"),
        "{body}"
    );
}

#[tokio::test]
async fn key_answers_of_the_json_api_are_never_cached_and_each_201_has_a_location() {
    let app = spawn_app().await;
    let ada = Person::new(&app);
    ada.sign_up("ada@example.com", PASSWORD).await;

    let created = ada
        .api(
            reqwest::Method::POST,
            "/api/v1/workspaces",
            Some(json!({"handle": "acme", "name": "Acme"})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["location"], "/workspaces/acme");

    let issued = ada
        .api(
            reqwest::Method::POST,
            "/api/v1/workspaces/acme/api-keys",
            Some(json!({"name": "ci", "permissions": ["objects.read"]})),
        )
        .await;
    assert_eq!(issued.status(), StatusCode::CREATED);
    assert_eq!(issued.headers()["cache-control"], "no-store", "created");
    let location = issued.headers()["location"].to_str().unwrap().to_owned();
    let issued: Value = issued.json().await.unwrap();
    let id = issued["apiKey"]["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/workspaces/acme/api-keys/{id}"));

    let listed = ada.get("/api/v1/workspaces/acme/api-keys").await;
    assert_eq!(listed.headers()["cache-control"], "no-store", "listed");

    let rotated = ada
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/workspaces/acme/api-keys/{id}/rotate"),
            None,
        )
        .await;
    assert_eq!(rotated.status(), StatusCode::CREATED);
    assert_eq!(rotated.headers()["cache-control"], "no-store", "rotated");
    let location = rotated.headers()["location"].to_str().unwrap().to_owned();
    let rotated: Value = rotated.json().await.unwrap();
    assert_eq!(
        location,
        format!(
            "/api/v1/workspaces/acme/api-keys/{}",
            rotated["apiKey"]["id"].as_str().unwrap()
        )
    );

    let page = ada.get("/workspaces/acme/api-keys").await;
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["cache-control"],
        "no-store",
        "the console page"
    );
}

#[tokio::test]
async fn keys_created_in_the_json_api_carry_metadata_and_object_limits_and_bad_ones_are_400() {
    let app = spawn_app().await;
    let ada = Person::new(&app);
    ada.sign_up("ada@example.com", PASSWORD).await;
    let created = ada
        .api(
            reqwest::Method::POST,
            "/api/v1/workspaces",
            Some(json!({"handle": "acme", "name": "Acme"})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);

    let issued = ada
        .api(
            reqwest::Method::POST,
            "/api/v1/workspaces/acme/api-keys",
            Some(json!({
                "name": "eu-billing",
                "role": "editor",
                "metadata": {"region": "EU"},
                "objects": ["invoices"]
            })),
        )
        .await;
    assert_eq!(issued.status(), StatusCode::CREATED);
    let issued: Value = issued.json().await.unwrap();
    assert_eq!(issued["apiKey"]["metadata"], json!({"region": "EU"}));
    assert_eq!(issued["apiKey"]["objects"], json!(["invoices"]));
    let listed: Value = ada
        .get("/api/v1/workspaces/acme/api-keys")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["metadata"], json!({"region": "EU"}));
    assert_eq!(listed["items"][0]["objects"], json!(["invoices"]));
    let own: Value = app
        .get("/api/key", issued["key"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        own["metadata"],
        json!({"region": "EU"}),
        "GET /api/key shows them"
    );

    let bad = [
        (
            "a metadata key with a space",
            json!({"metadata": {"my region": "EU"}}),
            "is not valid",
        ),
        (
            "an empty metadata value",
            json!({"metadata": {"region": ""}}),
            "1 to 256 characters",
        ),
        (
            "a bad object handle",
            json!({"objects": ["Invoices"]}),
            "not a valid handle",
        ),
        (
            "an empty object list",
            json!({"objects": []}),
            "at least one",
        ),
    ];
    for (description, extra, message) in bad {
        let mut body = json!({"name": "bad", "role": "viewer"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let response = ada
            .api(
                reqwest::Method::POST,
                "/api/v1/workspaces/acme/api-keys",
                Some(body),
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{description}");
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains(message),
            "{description}: {problem}"
        );
    }
}
