//! Query-filtering benchmark (not a test): the same query (`kind = k3`, limit 50, over
//! 100,000 records) by three keys of one workspace, p50/p99 each, on an object whose `kind`
//! and `region` are plain attributes and on one where both are filterable (indexed):
//! - a viewer no record-level policy touches (the query alone);
//! - a viewer tagged `region=EU`, whom `policies/examples/region-isolation.cedar` limits to
//!   EU records: the policy becomes `region = 'EU'` in the SQL;
//! - a viewer tagged `fallback`, for whom a forbid with arithmetic on a record value (no SQL
//!   form) applies: the rows are read in order and each is decided;
//! - and, for reference, the viewer no policy touches with `region = EU` written into the
//!   query: what the database itself pays for the policy's condition (one record in four is
//!   in the EU, so a page reads four times the rows).
//!
//! SQLite (a fresh temporary file):
//!   cargo run --release --example policy_query_bench
//! PostgreSQL (a fresh database beside the one named, dropped after):
//!   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run --release --example policy_query_bench
//! `BENCH_RECORDS` changes the record count (default 100000).

#[path = "support/bench.rs"]
mod bench;

use bench::{BenchDatabase, ms, percentile};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use andi::auth::KeyCacheConfig;
use andi::authz::Authz;
use andi::http::app::router;
use andi::http::limits::Limits;
use andi::http::state::AppState;
use andi::keys::api_key::NewKey;
use andi::keys::grant::{Grants, Role};
use andi::keys::lifecycle;
use andi::keys::metadata::KeyMetadata;
use andi::keys::secret::Environment;
use andi::store;
use andi::workspace::{Workspace, WorkspaceHandle};
use chrono::Utc;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

const BATCH: usize = 1_000;
const QUERY_RUNS: usize = 200;
const REGIONS: [&str; 4] = ["EU", "US", "APAC", "LATAM"];

