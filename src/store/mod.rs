//! Storage: the database connection, migrations, and every query. Functions here take a
//! connection (or transaction) and return domain types. Every query that reads tenant data
//! filters by workspace id in SQL, a second wall behind the Cedar policies.

pub mod api_keys;
pub mod attribute_indexes;
pub mod attribute_sweeps;
pub mod definition_changes;
pub mod entity;
pub mod idempotency;
pub mod key_events;
pub mod objects;
pub mod rate_windows;
pub mod record_query;
pub mod records;
pub mod unique_values;
pub mod users;
pub mod workspaces;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{
    AccessMode, ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqlErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// Rows written per INSERT (or UPDATE … FROM VALUES): a whole batch of the default size
/// (`ANDI_MAX_BATCH_RECORDS`, 1,000) in one statement, and at nine values a row well under
/// both backends' bound-parameter limits (SQLite 32,766, PostgreSQL 65,535).
const INSERT_CHUNK: usize = 1_000;
/// Values per `IN (…)` list: a whole default batch in one lookup.
const IN_CHUNK: usize = 1_000;

/// The embedded default: a SQLite file next to where the service runs.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://andi.db?mode=rwc";

/// Connections per pool unless `ANDI_DATABASE_POOL_SIZE` says otherwise.
pub const DEFAULT_POOL_SIZE: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error("a stored row is not valid: {0}")]
    Corrupt(String),
    #[error("a statement could not be built: {0}")]
    Statement(#[from] sea_orm::sea_query::error::Error),
}

impl StoreError {
    /// Whether the error is a unique-constraint violation (a concurrent duplicate).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))))
    }
}

/// Why the database could not be opened; messages show the URL without its password.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the database {url}: {source}")]
    Connect { url: String, source: StoreError },
    #[error("cannot apply the database migrations: {0}")]
    Migrate(StoreError),
}

/// Connects to `url` with a pool of `pool_size` connections and applies every pending
/// migration: what every command does first.
pub async fn open(url: &str, pool_size: u32) -> Result<DatabaseConnection, OpenError> {
    let db = connect(url, pool_size)
        .await
        .map_err(|source| OpenError::Connect {
            url: redact_url(url),
            source,
        })?;
    migrate(&db).await.map_err(OpenError::Migrate)?;
    Ok(db)
}

/// Opens a pool of `pool_size` connections on `url` (`sqlite://…` or `postgres://…`).
pub async fn connect(url: &str, pool_size: u32) -> Result<DatabaseConnection, StoreError> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        // sea-orm gives SQLite a single connection unless told otherwise, so every read
        // would queue behind every other; in WAL mode readers run beside the one writer.
        .max_connections(pool_size.max(1))
        .acquire_timeout(Duration::from_secs(10))
        // WAL lets readers run beside the single writer; the busy timeout makes a writer
        // wait for another process (the CLI beside `serve`) instead of failing at once.
        // Plans cached for prepared statements are made while a tenant's tables are still
        // small (a scan); planning each execution keeps index lookups as tables grow.
        .map_sqlx_postgres_opts(|o| o.options([("plan_cache_mode", "force_custom_plan")]))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Ok(Database::connect(options).await?)
}

/// Begins a transaction that writes; every transaction that writes begins here. On SQLite
/// it takes the write lock at once (`BEGIN IMMEDIATE`), waiting out the busy timeout if
/// another connection or process holds it. A deferred transaction that reads first would
/// instead fail at its first write with "database is locked", without waiting, when
/// another connection has written since it began reading.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, StoreError> {
    let options = TransactionOptions {
        isolation_level: None,
        access_mode: (db.get_database_backend() == DbBackend::Postgres)
            .then_some(AccessMode::ReadWrite),
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
    };
    Ok(db.begin_with_options(options).await?)
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// Whether the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> Result<(), StoreError> {
    db.ping().await?;
    Ok(())
}

/// The connection pool's state at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    pub used: u64,
    pub idle: u64,
    pub max: u64,
}

/// How many of the pool's connections are open and lent out, open and idle, and at most.
pub fn pool_usage(db: &DatabaseConnection) -> PoolUsage {
    let (size, idle, max) = match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
    };
    let idle = u64::try_from(idle).unwrap_or(u64::MAX);
    PoolUsage {
        used: u64::from(size).saturating_sub(idle),
        idle,
        max: u64::from(max),
    }
}

/// A database URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_hidden_in_database_urls() {
        assert_eq!(
            redact_url("postgres://andi:s3cret@db:5432/andi"),
            "postgres://andi:***@db:5432/andi"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(
            redact_url("sqlite://andi.db?mode=rwc"),
            "sqlite://andi.db?mode=rwc"
        );
    }
}
