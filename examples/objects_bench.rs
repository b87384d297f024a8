//! Objects API benchmark (not a test). For each record count it loads one object through
//! `upsert-many` (batches of 1,000, over HTTP to the real router in-process) and, batch by
//! batch beside it, the same rows into a twin object straight through the same driver
//! (sea-orm/sqlx, one multi-row INSERT into `records` and one into `record_unique_values` per
//! transaction): the database's ceiling for those rows in those tables. Then it times a
//! query on filterable attributes, the same query on attributes that are not filterable,
//! and page 50 by cursor, and prints the query plan of the filterable query. Last, it
//! changes the definition of the largest object (a check of every record; a unique
//! attribute made not unique, then unique again; the removal of an attribute), each
//! carried out in steps, and prints the times, the peak resident memory and the latencies
//! of a writer of the same object meanwhile.
//!
//! SQLite (a fresh temporary file):
//!   cargo run --release --example objects_bench
//! PostgreSQL (a fresh database is created beside the one named, and dropped after):
//!   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run --release --example objects_bench
//! `BENCH_RECORDS` takes the record counts, comma-separated (default `10000,100000`), e.g.
//! `BENCH_RECORDS=10000,100000,1000000`. Each count gets its own pair of objects in one
//! database, so later counts run on a larger table.

#[path = "support/bench.rs"]
mod bench;

use bench::{BenchDatabase, ms, percentile};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use andi::auth::KeyCacheConfig;
use andi::authz::Authz;
use andi::http::app::router;
use andi::http::limits::Limits;
use andi::http::state::AppState;
use andi::id::new_id;
use andi::keys::api_key::NewKey;
use andi::keys::grant::{Grants, Role};
use andi::keys::lifecycle;
use andi::keys::secret::Environment;
use andi::objects::handle::ObjectHandle;
use andi::objects::query::RecordFilter;
use andi::store;
use andi::store::{attribute_sweeps, definition_changes};
use andi::workspace::WorkspaceHandle;
use chrono::{SubsecRound, Utc};
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

const BATCH: usize = 1_000;
const QUERY_RUNS: usize = 200;
const PAGE_RUNS: usize = 100;
/// How long one query's runs may take, past their first ten.
const RUNS_BUDGET: Duration = Duration::from_secs(30);

/// One record of the benchmark: the same values go through Andi and through the bare insert.
fn attributes(i: usize) -> Value {
    let kind = format!("k{}", i % 10);
    let amount = (i * 7919 % 10_000) as f64 / 10.0;
    json!({
        "code": format!("E{i:07}"),
        "kind": kind,
        "amount": amount,
        "plain_kind": kind,
        "plain_amount": amount,
        "at": "2026-11-26T09:30:00.000Z"
    })
}

fn definition(name: &str) -> Value {
    let options: Vec<Value> = (0..10).map(|k| json!({"value": format!("k{k}")})).collect();
    json!({"name": name, "attributes": {
        "code": {"type": "string", "unique": true, "required": true},
        "kind": {"type": "select", "options": options, "filterable": true},
        "amount": {"type": "number", "filterable": true},
        "plain_kind": {"type": "select", "options": options},
        "plain_amount": {"type": "number"},
        "at": {"type": "datetime"}
    }})
}

struct Measured {
    records: usize,
    andi_secs: f64,
    bare_secs: f64,
    filterable: (Duration, Duration),
    /// The filterable query with `limit` 1: one row at every size, so what grows with the
    /// object is the index alone, not the answer (up to 50 rows at 10⁶, one at 10⁴).
    single: Duration,
    plain: (Duration, Duration),
    page: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::var("BENCH_RECORDS")
        .unwrap_or_else(|_| "10000,100000".to_owned())
        .split(',')
        .map(|n| n.trim().parse())
        .collect::<Result<_, _>>()?;
    let database = BenchDatabase::create().await?;
    let (url, backend) = (database.url.clone(), database.backend);

