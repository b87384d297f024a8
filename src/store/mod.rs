//! Storage: the database connection, migrations, and every query. Functions here take a
//! connection (or transaction) and return domain types. Every query that reads tenant data
//! filters by workspace id in SQL, a second wall behind the Cedar policies.

pub mod api_keys;
pub mod entity;
pub mod key_events;
pub mod objects;
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

/// Rows written per INSERT: well under both backends' bound-parameter limits.
const INSERT_CHUNK: usize = 200;
/// Values per `IN (…)` list.
const IN_CHUNK: usize = 500;

/// The embedded default: a SQLite file next to where the service runs.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://andi.db?mode=rwc";

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

/// Connects to `url` and applies every pending migration: what every command does first.
pub async fn open(url: &str) -> Result<DatabaseConnection, OpenError> {
    let db = connect(url).await.map_err(|source| OpenError::Connect {
        url: redact_url(url),
        source,
    })?;
    migrate(&db).await.map_err(OpenError::Migrate)?;
    Ok(db)
}

/// Opens a pool on `url` (`sqlite://…` or `postgres://…`).
pub async fn connect(url: &str) -> Result<DatabaseConnection, StoreError> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
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

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), StoreError> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// Begins a transaction that writes. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), so a transaction that reads first cannot fail to upgrade later.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, StoreError> {
    let options = TransactionOptions {
        isolation_level: None,
        access_mode: (db.get_database_backend() == DbBackend::Postgres)
            .then_some(AccessMode::ReadWrite),
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
    };
    Ok(db.begin_with_options(options).await?)
}

/// Whether the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> Result<(), StoreError> {
    db.ping().await?;
    Ok(())
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
