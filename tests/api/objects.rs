use andi::keys::grant::Permission;
use serde_json::{Value, json};

use crate::helpers::assert_problem;
use crate::object_support::{invoices, issue_paths, setup};

#[tokio::test]
async fn a_definition_is_created_with_fields_as_an_alias_and_read_back_by_handle() {
    let s = setup().await;
    let created = s
        .define(json!({"name": "Expense Report", "fields": {"total": {"type": "number", "required": true}}}))
        .await;
    assert_eq!(created["handle"], "expense-report");
    assert!(created["id"].as_str().unwrap().starts_with("obj_"));
    let response = s.app.get("/api/objects/expense-report", &s.key).await;
    assert_eq!(response.status(), 200);
    let fetched: Value = response.json().await.unwrap();
    assert_eq!(fetched, created);
    let response = s.app.get("/api/objects/nope", &s.key).await;
    assert_problem(response, 404, "not_found", "unknown handle").await;
    let response = s.app.get("/api/objects/Not%20A%20Handle", &s.key).await;
    assert_problem(response, 404, "not_found", "invalid handle").await;
}

#[tokio::test]
async fn patch_renames_describes_adds_and_removes_attributes() {
    let s = setup().await;
    invoices(&s).await;
    s.upsert(
        "invoices",
        json!({"records": [{"id": "inv_1", "attributes": {"number": "1", "memo": "m"}}]}),
    )
    .await;
    let response = s
        .patch_json(
            "/api/objects/invoices",
            &json!({"name": "Bills", "description": "What customers owe", "attributes": {"memo": null, "note": {"type": "string"}}}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], "Bills");
    assert_eq!(body["handle"], "invoices", "the handle is kept");
    assert_eq!(body["description"], "What customers owe");
    assert!(body["attributes"].get("memo").is_none());
    assert_eq!(body["attributes"]["note"]["type"], "string");
    let record: Value = s
        .app
        .get("/api/objects/invoices/data/inv_1", &s.key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        record["attributes"],
        json!({"number": "1"}),
        "the removed attribute's values are gone"
    );

    let response = s
        .patch_json(
            "/api/objects/invoices",
            &json!({"handle": "bills", "attributes": {"Bad": {"type": "string"}}}),
        )
        .await;
    let problem = assert_problem(response, 400, "validation_failed", "bad patch").await;
    let paths = issue_paths(&problem);
    assert_eq!(paths, vec![json!(["handle"]), json!(["attributes", "Bad"])]);

    let response = s
        .patch_json(
            "/api/objects/invoices",
            &json!({"attributes": {"ghost": null, "owner": {"type": "relationship", "object": "nobody"}}}),
        )
        .await;
    let problem = assert_problem(response, 400, "validation_failed", "unknown attribute").await;
    assert_eq!(
        issue_paths(&problem),
        vec![
            json!(["attributes", "ghost"]),
            json!(["attributes", "owner", "object"])
        ]
    );
}

#[tokio::test]
async fn a_type_change_that_records_violate_is_409_with_the_count() {
    let s = setup().await;
    s.define(json!({"name": "Items", "attributes": {"code": {"type": "string"}}}))
        .await;
    s.upsert(
        "items",
        json!({"records": [
            {"id": "a", "attributes": {"code": "12"}},
            {"id": "b", "attributes": {"code": "x"}},
            {"id": "c", "attributes": {"code": "2026-01-01T00:00:00Z"}},
            {"id": "d"}
        ]}),
    )
    .await;
    let response = s
        .patch_json(
            "/api/objects/items",
            &json!({"attributes": {"code": {"type": "datetime"}}}),
        )
        .await;
    let problem = assert_problem(response, 409, "records_block_change", "string to datetime").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("2 record(s)"),
        "{problem}"
    );

    s.delete("/api/objects/items/data/a").await;
    s.delete("/api/objects/items/data/b").await;
    let response = s
        .patch_json(
            "/api/objects/items",
            &json!({"attributes": {"code": {"type": "datetime"}}}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let record: Value = s
        .app
        .get("/api/objects/items/data/c", &s.key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        record["attributes"]["code"], "2026-01-01T00:00:00.000Z",
        "values take the new normal form"
    );

    let response = s
        .patch_json(
            "/api/objects/items",
            &json!({"attributes": {"code": {"type": "datetime", "required": true}}}),
        )
        .await;
    let problem = assert_problem(
        response,
        409,
        "records_block_change",
        "required with a record lacking it",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("1 record(s)"),
        "{problem}"
    );
}

#[tokio::test]
async fn making_an_attribute_unique_checks_and_then_enforces_it() {
    let s = setup().await;
    s.define(json!({"name": "Items", "attributes": {"code": {"type": "string"}}}))
        .await;
    s.upsert(
        "items",
        json!({"records": [{"id": "a", "attributes": {"code": "x"}}, {"id": "b", "attributes": {"code": "x"}}]}),
    )
    .await;
    let unique = json!({"attributes": {"code": {"type": "string", "unique": true}}});
    let response = s.patch_json("/api/objects/items", &unique).await;
    assert_problem(response, 409, "records_block_change", "duplicates exist").await;

    s.delete("/api/objects/items/data/b").await;
    assert_eq!(
        s.patch_json("/api/objects/items", &unique).await.status(),
        200
    );
    let response = s
        .app
        .post_json(
            "/api/objects/items/data/upsert-many",
            &s.key,
            &json!({"records": [{"id": "c", "attributes": {"code": "x"}}]}),
        )
        .await;
    let problem = assert_problem(response, 400, "validation_failed", "now unique").await;
    assert_eq!(
        issue_paths(&problem),
        vec![json!(["records", 0, "attributes", "code"])]
    );
}

#[tokio::test]
async fn delete_refuses_while_live_records_exist_unless_cascade() {
    let s = setup().await;
    s.define(json!({"name": "Items"})).await;
    s.upsert("items", json!({"records": [{"id": "a"}, {"id": "b"}]}))
        .await;
    let response = s.delete("/api/objects/items").await;
    let problem = assert_problem(response, 409, "object_has_records", "live records").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("2 live record(s)"),
        "{problem}"
    );
    assert_eq!(
        s.app.get("/api/objects/items", &s.key).await.status(),
        200,
        "still there"
    );

    let response = s.delete("/api/objects/items?cascade=maybe").await;
    assert_problem(response, 400, "invalid_parameter", "bad cascade").await;

    assert_eq!(
        s.delete("/api/objects/items?cascade=true").await.status(),
        204
    );
    let response = s.app.get("/api/objects/items", &s.key).await;
    assert_problem(response, 404, "not_found", "deleted object").await;

    // Recreated under the same handle, it starts empty.
    s.define(json!({"name": "Items"})).await;
    assert!(s.all_ids("items").await.is_empty());
    assert_eq!(
        s.delete("/api/objects/items").await.status(),
        204,
        "no records: no cascade needed"
    );
}

