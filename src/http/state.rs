//! What every handler can reach: the database, the live policy set, the key verifier, the
//! definition-listing cache, the request limits and the console's settings.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use tokio::task::JoinHandle;

use super::cors::CorsOrigins;
use super::limits::Limits;
use super::request_context::TrustedProxies;
use crate::auth::KeyCacheConfig;
use crate::auth::throttle::FailureLimiter;
use crate::auth::usage::UsageRecorder;
use crate::auth::verify::KeyVerifier;
use crate::authz::Authz;
use crate::console::settings::ConsoleConfig;
use crate::keys::api_key::ApiKey;
use crate::keys::lifecycle::{self, Actor, Audit, KeyError};
use crate::keys::secret::KeySecret;
use crate::objects::cache::{DEFAULT_DEFINITION_CACHE_TTL, DefinitionCache};
use crate::objects::worker::Worker;
use crate::objects::{change, sweep};

/// What every handler can reach. One reference count to clone: layers and extractors clone
/// the state several times a request, and cloning each field (the pool and eight `Arc`s)
/// took 4 % of a `/healthz` under load.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The fields of [`AppState`], reached through it.
#[derive(Clone)]
pub struct Shared {
    pub db: DatabaseConnection,
    pub authz: Arc<Authz>,
    pub keys: Arc<KeyVerifier>,
    /// Failed authentications per client address.
    pub auth_failures: Arc<FailureLimiter>,
    pub definitions: Arc<DefinitionCache>,
    pub limits: Arc<Limits>,
    pub console: Arc<ConsoleConfig>,
    /// Whose forwarding headers name the client's address.
    pub trusted_proxies: Arc<TrustedProxies>,
    /// The origins browsers may call the API from (none by default).
    pub cors_origins: Arc<CorsOrigins>,
    /// Removes removed attributes' values from records, in steps.
    pub sweeper: Worker,
    /// Checks definition changes against the records and applies them, in steps.
    pub changes: Worker,
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// The state with the given key cache; the definition cache and the console settings
    /// take their defaults until replaced.
    pub fn new(
        db: DatabaseConnection,
        authz: Authz,
        limits: Limits,
        key_cache: &KeyCacheConfig,
    ) -> AppState {
        AppState(Arc::new(Shared {
            keys: Arc::new(KeyVerifier::new(
                db.clone(),
                UsageRecorder::new(),
                key_cache,
            )),
            auth_failures: Arc::new(FailureLimiter::new(
                limits.max_auth_failures_per_ip,
                limits.auth_failure_window,
            )),
            db,
            authz: Arc::new(authz),
            definitions: Arc::new(DefinitionCache::new(DEFAULT_DEFINITION_CACHE_TTL)),
            limits: Arc::new(limits),
            console: Arc::new(ConsoleConfig::default()),
            trusted_proxies: Arc::new(TrustedProxies::default()),
            cors_origins: Arc::new(CorsOrigins::default()),
            sweeper: Worker::default(),
            changes: Worker::default(),
        }))
    }

    /// Holds each workspace's definition listing for `ttl` (zero: not at all).
    pub fn with_definition_cache(mut self, ttl: Duration) -> AppState {
        Arc::make_mut(&mut self.0).definitions = Arc::new(DefinitionCache::new(ttl));
        self
    }

    /// Replaces the console's settings (sign-up mode, public URL, session and login limits).
    pub fn with_console(mut self, console: ConsoleConfig) -> AppState {
        Arc::make_mut(&mut self.0).console = Arc::new(console);
        self
    }

    /// Believes the forwarding headers of these proxies (none by default).
    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> AppState {
        Arc::make_mut(&mut self.0).trusted_proxies = Arc::new(proxies);
        self
    }

    /// Answers cross-origin requests from these origins (none by default).
    pub fn with_cors_origins(mut self, origins: CorsOrigins) -> AppState {
        Arc::make_mut(&mut self.0).cors_origins = Arc::new(origins);
        self
    }

    /// Starts the background work on objects: definition changes and attribute sweeps,
    /// each looking for work other servers left every `poll`.
    pub fn spawn_object_workers(&self, poll: Duration) -> [JoinHandle<()>; 2] {
        let db = self.db.clone();
        let sweeps = self.sweeper.spawn("attribute sweeps", poll, move || {
            let db = db.clone();
            async move { sweep::sweep_pending(&db).await }
        });
        let (db, sweeper) = (self.db.clone(), self.sweeper.clone());
        let changes = self.changes.spawn("definition changes", poll, move || {
            let (db, sweeper) = (db.clone(), sweeper.clone());
            async move { change::run_pending(&db, &sweeper).await }
        });
        [sweeps, changes]
    }

    /// Where `actor`'s key events are recorded: this server's decision log, if it has one.
    pub fn key_audit<'a>(&'a self, actor: &'a Actor) -> Audit<'a> {
        Audit {
            actor,
            log: self.authz.decision_log(),
        }
    }

    /// Revokes a key and drops it from this server's key cache at once.
    pub async fn revoke_key(
        &self,
        actor: &Actor,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<ApiKey, KeyError> {
        let key = lifecycle::revoke_key(&self.db, self.key_audit(actor), id, now).await?;
        self.keys.forget(id);
        Ok(key)
    }

    /// Rotates a key and drops it from this server's key cache at once, so its previous
    /// secrets' new expiry applies from the next request.
    pub async fn rotate_key(
        &self,
        actor: &Actor,
        id: &str,
        grace: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<(KeySecret, ApiKey), KeyError> {
        let rotated =
            lifecycle::rotate_key(&self.db, self.key_audit(actor), id, grace, now).await?;
        self.keys.forget(id);
        Ok(rotated)
    }
}
