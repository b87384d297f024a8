//! A definition change the records must fit (a new type, a newly required or unique
//! attribute) is checked in steps: while it is pending, its progress is readable, another
//! change waits, and writes of records the check has passed must fit it; records it has not
//! reached are checked when it gets there. A refused change leaves every record as it was;
//! an applied one rewrites values into the new type's normal form. A change cut short
//! resumes when a server starts.
//!
//! The tests record the change as `PATCH` does but drive its steps themselves, so the
//! change stands still between them: the server's own worker polls only once an hour here.

use std::time::Duration;

use andi::objects::change::{self, Stepped};
use andi::objects::definition::parse_definition_patch;
use andi::objects::evolve::{self, Patched};
use andi::objects::handle::ObjectHandle;
use andi::objects::sweep;
use andi::store;
use chrono::{SubsecRound, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};
use crate::object_support::{Setup, issue_paths, setup_on};

async fn setup_without_polling() -> Setup {
    let app = TestApp::builder()
        .background_poll(Duration::from_secs(3_600))
        .spawn()
        .await;
    started(&app).await;
    setup_on(app).await
}

/// Waits for the end of the server's first run of definition changes, which it makes as it
/// starts: after it, only a `PATCH` through the server (or an hour) starts another.
async fn started(app: &TestApp) {
    app.state
        .changes
        .runs()
        .wait_for(|runs| *runs >= 1)
        .await
        .unwrap();
}

/// Six items, `code` c0…c5 and `amount` 0.0…5.0 (numbers with a fraction part in JSON).
async fn items(s: &Setup) -> String {
    let created = s
        .define(json!({"name": "Items", "attributes": {
            "code": {"type": "string"},
            "amount": {"type": "number"}
        }}))
        .await;
    let records: Vec<Value> = (0..6)
        .map(|i| json!({"attributes": {"code": format!("c{i}"), "amount": f64::from(i)}}))
        .collect();
    s.upsert("items", json!({"records": records})).await;
    created["id"].as_str().unwrap().to_owned()
}

/// Patches `items` as `PATCH /api/objects/items` does, without waking any worker.
async fn patch_quietly(s: &Setup, patch: Value) -> Patched {
    let handle = ObjectHandle::parse("items").unwrap();
    let txn = store::begin_write(&s.app.db).await.unwrap();
    let definition = store::objects::find_definition_by_handle(&txn, &s.workspace.id, &handle)
        .await
        .unwrap()
        .unwrap();
    let patch = parse_definition_patch(&patch).unwrap();
    let now = Utc::now().trunc_subsecs(6);
    let patched = evolve::apply_patch(&txn, &definition, patch, 100, now)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    patched
}

/// Records a change the records must fit, pending until the test steps it.
async fn request_change(s: &Setup, patch: Value) {
    let patched = patch_quietly(s, patch).await;
    assert!(matches!(patched, Patched::Pending), "the change is pending");
}

async fn step(s: &Setup, object_id: &str, records: u64) -> Stepped {
    let now = Utc::now().trunc_subsecs(6);
    change::step(&s.app.db, &s.workspace.id, object_id, records, now)
        .await
        .unwrap()
}

/// Every record of `items` by id: `(id, attributes)`.
async fn records(s: &Setup) -> Vec<(String, Value)> {
    let page = s.query("items", json!({"limit": 100})).await;
    let mut records: Vec<(String, Value)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["attributes"].clone(),
            )
        })
        .collect();
    records.sort_by(|a, b| a.0.cmp(&b.0));
    records
}

async fn patch_records(s: &Setup, body: Value) -> reqwest::Response {
    s.patch_json("/api/objects/items/data/patch-many", &body)
        .await
}

