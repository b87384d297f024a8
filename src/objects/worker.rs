//! The background tasks that carry out object work in steps after the request that asked
//! for it answered: definition changes (`change`) and attribute sweeps (`sweep`). Each kind
//! has one task per server, woken when this server records work and polling for work that
//! another server recorded and did not finish (it stopped).

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// Between steps, so writers waiting for the object get their turn.
pub const PAUSE: Duration = Duration::from_millis(10);

/// `ANDI_BACKGROUND_POLL`'s default.
pub const DEFAULT_POLL: Duration = Duration::from_secs(30);

/// One kind of background work: wake it, or wait until a run of it ends.
#[derive(Clone)]
pub struct Worker {
    wake: Arc<Notify>,
    /// How many runs have ended.
    runs: watch::Sender<u64>,
}

impl Default for Worker {
    fn default() -> Self {
        Worker {
            wake: Arc::default(),
            runs: watch::Sender::new(0),
        }
    }
}

impl Worker {
    /// Work was recorded here: do it now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The count of runs ended, which changes as each ends: for a caller that awaits work's
    /// outcome (it then reads the outcome from the database, which is where another
    /// server's run leaves it), or the end of the first run after the start.
    pub fn runs(&self) -> watch::Receiver<u64> {
        self.runs.subscribe()
    }

    /// Runs `run` at once, then whenever woken or every `poll`.
    pub fn spawn<F, Fut, E>(&self, what: &'static str, poll: Duration, run: F) -> JoinHandle<()>
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
        E: Display,
    {
        let (wake, runs) = (Arc::clone(&self.wake), self.runs.clone());
        tokio::spawn(async move {
            loop {
                if let Err(error) = run().await {
                    tracing::warn!(%error, what, "background work failed; retrying later");
                }
                runs.send_modify(|n| *n += 1);
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(poll) => {}
                }
            }
        })
    }
}
