//! `lastUsedAt`, recorded off the request path: a request only notes the time in memory;
//! a background task writes the noted times in one batch per interval, so a busy key costs
//! one write per interval instead of one per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use crate::store;

#[derive(Clone)]
pub struct UsageRecorder {
    pending: Arc<Mutex<HashMap<String, DateTime<Utc>>>>,
}

impl UsageRecorder {
    pub fn new() -> UsageRecorder {
        UsageRecorder {
            pending: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn record(&self, key_id: &str, at: DateTime<Utc>) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(key_id.to_owned(), at);
        }
    }

    /// Writes every noted time. Failed writes are logged and dropped: the next use notes it again.
    pub async fn flush(&self, db: &DatabaseConnection) {
        let uses: Vec<(String, DateTime<Utc>)> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return,
        };
        if uses.is_empty() {
            return;
        }
        // One transaction per flush: on SQLite that is one commit (one sync) for all keys.
        let written = async {
            let txn = store::begin_write(db).await?;
            store::api_keys::update_keys_last_used(&txn, &uses).await?;
            txn.commit().await.map_err(store::StoreError::from)
        };
        if let Err(error) = written.await {
            tracing::warn!(%error, keys = uses.len(), "could not record key usage");
        }
    }

    /// Flushes every `interval` until the process ends.
    pub fn spawn_flusher(
        &self,
        db: DatabaseConnection,
        interval: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let recorder = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                recorder.flush(&db).await;
            }
        })
    }
}

impl Default for UsageRecorder {
    fn default() -> Self {
        UsageRecorder::new()
    }
}
