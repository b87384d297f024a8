//! Policies that read records: every route that reads or writes one record decides on that
//! record with its attributes and authors, batches decide on each record before and after
//! the change (atomically: one denial writes nothing), and `createObject` sees the new
//! definition. The schema's `RecordAttributes` decides what policies may read, and an
//! attribute that cannot be read as declared is refused where it is defined or written.

use andi::authz::load;
use andi::keys::grant::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::policy_files::copy_of_shipped_policies;

struct Fixture {
    app: TestApp,
    admin: String,
    editor: String,
    other_editor: String,
    viewer: String,
    _policies: tempfile::TempDir,
}

/// A server on the shipped policies plus `extra.cedar` (the schema changed by `schema`),
/// with a `customers` object holding `region` and `confidential`, and keys of each role.
async fn fixture_with_schema(extra: &str, schema: impl Fn(String) -> String) -> Fixture {
    let policies = copy_of_shipped_policies();
    std::fs::write(policies.path().join("extra.cedar"), extra).unwrap();
    let schema_path = policies.path().join("schema.cedarschema");
    let changed = schema(std::fs::read_to_string(&schema_path).unwrap());
    std::fs::write(&schema_path, changed).unwrap();
    let app = TestApp::builder().policies(policies.path()).spawn().await;
    let workspace = app.create_workspace("acme").await;
    let (admin, _) = app.create_key(&workspace, Some(Role::Admin), &[]).await;
    let (editor, _) = app.create_key(&workspace, Some(Role::Editor), &[]).await;
    let (other_editor, _) = app.create_key(&workspace, Some(Role::Editor), &[]).await;
    let (viewer, _) = app.create_key(&workspace, Some(Role::Viewer), &[]).await;
    let created = app
        .post_json(
            "/api/objects",
            &admin,
            &json!({"name": "Customers", "attributes": {
                "region": {"type": "select", "options": [{"value": "EU"}, {"value": "US"}]},
                "confidential": {"type": "boolean"},
                "amount": {"type": "number"},
            }}),
        )
        .await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    Fixture {
        app,
        admin,
        editor,
        other_editor,
        viewer,
        _policies: policies,
    }
}

async fn fixture(extra: &str) -> Fixture {
    fixture_with_schema(extra, |schema| schema).await
}

const CONFIDENTIAL: &str = r#"@id("confidential")
forbid (principal is Andi::ApiKey, action, resource is Andi::Record)
when { resource.attributes has confidential && resource.attributes.confidential }
unless { principal in Andi::Role::"admin" };
"#;

impl Fixture {
    async fn upsert(&self, key: &str, records: Value) -> reqwest::Response {
        self.app
            .post_json(
                "/api/objects/customers/data/upsert-many",
                key,
                &json!({ "records": records }),
            )
            .await
    }

    async fn patch(&self, key: &str, records: Value) -> reqwest::Response {
        self.app
            .client
            .patch(self.app.url("/api/objects/customers/data/patch-many"))
            .bearer_auth(key)
            .json(&json!({ "records": records }))
            .send()
            .await
            .unwrap()
    }

    /// The status of the viewer's `GET` of a record.
    async fn viewer_reads(&self, id: &str) -> u16 {
        self.app
            .get(&format!("/api/objects/customers/data/{id}"), &self.viewer)
            .await
            .status()
            .as_u16()
    }

    /// The record as an admin reads it, or None when it is missing.
    async fn record(&self, id: &str) -> Option<Value> {
        let response = self
            .app
            .get(&format!("/api/objects/customers/data/{id}"), &self.admin)
            .await;
        match response.status().as_u16() {
            200 => Some(response.json().await.unwrap()),
            404 => None,
            other => panic!("reading {id} answered {other}"),
        }
    }
}

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

