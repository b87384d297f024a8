//! Helpers for the objects tests: a workspace with keys, and shorthand for the routes.

use andi::keys::grant::{Permission, Role};
use andi::workspace::Workspace;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// An app with a workspace and an admin key for it.
pub struct Setup {
    pub app: TestApp,
    pub workspace: Workspace,
    pub key: String,
}

pub async fn setup() -> Setup {
    setup_on(spawn_app().await).await
}

/// The same on an app spawned otherwise.
pub async fn setup_on(app: TestApp) -> Setup {
    let workspace = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&workspace, Some(Role::Admin), &[]).await;
    Setup {
        app,
        workspace,
        key,
    }
}

impl Setup {
    pub async fn key_with(&self, permissions: &[Permission]) -> String {
        self.app
            .create_key(&self.workspace, None, permissions)
            .await
            .0
    }

    /// Creates an object and returns its definition; panics unless the answer is 201.
    pub async fn define(&self, body: Value) -> Value {
        let response = self.app.post_json("/api/objects", &self.key, &body).await;
        assert_eq!(response.status(), 201, "create {body}");
        response.json().await.unwrap()
    }

    /// Upserts records and returns the body; panics unless the answer is 200.
    pub async fn upsert(&self, handle: &str, body: Value) -> Value {
        let response = self
            .app
            .post_json(
                &format!("/api/objects/{handle}/data/upsert-many"),
                &self.key,
                &body,
            )
            .await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "upsert {body}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Upserts records into `items` and returns the answer's status.
    pub async fn upsert_status(&self, body: Value) -> u16 {
        self.app
            .post_json("/api/objects/items/data/upsert-many", &self.key, &body)
            .await
            .status()
            .as_u16()
    }

    /// POSTs a query and returns the page; panics unless the answer is 200.
    pub async fn query(&self, handle: &str, body: Value) -> Value {
        let response = self
            .app
            .post_json(&format!("/api/objects/{handle}/query"), &self.key, &body)
            .await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "query {body}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// GETs a query with raw parameters and returns the page; panics unless 200.
    pub async fn query_get(&self, handle: &str, params: &str) -> Value {
        let response = self
            .app
            .get(&format!("/api/objects/{handle}/query?{params}"), &self.key)
            .await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "query {params}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// The ids of every live record, in default order, read through the API.
    pub async fn all_ids(&self, handle: &str) -> Vec<String> {
        let page = self.query(handle, json!({"limit": 1000})).await;
        ids(&page)
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.app
            .client
            .patch(self.app.url(path))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.app
            .client
            .delete(self.app.url(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap()
    }
}

/// The `id`s of a query page's items.
pub fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The paths of a validation problem's issues, as JSON.
pub fn issue_paths(problem: &Value) -> Vec<Value> {
    problem["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].clone())
        .collect()
}

/// An `invoices` object with one attribute of every type, and a `customers` object.
pub async fn invoices(setup: &Setup) {
    setup
        .define(json!({
            "name": "Customers",
            "attributes": {"email": {"type": "email", "unique": true}}
        }))
        .await;
    setup
        .upsert(
            "customers",
            json!({"records": [{"id": "cus_1", "attributes": {"email": "a@acme.io"}}]}),
        )
        .await;
    setup
        .define(json!({
            "name": "Invoices",
            "attributes": {
                "number": {"type": "string", "required": true, "unique": true},
                "memo": {"type": "text"},
                "amount": {"type": "number"},
                "lines": {"type": "integer"},
                "paid": {"type": "boolean"},
                "issuedAt": {"type": "datetime"},
                "dueOn": {"type": "date"},
                "contact": {"type": "email"},
                "link": {"type": "url"},
                "status": {"type": "select", "options": [{"value": "open"}, {"value": "paid"}]},
                "tags": {"type": "multiselect", "options": [{"value": "vip"}, {"value": "eu"}, {"value": "late"}]},
                "customer": {"type": "relationship", "object": "customers"},
                "extra": {"type": "json"}
            }
        }))
        .await;
}
