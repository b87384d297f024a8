//! Filterable attributes: declared on a definition, indexed on the object's live records,
//! and read by the database for eq, in and range filters on them.

use andi::http::limits::Limits;
use andi::objects::handle::ObjectHandle;
use andi::objects::query::RecordFilter;
use andi::objects::query::parse::parse_query_body;
use andi::store;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};

use crate::helpers::assert_problem;
use crate::object_support::{Setup, ids, issue_paths, setup};

fn events(filterable: bool) -> Value {
    json!({"name": "Events", "attributes": {
        "kind": {"type": "string", "filterable": filterable},
        "amount": {"type": "number", "filterable": filterable},
        "note": {"type": "string"}
    }})
}

/// 2,000 events: kinds k0..k9 in turn, amounts 0..999 twice, a note on every other one.
async fn load(s: &Setup) {
    for batch in 0..2 {
        let records: Vec<Value> = (batch * 1000..(batch + 1) * 1000)
            .map(|i| {
                let mut attributes = json!({"kind": format!("k{}", i % 10), "amount": i % 1000});
                if i % 2 == 0 {
                    attributes["note"] = json!("n");
                }
                json!({"id": format!("e{i:04}"), "attributes": attributes})
            })
            .collect();
        s.upsert("events", json!({"records": records})).await;
    }
}

/// The plan the database makes for a query body on `events`, one line per step.
async fn plan(s: &Setup, body: Value) -> String {
    let db = &s.app.db;
    let definition = store::objects::find_definition_by_handle(
        db,
        &s.workspace.id,
        &ObjectHandle::parse("events").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let query = parse_query_body(&body, &definition, Limits::default().query()).unwrap();
    let backend = db.get_database_backend();
    let (sql, values) = store::record_query::sql(
        backend,
        &s.workspace.id,
        &definition.id,
        &query,
        &RecordFilter::True,
    );
    let txn = db.begin().await.unwrap();
    let explain = match backend {
        DbBackend::Postgres => {
            // Fresh statistics, as a table of this size would have after autovacuum. 2,000
            // rows fit a few pages, where PostgreSQL rightly prefers a scan to any index;
            // without one, the plan shows which index it would read (at 10^5 records it
            // reads this one unprompted: the objects bench prints that plan).
            txn.execute_unprepared("ANALYZE records").await.unwrap();
            txn.execute_unprepared("SET LOCAL enable_seqscan = off")
                .await
                .unwrap();
            format!("EXPLAIN {sql}")
        }
        _ => {
            txn.execute_unprepared("ANALYZE").await.unwrap();
            format!("EXPLAIN QUERY PLAN {sql}")
        }
    };
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(backend, explain, values.0))
        .await
        .unwrap();
    let column = match backend {
        DbBackend::Postgres => "QUERY PLAN",
        _ => "detail",
    };
    let lines: Vec<String> = rows
        .iter()
        .map(|row| row.try_get::<String>("", column).unwrap())
        .collect();
    txn.rollback().await.unwrap();
    lines.join("\n")
}

#[tokio::test]
async fn a_definition_shows_which_attributes_are_filterable() {
    let s = setup().await;
    let created = s.define(events(true)).await;
    assert_eq!(created["attributes"]["kind"]["filterable"], true);
    assert_eq!(created["attributes"]["note"]["filterable"], false);
}

#[tokio::test]
async fn text_multiselect_and_json_attributes_cannot_be_filterable() {
    let s = setup().await;
    let response = s
        .app
        .post_json(
            "/api/objects",
            &s.key,
            &json!({"name": "Notes", "attributes": {
                "body": {"type": "text", "filterable": true},
                "tags": {"type": "multiselect", "options": [{"value": "a"}], "filterable": true},
                "raw": {"type": "json", "filterable": true},
                "ok": {"type": "date", "filterable": "yes"}
            }}),
        )
        .await;
    let problem = assert_problem(response, 400, "validation_failed", "filterable").await;
    assert_eq!(
        issue_paths(&problem),
        vec![
            json!(["attributes", "body", "filterable"]),
            json!(["attributes", "tags", "filterable"]),
            json!(["attributes", "raw", "filterable"]),
            json!(["attributes", "ok", "filterable"]),
        ],
        "{problem}"
    );
}

#[tokio::test]
async fn filters_on_filterable_attributes_read_its_index_and_answer_as_a_scan_would() {
    let s = setup().await;
    s.define(events(true)).await;
    load(&s).await;
    // Whether the index pays for an `in` is the planner's call on a table this small:
    // PostgreSQL reads the default-order index and filters, SQLite reads the attribute's.
    let cases = [
        (json!({"kind": {"eq": "k3"}}), "eq", 10, true),
        (json!({"amount": {"in": [100, 101]}}), "in", 4, false),
        (json!({"amount": {"gte": 100, "lt": 102}}), "range", 4, true),
    ];
    for (filter, name, found, indexed) in cases {
        let body = json!({"where": filter, "limit": 10});
        let plan = plan(&s, body.clone()).await;
        assert!(
            !indexed || plan.contains("idx_records_attr_"),
            "{name}: {plan}"
        );
        let page = s.query("events", body).await;
        assert_eq!(ids(&page).len(), found, "{name}: {page}");
    }
    let page = s
        .query(
            "events",
            json!({"where": {"amount": {"gte": 100, "lt": 102}}, "sort": ["-amount"], "limit": 10}),
        )
        .await;
    assert_eq!(ids(&page), ["e0101", "e1101", "e0100", "e1100"]);
    let page = s
        .query(
            "events",
            json!({"where": {"kind": {"eq": "k3"}, "note": {"exists": false}}, "limit": 3}),
        )
        .await;
    assert_eq!(ids(&page), ["e0003", "e0013", "e0023"]);
}

#[tokio::test]
async fn declaring_an_attribute_filterable_on_a_live_object_builds_its_index_and_undeclaring_drops_it()
 {
    let s = setup().await;
    s.define(events(false)).await;
    load(&s).await;
    let body = json!({"where": {"kind": {"eq": "k3"}}, "limit": 10});
    assert!(!plan(&s, body.clone()).await.contains("idx_records_attr_"));

    let response = s
        .patch_json(
            "/api/objects/events",
            &json!({"attributes": {"kind": {"type": "string", "filterable": true}}}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        plan(&s, body.clone()).await.contains("idx_records_attr_"),
        "after PATCH"
    );
    let page = s.query("events", body.clone()).await;
    assert_eq!(ids(&page)[..2], ["e0003", "e0013"]);

    let response = s
        .patch_json(
            "/api/objects/events",
            &json!({"attributes": {"kind": {"type": "string"}}}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(!plan(&s, body).await.contains("idx_records_attr_"));
}
