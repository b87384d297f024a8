//! Authentication: from the request headers to a verified [`Principal`].
//!
//! Security-sensitive: every `/api` route that needs a key goes through [`Authenticated`].
//! The order of checks is deliberate: header shape, then key format and checksum (no
//! database read for a look-alike), then the digest lookup, then revocation and expiry.
//! Error messages say what to fix and never echo what was sent.

mod cache;
mod credentials;
mod key_format;
mod revocation;
mod usage;
mod verify;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use chrono::Utc;

pub use cache::VerifiedKey;
pub use key_format::{Environment, KEY_LEN, KeyDigest, KeyFormatError, KeySecret, random_base62};
pub use usage::UsageRecorder;
pub use verify::KeyVerifier;

use crate::app::AppState;
use crate::authz::RequestContext;
use crate::error::ApiError;
use crate::keys::{ApiKey, Permission, Role};

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

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingCredentials => "missing_credentials",
            AuthError::UnsupportedScheme => "unsupported_auth_scheme",
            AuthError::MalformedKey(_) => "malformed_key",
            AuthError::UnknownKey => "unknown_key",
            AuthError::RevokedKey => "revoked_key",
            AuthError::ExpiredKey => "expired_key",
            AuthError::ConflictingCredentials => "conflicting_credentials",
            AuthError::WorkspaceMismatch { .. } => "workspace_mismatch",
        }
    }
}

/// The workspace a principal acts in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkspaceRef {
    pub id: String,
    pub handle: String,
}

/// An authenticated API key: who is asking, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    pub key_id: String,
    pub workspace: WorkspaceRef,
    pub role: Option<Role>,
    pub permissions: Vec<Permission>,
    pub environment: Environment,
}

/// Extractor for routes that need a key: the verified principal, the key as verified, and
/// the request's context.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub key: Arc<ApiKey>,
    pub context: RequestContext,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let presented = credentials::presented_key(&parts.headers)?;
        let secret = KeySecret::parse(presented).map_err(AuthError::MalformedKey)?;
        let now = Utc::now();
        let VerifiedKey { principal, key } = state.keys.verify(&secret, now).await?;
        credentials::check_workspace_headers(&parts.headers, &principal.workspace)?;
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
                addr.ip()
            });
        let context = RequestContext {
            ip,
            time: now,
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
        };
        Ok(Authenticated {
            principal,
            key,
            context,
        })
    }
}
