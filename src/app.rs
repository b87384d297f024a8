//! The HTTP application: shared state, the router and the tower layers around it, and the
//! start-up sequence of `andi serve`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode, header};
use sea_orm::DatabaseConnection;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{KeyVerifier, UsageRecorder};
use crate::authz::{self, Authz, DecisionLog};
use crate::config::{DEFAULT_DEFINITION_CACHE_TTL, KeyCacheConfig, Limits, ServeConfig};
use crate::console::{self, ConsoleConfig};
use crate::error::ApiError;
use crate::objects::cache::DefinitionCache;
use crate::{openapi, request_id, store};

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub authz: Arc<Authz>,
    pub keys: Arc<KeyVerifier>,
    pub definitions: Arc<DefinitionCache>,
    pub limits: Arc<Limits>,
    pub console: Arc<ConsoleConfig>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, authz: Authz, limits: Limits) -> AppState {
        AppState {
            keys: Arc::new(KeyVerifier::new(
                db.clone(),
                UsageRecorder::new(),
                &KeyCacheConfig::default(),
            )),
            db,
            authz: Arc::new(authz),
            definitions: Arc::new(DefinitionCache::new(DEFAULT_DEFINITION_CACHE_TTL)),
            limits: Arc::new(limits),
            console: Arc::new(ConsoleConfig::default()),
        }
    }

    /// Replaces the key verifier with one whose cache follows `config`.
    pub fn with_key_cache(mut self, config: &KeyCacheConfig) -> AppState {
        self.keys = Arc::new(KeyVerifier::new(
            self.db.clone(),
            UsageRecorder::new(),
            config,
        ));
        self
    }

    /// Holds each workspace's definition listing for `ttl` (zero: not at all).
    pub fn with_definition_cache(mut self, ttl: Duration) -> AppState {
        self.definitions = Arc::new(DefinitionCache::new(ttl));
        self
    }

    /// Replaces the console's settings (sign-up mode, public URL, session and login limits).
    pub fn with_console(mut self, console: ConsoleConfig) -> AppState {
        self.console = Arc::new(console);
        self
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    // Documented routes are registered with their OpenAPI description (src/openapi.rs).
    let (documented, _) = openapi::routes().split_for_parts();

    Router::new()
        .merge(documented)
        .merge(console::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Layers run outside-in from the last added: request id, sensitive headers, trace,
        // panic guard, timeout, body limit, then the route.
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.limits.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::Internal(anyhow::anyhow!(
                "handler panicked"
            )))
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    let id = request
                        .headers()
                        .get(request_id::HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id = %id,
                        status = tracing::field::Empty,
                    )
                })
                .on_response(
                    |response: &axum::http::Response<Body>,
                     latency: std::time::Duration,
                     span: &tracing::Span| {
                        span.record("status", response.status().as_u16());
                        tracing::debug!(
                            status = response.status().as_u16(),
                            latency_ms = latency.as_millis() as u64,
                            "response"
                        );
                    },
                ),
        )
        // Before tracing sees the request, so no layer can record a credential.
        .layer(SetSensitiveRequestHeadersLayer::from_shared(Arc::new([
            header::AUTHORIZATION,
            header::COOKIE,
            HeaderName::from_static("x-api-key"),
        ])))
        // Outermost, so every response (even a panic's or a timeout's) carries the id and
        // error bodies can quote it.
        .layer(axum::middleware::from_fn(request_id::middleware))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route; see API.md for the routes".to_owned())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// `andi serve`: migrate, load policies, listen, and serve until SIGINT or SIGTERM.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    Application::build(config)
        .await?
        .run_until_stopped(shutdown_signal())
        .await
}

/// The server as `andi serve` runs it: database migrated, policies loaded, listener bound,
/// and every background task started (the `lastUsedAt` flusher, the revocation watcher and
/// policy reload). `serve` runs it until a signal; tests run it in-process on port 0.
pub struct Application {
    listener: tokio::net::TcpListener,
    address: SocketAddr,
    state: AppState,
    decision_log: Option<Arc<DecisionLog>>,
    /// The flusher and the revocation watcher, aborted on stop.
    tasks: Vec<JoinHandle<()>>,
    /// Stop when dropped.
    reload_tasks: Vec<authz::ReloadTask>,
}

