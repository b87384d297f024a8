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

/// The operations of the key API whose bodies are typed, with a route to send them to.
const TYPED_BODIES: [(&str, &str, &str); 6] = [
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

/// Sends each documented example in order, so the object and records the later ones name exist.
async fn apply_examples(s: &crate::object_support::Setup, doc: &Value) {
    for (method, documented, concrete) in TYPED_BODIES {
        let body = &doc["paths"][documented][method]["requestBody"]["content"]["application/json"]
            ["example"];
        let response = s
            .app
            .client
            .request(method.to_uppercase().parse().unwrap(), s.app.url(concrete))
            .bearer_auth(&s.key)
            .json(body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{method} {concrete}");
    }
}

/// The schema a `$ref` names, from the document's components.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[tokio::test]
async fn every_request_body_is_typed_and_a_field_the_schema_does_not_list_is_refused() {
    let s = setup().await;
    let doc = document(&s).await;
    let mut typed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(body) = operation.get("requestBody") else {
                continue;
            };
            let schema = resolve(&doc, &body["content"]["application/json"]["schema"]);
            assert_eq!(
                schema["type"], "object",
                "{method} {path}: the body is a typed object, not any value: {schema}"
            );
            assert_eq!(
                schema["additionalProperties"], false,
                "{method} {path}: the parsers refuse unknown fields, so the schema says so"
            );
            assert!(
                schema["properties"]
                    .as_object()
                    .is_some_and(|p| !p.is_empty()),
                "{method} {path} lists its fields"
            );
            typed += 1;
        }
    }
    assert_eq!(typed, 9, "the nine operations that take a JSON body");

    // Each example is accepted as documented (the_documented_examples_succeed_in_order…);
    // the same example with one field more is refused, naming that field.
    apply_examples(&s, &doc).await;
    for (method, documented, concrete) in TYPED_BODIES {
        let operation = &doc["paths"][documented][method];
        let schema = resolve(
            &doc,
            &operation["requestBody"]["content"]["application/json"]["schema"],
        );
        let mut body = operation["requestBody"]["content"]["application/json"]["example"].clone();
        for field in body.as_object().unwrap().keys() {
            assert!(
                schema["properties"].get(field).is_some(),
                "{method} {documented}: the example's `{field}` is in the schema"
            );
        }
        for extra in [serde_json::json!(1), Value::Null] {
            body["undocumented"] = extra;
            let response = s
                .app
                .client
                .request(method.to_uppercase().parse().unwrap(), s.app.url(concrete))
                .bearer_auth(&s.key)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                400,
                "{method} {concrete} with a field its schema does not list"
            );
            let problem: Value = response.json().await.unwrap();
            assert!(
                problem["issues"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|issue| issue["path"] == serde_json::json!(["undocumented"])),
                "{method} {concrete}: the refusal names the field: {problem}"
            );
        }
    }
}

#[tokio::test]
async fn an_if_match_the_documented_pattern_refuses_is_refused_with_400() {
    let s = setup().await;
    let doc = document(&s).await;
    let parameter = doc["paths"]["/api/objects/{handle}"]["patch"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "If-Match")
        .unwrap()
        .clone();
    assert!(parameter["schema"]["pattern"].is_string(), "{parameter}");
    s.define(serde_json::json!({"name": "Notes"})).await;
    for (value, status) in [("null", 400), ("0", 400), ("\"stale\"", 412), ("*", 200)] {
        let response = s
            .app
            .client
            .patch(s.app.url("/api/objects/notes"))
            .bearer_auth(&s.key)
            .header("if-match", value)
            .json(&serde_json::json!({"description": "d"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "If-Match: {value}");
    }
}

#[tokio::test]
async fn a_field_the_schema_requires_is_required_by_the_server() {
    let s = setup().await;
    let doc = document(&s).await;
    apply_examples(&s, &doc).await;
    for (method, documented, concrete) in TYPED_BODIES {
        let operation = &doc["paths"][documented][method];
        let schema = resolve(
            &doc,
            &operation["requestBody"]["content"]["application/json"]["schema"],
        );
        let example = &operation["requestBody"]["content"]["application/json"]["example"];
        for required in schema["required"].as_array().into_iter().flatten() {
            let field = required.as_str().unwrap();
            let mut body = example.clone();
            body.as_object_mut().unwrap().remove(field);
            let response = s
                .app
                .client
                .request(method.to_uppercase().parse().unwrap(), s.app.url(concrete))
                .bearer_auth(&s.key)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                400,
                "{method} {concrete} without its required `{field}`"
            );
        }
    }
}

#[tokio::test]
async fn the_documented_response_headers_are_the_ones_the_server_sends() {
    let s = setup().await;
    let doc = document(&s).await;
    let headers = |path: &str, method: &str, status: &str| {
        doc["paths"][path][method]["responses"][status]["headers"].clone()
    };
    for (method, path) in [
        ("post", "/api/objects"),
        ("post", "/api/v1/workspaces"),
        ("post", "/api/v1/workspaces/{handle}/api-keys"),
        ("post", "/api/v1/workspaces/{handle}/api-keys/{id}/rotate"),
    ] {
        assert!(
            headers(path, method, "201")["Location"].is_object(),
            "{method} {path}: a 201 documents its Location"
        );
    }
    for (method, path, status) in [
        ("get", "/api/key", "200"),
        ("get", "/api/key", "401"),
        ("get", "/api/v1/workspaces/{handle}/api-keys", "200"),
        ("post", "/api/v1/workspaces/{handle}/api-keys", "201"),
    ] {
        assert_eq!(
            headers(path, method, status)["Cache-Control"]["schema"]["const"],
            "no-store",
            "{method} {path} {status}"
        );
    }
    assert!(headers("/api/objects", "get", "200")["Cache-Control"].is_null());
    for (method, path, status) in [
        ("post", "/api/objects", "201"),
        ("get", "/api/objects/{handle}", "200"),
        ("patch", "/api/objects/{handle}", "200"),
        ("get", "/api/objects/{handle}/data/{id}", "200"),
    ] {
        assert!(
            headers(path, method, status)["ETag"].is_object(),
            "{method} {path} {status} documents its ETag"
        );
    }
    let limited = headers("/api/objects", "get", "429");
    for name in [
        "Retry-After",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
    ] {
        assert!(limited[name].is_object(), "429 documents {name}");
    }

    // What the server sends, for the same routes.
    let created = s
        .app
        .client
        .post(s.app.url("/api/objects"))
        .bearer_auth(&s.key)
        .json(&serde_json::json!({"name": "Notes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(
        created.headers()["location"],
        "/api/objects/notes",
        "the Location of the created object"
    );
    assert!(created.headers().contains_key("etag"));
    let key = s
        .app
        .client
        .get(s.app.url("/api/key"))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(key.headers()["cache-control"], "no-store");
    let refused = s
        .app
        .client
        .get(s.app.url("/api/key"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["cache-control"], "no-store");
    let objects = s
        .app
        .client
        .get(s.app.url("/api/objects"))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap();
    assert!(!objects.headers().contains_key("cache-control"));
}
