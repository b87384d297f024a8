use andi::http::limits::Limits;
use andi::keys::grant::{Permission, Role};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};
use crate::object_support::{Setup, invoices, issue_paths, setup};

fn invoice(number: &str, amount: f64) -> Value {
    json!({"attributes": {"number": number, "amount": amount}})
}

#[tokio::test]
async fn upsert_creates_records_of_every_type_in_normal_form() {
    let s = setup().await;
    invoices(&s).await;
    let body = s
        .upsert(
            "invoices",
            json!({"records": [
                {"id": "inv_1", "name": "First", "attributes": {
                    "number": "INV-1", "memo": "long text", "amount": 12.5, "lines": 3.0,
                    "paid": false, "issuedAt": "2026-11-26T10:30:00+01:00", "dueOn": "2026-12-01",
                    "contact": "ap@acme.io", "link": "https://acme.io/i/1", "status": "open",
                    "tags": ["vip", "eu"], "customer": "cus_1", "extra": {"any": [1, "x"]}
                }},
                {"attributes": {"number": "INV-2"}}
            ]}),
        )
        .await;
    assert_eq!(body["created"], 2);
    assert_eq!(body["updated"], 0);
    let first = &body["records"][0];
    assert_eq!(first["id"], "inv_1");
    assert_eq!(first["name"], "First");
    assert_eq!(first["attributes"]["issuedAt"], "2026-11-26T09:30:00.000Z");
    assert_eq!(first["attributes"]["lines"], 3);
    assert_eq!(first["attributes"]["extra"], json!({"any": [1, "x"]}));
    let second_id = body["records"][1]["id"].as_str().unwrap();
    assert!(second_id.starts_with("rec_"), "{second_id}");

    let fetched: Value = s
        .app
        .get("/api/objects/invoices/data/inv_1", &s.key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["attributes"], first["attributes"]);
    assert_eq!(fetched["createdAt"], first["createdAt"]);
}