/// Hides, from keys tagged `fallback`, the records whose doubled rank passes a bound that
/// no record reaches: it changes no answer, but it has no SQL form.
const FALLBACK: &str = r#"@id("bench-fallback")
forbid (principal is Andi::ApiKey, action, resource is Andi::Record)
when { principal.hasTag("fallback") && resource.attributes has rank && resource.attributes.rank * 2 > 1000000000 };
"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let total: usize = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let database = BenchDatabase::create().await?;
    let (url, backend) = (database.url.clone(), database.backend);
    let dir = tempfile::tempdir()?;

    let db = store::connect(&url, store::DEFAULT_POOL_SIZE).await?;
    store::migrate(&db).await?;
    let policies = bench_policies(dir.path())?;
    let authz = Authz::load(&policies).map_err(|e| anyhow::anyhow!("{e}"))?;
    let workspace = andi::workspace::create::create_workspace(
        &db,
        WorkspaceHandle::parse("bench").map_err(anyhow::Error::msg)?,
        "Bench",
        Utc::now(),
    )
    .await?;
    let admin_key = key(&db, &workspace, Role::Admin, &[]).await?;
    let plain = key(&db, &workspace, Role::Viewer, &[]).await?;
    let eu = key(&db, &workspace, Role::Viewer, &["region=EU"]).await?;
    let fallback = key(&db, &workspace, Role::Viewer, &["fallback=yes"]).await?;

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
    let post = |key: &str, path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(key)
            .json(&body)
            .send()
    };

    println!("policy_query_bench on {backend}, {total} records per object");
    // Once with `kind` and `region` as plain attributes (the query scans in page order) and
    // once declared filterable (each has its index), each object loaded alike.
    for (handle, filterable) in [("events", false), ("indexed-events", true)] {
        let created = post(
            &admin_key,
            "/api/objects",
            json!({"name": handle, "handle": handle, "attributes": {
                "kind": {"type": "select", "filterable": filterable, "options": (0..10).map(|k| json!({"value": format!("k{k}")})).collect::<Vec<_>>()},
                "region": {"type": "select", "filterable": filterable, "options": REGIONS.iter().map(|r| json!({"value": r})).collect::<Vec<_>>()},
                "rank": {"type": "integer"}
            }}),
        )
        .await?;
        anyhow::ensure!(
            created.status() == 201,
            "create object: {}",
            created.text().await?
        );
        for batch in 0..total.div_ceil(BATCH) {
            let records: Vec<Value> = (batch * BATCH..((batch + 1) * BATCH).min(total))
                .map(|i| {
                    json!({"attributes": {
                        "kind": format!("k{}", i % 10),
                        "region": REGIONS[(i / 10) % REGIONS.len()],
                        "rank": i
                    }})
                })
                .collect();
            let response = post(
                &admin_key,
                &format!("/api/objects/{handle}/data/upsert-many"),
                json!({"records": records}),
            )
            .await?;
            anyhow::ensure!(
                response.status() == 200,
                "upsert: {}",
                response.text().await?
            );
        }

        let attributes = if filterable {
            "filterable"
        } else {
            "not filterable"
        };
        let query = json!({"where": {"kind": {"eq": "k3"}}, "limit": 50});
        // What the database itself pays for the policy's condition: the same `region = EU`
        // written into the query, by the key no policy restricts.
        let written = json!({"where": {"kind": {"eq": "k3"}, "region": {"eq": "EU"}}, "limit": 50});
        let mut baseline = None;
        for (name, key, query) in [
            ("no record-level policy", &plain, &query),
            ("region = key's tag, in SQL", &eu, &query),
            ("residual with no SQL form, rows decided", &fallback, &query),
            (
                "no policy, region = EU written in the query",
                &plain,
                &written,
            ),
        ] {
            let mut times = Vec::new();
            for _ in 0..QUERY_RUNS {
                let t = Instant::now();
                let response =
                    post(key, &format!("/api/objects/{handle}/query"), query.clone()).await?;
                anyhow::ensure!(
                    response.status() == 200,
                    "query: {}",
                    response.text().await?
                );
                let page: Value = response.json().await?;
                anyhow::ensure!(
                    page["items"].as_array().map(Vec::len) == Some(50),
                    "a full page"
                );
                times.push(t.elapsed());
            }
            let p50 = ms(percentile(&mut times, 0.50));
            let ratio = *baseline.get_or_insert(p50);
            println!(
                "{attributes}: query kind = k3 (limit 50), {name}, {QUERY_RUNS} runs: p50 {p50:.2} ms, p99 {:.2} ms, {:.2}x",
                ms(percentile(&mut times, 0.99)),
                p50 / ratio
            );
        }
    }

    db.close().await?;
    database.drop().await
}

/// The shipped policies, with region isolation and [`FALLBACK`] turned on and `rank`
/// declared as a Long record attribute.
fn bench_policies(dir: &Path) -> anyhow::Result<PathBuf> {
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies");
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies)?;
    for entry in std::fs::read_dir(&shipped)? {
        let path = entry?.path();
        if let (true, Some(name)) = (path.is_file(), path.file_name()) {
            std::fs::copy(&path, policies.join(name))?;
        }
    }
    std::fs::copy(
        shipped.join("examples/region-isolation.cedar"),
        policies.join("region-isolation.cedar"),
    )?;
    std::fs::write(policies.join("fallback.cedar"), FALLBACK)?;
    let schema_path = policies.join("schema.cedarschema");
    let schema = std::fs::read_to_string(&schema_path)?;
    std::fs::write(
        &schema_path,
        schema.replace(
            "confidential?: Bool,",
            "confidential?: Bool,\n    rank?: Long,",
        ),
    )?;
    Ok(policies)
}

async fn key(
    db: &DatabaseConnection,
    workspace: &Workspace,
    role: Role,
    metadata: &[&str],
) -> anyhow::Result<String> {
    let new_key = NewKey {
        name: "bench".to_owned(),
        grants: Grants::new(Some(role), vec![]).map_err(anyhow::Error::msg)?,
        environment: Environment::Live,
        expires_in: None,
        metadata: KeyMetadata::parse_pairs(metadata.iter().copied()).map_err(anyhow::Error::msg)?,
        objects: None,
        rate_limit: None,
    };
    let bench = lifecycle::Actor::Cli("bench".to_owned());
    let audit = lifecycle::Audit {
        actor: &bench,
        log: None,
    };
    let (secret, _) = lifecycle::create_key(db, audit, workspace, new_key, Utc::now()).await?;
    Ok(secret.expose().to_owned())
}