#[tokio::test]
async fn an_object_that_a_relationship_points_to_cannot_be_deleted() {
    let s = setup().await;
    invoices(&s).await;
    let response = s.delete("/api/objects/customers?cascade=true").await;
    let problem = assert_problem(response, 409, "object_referenced", "referenced").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("`invoices`"),
        "{problem}"
    );
}

#[tokio::test]
async fn definition_routes_answer_403_without_the_permission_and_404_with_it() {
    let s = setup().await;
    s.define(json!({"name": "Items"})).await;
    let reader = s.key_with(&[Permission::ObjectsRead]).await;
    let writer = s.key_with(&[Permission::ObjectsWrite]).await;
    for handle in ["items", "missing"] {
        let path = format!("/api/objects/{handle}");
        let response = s
            .app
            .client
            .patch(s.app.url(&path))
            .bearer_auth(&reader)
            .json(&json!({"name": "X"}))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 403, "insufficient_scope", &path).await;
        assert_eq!(problem["action"], "updateObject");
        let response = s
            .app
            .client
            .delete(s.app.url(&path))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 403, "insufficient_scope", &path).await;
        assert_eq!(problem["action"], "deleteObject");
        let response = s.app.get(&path, &writer).await;
        let problem = assert_problem(response, 403, "insufficient_scope", &path).await;
        assert_eq!(problem["missingPermission"], "objects.read");
    }
    let response = s.app.get("/api/objects/items", &s.key).await;
    assert_eq!(
        response.json::<Value>().await.unwrap()["name"],
        "Items",
        "unchanged"
    );
    let response = s
        .app
        .client
        .delete(s.app.url("/api/objects/missing"))
        .bearer_auth(&writer)
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "not_found", "writer, missing object").await;
}

/// More records than a definition change reads at once (500): every page is checked and
/// rewritten, and a duplicate is found across pages.
#[tokio::test]
async fn a_definition_change_checks_and_rewrites_every_page_of_records() {
    let s = setup().await;
    s.define(json!({"name": "Items", "attributes": {"due": {"type": "text"}, "tag": {"type": "string"}}}))
        .await;
    let record = |i: usize, due: &str, tag: &str| json!({"id": format!("r{i:04}"), "attributes": {"due": due, "tag": tag}});
    for batch in [0..1_000, 1_000..1_300] {
        let records: Vec<Value> = batch
            .map(|i| match i {
                7 | 1_211 => record(i, "not a date", &format!("t{i}")),
                1_250 => record(i, "2026-01-01T00:00:00Z", "t3"),
                _ => record(i, "2026-01-01T00:00:00Z", &format!("t{i}")),
            })
            .collect();
        s.upsert("items", json!({"records": records})).await;
    }

    let to_datetime = json!({"attributes": {"due": {"type": "datetime"}}});
    let response = s.patch_json("/api/objects/items", &to_datetime).await;
    let problem = assert_problem(response, 409, "records_block_change", "two bad dates").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("2 record(s)"),
        "one bad date in the first page and one in the third: {problem}"
    );
    let unique = json!({"attributes": {"tag": {"type": "string", "unique": true}}});
    let response = s.patch_json("/api/objects/items", &unique).await;
    let problem = assert_problem(response, 409, "records_block_change", "a duplicate").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("1 record(s)"),
        "r1250 repeats r0003's tag: {problem}"
    );

    s.upsert(
        "items",
        json!({"records": [
            record(7, "2026-01-01T00:00:00Z", "t7"),
            record(1_211, "2026-01-01T00:00:00Z", "t1211"),
            record(1_250, "2026-01-01T00:00:00Z", "t1250"),
        ]}),
    )
    .await;
    assert_eq!(
        s.patch_json("/api/objects/items", &to_datetime)
            .await
            .status(),
        200
    );
    assert_eq!(
        s.patch_json("/api/objects/items", &unique).await.status(),
        200
    );

    let not_rewritten = s
        .query(
            "items",
            json!({"where": {"due": {"ne": "2026-01-01T00:00:00.000Z"}}, "limit": 1000}),
        )
        .await;
    assert_eq!(
        not_rewritten["items"],
        json!([]),
        "every value takes the new normal form"
    );
    let response = s
        .app
        .post_json(
            "/api/objects/items/data/upsert-many",
            &s.key,
            &json!({"records": [record(2_000, "2026-01-01T00:00:00Z", "t1299")]}),
        )
        .await;
    assert_problem(
        response,
        400,
        "validation_failed",
        "a tag of the last page is held",
    )
    .await;
}
