//! Per-key rate limits (`andi key create --rate-limit 100/1m`), checked after the key is
//! verified and before the request is handled.
//!
//! Security-sensitive: the limit bounds what one key, leaked or misbehaving, can cost.
//! Counting is exact across every server on the database: each request of a limited key
//! is one atomic upsert of its window's count (`store::rate_windows`), so two servers can
//! never both admit the last request of a window. Windows are fixed (aligned to the epoch),
//! so a client can make up to twice the limit across a window boundary. The price is one
//! database write per request of a limited key; keys without a limit pay nothing.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use crate::keys::rate_limit::RateLimit;
use crate::store::{self, StoreError};

/// What the count says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted { remaining: u64, reset_secs: u64 },
    Limited { limit: u64, reset_secs: u64 },
}

/// Counts one request of key `key_id` against `limit` at `now`.
pub async fn admit(
    db: &DatabaseConnection,
    key_id: &str,
    limit: RateLimit,
    now: DateTime<Utc>,
) -> Result<Admission, StoreError> {
    let (window_start, reset_secs) = limit.window_at(now.timestamp());
    let count = store::rate_windows::count_key_request(db, key_id, window_start).await?;
    let allowed = u64::from(limit.requests());
    let count = u64::try_from(count).unwrap_or(u64::MAX);
    Ok(if count <= allowed {
        Admission::Admitted {
            remaining: allowed - count,
            reset_secs,
        }
    } else {
        Admission::Limited {
            limit: allowed,
            reset_secs,
        }
    })
}
