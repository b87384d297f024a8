//! `andi serve`: migrate, load the policies, listen, and serve until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;

use crate::authz::{self, Authz, DecisionLog};
use crate::config::ServeConfig;
use crate::http::app::router;
use crate::http::state::AppState;
use crate::store;

/// `andi serve`: migrate, load policies, listen, and serve until SIGINT or SIGTERM.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let db = store::open(&config.database.database_url).await?;
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
    let state = AppState::new(db.clone(), authz, config.limits.clone())
        .with_key_cache(&config.key_cache)
        .with_definition_cache(config.definition_cache_ttl)
        .with_console(config.console.clone());
    let _reload_tasks = start_policy_reload(&state.authz, &config);
    let usage = state.keys.usage().clone();
    let flusher = usage.spawn_flusher(db.clone(), config.last_used_interval);
    let revocation_watcher = state.keys.spawn_revocation_watcher();

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, policy_version = %bundle.version, "andi listening on http://{address}");

    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    flusher.abort();
    for task in revocation_watcher {
        task.abort();
    }
    usage.flush(&db).await;
    if let Some(log) = decision_log {
        log.flush();
    }
    tracing::info!("andi stopped");
    Ok(())
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
