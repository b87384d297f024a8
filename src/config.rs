//! Settings of `andi serve` and the other commands: flags with environment fallbacks.
//! Nothing is required; the defaults serve on 127.0.0.1:8080 with a local SQLite file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::store::DEFAULT_DATABASE_URL;

/// Where the data lives. Every command takes it.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://FILE?mode=rwc` (the default) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "ANDI_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory holding schema.cedarschema, *.cedar and entities.json.
    #[arg(long, env = "ANDI_POLICY_DIR", default_value = "policies")]
    pub policy_dir: PathBuf,

    /// How long the policy files must be quiet before a change is reloaded, so an editor
    /// or a deploy writing several files causes one reload.
    #[arg(long, env = "ANDI_POLICY_RELOAD_DEBOUNCE", default_value = "250ms", value_parser = parse_std_duration)]
    pub policy_reload_debounce: Duration,

    /// Write one JSON line per authorization decision to `stdout` or to this file (appended).
    #[arg(long, env = "ANDI_DECISION_LOG")]
    pub decision_log: Option<crate::authz::DecisionLogTarget>,

    /// How often noted key uses are written as `lastUsedAt` (at most once per key per interval).
    #[arg(long, env = "ANDI_LAST_USED_INTERVAL", default_value = "60s", value_parser = parse_std_duration)]
    pub last_used_interval: Duration,

    /// How long a workspace's definition listing is served from memory. A change through
    /// this server shows at once; one through another server within this time. `0s` turns it off.
    #[arg(long, env = "ANDI_DEFINITION_CACHE_TTL", default_value = "1s", value_parser = parse_std_duration)]
    pub definition_cache_ttl: Duration,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub console: crate::console::ConsoleConfig,

    #[command(flatten)]
    pub key_cache: KeyCacheConfig,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// `ANDI_DEFINITION_CACHE_TTL`'s default.
pub const DEFAULT_DEFINITION_CACHE_TTL: Duration = Duration::from_secs(1);

/// Request limits, each answered with a clear error when exceeded.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "ANDI_MAX_BODY_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Most attributes a definition may have.
    #[arg(long, env = "ANDI_MAX_ATTRIBUTES", default_value_t = 200)]
    pub max_attributes: usize,

    /// Most records (or ids) a batch may hold.
    #[arg(long, env = "ANDI_MAX_BATCH_RECORDS", default_value_t = 1_000)]
    pub max_batch_records: usize,

    /// Largest page a query may ask for with `limit`.
    #[arg(long, env = "ANDI_MAX_PAGE_SIZE", default_value_t = 1_000)]
    pub max_page_size: usize,

    /// Time a request may take before it is answered 408.
    #[arg(long, env = "ANDI_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_std_duration)]
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 10 * 1024 * 1024,
            max_attributes: 200,
            max_batch_records: 1_000,
            max_page_size: 1_000,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The in-memory cache of verified keys, and how closely it follows revocations.
#[derive(Debug, Clone, Args)]
pub struct KeyCacheConfig {
    /// Most verified keys held in memory; 0 turns the cache off (every request reads its key).
    #[arg(long, env = "ANDI_KEY_CACHE_CAPACITY", default_value_t = 100_000)]
    pub key_cache_capacity: usize,

    /// How long a verified key is served from memory before it is read again.
    #[arg(long, env = "ANDI_KEY_CACHE_TTL", default_value = "30s", value_parser = parse_std_duration)]
    pub key_cache_ttl: Duration,

    /// How often the revocation sequence is read. The cache is trusted only while the last
    /// successful read began less than two intervals ago, so a revocation made anywhere is
    /// honoured within two intervals even when reads fail.
    #[arg(long, env = "ANDI_KEY_EVENTS_POLL_INTERVAL", default_value = "500ms", value_parser = parse_std_duration)]
    pub key_events_poll_interval: Duration,
}

impl Default for KeyCacheConfig {
    fn default() -> Self {
        KeyCacheConfig {
            key_cache_capacity: 100_000,
            key_cache_ttl: Duration::from_secs(30),
            key_events_poll_interval: Duration::from_millis(500),
        }
    }
}

/// `250ms`, `5s`, `1m`, `24h`, `30d`.
pub fn parse_std_duration(input: &str) -> Result<Duration, String> {
    if let Some(ms) = input.strip_suffix("ms") {
        return ms
            .parse()
            .map(Duration::from_millis)
            .map_err(|_| format!("`{input}` is not a duration"));
    }
    let duration = crate::keys::parse_duration(input)?;
    duration
        .to_std()
        .map_err(|_| format!("`{input}` must not be negative"))
}