#[tokio::test]
async fn get_record_is_decided_on_the_record_attributes() {
    let f = fixture(
        r#"@id("viewers-read-eu")
forbid (principal in Andi::Role::"viewer", action == Andi::Action::"getRecord", resource is Andi::Record)
unless { resource.attributes has region && resource.attributes.region == "EU" };
"#,
    )
    .await;
    let written = f
        .upsert(
            &f.admin,
            json!([
                {"id": "cus_eu", "attributes": {"region": "EU"}},
                {"id": "cus_us", "attributes": {"region": "US"}},
                {"id": "cus_none", "attributes": {}},
            ]),
        )
        .await;
    assert_eq!(written.status(), 200);
    assert_eq!(f.viewer_reads("cus_eu").await, 200);
    assert_eq!(f.viewer_reads("cus_us").await, 403);
    assert_eq!(
        f.viewer_reads("cus_none").await,
        403,
        "a record without region is not EU"
    );
    let admin = f
        .app
        .get("/api/objects/customers/data/cus_us", &f.admin)
        .await;
    assert_eq!(admin.status(), 200, "the forbid is for viewers only");
}

#[tokio::test]
async fn one_denied_record_fails_the_whole_batch_and_names_it() {
    let f = fixture(CONFIDENTIAL).await;
    let response = f
        .upsert(
            &f.editor,
            json!([
                {"id": "cus_1", "attributes": {"region": "EU"}},
                {"id": "cus_2", "attributes": {"region": "US", "confidential": true}},
            ]),
        )
        .await;
    let body = problem(response, 403).await;
    assert_eq!(body["code"], "records_denied");
    assert_eq!(
        body["deniedRecords"],
        json!([{"index": 1, "id": "cus_2", "state": "after", "policies": ["confidential"]}])
    );
    assert!(
        body["detail"].as_str().unwrap().contains("`cus_2`"),
        "{body}"
    );
    assert_eq!(
        f.record("cus_1").await,
        None,
        "nothing of the batch is written"
    );
}

#[tokio::test]
async fn a_batch_is_decided_on_each_record_as_it_is_and_as_it_would_be() {
    let f = fixture(CONFIDENTIAL).await;
    let seeded = f
        .upsert(
            &f.admin,
            json!([
                {"id": "cus_secret", "attributes": {"confidential": true}},
                {"id": "cus_open", "attributes": {"confidential": false}},
            ]),
        )
        .await;
    assert_eq!(seeded.status(), 200);

    // Unmarking a confidential record: denied on the record as it is.
    let unmark = f
        .patch(
            &f.editor,
            json!([{"id": "cus_secret", "attributes": {"confidential": false}}]),
        )
        .await;
    let body = problem(unmark, 403).await;
    assert_eq!(body["deniedRecords"][0]["state"], "before");
    // Marking an open record: denied on the record as the patch would leave it.
    let mark = f
        .patch(
            &f.editor,
            json!([{"id": "cus_open", "attributes": {"confidential": true}}]),
        )
        .await;
    let body = problem(mark, 403).await;
    assert_eq!(body["deniedRecords"][0]["state"], "after");
    assert_eq!(
        f.record("cus_open").await.unwrap()["attributes"]["confidential"],
        false
    );

    // Deleting many: decided on each record deleted; nothing is deleted.
    let deleted = f
        .app
        .post_json(
            "/api/objects/customers/data/delete-many",
            &f.editor,
            &json!({"ids": ["cus_open", "cus_secret"]}),
        )
        .await;
    let body = problem(deleted, 403).await;
    assert_eq!(
        body["deniedRecords"],
        json!([{"index": 1, "id": "cus_secret", "state": "before", "policies": ["confidential"]}])
    );
    assert!(f.record("cus_open").await.is_some());
    // Deleting one.
    let one = f
        .app
        .client
        .delete(f.app.url("/api/objects/customers/data/cus_secret"))
        .bearer_auth(&f.editor)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 403);
    // A patch the policies allow still works.
    let allowed = f
        .patch(
            &f.editor,
            json!([{"id": "cus_open", "attributes": {"region": "EU"}}]),
        )
        .await;
    assert_eq!(allowed.status(), 200);
}

