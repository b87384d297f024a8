//! Key verification (`KeyVerifier::verify`, what every request with a key does first): from
//! the cache and from the database, with 10 keys and with 10⁶ keys in the table (SQLite).
//! The digest lookup is an index probe, so both should cost about the same at either size.
//!
//! `cargo bench --bench verify`

#![expect(
    clippy::expect_used,
    reason = "a benchmark stops at its first broken assumption"
)]

use std::time::Duration;

use andi::auth::KeyCacheConfig;
use andi::auth::usage::UsageRecorder;
use andi::auth::verify::KeyVerifier;
use andi::keys::api_key::NewKey;
use andi::keys::grant::{Grants, Permission};
use andi::keys::lifecycle;
use andi::keys::secret::{Environment, KeySecret};
use andi::store;
use andi::workspace::WorkspaceHandle;
use chrono::Utc;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use sha2::{Digest, Sha256};
use tokio::runtime::Runtime;

const MANY: usize = 1_000_000;
const ROWS_PER_INSERT: usize = 1_000;

/// Adds `count` keys that are never presented, in multi-row inserts in one transaction.
async fn add_filler_keys(db: &DatabaseConnection, workspace_id: &str, count: usize) {
    let txn = db.begin().await.expect("begin");
    for batch in 0..count.div_ceil(ROWS_PER_INSERT) {
        let range = batch * ROWS_PER_INSERT..((batch + 1) * ROWS_PER_INSERT).min(count);
        let keys: Vec<String> = range
            .clone()
            .map(|i| {
                format!(
                    "('key_filler{i:017}', '{workspace_id}', 'filler', 'andi_live_fill', NULL, 'objects.read', 'live', '2026-11-26 00:00:00+00:00', '2026-11-26 00:00:00+00:00', NULL, NULL, NULL)"
                )
            })
            .collect();
        let secrets: Vec<String> = range
            .map(|i| {
                let hash = hex::encode(Sha256::digest(format!("filler-{i}")));
                format!("('{hash}', 'key_filler{i:017}', '2026-11-26 00:00:00+00:00', NULL)")
            })
            .collect();
        txn.execute_unprepared(&format!(
            "INSERT INTO api_keys (id, workspace_id, name, start, role, permissions, environment, created_at, updated_at, expires_at, revoked_at, last_used_at) VALUES {}",
            keys.join(",")
        ))
        .await
        .expect("insert filler keys");
        txn.execute_unprepared(&format!(
            "INSERT INTO api_key_secrets (key_hash, key_id, created_at, expires_at) VALUES {}",
            secrets.join(",")
        ))
        .await
        .expect("insert filler secrets");
    }
    txn.commit().await.expect("commit");
}

fn verifier(runtime: &Runtime, db: &DatabaseConnection, cached: bool) -> KeyVerifier {
    let config = KeyCacheConfig {
        key_cache_capacity: if cached { 100_000 } else { 0 },
        ..KeyCacheConfig::default()
    };
    let verifier = KeyVerifier::new(db.clone(), UsageRecorder::new(), &config);
    if cached {
        // The cache is trusted only once the revocation sequence has been read.
        let _guard = runtime.enter();
        verifier.spawn_revocation_watcher();
        runtime.block_on(tokio::time::sleep(Duration::from_millis(200)));
    }
    verifier
}

fn bench_verify(
    c: &mut Criterion,
    runtime: &Runtime,
    db: &DatabaseConnection,
    secrets: &[KeySecret],
    keys_in_table: &str,
) {
    let mut group = c.benchmark_group("verify");
    for (source, cached) in [("cache", true), ("database", false)] {
        let verifier = verifier(runtime, db, cached);
        let mut next = 0;
        group.bench_function(BenchmarkId::new(source, keys_in_table), |b| {
            b.to_async(runtime).iter(|| {
                next = (next + 1) % secrets.len();
                let secret = &secrets[next];
                let verifier = &verifier;
                async move {
                    verifier
                        .verify(secret, Utc::now())
                        .await
                        .expect("the key verifies")
                }
            })
        });
    }
    group.finish();
}

fn verification(c: &mut Criterion) {
    let runtime = Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let (db, secrets, workspace_id) = runtime.block_on(async {
        let db = store::connect(&url, store::DEFAULT_POOL_SIZE)
            .await
            .expect("open the database");
        store::migrate(&db).await.expect("migrate");
        let workspace = andi::workspace::create::create_workspace(
            &db,
            WorkspaceHandle::parse("bench").expect("handle"),
            "Bench",
            Utc::now(),
        )
        .await
        .expect("create the workspace");
        let mut secrets = Vec::new();
        for n in 0..10 {
            let (secret, _) = lifecycle::create_key(
                &db,
                lifecycle::Audit {
                    actor: &lifecycle::Actor::Cli("bench".to_owned()),
                    log: None,
                },
                &workspace,
                NewKey {
                    name: format!("bench-{n}"),
                    grants: Grants::new(None, vec![Permission::ObjectsRead]).expect("grants"),
                    environment: Environment::Live,
                    expires_in: None,
                    metadata: Default::default(),
                    objects: None,
                    rate_limit: None,
                },
                Utc::now(),
            )
            .await
            .expect("create a key");
            secrets.push(secret);
        }
        (db, secrets, workspace.id)
    });

    bench_verify(c, &runtime, &db, &secrets, "10 keys");

    runtime.block_on(add_filler_keys(&db, &workspace_id, MANY - secrets.len()));
    bench_verify(c, &runtime, &db, &secrets, "10^6 keys");
}

criterion_group!(benches, verification);
criterion_main!(benches);
