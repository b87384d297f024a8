//! Following the key revocation sequence, so a key revoked or rotated by another server or
//! by the CLI leaves this server's cache within a second.
//!
//! Security-sensitive: this is what bounds how long a revoked key can keep working. Every
//! server reads the sequence every poll interval (SQLite and PostgreSQL alike); on
//! PostgreSQL a LISTEN connection also wakes the reader as soon as a revocation commits. If
//! the channel is down the poll still runs; if the reads fail, [`KeyCache`] stops trusting
//! its entries and every request reads its key from the database again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;

use super::cache::KeyCache;
use crate::store::{self, StoreError};

/// Events read per query; a burst of revocations is read in several.
const PAGE: u64 = 1_000;
const RECONNECT_FIRST: Duration = Duration::from_millis(250);
const RECONNECT_MAX: Duration = Duration::from_secs(10);

/// This server's position in the revocation sequence.
pub struct RevocationFeed {
    db: DatabaseConnection,
    cache: Arc<KeyCache>,
    /// `None` until the first read, which starts from the end of the sequence.
    last_seq: Mutex<Option<i64>>,
    wake: Notify,
}

impl RevocationFeed {
    pub fn new(db: DatabaseConnection, cache: Arc<KeyCache>) -> RevocationFeed {
        RevocationFeed {
            db,
            cache,
            last_seq: Mutex::new(None),
            wake: Notify::new(),
        }
    }

    /// Reads the events since the last read and drops their keys from the cache.
    pub async fn sync(&self) -> Result<(), StoreError> {
        let started = Instant::now();
        let mut last_seq = self.last_seq.lock().await;
        match *last_seq {
            None => {
                let seq = store::key_events::find_last_key_event_seq(&self.db).await?;
                // Whatever was cached before the starting point is unknown: start empty.
                self.cache.clear();
                *last_seq = Some(seq);
            }
            Some(mut seq) => loop {
                let events = store::key_events::find_key_events_after(&self.db, seq, PAGE).await?;
                let Some(last) = events.last() else { break };
                seq = last.seq;
                let full_page = events.len() as u64 == PAGE;
                self.cache.evict(events.into_iter().map(|e| e.digest));
                *last_seq = Some(seq);
                if !full_page {
                    break;
                }
            },
        }
        self.cache.mark_synced(started);
        crate::metrics::get().revocations_read(started);
        Ok(())
    }

    /// Reads the sequence every `interval`, and at once when PostgreSQL announces an event.
    /// The returned tasks run until aborted.
    pub fn spawn(self: Arc<Self>, interval: Duration) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        if self.db.get_database_backend() == DbBackend::Postgres {
            tasks.push(tokio::spawn(Arc::clone(&self).listen()));
        }
        tasks.push(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    () = self.wake.notified() => {}
                }
                if let Err(error) = self.sync().await {
                    tracing::warn!(%error, "could not read the key revocation sequence; cached keys are not trusted until it is read again");
                }
            }
        }));
        tasks
    }

    /// Holds a LISTEN connection, reconnecting with a growing pause when it fails. A lost
    /// connection may have missed notifications, so every (re)connection wakes a read.
    async fn listen(self: Arc<Self>) {
        let pool = self.db.get_postgres_connection_pool().clone();
        let mut pause = RECONNECT_FIRST;
        loop {
            let listening = async {
                let mut listener = PgListener::connect_with(&pool).await?;
                listener
                    .listen(store::key_events::KEY_EVENTS_CHANNEL)
                    .await?;
                Ok::<_, sea_orm::sqlx::Error>(listener)
            };
            let mut listener = match listening.await {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?pause, "cannot LISTEN for key revocations; polling only");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RECONNECT_MAX);
                    continue;
                }
            };
            pause = RECONNECT_FIRST;
            self.wake.notify_one();
            loop {
                match listener.try_recv().await {
                    Ok(Some(_)) => self.wake.notify_one(),
                    // The connection dropped and will be reopened by the next call.
                    Ok(None) => self.wake.notify_one(),
                    Err(error) => {
                        tracing::warn!(%error, "the key revocation channel failed; reconnecting");
                        break;
                    }
                }
            }
        }
    }
}
