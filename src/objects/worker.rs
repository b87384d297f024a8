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

/// How long one step should hold the object's writers.
const STEP_TIME: Duration = Duration::from_millis(25);

/// How many records a step takes, adjusted after each step so that steps hold the object's
/// writers for about [`STEP_TIME`] whatever the database and the records: a fixed count took
/// 70 ms a step on SQLite and up to 150 ms on PostgreSQL, which a writer then waited.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    records: u64,
}

impl Pace {
    const FIRST: u64 = 500;
    const FEWEST: u64 = 50;
    const MOST: u64 = 5_000;

    pub fn new() -> Pace {
        Pace {
            records: Pace::FIRST,
        }
    }

    /// The records of the next step.
    pub fn records(self) -> u64 {
        self.records
    }

    /// A step took `elapsed`: halves or doubles the next one when it was far off.
    pub fn took(&mut self, elapsed: Duration) {
        if elapsed > STEP_TIME * 2 {
            self.records = (self.records / 2).max(Pace::FEWEST);
        } else if elapsed < STEP_TIME / 2 {
            self.records = (self.records * 2).min(Pace::MOST);
        }
    }
}

impl Default for Pace {
    fn default() -> Self {
        Pace::new()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pace_shrinks_after_a_slow_step_and_grows_after_a_quick_one_within_bounds() {
        let mut pace = Pace::new();
        pace.took(Duration::from_millis(200));
        assert_eq!(pace.records(), Pace::FIRST / 2);
        pace.took(Duration::from_millis(25));
        assert_eq!(pace.records(), Pace::FIRST / 2, "on target: unchanged");
        for _ in 0..20 {
            pace.took(Duration::from_millis(500));
        }
        assert_eq!(pace.records(), Pace::FEWEST);
        for _ in 0..20 {
            pace.took(Duration::from_millis(1));
        }
        assert_eq!(pace.records(), Pace::MOST);
    }
}
