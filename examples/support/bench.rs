//! What the benchmarks share: a fresh database to run on, and percentiles of timings.

use std::time::Duration;

use andi::id::random_base62;
use andi::store;
use sea_orm::ConnectionTrait;

/// A fresh database: a temporary SQLite file, or, when `BENCH_DATABASE_URL` names a
/// PostgreSQL server, a new database beside the one named, dropped by [`BenchDatabase::drop`].
pub struct BenchDatabase {
    pub url: String,
    pub backend: &'static str,
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl BenchDatabase {
    pub async fn create() -> anyhow::Result<BenchDatabase> {
        let dir = tempfile::tempdir()?;
        let (url, postgres) = match std::env::var("BENCH_DATABASE_URL") {
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
        let backend = if postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        Ok(BenchDatabase {
            url,
            backend,
            postgres,
            _dir: dir,
        })
    }

    /// Drops the PostgreSQL database; the SQLite file goes with its directory.
    pub async fn drop(self) -> anyhow::Result<()> {
        if let Some((admin, name)) = self.postgres {
            let db = store::connect(&admin, store::DEFAULT_POOL_SIZE).await?;
            db.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await?;
        }
        Ok(())
    }
}

pub fn percentile(times: &mut [Duration], p: f64) -> Duration {
    times.sort();
    let index = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
    times[index]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}