    let db = store::connect(&url, store::DEFAULT_POOL_SIZE).await?;
    store::migrate(&db).await?;
    let policies = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies");
    let authz = Authz::load(&policies).map_err(|e| anyhow::anyhow!("{e}"))?;
    let workspace = andi::workspace::create::create_workspace(
        &db,
        WorkspaceHandle::parse("bench").map_err(anyhow::Error::msg)?,
        "Bench",
        Utc::now(),
    )
    .await?;
    let new_key = NewKey {
        name: "bench".to_owned(),
        grants: Grants::new(Some(Role::Admin), vec![]).map_err(anyhow::Error::msg)?,
        environment: Environment::Live,
        expires_in: None,
        metadata: Default::default(),
        objects: None,
        rate_limit: None,
    };
    let bench = lifecycle::Actor::Cli("bench".to_owned());
    let bench_audit = lifecycle::Audit {
        actor: &bench,
        log: None,
    };
    let (secret, key_row) =
        lifecycle::create_key(&db, bench_audit, &workspace, new_key, Utc::now()).await?;
    let key = secret.expose().to_owned();

    let state = AppState::new(
        db.clone(),
        authz,
        Limits::default(),
        &KeyCacheConfig::default(),
    );
    // Definition changes and removed attributes' sweeps run in steps after the request.
    state.spawn_object_workers(andi::objects::worker::DEFAULT_POLL);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        axum::serve(
            listener,
            router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let client = reqwest::Client::new();
    let post = |path: String, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };

    let mut results = Vec::new();
    for &total in &sizes {
        let andi = format!("events-{total}");
        let bare = format!("bare-{total}");
        for name in [&andi, &bare] {
            let created = post("/api/objects".into(), definition(name)).await?;
            anyhow::ensure!(
                created.status() == 201,
                "create object: {}",
                created.text().await?
            );
        }
        let bare_object = store::objects::find_definition_by_handle(
            &db,
            &workspace.id,
            &ObjectHandle::parse(&bare).map_err(anyhow::Error::msg)?,
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("no object {bare}"))?;

        let (mut andi_secs, mut bare_secs) = (0.0, 0.0);
        for batch in 0..total.div_ceil(BATCH) {
            let range = batch * BATCH..((batch + 1) * BATCH).min(total);
            let records: Vec<Value> = range
                .clone()
                .map(|i| json!({"attributes": attributes(i)}))
                .collect();
            let started = Instant::now();
            let response = post(
                format!("/api/objects/{andi}/data/upsert-many"),
                json!({"records": records}),
            )
            .await?;
            anyhow::ensure!(
                response.status() == 200,
                "upsert: {}",
                response.text().await?
            );
            response.bytes().await?;
            andi_secs += started.elapsed().as_secs_f64();

            let started = Instant::now();
            bare_insert(&db, &workspace.id, &bare_object.id, &key_row.id, range).await?;
            bare_secs += started.elapsed().as_secs_f64();
        }

        if std::env::var("BENCH_ANALYZE").is_ok() {
            db.execute_unprepared("ANALYZE records").await?;
        }
        let filterable = json!({"where": {"amount": {"eq": 500}}, "limit": 50});
        let plain = json!({"where": {"plain_amount": {"eq": 500}}, "limit": 50});
        let path = format!("/api/objects/{andi}/query");
        let filterable_times = time_query(&post, &path, &filterable, QUERY_RUNS).await?;
        let single = json!({"where": {"amount": {"eq": 500}}, "limit": 1});
        let single_times = time_query(&post, &path, &single, QUERY_RUNS).await?;
        let plain_times = time_query(&post, &path, &plain, QUERY_RUNS).await?;

        let mut cursor = Value::Null;
        for _ in 0..49 {
            let page: Value = post(path.clone(), json!({"limit": 50, "cursor": cursor}))
                .await?
                .json()
                .await?;
            cursor = page["nextCursor"].clone();
        }
        let page_times = time_query(
            &post,
            &path,
            &json!({"limit": 50, "cursor": cursor}),
            PAGE_RUNS,
        )
        .await?;
        if total == sizes[sizes.len() - 1] {
            print_plan(&db, &workspace.id, &andi).await?;
        }
        results.push(Measured {
            records: total,
            andi_secs,
            bare_secs,
            filterable: p50_p99(filterable_times),
            single: p50_p99(single_times).0,
            plain: p50_p99(plain_times),
            page: p50_p99(page_times).0,
        });
    }

