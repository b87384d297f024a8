//! Removing what an attribute left in an object's records after a change took it away:
//! the values of a removed attribute, and the unique values (`record_unique_values`) of one
//! that is removed or no longer unique.
//!
//! `PATCH /api/objects/{handle}` records a sweep in the transaction of the change: from its
//! commit on, every read sees the object without the attribute, because records are read
//! as their definition has them (`store::records`), and no write consults the claims of an
//! attribute that is not unique. What is stored is then removed here, a page of records a
//! step (sized so a step takes about 25 ms, `worker::Pace`), each step a transaction of
//! its own that holds the object's writers only while it runs. A sweep cut short (a crash, a restart) resumes at the next start. Until it is done,
//! adding the attribute again, making it unique again or removing it is refused, so no old
//! value comes back and no released claim stands in the way of a new one.

use sea_orm::DatabaseConnection;

use std::time::Instant;

use super::worker::{PAUSE, Pace};
use crate::store::attribute_sweeps::{self, Sweep};
use crate::store::{self, StoreError, records, unique_values};

/// Runs every pending sweep to its end.
pub async fn sweep_pending(db: &DatabaseConnection) -> Result<(), StoreError> {
    for sweep in attribute_sweeps::pending(db).await? {
        let removed = run(db, &sweep).await?;
        tracing::info!(
            object = %sweep.object_id,
            attribute = sweep.key.as_str(),
            removed,
            "swept an attribute's values and unique values from the records"
        );
    }
    Ok(())
}

/// Sweeps step by step, in id order; returns how many records lost a value.
async fn run(db: &DatabaseConnection, sweep: &Sweep) -> Result<u64, StoreError> {
    let (workspace_id, object_id) = (&sweep.workspace_id, &sweep.object_id);
    let mut after: Option<String> = None;
    let mut removed = 0;
    let mut pace = Pace::new();
    loop {
        let started = Instant::now();
        let txn = store::begin_write(db).await?;
        // The definition's lock orders each step with the object's writers and changes: a
        // change that adds the key again waits for the step, then finds the sweep pending.
        let definition = store::objects::lock_definition(&txn, workspace_id, object_id).await?;
        if !attribute_sweeps::is_pending(&txn, object_id, &sweep.key).await? {
            // Another server finished it.
            txn.commit().await?;
            return Ok(removed);
        }
        let ids = match &definition {
            Some(_) => {
                let limit = pace.records();
                records::live_ids_after(&txn, workspace_id, object_id, after.as_deref(), limit)
                    .await?
            }
            None => Vec::new(),
        };
        let (Some(definition), Some(last)) = (definition, ids.last().cloned()) else {
            attribute_sweeps::finish(&txn, sweep).await?;
            txn.commit().await?;
            return Ok(removed);
        };
        // Soft-deleted records hold no unique values: they were released with the record.
        unique_values::delete_unique_values_of_key(
            &txn,
            workspace_id,
            object_id,
            sweep.key.as_str(),
            &ids,
        )
        .await?;
        // An attribute that is only no longer unique keeps its values.
        if !definition.attributes.contains_key(&sweep.key) {
            removed +=
                records::remove_values(&txn, workspace_id, object_id, &sweep.key, &ids).await?;
        }
        txn.commit().await?;
        after = Some(last);
        pace.took(started.elapsed());
        tokio::time::sleep(PAUSE).await;
    }
}
