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

    /// How often noted key uses are written as `lastUsedAt` (at most once per key per interval).
    #[arg(long, env = "ANDI_LAST_USED_INTERVAL", default_value = "60s", value_parser = parse_std_duration)]
    pub last_used_interval: Duration,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

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