    println!(
        "objects_bench on {backend}: upsert-many in batches of {BATCH}; query `amount = 500` (limit 50; one record in 10,000 matches, so 1, 10 and 50 rows at 10⁴, 10⁵ and 10⁶) on a filterable attribute, the same with limit 1, and on the same values in one that is not filterable, {QUERY_RUNS} runs each (or as many as fit in {}s, at least 10); page 50 by cursor, {PAGE_RUNS} runs",
        RUNS_BUDGET.as_secs()
    );
    println!(
        "| records | upsert-many records/s | bare insert rows/s | ratio | filterable query p50 / p99 ms | filterable, limit 1, p50 ms | not filterable p50 / p99 ms | page 50 p50 ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for m in &results {
        let andi_rate = m.records as f64 / m.andi_secs;
        let bare_rate = m.records as f64 / m.bare_secs;
        println!(
            "| {} | {andi_rate:.0} | {bare_rate:.0} | {:.2} | {:.2} / {:.2} | {:.2} | {:.2} / {:.2} | {:.2} |",
            m.records,
            andi_rate / bare_rate,
            ms(m.filterable.0),
            ms(m.filterable.1),
            ms(m.single),
            ms(m.plain.0),
            ms(m.plain.1),
            ms(m.page)
        );
    }

    // Definition changes over the largest object: every live record is checked (a select
    // becomes a required string); a unique attribute's values are released, then claimed
    // again; an attribute is removed from every record. All run in steps after the request; meanwhile one writer upserts a record every 20 ms, and its
    // latencies show how long the steps hold the object's writers.
    let largest = format!("events-{}", sizes[sizes.len() - 1]);
    let object_id = store::objects::find_definition_by_handle(
        &db,
        &workspace.id,
        &ObjectHandle::parse(&largest).map_err(anyhow::Error::msg)?,
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("no object {largest}"))?
    .id;
    for (round, (what, change)) in [
        (
            "change `plain_kind` to a required string",
            json!({"attributes": {"plain_kind": {"type": "string", "required": true}}}),
        ),
        (
            "make `code` not unique",
            json!({"attributes": {"code": {"type": "string", "required": true}}}),
        ),
        (
            "make `code` unique again",
            json!({"attributes": {"code": {"type": "string", "required": true, "unique": true}}}),
        ),
        (
            "remove `plain_amount`",
            json!({"attributes": {"plain_amount": null}}),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let resident_before = memory_kib("VmRSS");
        // Resets the peak resident size, so the peak below is this change's (Linux).
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let writer = tokio::spawn(write_meanwhile(
            client.clone(),
            format!("{base}/api/objects/{largest}/data/upsert-many"),
            key.clone(),
            10_000_000 * (round + 1),
            stopped,
        ));
        let started = Instant::now();
        let response = client
            .patch(format!("{base}/api/objects/{largest}"))
            .bearer_auth(&key)
            .json(&change)
            .send()
            .await?;
        let status = response.status();
        anyhow::ensure!(
            status == 200 || status == 202,
            "{what}: {}",
            response.text().await?
        );
        let answered = started.elapsed().as_secs_f64();
        // A 202 is followed to the change's end; a removal answers once the definition
        // changed, and the values leave the records afterwards.
        loop {
            let change = definition_changes::find_pending(&db, &object_id).await?;
            let sweeping = !attribute_sweeps::pending(&db).await?.is_empty();
            if change.is_none() && !sweeping {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let done = started.elapsed().as_secs_f64();
        // The writer may have stopped on an error, which `await` gives.
        let _ = stop.send(true);
        let mut latencies = writer.await??;
        let (p50, p99) = (
            ms(percentile(&mut latencies, 0.5)),
            ms(percentile(&mut latencies, 0.99)),
        );
        println!(
            "definition change on {largest}, {what}: answered {status} in {answered:.1} s, done in {done:.1} s; resident {} MiB before, peak {} MiB during{}; a writer meanwhile: {} upserts, p50 {} ms, p99 {} ms, max {} ms",
            resident_before.map_or("?".into(), |k| (k / 1024).to_string()),
            memory_kib("VmHWM").map_or("?".into(), |k| (k / 1024).to_string()),
            if reset {
                ""
            } else {
                " (peak of the whole run)"
            },
            latencies.len(),
            p50.round(),
            p99.round(),
            ms(latencies.last().copied().unwrap_or_default()).round(),
        );
    }

    db.close().await?;
    database.drop().await
}

/// The ceiling: the rows Andi would write for `range`, in one transaction of two multi-row
/// Upserts one record every 20 ms until `stop`; returns each upsert's time.
async fn write_meanwhile(
    client: reqwest::Client,
    url: String,
    key: String,
    first: usize,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::new();
    for i in first.. {
        if *stop.borrow() {
            break;
        }
        // Without the attribute the second change removes.
        let mut record = attributes(i);
        record.as_object_mut().map(|r| r.remove("plain_amount"));
        let started = Instant::now();
        let response = client
            .post(&url)
            .bearer_auth(&key)
            .json(&json!({"records": [{"attributes": record}]}))
            .send()
            .await?;
        anyhow::ensure!(
            response.status() == 200,
            "an upsert during the change: {}",
            response.text().await?
        );
        latencies.push(started.elapsed());
        let _ = tokio::time::timeout(Duration::from_millis(20), stop.changed()).await;
    }
    Ok(latencies)
}

/// INSERTs, without parsing, checking or deciding anything.
async fn bare_insert(
    db: &DatabaseConnection,
    workspace_id: &str,
    object_id: &str,
    author: &str,
    range: std::ops::Range<usize>,
) -> anyhow::Result<()> {
    let now = Utc::now().trunc_subsecs(6);
    let mut records = Query::insert();
    records.into_table(Alias::new("records")).columns(
        [
            "workspace_id",
            "object_id",
            "id",
            "name",
            "attributes",
            "created_at",
            "updated_at",
            "created_by",
            "updated_by",
        ]
        .map(Alias::new),
    );
    let mut unique = Query::insert();
    unique
        .into_table(Alias::new("record_unique_values"))
        .columns(
            [
                "workspace_id",
                "object_id",
                "attribute_key",
                "value",
                "record_id",
            ]
            .map(Alias::new),
        );
    for i in range {
        let id = new_id("rec");
        let attributes = attributes(i);
        let code = attributes["code"].as_str().unwrap_or_default().to_owned();
        records.values([
            workspace_id.into(),
            object_id.into(),
            id.as_str().into(),
            Option::<String>::None.into(),
            attributes.into(),
            now.into(),
            now.into(),
            author.into(),
            author.into(),
        ])?;
        unique.values([
            workspace_id.into(),
            object_id.into(),
            "code".into(),
            code.into(),
            id.into(),
        ])?;
    }
    let txn = store::begin_write(db).await?;
    txn.execute(&records).await?;
    txn.execute(&unique).await?;
    txn.commit().await?;
    Ok(())
}

async fn time_query<F, R>(
    post: &F,
    path: &str,
    body: &Value,
    runs: usize,
) -> anyhow::Result<Vec<Duration>>
where
    F: Fn(String, Value) -> R,
    R: Future<Output = reqwest::Result<reqwest::Response>>,
{
    let mut times = Vec::with_capacity(runs);
    let started = Instant::now();
    // At least ten runs; past that, a slow query (a scan of a million records) stops after
    // half a minute instead of taking a quarter of an hour.
    while times.len() < runs && (times.len() < 10 || started.elapsed() < RUNS_BUDGET) {
        let t = Instant::now();
        let response = post(path.to_owned(), body.clone()).await?;
        anyhow::ensure!(
            response.status() == 200,
            "query {body}: {}",
            response.text().await?
        );
        response.bytes().await?;
        times.push(t.elapsed());
    }
    Ok(times)
}

/// The database's plan for the filterable query, to show it reads the attribute's index.
async fn print_plan(
    db: &DatabaseConnection,
    workspace_id: &str,
    handle: &str,
) -> anyhow::Result<()> {
    let object = store::objects::find_definition_by_handle(
        db,
        workspace_id,
        &ObjectHandle::parse(handle).map_err(anyhow::Error::msg)?,
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("no object {handle}"))?;
    let query = andi::objects::query::parse::parse_query_body(
        &json!({"where": {"amount": {"eq": 500}}, "limit": 50}),
        &object,
        Limits::default().query(),
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let backend = db.get_database_backend();
    let (sql, values) = store::record_query::sql(
        backend,
        workspace_id,
        &object.id,
        &query,
        &RecordFilter::True,
    );
    let explain = match backend {
        DbBackend::Postgres => format!("EXPLAIN {sql}"),
        _ => format!("EXPLAIN QUERY PLAN {sql}"),
    };
    println!("plan of the filterable query on {handle}:");
    for row in db
        .query_all_raw(Statement::from_sql_and_values(backend, explain, values.0))
        .await?
    {
        let line: String = match backend {
            DbBackend::Postgres => row.try_get("", "QUERY PLAN")?,
            _ => row.try_get("", "detail")?,
        };
        println!("  {line}");
    }
    Ok(())
}

/// A memory figure of this process from /proc/self/status, in KiB.
fn memory_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn p50_p99(mut times: Vec<Duration>) -> (Duration, Duration) {
    (percentile(&mut times, 0.50), percentile(&mut times, 0.99))
}
