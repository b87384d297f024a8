//! Objects API benchmark (not a test): prints records/s of upsert-many (100,000 records in
//! batches of 1,000), p50/p99 of a query with one equality and one range filter over them,
//! and p50 of fetching page 50 with the cursor. Runs the real router in-process over HTTP.
//!
//! SQLite (a fresh temporary file):
//!   cargo run --release --example objects_bench
//! PostgreSQL (a fresh database is created beside the one named, and dropped after):
//!   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run --release --example objects_bench
//! `BENCH_RECORDS` changes the record count (default 100000).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use andi::auth::KeyCacheConfig;
use andi::authz::Authz;
use andi::http::app::router;
use andi::http::limits::Limits;
use andi::http::state::AppState;
use andi::id::random_base62;
use andi::keys::api_key::NewKey;
use andi::keys::grant::{Grants, Role};
use andi::keys::lifecycle;
use andi::keys::secret::Environment;
use andi::store;
use andi::workspace::WorkspaceHandle;
use chrono::Utc;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const BATCH: usize = 1_000;
const QUERY_RUNS: usize = 200;
const PAGE_RUNS: usize = 100;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let total: usize = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let (url, admin) = match std::env::var("BENCH_DATABASE_URL") {
        Ok(admin) if admin.starts_with("postgres") => {
            let name = format!("andi_bench_{}", random_base62(8).to_lowercase());
            let db = store::connect(&admin, store::DEFAULT_POOL_SIZE).await?;
            db.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await?;
            db.close().await?;
            let base = &admin[..admin.rfind('/').unwrap_or(admin.len())];
            (format!("{base}/{name}"), Some((admin.clone(), name)))
        }
        _ => (
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            ),
            None,
        ),
    };
    let backend = if admin.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };

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
    let (secret, _) =
        lifecycle::create_key(&db, bench_audit, &workspace, new_key, Utc::now()).await?;
    let key = secret.expose().to_owned();

    let state = AppState::new(
        db.clone(),
        authz,
        Limits::default(),
        &KeyCacheConfig::default(),
    );
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
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };

    let created = post(
        "/api/objects",
        json!({"name": "Events", "attributes": {
            "code": {"type": "string", "unique": true, "required": true},
            "kind": {"type": "select", "options": (0..10).map(|k| json!({"value": format!("k{k}")})).collect::<Vec<_>>()},
            "amount": {"type": "number"},
            "at": {"type": "datetime"}
        }}),
    )
    .await?;
    anyhow::ensure!(
        created.status() == 201,
        "create object: {}",
        created.text().await?
    );

    let started = Instant::now();
    for batch in 0..total.div_ceil(BATCH) {
        let records: Vec<Value> = (batch * BATCH..((batch + 1) * BATCH).min(total))
            .map(|i| {
                json!({"attributes": {
                    "code": format!("E{i:07}"),
                    "kind": format!("k{}", i % 10),
                    "amount": (i * 7919 % 10_000) as f64 / 10.0,
                    "at": "2026-11-26T09:30:00Z"
                }})
            })
            .collect();
        let response = post(
            "/api/objects/events/data/upsert-many",
            json!({"records": records}),
        )
        .await?;
        anyhow::ensure!(
            response.status() == 200,
            "upsert: {}",
            response.text().await?
        );
    }
    let upsert_secs = started.elapsed().as_secs_f64();

    let query =
        json!({"where": {"kind": {"eq": "k3"}, "amount": {"gte": 100, "lt": 200}}, "limit": 50});
    let mut query_times = Vec::new();
    for _ in 0..QUERY_RUNS {
        let t = Instant::now();
        let response = post("/api/objects/events/query", query.clone()).await?;
        anyhow::ensure!(
            response.status() == 200,
            "query: {}",
            response.text().await?
        );
        response.bytes().await?;
        query_times.push(t.elapsed());
    }

    let mut cursor = Value::Null;
    for _ in 0..49 {
        let page: Value = post(
            "/api/objects/events/query",
            json!({"limit": 50, "cursor": cursor}),
        )
        .await?
        .json()
        .await?;
        cursor = page["nextCursor"].clone();
    }
    let mut page_times = Vec::new();
    for _ in 0..PAGE_RUNS {
        let t = Instant::now();
        let response = post(
            "/api/objects/events/query",
            json!({"limit": 50, "cursor": cursor}),
        )
        .await?;
        anyhow::ensure!(
            response.status() == 200,
            "page 50: {}",
            response.text().await?
        );
        response.bytes().await?;
        page_times.push(t.elapsed());
    }

    println!("objects_bench on {backend}, {total} records");
    println!(
        "upsert-many, batches of {BATCH}: {:.0} records/s ({upsert_secs:.1} s)",
        total as f64 / upsert_secs
    );
    println!(
        "query kind = k3 AND 100 <= amount < 200 (limit 50), {QUERY_RUNS} runs: p50 {:.2} ms, p99 {:.2} ms",
        ms(percentile(&mut query_times, 0.50)),
        ms(percentile(&mut query_times, 0.99))
    );
    println!(
        "page 50 by cursor (limit 50), {PAGE_RUNS} runs: p50 {:.2} ms",
        ms(percentile(&mut page_times, 0.50))
    );

    db.close().await?;
    if let Some((admin, name)) = admin {
        let db = store::connect(&admin, store::DEFAULT_POOL_SIZE).await?;
        db.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await?;
    }
    Ok(())
}

fn percentile(times: &mut [Duration], p: f64) -> Duration {
    times.sort();
    let index = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
    times[index]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}
