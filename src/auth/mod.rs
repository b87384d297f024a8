//! Authentication: from the request headers to a verified key.
//!
//! Security-sensitive: every `/api` route that needs a key goes through here (the
//! `Authenticated` extractor in `http::extract` calls [`credentials`] and [`KeyVerifier`]).
//! The order of checks is deliberate: header shape, then key format and checksum (no
//! database read for a look-alike), then the digest lookup, then revocation and expiry.
//! Error messages say what to fix and never echo what was sent.

pub mod cache;
pub mod credentials;
pub mod rate_limit;
pub mod revocation;
pub mod throttle;
pub mod usage;
pub mod verify;

use std::time::Duration;

use clap::Args;

use crate::duration::parse_std_duration;
use crate::keys::secret::KeyFormatError;
use crate::store::StoreError;

/// Why a request could not be authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no API key was sent; send `Authorization: Bearer <key>` (or `x-api-key: <key>`)")]
    MissingCredentials,
    #[error("the Authorization header must use the Bearer scheme: `Authorization: Bearer <key>`")]
    UnsupportedScheme,
    #[error("the API key is malformed: {0}")]
    MalformedKey(KeyFormatError),
    #[error("the API key is not recognized")]
    UnknownKey,
    #[error("the API key has been revoked")]
    RevokedKey,
    #[error("the API key has expired")]
    ExpiredKey,
    #[error("the Authorization and x-api-key headers carry different keys; send one key")]
    ConflictingCredentials,
    #[error(
        "the {header} header names a workspace other than the key's; a key already determines its workspace, so omit the header"
    )]
    WorkspaceMismatch { header: &'static str },
}

/// Why a key could not be verified: a key the service refuses, or storage that failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
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
