//! Delete-many: a list of ids, each of a live record of the object, soft-deleted together.

use std::collections::HashMap;

use sea_orm::DatabaseTransaction;
use serde_json::Value;

use super::checks::duplicate_ids;
use super::context::{BatchContext, Change};
use super::parse::{batch_items, parse_ids};
use crate::issue::Issues;
use crate::objects::definition::ObjectDefinition;
use crate::objects::error::ObjectsError;
use crate::objects::record::Record;
use crate::store::records;

/// `POST /data/delete-many`: soft-deletes every listed record, or none.
pub async fn delete_many(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    body: &Value,
    batch: BatchContext<'_>,
) -> Result<u64, ObjectsError> {
    let items = batch_items(body, "ids", &["ids"], batch.max_records)?;
    let mut issues = Issues::new();
    let ids = parse_ids(items, &mut issues);
    duplicate_ids(
        ids.iter().map(|(i, id)| (*i, id.as_str())),
        |i| vec!["ids".into(), i.into()],
        &mut issues,
    );
    let wanted: Vec<String> = ids.iter().map(|(_, id)| id.clone()).collect();
    let found: HashMap<String, Record> = records::find_live_by_ids(txn, definition, &wanted)
        .await?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    for (i, id) in &ids {
        if !found.contains_key(id) {
            issues.push(
                &["ids".into(), (*i).into()],
                format!("there is no `{}` record `{id}`", definition.handle),
            );
        }
    }
    if !issues.is_empty() {
        return Err(ObjectsError::Invalid(issues.into_vec()));
    }
    let changes: Vec<Change<'_>> = ids
        .iter()
        .map(|(index, id)| Change {
            index: *index,
            before: found.get(id),
            after: None,
        })
        .collect();
    (batch.decide)(&changes)?;
    Ok(records::soft_delete(
        txn,
        &definition.workspace_id,
        &definition.id,
        &wanted,
        batch.now,
    )
    .await?)
}
