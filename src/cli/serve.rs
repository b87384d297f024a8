//! `andi serve`: the server as it runs, built in one place: database migrated, policies
//! loaded, listener bound, every background task started. `andi serve` runs it until a
//! signal; tests run it in-process on port 0.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::task::JoinHandle;

use crate::authz::{self, Authz, DecisionLog};
use crate::config::ServeConfig;
use crate::http::app::router;
use crate::http::connections::{self, ConnectionLimits};
use crate::http::state::AppState;
use crate::store;

/// How often the database pool's gauges are sampled.
const POOL_SAMPLE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

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
    connections: ConnectionLimits,
    /// The flusher and the revocation watcher, aborted on stop.
    tasks: Vec<JoinHandle<()>>,
    /// Stop when dropped.
    reload_tasks: Vec<authz::ReloadTask>,
}

impl Application {
    /// Everything `andi serve` does before it accepts the first request; listens on
    /// `config.listen` (port 0 picks a free port, see [`Application::address`]).
    pub async fn build(config: ServeConfig) -> anyhow::Result<Application> {
        let db = store::open(
            &config.database.database_url,
            config.database.database_pool_size,
        )
        .await?;
        let invalid = |errors: authz::PolicyErrors| {
            anyhow::anyhow!(
                "the policies in {} are invalid:\n{errors}",
                config.policy_dir.display()
            )
        };
        let mut authz = Authz::load(&config.policy_dir).map_err(invalid)?;
        stored_data_conflicts(&db, &authz.snapshot(), &config.policy_dir)
            .await
            .map_err(invalid)?;
        let (check_db, check_dir) = (db.clone(), config.policy_dir.clone());
        authz = authz.with_stored_data_check(Arc::new(move |bundle| {
            let (db, dir) = (check_db.clone(), check_dir.clone());
            Box::pin(async move { stored_data_conflicts(&db, &bundle, &dir).await })
        }));
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
        let state = AppState::new(db.clone(), authz, config.limits.clone(), &config.key_cache)
            .with_definition_cache(config.definition_cache_ttl)
            .with_console(config.console.clone())
            .with_trusted_proxies(config.trusted_proxies.clone())
            .with_cors_origins(config.cors_origins.clone());

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
        tasks.push(spawn_pool_sampler(state.clone()));
        tasks.extend(state.spawn_object_workers(config.background_poll));
        let reload_tasks = start_policy_reload(&state.authz, &config);
        Ok(Application {
            listener,
            address,
            state,
            decision_log,
            connections: config.connections.clone(),
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
        connections::serve(
            self.listener,
            router(self.state.clone()),
            &self.connections,
            shutdown,
        )
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
        Ok(())
    }
}

/// Samples the database pool into its gauges between scrapes, for the OTLP export (a scrape
/// of `/metrics` samples it again).
fn spawn_pool_sampler(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(POOL_SAMPLE_INTERVAL);
        loop {
            ticker.tick().await;
            crate::http::metrics::record_pool(&state);
        }
    })
}

/// Hot reload: on changes to the policy directory and on SIGHUP. A watch that cannot start
/// (e.g. the inotify limit is reached) is logged, and SIGHUP still reloads.
/// Refuses `bundle` when a stored definition has an attribute its schema declares as a
/// record attribute of a type that attribute cannot be read as (or when the definitions
/// cannot be read, since the set could then not be checked).
async fn stored_data_conflicts(
    db: &sea_orm::DatabaseConnection,
    bundle: &authz::PolicyBundle,
    dir: &std::path::Path,
) -> Result<(), authz::PolicyErrors> {
    let schema = dir.join("schema.cedarschema");
    let problem = |message: String| authz::PolicyError {
        file: schema.clone(),
        line: None,
        column: None,
        message,
    };
    let definitions = store::objects::find_every_definition(db)
        .await
        .map_err(|e| {
            authz::PolicyErrors(vec![problem(format!(
                "cannot read the object definitions to check the declared record attributes against: {e}"
            ))])
        })?;
    let conflicts = bundle.record_attributes.conflicts_with(&definitions);
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(authz::PolicyErrors(
            conflicts.into_iter().map(problem).collect(),
        ))
    }
}

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
