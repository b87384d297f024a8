//! Removing an attribute: the definition loses it at once and reads never show its values
//! again; the values leave the stored records in steps afterwards, also after a restart
//! that cut the sweep short; the attribute cannot be added back while old values remain.

use std::time::Duration;

use andi::objects::handle::AttributeKey;
use andi::store::attribute_sweeps;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};
use crate::object_support::{Setup, setup};

/// Records of the object (live ones) whose stored attributes still hold `key`.
async fn stored_with(db: &DatabaseConnection, object_id: &str, key: &str) -> i64 {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT COUNT(*) AS n FROM records WHERE object_id = $1 AND deleted_at IS NULL \
             AND jsonb_exists(attributes, $2)"
        }
        _ => {
            "SELECT COUNT(*) AS n FROM records WHERE object_id = ? AND deleted_at IS NULL \
             AND json_type(attributes, '$.' || ?) IS NOT NULL"
        }
    };
    let row = db
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

/// Waits (at most a minute) until no stored record holds `key` and its sweep is finished.
async fn swept(db: &DatabaseConnection, object_id: &str, key: &str) {
    let attribute = AttributeKey::parse(key).unwrap();
    for _ in 0..600 {
        if !attribute_sweeps::is_pending(db, object_id, &attribute)
            .await
            .unwrap()
        {
            assert_eq!(
                stored_with(db, object_id, key).await,
                0,
                "a finished sweep left `{key}` in stored records"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the sweep of `{key}` did not finish within a minute");
}

/// An object `items` with `region` and `note` and `n` records, all holding both.
async fn items(s: &Setup, n: usize) -> String {
    let created = s
        .define(json!({"name": "Items", "attributes": {"region": {"type": "string"}, "note": {"type": "string"}}}))
        .await;
    for start in (0..n).step_by(1_000) {
        let records: Vec<Value> = (start..(start + 1_000).min(n))
            .map(|i| json!({"id": format!("r{i:05}"), "attributes": {"region": "EU", "note": format!("n{i}")}}))
            .collect();
        s.upsert("items", json!({"records": records})).await;
    }
    created["id"].as_str().unwrap().to_owned()
}

async fn attributes_of(app: &TestApp, key: &str, id: &str) -> Value {
    let response = app.get(&format!("/api/objects/items/data/{id}"), key).await;
    assert_eq!(response.status(), 200);
    let record: Value = response.json().await.unwrap();
    record["attributes"].clone()
}

#[tokio::test]
async fn a_removed_attribute_is_gone_from_reads_at_once_and_from_every_stored_record_after() {
    let s = setup().await;
    let object_id = items(&s, 2_500).await;

    let response = s
        .patch_json(
            "/api/objects/items",
            &json!({"attributes": {"region": null}}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        attributes_of(&s.app, &s.key, "r02499").await,
        json!({"note": "n2499"}),
        "the definition has no `region`, so no read shows one"
    );
    let response = s
        .app
        .post_json(
            "/api/objects/items/query",
            &s.key,
            &json!({"where": {"region": {"eq": "EU"}}}),
        )
        .await;
    assert_eq!(response.status(), 400, "`region` is no longer a field");

    swept(&s.app.db, &object_id, "region").await;
    let response = s
        .patch_json(
            "/api/objects/items",
            &json!({"attributes": {"region": {"type": "text", "required": false}}}),
        )
        .await;
    assert_eq!(response.status(), 200, "added again, as text");
    assert_eq!(
        attributes_of(&s.app, &s.key, "r00000").await,
        json!({"note": "n0"}),
        "no old value comes back"
    );
}

#[tokio::test]
async fn a_sweep_cut_short_resumes_at_the_next_start_and_blocks_the_attribute_until_done() {
    let s = setup().await;
    let object_id = items(&s, 1_200).await;
    // What a crash right after the removal committed leaves: the definition without
    // `region`, the sweep recorded, every stored record still holding a value.
    let response = s
        .patch_json("/api/objects/items", &json!({"attributes": {"note": null}}))
        .await;
    assert_eq!(response.status(), 200);
    swept(&s.app.db, &object_id, "note").await;
    let db = &s.app.db;
    let backend = db.get_database_backend();
    let restore = match backend {
        DbBackend::Postgres => {
            r#"UPDATE records SET attributes = attributes || '{"note": "stale"}'::jsonb WHERE object_id = $1"#
        }
        _ => {
            r#"UPDATE records SET attributes = json_set(attributes, '$.note', 'stale') WHERE object_id = ?"#
        }
    };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        restore,
        [object_id.as_str().into()],
    ))
    .await
    .unwrap();
    attribute_sweeps::request(
        db,
        &s.workspace.id,
        &object_id,
        &AttributeKey::parse("note").unwrap(),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(stored_with(db, &object_id, "note").await, 1_200);

    assert_eq!(
        attributes_of(&s.app, &s.key, "r00007").await,
        json!({"region": "EU"}),
        "values of an attribute the definition lacks are never read"
    );
    let add_again = json!({"attributes": {"note": {"type": "string"}}});
    let response = s.patch_json("/api/objects/items", &add_again).await;
    assert_problem(
        response,
        409,
        "attribute_being_removed",
        "old values would come back",
    )
    .await;

    // The server stops; the next one to start on the database finishes the sweep.
    let restart = TestApp::builder().database_of(&s.app);
    let Setup {
        app,
        workspace,
        key,
    } = s;
    app.stop().await;
    let s = Setup {
        app: restart.spawn().await,
        workspace,
        key,
    };
    swept(&s.app.db, &object_id, "note").await;
    let response = s.patch_json("/api/objects/items", &add_again).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        attributes_of(&s.app, &s.key, "r00007").await,
        json!({"region": "EU"})
    );
}
