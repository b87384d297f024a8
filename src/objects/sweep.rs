//! Removing a removed attribute's values from an object's records, after the change.
//!
//! `PATCH /api/objects/{handle}` with `"key": null` takes the attribute out of the definition
//! and records a sweep, in one short transaction: from its commit on, every read sees the
//! object without the attribute, because records are read as their definition has them
//! (`store::records`). The stored values are then removed here, a thousand records a step,
//! each step a transaction of its own that holds the object's writers only while it runs.
//! A sweep cut short (a crash, a restart) resumes at the next start; adding the attribute
//! again is refused until its sweep is done, so no old value can come back.

use sea_orm::DatabaseConnection;

use super::worker::PAUSE;
use crate::store::attribute_sweeps::{self, Sweep};
use crate::store::{self, StoreError, records};

/// Records whose value one step removes.
const STEP: u64 = 1_000;

/// Runs every pending sweep to its end.
pub async fn sweep_pending(db: &DatabaseConnection) -> Result<(), StoreError> {
    for sweep in attribute_sweeps::pending(db).await? {
        let removed = run(db, &sweep).await?;
        tracing::info!(
            object = %sweep.object_id,
            attribute = sweep.key.as_str(),
            removed,
            "values of a removed attribute swept from the records"
        );
    }
    Ok(())
}

/// Removes the sweep's values step by step, in id order; returns how many records changed.
async fn run(db: &DatabaseConnection, sweep: &Sweep) -> Result<u64, StoreError> {
    let mut after: Option<String> = None;
    let mut removed = 0;
    loop {
        let txn = store::begin_write(db).await?;
        // The definition's lock orders each step with the object's writers and changes: a
        // change that adds the key again waits for the step, then finds the sweep pending.
        let exists =
            store::objects::lock_definition(&txn, &sweep.workspace_id, &sweep.object_id).await?;
        if !attribute_sweeps::is_pending(&txn, &sweep.object_id, &sweep.key).await? {
            // Another server finished it.
            txn.commit().await?;
            return Ok(removed);
        }
        let ids = if exists {
            records::live_ids_after(
                &txn,
                &sweep.workspace_id,
                &sweep.object_id,
                after.as_deref(),
                STEP,
            )
            .await?
        } else {
            Vec::new()
        };
        let Some(last) = ids.last().cloned() else {
            attribute_sweeps::finish(&txn, sweep).await?;
            txn.commit().await?;
            return Ok(removed);
        };
        removed += records::remove_values(
            &txn,
            &sweep.workspace_id,
            &sweep.object_id,
            &sweep.key,
            &ids,
        )
        .await?;
        txn.commit().await?;
        after = Some(last);
        tokio::time::sleep(PAUSE).await;
    }
}