#[tokio::test]
async fn upsert_by_id_replaces_name_and_attributes() {
    let s = setup().await;
    invoices(&s).await;
    s.upsert(
        "invoices",
        json!({"records": [{"id": "inv_1", "name": "Old", "attributes": {"number": "INV-1", "memo": "gone"}}]}),
    )
    .await;
    let body = s
        .upsert(
            "invoices",
            json!({"records": [
                {"id": "inv_1", "attributes": {"number": "INV-1", "amount": 5}},
                {"id": "inv_2", "attributes": {"number": "INV-2"}}
            ]}),
        )
        .await;
    assert_eq!(
        (body["created"].clone(), body["updated"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(body["records"][0]["id"], "inv_1", "input order");
    assert_eq!(body["records"][0]["name"], Value::Null);
    assert_eq!(
        body["records"][0]["attributes"],
        json!({"number": "INV-1", "amount": 5})
    );
    assert_eq!(s.all_ids("invoices").await.len(), 2);
}

#[tokio::test]
async fn upsert_matches_on_a_unique_attribute() {
    let s = setup().await;
    invoices(&s).await;
    let first = s
        .upsert("invoices", json!({"records": [invoice("INV-1", 1.0)]}))
        .await;
    let id = first["records"][0]["id"].clone();
    let body = s
        .upsert(
            "invoices",
            json!({"matchOn": "number", "records": [invoice("INV-1", 2.0), invoice("INV-2", 3.0)]}),
        )
        .await;
    assert_eq!(body["updated"], 1);
    assert_eq!(body["created"], 1);
    assert_eq!(
        body["records"][0]["id"], id,
        "matched by number keeps its id"
    );
    assert_eq!(body["records"][0]["attributes"]["amount"], 2.0);

    let response = s
        .app
        .post_json(
            "/api/objects/invoices/data/upsert-many",
            &s.key,
            &json!({"matchOn": "amount", "records": [invoice("INV-3", 1.0)]}),
        )
        .await;
    let problem = assert_problem(
        response,
        400,
        "validation_failed",
        "matchOn a non-unique attribute",
    )
    .await;
    assert_eq!(issue_paths(&problem), vec![json!(["matchOn"])]);
}

#[tokio::test]
async fn a_batch_with_bad_records_lists_every_problem_and_changes_nothing() {
    let s = setup().await;
    invoices(&s).await;
    s.upsert(
        "invoices",
        json!({"records": [{"id": "keep", "attributes": {"number": "INV-0", "amount": 1}}]}),
    )
    .await;
    let bad = json!({"records": [
        {"id": "ok", "attributes": {"number": "INV-1"}},
        {"attributes": {"number": 7, "amount": "ten", "lines": 1.5, "paid": "yes"}},
        {"attributes": {"issuedAt": "yesterday", "dueOn": "2026-02-30", "contact": "nobody",
                        "link": "ftp://x", "status": "lost", "tags": ["vip", "nope"], "color": "red"}},
        {"id": "has space", "attributes": {"number": "INV-0", "customer": "cus_404"}},
        {"id": "keep", "attributes": {"number": "INV-9", "amount": 2}},
        "not a record"
    ]});
    let response = s
        .app
        .post_json("/api/objects/invoices/data/upsert-many", &s.key, &bad)
        .await;
    let problem = assert_problem(response, 400, "validation_failed", "bad batch").await;
    let paths = issue_paths(&problem);
    let expected = [
        json!(["records", 1, "attributes", "number"]),
        json!(["records", 1, "attributes", "amount"]),
        json!(["records", 1, "attributes", "lines"]),
        json!(["records", 1, "attributes", "paid"]),
        json!(["records", 2, "attributes", "issuedAt"]),
        json!(["records", 2, "attributes", "dueOn"]),
        json!(["records", 2, "attributes", "contact"]),
        json!(["records", 2, "attributes", "link"]),
        json!(["records", 2, "attributes", "status"]),
        json!(["records", 2, "attributes", "tags"]),
        json!(["records", 2, "attributes", "color"]),
        json!(["records", 2, "attributes", "number"]),
        json!(["records", 3, "id"]),
        json!(["records", 5]),
    ];
    for path in expected {
        assert!(paths.contains(&path), "missing {path} in {paths:?}");
    }
    assert_eq!(
        s.all_ids("invoices").await,
        vec!["keep"],
        "nothing was written"
    );
    let kept: Value = s
        .app
        .get("/api/objects/invoices/data/keep", &s.key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        kept["attributes"]["amount"], 1,
        "the matched record was not replaced"
    );
}

#[tokio::test]
async fn relationships_must_name_a_live_record_of_the_target_in_this_workspace() {
    let s = setup().await;
    invoices(&s).await;
    let other = s.app.create_workspace("other").await;
    let (other_key, _) = s.app.create_key(&other, Some(Role::Admin), &[]).await;
    s.app
        .post_json("/api/objects", &other_key, &json!({"name": "Customers"}))
        .await;
    s.app
        .post_json(
            "/api/objects/customers/data/upsert-many",
            &other_key,
            &json!({"records": [{"id": "cus_other"}]}),
        )
        .await;

    let response = s
        .app
        .post_json(
            "/api/objects/invoices/data/upsert-many",
            &s.key,
            &json!({"records": [
                {"attributes": {"number": "A", "customer": "cus_other"}},
                {"attributes": {"number": "B", "customer": "cus_1"}}
            ]}),
        )
        .await;
    let problem = assert_problem(response, 400, "validation_failed", "foreign customer").await;
    assert_eq!(
        issue_paths(&problem),
        vec![json!(["records", 0, "attributes", "customer"])]
    );

    let deleted = s.delete("/api/objects/customers/data/cus_1").await;
    assert_eq!(deleted.status(), 204);
    let response = s
        .app
        .post_json(
            "/api/objects/invoices/data/upsert-many",
            &s.key,
            &json!({"records": [{"attributes": {"number": "B", "customer": "cus_1"}}]}),
        )
        .await;
    assert_problem(response, 400, "validation_failed", "deleted customer").await;
}

#[tokio::test]
async fn required_and_unique_are_enforced_within_a_batch_and_against_stored_records() {
    let s = setup().await;
    invoices(&s).await;
    s.upsert("invoices", json!({"records": [invoice("INV-1", 1.0)]}))
        .await;
    let response = s
        .app
        .post_json(
            "/api/objects/invoices/data/upsert-many",
            &s.key,
            &json!({"records": [
                invoice("INV-1", 2.0),
                invoice("INV-2", 2.0),
                invoice("INV-2", 3.0),
                {"attributes": {"amount": 4}}
            ]}),
        )
        .await;
    let problem = assert_problem(response, 400, "validation_failed", "unique and required").await;
    let paths = issue_paths(&problem);
    for path in [
        json!(["records", 0, "attributes", "number"]),
        json!(["records", 1, "attributes", "number"]),
        json!(["records", 2, "attributes", "number"]),
        json!(["records", 3, "attributes", "number"]),
    ] {
        assert!(paths.contains(&path), "missing {path} in {paths:?}");
    }
    assert_eq!(s.all_ids("invoices").await.len(), 1);
}

#[tokio::test]
async fn a_soft_deleted_record_frees_its_unique_value_and_stays_in_the_database() {
    let s = setup().await;
    invoices(&s).await;
    s.upsert(
        "invoices",
        json!({"records": [{"id": "inv_1", "attributes": {"number": "INV-1"}}]}),
    )
    .await;
    assert_eq!(
        s.delete("/api/objects/invoices/data/inv_1").await.status(),
        204
    );
    let response = s.app.get("/api/objects/invoices/data/inv_1", &s.key).await;
    assert_problem(response, 404, "not_found", "deleted record").await;
    assert_eq!(
        s.delete("/api/objects/invoices/data/inv_1").await.status(),
        404
    );
    assert!(s.all_ids("invoices").await.is_empty());

    let body = s
        .upsert(
            "invoices",
            json!({"records": [{"id": "inv_1", "attributes": {"number": "INV-1"}}]}),
        )
        .await;
    assert_eq!(
        body["created"], 1,
        "the id and the unique value are free again"
    );

    let rows = s
        .app
        .db
        .query_all_raw(Statement::from_string(
            s.app.db.get_database_backend(),
            "SELECT deleted_at FROM records WHERE id = 'inv_1'",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "the deleted row is kept");
}

#[tokio::test]
async fn patch_many_merges_and_null_removes_an_optional_attribute() {
    let s = setup().await;
    invoices(&s).await;
    s.upsert(
        "invoices",
        json!({"records": [{"id": "inv_1", "name": "One", "attributes": {"number": "INV-1", "amount": 1, "memo": "m"}}]}),
    )
    .await;
    let response = s
        .patch_json(
            "/api/objects/invoices/data/patch-many",
            &json!({"records": [{"id": "inv_1", "attributes": {"amount": 2, "memo": null, "paid": true}}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["updated"], 1);
    assert_eq!(
        body["records"][0]["attributes"],
        json!({"number": "INV-1", "amount": 2, "paid": true})
    );
    assert_eq!(body["records"][0]["name"], "One", "an absent name is kept");

    let before: Value = s
        .app
        .get("/api/objects/invoices/data/inv_1", &s.key)
        .await
        .json()
        .await
        .unwrap();
    let response = s
        .patch_json(
            "/api/objects/invoices/data/patch-many",
            &json!({"records": [
                {"id": "inv_1", "attributes": {"number": null, "amount": 3}},
                {"id": "inv_404", "attributes": {}},
                {"attributes": {}}
            ]}),
        )
        .await;
    let problem = assert_problem(response, 400, "validation_failed", "bad patch").await;
    let paths = issue_paths(&problem);
    for path in [
        json!(["records", 0, "attributes", "number"]),
        json!(["records", 1, "id"]),
        json!(["records", 2, "id"]),
    ] {
        assert!(paths.contains(&path), "missing {path} in {paths:?}");
    }
    let after: Value = s
        .app
        .get("/api/objects/invoices/data/inv_1", &s.key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before, after, "nothing changed");
}

#[tokio::test]
async fn delete_many_soft_deletes_all_or_none() {
    let s = setup().await;
    invoices(&s).await;
    s.upsert(
        "invoices",
        json!({"records": [
            {"id": "a", "attributes": {"number": "1"}},
            {"id": "b", "attributes": {"number": "2"}},
            {"id": "c", "attributes": {"number": "3"}}
        ]}),
    )
    .await;
    let response = s
        .app
        .post_json(
            "/api/objects/invoices/data/delete-many",
            &s.key,
            &json!({"ids": ["a", "zzz"]}),
        )
        .await;
    let problem = assert_problem(response, 400, "validation_failed", "unknown id").await;
    assert_eq!(issue_paths(&problem), vec![json!(["ids", 1])]);
    assert_eq!(s.all_ids("invoices").await.len(), 3, "nothing deleted");

    let response = s
        .app
        .post_json(
            "/api/objects/invoices/data/delete-many",
            &s.key,
            &json!({"ids": ["a", "b"]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"deleted": 2})
    );
    assert_eq!(s.all_ids("invoices").await, vec!["c"]);
}

#[tokio::test]
async fn batches_over_the_configured_limit_are_refused_with_the_limit() {
    let app = TestApp::builder()
        .limits(Limits {
            max_batch_records: 2,
            ..Limits::default()
        })
        .spawn()
        .await;
    let workspace = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&workspace, Some(Role::Admin), &[]).await;
    app.post_json("/api/objects", &key, &json!({"name": "Notes"}))
        .await;
    let response = app
        .post_json(
            "/api/objects/notes/data/upsert-many",
            &key,
            &json!({"records": [{}, {}, {}]}),
        )
        .await;
    let problem = assert_problem(response, 400, "validation_failed", "too many records").await;
    assert!(
        problem["issues"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 2"),
        "{problem}"
    );
    assert_eq!(issue_paths(&problem), vec![json!(["records"])]);
}

#[tokio::test]
async fn a_key_without_the_permission_gets_403_whether_or_not_the_object_exists() {
    let s = setup().await;
    invoices(&s).await;
    s.upsert(
        "invoices",
        json!({"records": [{"id": "inv_1", "attributes": {"number": "1"}}]}),
    )
    .await;
    let reader = s.key_with(&[Permission::ObjectsRead]).await;
    let workspace_only = s.key_with(&[Permission::WorkspacesRead]).await;
    let upsert = json!({"records": [{"attributes": {"number": "2"}}]});
    for handle in ["invoices", "missing"] {
        let response = s
            .app
            .post_json(
                &format!("/api/objects/{handle}/data/upsert-many"),
                &reader,
                &upsert,
            )
            .await;
        let problem = assert_problem(response, 403, "insufficient_scope", handle).await;
        assert_eq!(problem["action"], "upsertRecords");
        for (path, action) in [
            (format!("/api/objects/{handle}/data/inv_1"), "getRecord"),
            (format!("/api/objects/{handle}/data/nope"), "getRecord"),
            (format!("/api/objects/{handle}/query"), "queryRecords"),
            (format!("/api/objects/{handle}"), "getObject"),
        ] {
            let response = s.app.get(&path, &workspace_only).await;
            let problem = assert_problem(response, 403, "insufficient_scope", &path).await;
            assert_eq!(problem["action"], action, "{path}");
        }
        let response = s
            .app
            .client
            .delete(s.app.url(&format!("/api/objects/{handle}/data/inv_1")))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap();
        assert_problem(response, 403, "insufficient_scope", "reader deleting").await;
    }
    assert_eq!(s.all_ids("invoices").await, vec!["inv_1"]);
    let response = s.app.get("/api/objects/missing/data/inv_1", &reader).await;
    assert_problem(response, 404, "not_found", "reader, missing object").await;
    let response = s.app.get("/api/objects/invoices/data/nope", &reader).await;
    assert_problem(response, 404, "not_found", "reader, missing record").await;
}

#[tokio::test]
async fn objects_and_records_of_another_workspace_are_not_found() {
    let s = setup().await;
    invoices(&s).await;
    s.upsert(
        "invoices",
        json!({"records": [{"id": "inv_1", "attributes": {"number": "1"}}]}),
    )
    .await;
    let other = s.app.create_workspace("other").await;
    let (other_key, _) = s.app.create_key(&other, Some(Role::Admin), &[]).await;
    for path in [
        "/api/objects/invoices",
        "/api/objects/invoices/data/inv_1",
        "/api/objects/invoices/query",
    ] {
        let response = s.app.get(path, &other_key).await;
        assert_problem(response, 404, "not_found", path).await;
    }
    let response = s
        .app
        .post_json(
            "/api/objects/invoices/data/delete-many",
            &other_key,
            &json!({"ids": ["inv_1"]}),
        )
        .await;
    assert_problem(response, 404, "not_found", "delete-many across workspaces").await;
    assert_eq!(s.all_ids("invoices").await, vec!["inv_1"]);
}

#[tokio::test]
async fn a_policy_about_one_object_holds_on_every_path_that_deletes_its_records() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(crate::helpers::policy_dir()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(
        dir.path().join("protect-invoices.cedar"),
        "// Invoices are kept for the auditors.\n@id(\"protect-invoices\")\nforbid (principal, action == Andi::Action::\"deleteRecords\", resource)\nwhen { (resource is Andi::ObjectDefinition && resource.handle == \"invoices\") || (resource is Andi::Record && resource.objectHandle == \"invoices\") };\n",
    )
    .unwrap();
    let app = TestApp::builder().policies(dir.path()).spawn().await;
    let workspace = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&workspace, Some(Role::Admin), &[]).await;
    let s = Setup {
        app,
        workspace,
        key,
    };
    invoices(&s).await;
    s.upsert(
        "invoices",
        json!({"records": [{"id": "inv_1", "attributes": {"number": "1"}}]}),
    )
    .await;
    let response = s.delete("/api/objects/invoices/data/inv_1").await;
    assert_problem(response, 403, "insufficient_scope", "delete one").await;
    let response = s
        .app
        .post_json(
            "/api/objects/invoices/data/delete-many",
            &s.key,
            &json!({"ids": ["inv_1"]}),
        )
        .await;
    assert_problem(response, 403, "insufficient_scope", "delete many").await;
    assert_eq!(s.all_ids("invoices").await, vec!["inv_1"]);
    assert_eq!(
        s.delete("/api/objects/customers/data/cus_1").await.status(),
        204,
        "other objects are not protected"
    );
}

#[tokio::test]
async fn concurrent_overlapping_upserts_leave_no_duplicate_and_lose_no_record() {
    let s = setup().await;
    s.define(json!({"name": "Contacts", "attributes": {"email": {"type": "email", "unique": true, "required": true}, "n": {"type": "integer"}}}))
        .await;
    // Two clients write 0..150 and 50..200 at once, matching on the unique email.
    let batch = |from: usize, to: usize, client: i64| {
        json!({"matchOn": "email", "records": (from..to)
            .map(|i| json!({"attributes": {"email": format!("c{i}@acme.io"), "n": client}}))
            .collect::<Vec<_>>()})
    };
    let url = s.app.url("/api/objects/contacts/data/upsert-many");
    let mut tasks = Vec::new();
    for round in 0..3 {
        for (from, to, client) in [(0, 150, 1), (50, 200, 2)] {
            let request = s.app.client.post(&url).bearer_auth(&s.key).json(&batch(
                from,
                to,
                client + round * 10,
            ));
            tasks.push(tokio::spawn(async move {
                request.send().await.unwrap().status()
            }));
        }
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let mut emails = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut body = json!({"limit": 1000});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let page = s.query("contacts", body).await;
        for item in page["items"].as_array().unwrap() {
            emails.push(item["attributes"]["email"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let total = emails.len();
    emails.sort();
    emails.dedup();
    assert_eq!(total, 200, "one record per email");
    assert_eq!(emails.len(), 200, "no duplicates");
}
