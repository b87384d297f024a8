//! Hot reload of the policy set: `serve` watches the policy directory and reloads on SIGHUP.
//!
//! Security-sensitive: a reload parses and strictly validates the whole directory and swaps
//! it in with one atomic store, so a request sees the old set or the new one, never a mix.
//! A set with any error is refused: the last good set keeps serving, the errors are logged
//! with file and line, and `GET /readyz` shows them until a good set loads.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::task::JoinHandle;

use super::bundle::PolicyBundle;
use super::live::Authz;
use super::load::load;
use super::source::{PolicyError, PolicyErrors};

/// How often a deleted policy directory is looked for again.
const REAPPEAR_POLL: Duration = Duration::from_secs(1);

/// A background reload task; it stops when this is dropped.
pub struct ReloadTask(JoinHandle<()>);

impl Drop for ReloadTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Watches `dir` and reloads once its files have been quiet for `debounce`, so an editor or
/// a deploy writing several files causes one reload. Call inside a tokio runtime.
pub fn watch(authz: Arc<Authz>, dir: &Path, debounce: Duration) -> notify::Result<ReloadTask> {
    let dir = std::path::absolute(dir)?;
    let (sender, events) = unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
        let _ = sender.send(event);
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(ReloadTask(tokio::spawn(watch_loop(
        authz, dir, debounce, watcher, events,
    ))))
}

async fn watch_loop(
    authz: Arc<Authz>,
    dir: PathBuf,
    debounce: Duration,
    mut watcher: RecommendedWatcher,
    mut events: UnboundedReceiver<notify::Result<Event>>,
) {
    let mut watching = true;
    loop {
        if watching {
            match events.recv().await {
                None => return,
                Some(event) if !changes_policy_files(&event, &dir) => continue,
                Some(_) => {}
            }
        } else {
            // The directory was deleted, and its watch with it: wait for it to come back.
            tokio::time::sleep(REAPPEAR_POLL).await;
            if !dir.is_dir() || watcher.watch(&dir, RecursiveMode::NonRecursive).is_err() {
                continue;
            }
            watching = true;
        }
        loop {
            match tokio::time::timeout(debounce, events.recv()).await {
                Ok(None) => return,
                Ok(Some(_)) => {}
                Err(_quiet) => break,
            }
        }
        let _ = reload(&authz, &dir).await;
        if !dir.is_dir() {
            watching = false;
            let _ = watcher.unwatch(&dir);
        }
    }
}

/// Loads `dir`, checks it against the stored data when the server asked for that, and
/// swaps it in (or keeps the current set).
async fn reload(authz: &Arc<Authz>, dir: &Path) -> Result<Arc<PolicyBundle>, PolicyErrors> {
    let load_dir = dir.to_path_buf();
    // Parsing and validating is CPU work; keep it off the request workers.
    let loaded = tokio::task::spawn_blocking(move || load(&load_dir).map(Arc::new))
        .await
        .unwrap_or_else(|e| {
            Err(PolicyErrors(vec![PolicyError {
                file: dir.to_path_buf(),
                line: None,
                column: None,
                message: format!("the reload stopped: {e}"),
            }]))
        });
    let checked = match (loaded, authz.stored_data_check()) {
        (Ok(bundle), Some(check)) => check(Arc::clone(&bundle)).await.map(|()| bundle),
        (loaded, _) => loaded,
    };
    authz.install(dir, checked)
}

/// Whether an event may have changed what `load` reads: the directory's own files (not
/// `tests/` or `examples/`), and not our own reads of them.
fn changes_policy_files(event: &notify::Result<Event>, dir: &Path) -> bool {
    let Ok(event) = event else {
        // An overflowed or failed watch may have lost a change; reloading is the safe answer.
        return true;
    };
    let kind_matters = match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        _ => true,
    };
    kind_matters
        && (event.paths.is_empty()
            || event
                .paths
                .iter()
                .any(|path| path == dir || path.parent() == Some(dir)))
}

/// Reloads `dir` on every SIGHUP. Call inside a tokio runtime.
#[cfg(unix)]
pub fn reload_on_hangup(authz: Arc<Authz>, dir: &Path) -> std::io::Result<ReloadTask> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    let dir = dir.to_path_buf();
    Ok(ReloadTask(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!(dir = %dir.display(), "SIGHUP: reloading the policy set");
            let _ = reload(&authz, &dir).await;
        }
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, RemoveKind};

    fn event(kind: EventKind, path: &str) -> notify::Result<Event> {
        Ok(Event::new(kind).add_path(PathBuf::from(path)))
    }

    #[test]
    fn writes_to_the_directory_files_count_and_reads_and_subdirectories_do_not() {
        let dir = Path::new("/srv/policies");
        let cases = [
            (
                EventKind::Modify(ModifyKind::Any),
                "/srv/policies/base.cedar",
                true,
            ),
            (
                EventKind::Create(CreateKind::File),
                "/srv/policies/new.cedar",
                true,
            ),
            (
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                "/srv/policies/entities.json",
                true,
            ),
            (EventKind::Remove(RemoveKind::Folder), "/srv/policies", true),
            (
                EventKind::Access(AccessKind::Open(AccessMode::Any)),
                "/srv/policies/base.cedar",
                false,
            ),
            (
                EventKind::Modify(ModifyKind::Any),
                "/srv/policies/tests/base.json",
                false,
            ),
            (EventKind::Modify(ModifyKind::Any), "/srv/andi.db", false),
        ];
        for (kind, path, expected) in cases {
            assert_eq!(
                changes_policy_files(&event(kind, path), dir),
                expected,
                "{kind:?} on {path}"
            );
        }
    }
}
