//! Settings of `andi serve` and the other commands: flags with environment fallbacks.
//! Nothing is required; the defaults serve on 127.0.0.1:8080 with a local SQLite file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::auth::KeyCacheConfig;
use crate::authz::DecisionLogTarget;
use crate::console::settings::ConsoleConfig;
use crate::duration::parse_std_duration;
use crate::http::connections::ConnectionLimits;
use crate::http::cors::CorsOrigins;
use crate::http::limits::Limits;
use crate::http::request_context::TrustedProxies;
use crate::store::{DEFAULT_DATABASE_URL, DEFAULT_POOL_SIZE};

/// Where the data lives. Every command takes it.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://FILE?mode=rwc` (the default) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,

    /// Connections in the database pool. On SQLite they read beside the one writer (WAL).
    #[arg(long, env = "ANDI_DATABASE_POOL_SIZE", default_value_t = DEFAULT_POOL_SIZE, global = true)]
    pub database_pool_size: u32,
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
    pub decision_log: Option<DecisionLogTarget>,

    /// How often noted key uses are written as `lastUsedAt` (at most once per key per interval).
    #[arg(long, env = "ANDI_LAST_USED_INTERVAL", default_value = "60s", value_parser = parse_std_duration)]
    pub last_used_interval: Duration,

    /// How long a workspace's definition listing is served from memory. A change through
    /// this server shows at once; one through another server within this time. `0s` turns it off.
    #[arg(long, env = "ANDI_DEFINITION_CACHE_TTL", default_value = "1s", value_parser = parse_std_duration)]
    pub definition_cache_ttl: Duration,

    /// How often each server looks for background work (a definition change being checked,
    /// a removed attribute being swept) that another server recorded and did not finish.
    /// Work recorded through this server starts at once.
    #[arg(long, env = "ANDI_BACKGROUND_POLL", default_value = "30s", value_parser = parse_std_duration)]
    pub background_poll: Duration,

    /// Proxies (addresses or networks, comma-separated) whose `Forwarded` or
    /// `X-Forwarded-For` names the client: policies and per-address limits then see the
    /// client, not the proxy. Empty: the socket peer is the client, whatever it sends.
    #[arg(long, env = "ANDI_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,

    /// Origins (comma-separated, like `https://app.example.com`) whose pages may call the
    /// API from a browser with a key. Empty: CORS is off and preflights are refused.
    #[arg(long, env = "ANDI_CORS_ORIGINS", default_value = "")]
    pub cors_origins: CorsOrigins,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub connections: ConnectionLimits,

    #[command(flatten)]
    pub console: ConsoleConfig,

    #[command(flatten)]
    pub key_cache: KeyCacheConfig,

    #[command(flatten)]
    pub database: DatabaseArgs,
}
