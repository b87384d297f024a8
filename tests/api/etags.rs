//! ETags and preconditions: reads carry the version's ETag and answer 304 to a matching
//! If-None-Match; a change with an If-Match of another version is 412 and changes nothing,
//! so two clients that read the same version cannot both overwrite it.

use andi::keys::grant::Role;
use reqwest::header::{ETAG, IF_MATCH, IF_NONE_MATCH};
use serde_json::{Value, json};

use crate::helpers::TestApp;

async fn setup() -> (TestApp, String) {
    let app = TestApp::builder().spawn().await;
    let workspace = app.create_workspace("acme").await;
    let (admin, _) = app.create_key(&workspace, Some(Role::Admin), &[]).await;
    let created = app
        .post_json(
            "/api/objects",
            &admin,
            &json!({"name": "Invoices", "attributes": {"number": {"type": "string"}}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    assert!(
        created.headers().contains_key(ETAG),
        "a 201 carries the ETag"
    );
    (app, admin)
}

fn etag(response: &reqwest::Response) -> String {
    response.headers()[ETAG].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_definition_changes_only_from_the_version_the_client_read() {
    let (app, admin) = setup().await;
    let read = app.get("/api/objects/invoices", &admin).await;
    assert_eq!(read.status(), 200);
    let first = etag(&read);

    let unchanged = app
        .client
        .get(app.url("/api/objects/invoices"))
        .bearer_auth(&admin)
        .header(IF_NONE_MATCH, &first)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);

    let patch = |tag: String, description: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            app.client
                .patch(app.url("/api/objects/invoices"))
                .bearer_auth(admin)
                .header(IF_MATCH, tag)
                .json(&json!({"description": description}))
                .send()
                .await
                .unwrap()
        }
    };
    let won = patch(first.clone(), "first writer").await;
    assert_eq!(won.status(), 200);
    let second = etag(&won);
    assert_ne!(second, first, "a change makes a new version");
    let lost = patch(first.clone(), "second writer").await;
    assert_eq!(lost.status(), 412);
    let body: Value = lost.json().await.unwrap();
    assert_eq!(body["code"], "precondition_failed");
    let now: Value = app
        .get("/api/objects/invoices", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        now["description"], "first writer",
        "the stale change wrote nothing"
    );

    let stale_delete = app
        .client
        .delete(app.url("/api/objects/invoices"))
        .bearer_auth(&admin)
        .header(IF_MATCH, &first)
        .send()
        .await
        .unwrap();
    assert_eq!(stale_delete.status(), 412);
    let delete = app
        .client
        .delete(app.url("/api/objects/invoices"))
        .bearer_auth(&admin)
        .header(IF_MATCH, &second)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);
}

#[tokio::test]
async fn a_record_is_deleted_only_in_the_version_the_client_read() {
    let (app, admin) = setup().await;
    let upsert = |number: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            app.post_json(
                "/api/objects/invoices/data/upsert-many",
                admin,
                &json!({"records": [{"id": "inv_1", "attributes": {"number": number}}]}),
            )
            .await
            .status()
        }
    };
    assert_eq!(upsert("INV-1").await, 200);
    let read = app.get("/api/objects/invoices/data/inv_1", &admin).await;
    let first = etag(&read);
    let again = app
        .client
        .get(app.url("/api/objects/invoices/data/inv_1"))
        .bearer_auth(&admin)
        .header(IF_NONE_MATCH, format!("W/{first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "If-None-Match compares weakly");

    assert_eq!(upsert("INV-1b").await, 200);
    let delete = |tag: String| {
        let (app, admin) = (&app, &admin);
        async move {
            app.client
                .delete(app.url("/api/objects/invoices/data/inv_1"))
                .bearer_auth(admin)
                .header(IF_MATCH, tag)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        delete(first).await,
        412,
        "the record changed since it was read"
    );
    assert_eq!(
        app.get("/api/objects/invoices/data/inv_1", &admin)
            .await
            .status(),
        200
    );
    assert_eq!(delete("*".to_owned()).await, 204);
}
