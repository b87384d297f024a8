//! Request limits, each answered with a clear error when exceeded.

use std::time::Duration;

use clap::Args;

use crate::duration::parse_std_duration;
use crate::objects::query::QueryLimits;

/// Request limits, each answered with a clear error when exceeded.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "ANDI_MAX_BODY_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Most JSON values a request body may hold (every value of every array and object): a
    /// parsed value takes tens of bytes, so this bounds a request's memory whatever its text.
    #[arg(long, env = "ANDI_MAX_JSON_VALUES", default_value_t = 250_000)]
    pub max_json_values: usize,

    /// Most attributes a definition may have.
    #[arg(long, env = "ANDI_MAX_ATTRIBUTES", default_value_t = 200)]
    pub max_attributes: usize,

    /// Most records (or ids) a batch may hold.
    #[arg(long, env = "ANDI_MAX_BATCH_RECORDS", default_value_t = 1_000)]
    pub max_batch_records: usize,

    /// Largest page a query may ask for with `limit`.
    #[arg(long, env = "ANDI_MAX_PAGE_SIZE", default_value_t = 1_000)]
    pub max_page_size: usize,

    /// Filters one query may hold.
    #[arg(long, env = "ANDI_MAX_QUERY_FILTERS", default_value_t = 50)]
    pub max_query_filters: usize,

    /// Fields one query may sort on.
    #[arg(long, env = "ANDI_MAX_QUERY_SORT_KEYS", default_value_t = 8)]
    pub max_query_sort_keys: usize,

    /// Values of all `in` lists of one query together.
    #[arg(long, env = "ANDI_MAX_QUERY_IN_VALUES", default_value_t = 1_000)]
    pub max_query_in_values: usize,

    /// Failed authentications (missing, malformed, unknown, revoked or expired keys) one
    /// client address may make per `auth_failure_window`; past it, its requests are answered
    /// 429 before any key is looked up. 0 turns the limit off.
    #[arg(long, env = "ANDI_MAX_AUTH_FAILURES_PER_IP", default_value_t = 100)]
    pub max_auth_failures_per_ip: u64,

    /// The window of the failed-authentication limit.
    #[arg(long, env = "ANDI_AUTH_FAILURE_WINDOW", default_value = "1m", value_parser = parse_std_duration)]
    pub auth_failure_window: Duration,

    /// Time a request may take before it is answered 408.
    #[arg(long, env = "ANDI_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_std_duration)]
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 10 * 1024 * 1024,
            max_json_values: 250_000,
            max_attributes: 200,
            max_batch_records: 1_000,
            max_page_size: 1_000,
            max_query_filters: 50,
            max_query_sort_keys: 8,
            max_query_in_values: 1_000,
            max_auth_failures_per_ip: 100,
            auth_failure_window: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl Limits {
    /// What one query may hold.
    pub fn query(&self) -> QueryLimits {
        QueryLimits {
            max_page_size: self.max_page_size,
            max_filters: self.max_query_filters,
            max_sort_keys: self.max_query_sort_keys,
            max_in_values: self.max_query_in_values,
        }
    }
}