#[tokio::test]
async fn records_carry_their_authors_and_only_the_creator_changes_one() {
    let f = fixture(
        r#"@id("creator-changes-record")
forbid (principal is Andi::ApiKey, action in Andi::Action::"objects.write", resource is Andi::Record)
unless { resource has createdBy && resource.createdBy == principal };
"#,
    )
    .await;
    let created = f
        .upsert(
            &f.editor,
            json!([{"id": "cus_1", "attributes": {"region": "EU"}}]),
        )
        .await;
    assert_eq!(created.status(), 200);
    let body: Value = created.json().await.unwrap();
    let creator = body["records"][0]["createdBy"].as_str().unwrap().to_owned();
    assert!(creator.starts_with("key_"), "{body}");
    assert_eq!(body["records"][0]["updatedBy"], creator.as_str());

    let by_other = f
        .patch(
            &f.other_editor,
            json!([{"id": "cus_1", "attributes": {"region": "US"}}]),
        )
        .await;
    assert_eq!(by_other.status(), 403);
    let by_creator = f
        .patch(
            &f.editor,
            json!([{"id": "cus_1", "attributes": {"region": "US"}}]),
        )
        .await;
    assert_eq!(by_creator.status(), 200);
    let record = f.record("cus_1").await.unwrap();
    assert_eq!(record["attributes"]["region"], "US");
    assert_eq!(record["createdBy"], creator.as_str());
}

#[tokio::test]
async fn create_object_is_decided_on_the_new_definition() {
    let f = fixture(
        r#"@id("no-scratch-objects")
forbid (principal, action == Andi::Action::"createObject", resource is Andi::ObjectDefinition)
when { resource.handle like "scratch*" || (resource has attributeKeys && resource.attributeKeys.contains("ssn")) };
"#,
    )
    .await;
    let create = |handle: &'static str, attribute: &'static str| {
        let app = &f.app;
        let admin = &f.admin;
        async move {
            app.post_json(
                "/api/objects",
                admin,
                &json!({"name": handle, "handle": handle, "attributes": {attribute: {"type": "string"}}}),
            )
            .await
            .status()
        }
    };
    assert_eq!(create("scratchpad", "note").await, 403);
    assert_eq!(create("people", "ssn").await, 403);
    assert_eq!(create("people", "email").await, 201);
}