async fn change_of(s: &Setup) -> Value {
    let response = s.app.get("/api/objects/items/change", &s.key).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn definition(s: &Setup) -> Value {
    let response = s.app.get("/api/objects/items", &s.key).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn writes_during_a_pending_change_must_fit_it_where_the_check_has_passed() {
    let s = setup_without_polling().await;
    let object_id = items(&s).await;
    let response = s.app.get("/api/objects/items/change", &s.key).await;
    assert_problem(response, 404, "not_found", "no change yet").await;

    let change = json!({"attributes": {
        "code": {"type": "string", "required": true, "unique": true},
        "amount": {"type": "integer"}
    }});
    request_change(&s, change.clone()).await;
    assert!(matches!(step(&s, &object_id, 3).await, Stepped::Progress));
    let progress = change_of(&s).await;
    assert_eq!(progress["state"], "checking");
    assert_eq!(progress["recordsChecked"], 3);
    assert_eq!(progress["attributes"]["amount"]["type"], "integer");

    let response = s
        .patch_json("/api/objects/items", &json!({"description": "x"}))
        .await;
    assert_problem(
        response,
        409,
        "definition_change_in_progress",
        "a second change",
    )
    .await;

    let all = records(&s).await;
    let (checked, unchecked) = all.split_at(3);
    let response = patch_records(
        &s,
        json!({"records": [
            {"id": checked[0].0, "attributes": {"code": null}},
            {"id": checked[1].0, "attributes": {"amount": 1.5}},
            {"id": checked[2].0, "attributes": {"code": checked[0].1["code"]}}
        ]}),
    )
    .await;
    let problem = assert_problem(response, 400, "validation_failed", "checked records").await;
    assert_eq!(
        issue_paths(&problem),
        vec![
            json!(["records", 0, "attributes", "code"]),
            json!(["records", 1, "attributes", "amount"]),
        ],
        "a checked record must keep a code and take a whole amount: {problem}"
    );
    let response = patch_records(
        &s,
        json!({"records": [{"id": checked[2].0, "attributes": {"code": checked[0].1["code"]}}]}),
    )
    .await;
    let problem = assert_problem(response, 400, "validation_failed", "a taken code").await;
    assert!(
        problem["issues"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&checked[0].0),
        "the issue names the record holding the code: {problem}"
    );
    let response = patch_records(
        &s,
        json!({"records": [{"id": unchecked[0].0, "attributes": {"amount": 7.5}}]}),
    )
    .await;
    assert_eq!(
        response.status(),
        200,
        "a record the check has not reached is checked when it gets there"
    );

    while matches!(step(&s, &object_id, 3).await, Stepped::Progress) {}
    let refused = change_of(&s).await;
    assert_eq!(refused["state"], "refused");
    assert_eq!(refused["blocking"], json!({"amount": 1}));
    let kept = definition(&s).await;
    assert_eq!(kept["attributes"]["amount"]["type"], "number");
    assert_eq!(kept["attributes"]["code"]["unique"], false);
    assert_eq!(
        records(&s).await[..3],
        all[..3],
        "a refused change leaves the records as they were (amounts keep their 1.0)"
    );

    let response = patch_records(
        &s,
        json!({"records": [{"id": unchecked[0].0, "attributes": {"amount": 7}}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let response = s.patch_json("/api/objects/items", &change).await;
    assert_eq!(response.status(), 200, "applied by the server's worker");
    let applied: Value = response.json().await.unwrap();
    assert_eq!(applied["attributes"]["amount"]["type"], "integer");
    assert_eq!(applied["attributes"]["code"]["required"], true);
    assert_eq!(change_of(&s).await["state"], "applied");
    for (id, attributes) in records(&s).await {
        assert!(
            attributes["amount"].is_u64(),
            "{id}: the amount is rewritten as an integer, not {}",
            attributes["amount"]
        );
    }
    let response = s
        .upsert_status(json!({"records": [{"attributes": {"code": "c1", "amount": 1}}]}))
        .await;
    assert_eq!(response, 400, "`code` is unique now");
}

#[tokio::test]
async fn a_change_cut_short_resumes_when_a_server_starts() {
    let s = setup_without_polling().await;
    let object_id = items(&s).await;
    request_change(
        &s,
        json!({"attributes": {"amount": {"type": "integer", "required": true}}}),
    )
    .await;
    assert!(matches!(step(&s, &object_id, 2).await, Stepped::Progress));
    assert_eq!(
        definition(&s).await["attributes"]["amount"]["type"],
        "number"
    );

    let restarted = TestApp::builder()
        .background_poll(Duration::from_secs(3_600))
        .database_of(&s.app)
        .spawn()
        .await;
    let mut state = Value::Null;
    for _ in 0..300 {
        let response = restarted.get("/api/objects/items/change", &s.key).await;
        state = response.json::<Value>().await.unwrap()["state"].clone();
        if state == "applied" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "applied", "the started server finished the change");
    let response = restarted.get("/api/objects/items", &s.key).await;
    let applied: Value = response.json().await.unwrap();
    assert_eq!(applied["attributes"]["amount"]["type"], "integer");
    assert!(
        records(&s).await.iter().all(|(_, a)| a["amount"].is_u64()),
        "every amount is rewritten"
    );
}

/// How many unique values of `key` the object's records hold.
async fn claims_of(s: &Setup, object_id: &str, key: &str) -> i64 {
    let backend = s.app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT COUNT(*) AS n FROM record_unique_values WHERE object_id = $1 AND attribute_key = $2"
        }
        _ => {
            "SELECT COUNT(*) AS n FROM record_unique_values WHERE object_id = ? AND attribute_key = ?"
        }
    };
    let row = s
        .app
        .db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [object_id.into(), key.into()],
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::test]
async fn unique_values_of_an_attribute_made_not_unique_are_released_in_steps_first() {
    let s = setup_without_polling().await;
    let object_id = items(&s).await;
    let response = s
        .patch_json(
            "/api/objects/items",
            &json!({"attributes": {"code": {"type": "string", "unique": true}}}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(claims_of(&s, &object_id, "code").await, 6);

    // Not unique, without waking the server's sweeper.
    let patched = patch_quietly(&s, json!({"attributes": {"code": {"type": "string"}}})).await;
    assert!(matches!(patched, Patched::Applied { swept: true, .. }));
    assert_eq!(
        s.upsert_status(json!({"records": [{"attributes": {"code": "c1"}}]}))
            .await,
        200,
        "`code` is not unique: its claims, still stored, are not consulted"
    );

    for (change, code) in [
        (
            json!({"attributes": {"code": {"type": "string", "unique": true}}}),
            "unique_values_being_released",
        ),
        (
            json!({"attributes": {"code": null}}),
            "unique_values_being_released",
        ),
    ] {
        let response = s.patch_json("/api/objects/items", &change).await;
        assert_problem(response, 409, code, &change.to_string()).await;
    }
    sweep::sweep_pending(&s.app.db).await.unwrap();
    assert_eq!(claims_of(&s, &object_id, "code").await, 0);
    let response = s
        .patch_json(
            "/api/objects/items",
            &json!({"attributes": {"code": {"type": "string", "unique": true}}}),
        )
        .await;
    let problem = assert_problem(response, 409, "records_block_change", "c1 twice").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("1 record(s) block the change of `code`"),
        "{problem}"
    );
    assert_eq!(
        claims_of(&s, &object_id, "code").await,
        0,
        "the refused change released what it claimed"
    );
}

#[tokio::test]
async fn a_unique_attribute_cannot_change_to_a_type_that_compares_values_otherwise() {
    let s = setup_without_polling().await;
    s.define(json!({"name": "Items", "attributes": {
        "contact": {"type": "string", "unique": true},
        "at": {"type": "text", "unique": true}
    }}))
    .await;
    for (key, kind) in [("contact", "email"), ("at", "datetime")] {
        let response = s
            .patch_json(
                "/api/objects/items",
                &json!({"attributes": {key: {"type": kind, "unique": true}}}),
            )
            .await;
        let problem = assert_problem(response, 400, "validation_failed", kind).await;
        assert_eq!(issue_paths(&problem), vec![json!(["attributes", key])]);
        let response = s
            .patch_json(
                "/api/objects/items",
                &json!({"attributes": {key: {"type": kind}}}),
            )
            .await;
        assert_eq!(response.status(), 200, "{key}: the same type, not unique");
    }
}
