use serde_json::Value;

use crate::object_support::setup;

/// Every route of the router, as `API.md` lists them.
const ROUTES: [(&str, &str); 17] = [
    ("get", "/api/workspace"),
    ("get", "/api/key"),
    ("get", "/api/objects"),
    ("post", "/api/objects"),
    ("get", "/api/objects/{handle}"),
    ("patch", "/api/objects/{handle}"),
    ("delete", "/api/objects/{handle}"),
    ("post", "/api/objects/{handle}/data/upsert-many"),
    ("patch", "/api/objects/{handle}/data/patch-many"),
    ("post", "/api/objects/{handle}/data/delete-many"),
    ("get", "/api/objects/{handle}/data/{id}"),
    ("delete", "/api/objects/{handle}/data/{id}"),
    ("get", "/api/objects/{handle}/query"),
    ("post", "/api/objects/{handle}/query"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/api/openapi.json"),
];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(s: &crate::object_support::Setup) -> Value {
    let response = s
        .app
        .client
        .get(s.app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "served without a key");
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_lists_every_route() {
    let s = setup().await;
    let doc = document(&s).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for (method, path) in ROUTES {
        let operation = &doc["paths"][path][method];
        assert!(
            operation.is_object(),
            "{method} {path} is missing from the document"
        );
        assert!(
            operation["responses"].is_object(),
            "{method} {path} documents its responses"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["RecordView"].is_object());
}

#[tokio::test]
async fn the_router_serves_exactly_the_methods_the_document_lists() {
    let s = setup().await;
    let doc = document(&s).await;
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        let concrete = path
            .replace("{handle}", "nothing-here")
            .replace("{id}", "x");
        for method in METHODS {
            let response = s
                .app
                .client
                .request(method.to_uppercase().parse().unwrap(), s.app.url(&concrete))
                .bearer_auth(&s.key)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let unrouted = status == 404
                && body["detail"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("no such route"));
            if item.get(method).is_some() {
                assert!(
                    !unrouted && status != 405,
                    "{method} {path} is documented but not routed ({status})"
                );
            } else {
                assert_eq!(status, 405, "{method} {path} is routed but not documented");
            }
        }
    }
    for (_, path) in ROUTES {
        assert!(paths.contains_key(path), "{path}");
    }
}

#[tokio::test]
async fn every_operation_states_its_id_its_security_and_its_error_bodies() {
    let s = setup().await;
    let doc = document(&s).await;
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no operationId"));
            assert!(
                id.chars().next().is_some_and(char::is_lowercase) && !id.contains('_'),
                "{name}: `{id}` is not camelCase"
            );
            assert!(ids.insert(id.to_owned()), "{name}: `{id}` is used twice");
            let security = operation["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: no security"));
            let responses = operation["responses"].as_object().unwrap();
            if !security.is_empty() {
                assert!(responses.contains_key("401"), "{name}: no 401");
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{name} {status}"
                    );
                }
            }
        }
    }
    for action in [
        "listObjects",
        "createObject",
        "getRecord",
        "upsertRecords",
        "queryRecords",
    ] {
        assert!(
            ids.contains(action),
            "the Cedar action `{action}` names its operation"
        );
    }
    assert_eq!(
        doc["paths"]["/healthz"]["get"]["security"],
        serde_json::json!([])
    );
}

#[tokio::test]
async fn the_documented_examples_succeed_in_order_on_a_fresh_server() {
    let s = setup().await;
    let doc = document(&s).await;
    let example = |path: &str, method: &str| {
        doc["paths"][path][method]["requestBody"]["content"]["application/json"]["example"].clone()
    };
    let steps = [
        ("post", "/api/objects", "/api/objects"),
        ("patch", "/api/objects/{handle}", "/api/objects/invoices"),
        (
            "post",
            "/api/objects/{handle}/data/upsert-many",
            "/api/objects/invoices/data/upsert-many",
        ),
        (
            "patch",
            "/api/objects/{handle}/data/patch-many",
            "/api/objects/invoices/data/patch-many",
        ),
        (
            "post",
            "/api/objects/{handle}/query",
            "/api/objects/invoices/query",
        ),
        (
            "post",
            "/api/objects/{handle}/data/delete-many",
            "/api/objects/invoices/data/delete-many",
        ),
    ];
    for (method, documented, concrete) in steps {
        let body = example(documented, method);
        assert!(body.is_object(), "{method} {documented} has an example");
        let response = s
            .app
            .client
            .request(method.to_uppercase().parse().unwrap(), s.app.url(concrete))
            .bearer_auth(&s.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status.is_success(),
            "{method} {concrete} with its example answered {status}: {}",
            response.text().await.unwrap()
        );
    }
}