#[tokio::test]
async fn an_attribute_the_policies_read_as_another_type_is_refused_naming_both_sides() {
    let f = fixture("").await;
    let response = f
        .app
        .post_json(
            "/api/objects",
            &f.admin,
            &json!({"name": "Orders", "attributes": {"region": {"type": "integer"}}}),
        )
        .await;
    let body = problem(response, 400).await;
    let issue = &body["issues"][0];
    assert_eq!(issue["path"], json!(["attributes", "region", "type"]));
    let message = issue["message"].as_str().unwrap();
    assert!(
        message.contains("`integer`") && message.contains("String"),
        "{message}"
    );

    let patch = f
        .app
        .client
        .patch(f.app.url("/api/objects/customers"))
        .bearer_auth(&f.admin)
        .json(&json!({"attributes": {"confidential": {"type": "text"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 400);
}

#[tokio::test]
async fn a_value_the_declared_type_cannot_hold_is_refused_when_written() {
    let f = fixture_with_schema(
        r#"@id("small-amounts")
forbid (principal, action == Andi::Action::"getRecord", resource is Andi::Record)
when { resource.attributes has amount && resource.attributes.amount.greaterThan(decimal("1000.0")) };
"#,
        |schema| schema.replace("confidential?: Bool,", "confidential?: Bool,\n    amount?: decimal,"),
    )
    .await;
    let response = f
        .upsert(
            &f.admin,
            json!([{"id": "cus_1", "attributes": {"amount": 1.23456}}]),
        )
        .await;
    let body = problem(response, 400).await;
    assert_eq!(
        body["issues"][0]["path"],
        json!(["records", 0, "attributes", "amount"])
    );
    let written = f
        .upsert(
            &f.admin,
            json!([
                {"id": "cus_small", "attributes": {"amount": 999.5}},
                {"id": "cus_big", "attributes": {"amount": 1000.25}},
            ]),
        )
        .await;
    assert_eq!(written.status(), 200);
    assert_eq!(f.viewer_reads("cus_small").await, 200);
    // Hidden, so answered as a missing record would be.
    assert_eq!(
        f.viewer_reads("cus_big").await,
        404,
        "numbers are compared as decimals"
    );
}

#[test]
fn a_record_attribute_declared_as_an_entity_or_required_is_refused_at_load() {
    let policies = copy_of_shipped_policies();
    let schema_path = policies.path().join("schema.cedarschema");
    let schema = std::fs::read_to_string(&schema_path).unwrap();
    let line = schema
        .lines()
        .position(|l| l.contains("entity Record"))
        .unwrap()
        + 1;
    std::fs::write(
        &schema_path,
        schema.replace("region?: String,", "region: String,\n    owner?: ApiKey,"),
    )
    .unwrap();
    let errors = load(policies.path()).unwrap_err().to_string();
    assert!(
        errors.contains(&format!("schema.cedarschema:{}", line + 1)),
        "{errors}"
    );
    assert!(errors.contains("`region?`"), "{errors}");
    assert!(errors.contains("`owner`"), "{errors}");
}

/// Every page of a query by `key`, following `nextCursor` to the end: (page sizes, ids).
async fn walk(f: &Fixture, object: &str, key: &str, limit: usize) -> (Vec<usize>, Vec<String>) {
    let (mut sizes, mut ids) = (Vec::new(), Vec::new());
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/objects/{object}/query?limit={limit}&sort=id");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let response = f.app.get(&path, key).await;
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        sizes.push(items.len());
        ids.extend(items.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (sizes, ids),
        }
        assert!(sizes.len() < 100, "the walk ends");
    }
}

#[tokio::test]
async fn a_query_returns_exactly_the_records_the_key_may_read_in_order_page_by_page() {
    let f = fixture(CONFIDENTIAL).await;
    let records: Vec<Value> = (0..25)
        .map(|i| json!({"id": format!("cus_{i:02}"), "attributes": {"confidential": i % 3 == 0}}))
        .collect();
    assert_eq!(
        f.upsert(&f.admin, Value::Array(records)).await.status(),
        200
    );

    let (_, seen) = walk(&f, "customers", &f.viewer, 4).await;
    let mut readable = Vec::new();
    for i in 0..25 {
        let id = format!("cus_{i:02}");
        let status = f.viewer_reads(&id).await;
        if status == 200 {
            readable.push(id);
        } else {
            assert_eq!(status, 404, "a hidden record reads as a missing one");
        }
    }
    assert_eq!(readable.len(), 16);
    assert_eq!(
        seen, readable,
        "the pages hold exactly what getRecord allows"
    );
    let (_, all) = walk(&f, "customers", &f.admin, 7).await;
    assert_eq!(all.len(), 25, "admins see every record");
}

#[tokio::test]
async fn a_query_over_mostly_hidden_records_fills_its_page_from_the_database() {
    let f = fixture(CONFIDENTIAL).await;
    let records: Vec<Value> = (0..40)
        .map(|i| json!({"id": format!("cus_{i:02}"), "attributes": {"confidential": i != 37}}))
        .collect();
    assert_eq!(
        f.upsert(&f.admin, Value::Array(records)).await.status(),
        200
    );
    // The forbid has an SQL form, so the database returns only the readable record.
    let (sizes, seen) = walk(&f, "customers", &f.viewer, 2).await;
    assert_eq!(seen, vec!["cus_37".to_owned()]);
    assert_eq!(sizes, vec![1], "one request, one full page");
    let missing = f
        .app
        .get("/api/objects/customers/data/cus_00", &f.viewer)
        .await;
    let body = problem(missing, 404).await;
    assert_eq!(body["code"], "not_found");
}

/// Hides tickets whose doubled rank passes 70: arithmetic on a record's value has no SQL
/// form, so each row the database returns is decided on its own.
const DOUBLED_RANK: &str = r#"@id("doubled-rank")
forbid (principal is Andi::ApiKey, action, resource is Andi::Record)
when { resource.attributes has rank && resource.attributes.rank * 2 > 70 }
unless { principal in Andi::Role::"admin" };
"#;

#[tokio::test]
async fn a_policy_with_no_sql_form_is_decided_row_by_row_in_bounded_short_pages() {
    let f = fixture_with_schema(DOUBLED_RANK, |schema| {
        schema.replace(
            "confidential?: Bool,",
            "confidential?: Bool,\n    rank?: Long,",
        )
    })
    .await;
    let created = f
        .app
        .post_json(
            "/api/objects",
            &f.admin,
            &json!({"name": "Tickets", "attributes": {"rank": {"type": "integer"}}}),
        )
        .await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let records: Vec<Value> = (0..40)
        .map(|i| json!({"id": format!("tic_{i:02}"), "attributes": {"rank": if i == 37 { 1 } else { 36 + i }}}))
        .collect();
    let written = f
        .app
        .post_json(
            "/api/objects/tickets/data/upsert-many",
            &f.admin,
            &json!({ "records": records }),
        )
        .await;
    assert_eq!(written.status(), 200);
    let (sizes, seen) = walk(&f, "tickets", &f.viewer, 2).await;
    assert_eq!(seen, vec!["tic_37".to_owned()]);
    assert!(
        sizes.len() > 1 && sizes[0] == 0,
        "a page examines a bounded number of rows, then hands a cursor on: {sizes:?}"
    );
    let (_, all) = walk(&f, "tickets", &f.admin, 7).await;
    assert_eq!(all.len(), 40, "admins see every ticket");
}

#[tokio::test]
async fn a_schema_the_stored_definitions_contradict_is_refused_on_reload() {
    let f = fixture("").await;
    let schema_path = f._policies.path().join("schema.cedarschema");
    let schema = std::fs::read_to_string(&schema_path).unwrap();
    std::fs::write(
        &schema_path,
        schema.replace("region?: String,", "region?: Long,"),
    )
    .unwrap();
    let mut body = Value::Null;
    for _ in 0..400 {
        body = f
            .app
            .client
            .get(f.app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !body["lastReloadError"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let errors = body["lastReloadError"]["errors"].to_string();
    assert!(
        errors.contains("object `customers`")
            && errors.contains("`select`")
            && errors.contains("Long"),
        "{body}"
    );
    // The last good set keeps serving: region is still read as a String.
    let created = f
        .app
        .post_json(
            "/api/objects",
            &f.admin,
            &json!({"name": "Orders", "attributes": {"region": {"type": "integer"}}}),
        )
        .await;
    assert_eq!(created.status(), 400);
}

#[tokio::test]
async fn a_stored_value_the_policies_cannot_read_hides_only_its_own_record() {
    // Written while no policy read `amount`; then the schema declares it as a decimal, which
    // 1.23456 cannot be. Only that record is hidden; the others still share one decision.
    let f = fixture("").await;
    let written = f
        .upsert(
            &f.admin,
            json!([
                {"id": "cus_a", "attributes": {"amount": 1.23456}},
                {"id": "cus_b", "attributes": {"amount": 2.5}},
                {"id": "cus_c", "attributes": {}},
            ]),
        )
        .await;
    assert_eq!(written.status(), 200);
    let policies = copy_of_shipped_policies();
    let schema_path = policies.path().join("schema.cedarschema");
    let schema = std::fs::read_to_string(&schema_path).unwrap();
    std::fs::write(
        &schema_path,
        schema.replace(
            "confidential?: Bool,",
            "confidential?: Bool,\n    amount?: decimal,",
        ),
    )
    .unwrap();
    let declared = TestApp::builder()
        .policies(policies.path())
        .database_of(&f.app)
        .spawn()
        .await;
    let page: Value = declared
        .get("/api/objects/customers/query?sort=id", &f.viewer)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cus_b", "cus_c"]);
}