impl Application {
    /// Everything `andi serve` does before it accepts the first request; listens on
    /// `config.listen` (port 0 picks a free port, see [`Application::address`]).
    pub async fn build(config: ServeConfig) -> anyhow::Result<Application> {
        let db = store::connect(&config.database.database_url)
            .await
            .with_context(|| {
                format!(
                    "cannot open the database {}",
                    redact_url(&config.database.database_url)
                )
            })?;
        store::migrate(&db)
            .await
            .context("cannot apply the database migrations")?;
        let mut authz = Authz::load(&config.policy_dir).map_err(|errors| {
            anyhow::anyhow!(
                "the policies in {} are invalid:\n{errors}",
                config.policy_dir.display()
            )
        })?;
        let decision_log = match &config.decision_log {
            Some(target) => {
                let log = Arc::new(DecisionLog::open(target)?);
                authz = authz.with_decision_log(log.clone());
                Some(log)
            }
            None => None,
        };
        let bundle = authz.snapshot();
        tracing::info!(
            version = %bundle.version,
            dir = %config.policy_dir.display(),
            policies = %bundle.policy_ids.join(","),
            "policy set loaded"
        );
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let address = listener.local_addr()?;
        let state = AppState::new(db.clone(), authz, config.limits.clone())
            .with_key_cache(&config.key_cache)
            .with_definition_cache(config.definition_cache_ttl)
            .with_console(config.console.clone());

        // Read once before serving, so the key cache is trusted from the first request
        // rather than from the watcher's first read.
        if let Err(error) = state.keys.sync_revocations().await {
            tracing::warn!(%error, "could not read the key revocation sequence; cached keys are not trusted until it is read again");
        }
        let mut tasks = state.keys.spawn_revocation_watcher();
        tasks.push(
            state
                .keys
                .usage()
                .spawn_flusher(db, config.last_used_interval),
        );
        let reload_tasks = start_policy_reload(&state.authz, &config);
        Ok(Application {
            listener,
            address,
            state,
            decision_log,
            tasks,
            reload_tasks,
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// What its handlers share: the database, the live policy set, the key verifier.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The decision log, when `ANDI_DECISION_LOG` is set.
    pub fn decision_log(&self) -> Option<&Arc<DecisionLog>> {
        self.decision_log.as_ref()
    }

    /// Serves until `shutdown` completes and the open requests are answered; then stops the
    /// background tasks and writes what they still hold (noted key uses, queued decisions).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let address = self.address;
        tracing::info!(%address, policy_version = %self.state.authz.version(), "andi listening on http://{address}");
        let served = axum::serve(
            self.listener,
            router(self.state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        drop(self.reload_tasks);
        for task in self.tasks {
            task.abort();
        }
        self.state.keys.usage().flush(&self.state.db).await;
        if let Some(log) = self.decision_log {
            log.flush();
        }
        tracing::info!("andi stopped");
        Ok(served?)
    }
}

/// Hot reload: on changes to the policy directory and on SIGHUP. A watch that cannot start
/// (e.g. the inotify limit is reached) is logged, and SIGHUP still reloads.
fn start_policy_reload(authz: &Arc<Authz>, config: &ServeConfig) -> Vec<authz::ReloadTask> {
    let mut tasks = Vec::new();
    match authz::watch(
        authz.clone(),
        &config.policy_dir,
        config.policy_reload_debounce,
    ) {
        Ok(task) => tasks.push(task),
        Err(error) => tracing::warn!(
            %error,
            dir = %config.policy_dir.display(),
            "cannot watch the policy directory; reload with SIGHUP"
        ),
    }
    #[cfg(unix)]
    match authz::reload_on_hangup(authz.clone(), &config.policy_dir) {
        Ok(task) => tasks.push(task),
        Err(error) => tracing::warn!(%error, "cannot listen for SIGHUP"),
    }
    tasks
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
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
