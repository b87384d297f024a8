//! Patch-many: each record names a live one by id and changes only what it sends; `null`
//! removes an attribute, an absent `name` leaves the name as it is.

use std::collections::HashMap;

use sea_orm::DatabaseTransaction;
use serde_json::{Map, Value};

use super::checks::{check_relationships, check_unique, duplicate_ids, merge_attributes};
use super::context::BatchContext;
use super::parse::{Incoming, batch_items, parse_incoming, record_id_path};
use super::write::{Outgoing, decide_writes, write_unique_values};
use crate::issue::Issues;
use crate::objects::definition::ObjectDefinition;
use crate::objects::error::ObjectsError;
use crate::objects::record::Record;
use crate::store::records;

/// `PATCH /data/patch-many`: merges changes into existing records.
pub async fn patch_many(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    body: &Value,
    batch: BatchContext<'_>,
) -> Result<Vec<Record>, ObjectsError> {
    let items = batch_items(body, "records", &["records"], batch.max_records)?;
    let mut issues = Issues::new();
    let incoming: Vec<Incoming> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse_incoming(i, item, true, &mut issues))
        .collect();
    duplicate_ids(
        incoming
            .iter()
            .filter_map(|r| r.id.as_deref().map(|id| (r.index, id))),
        record_id_path,
        &mut issues,
    );
    let ids: Vec<String> = incoming.iter().filter_map(|r| r.id.clone()).collect();
    let existing: HashMap<String, Record> = records::find_live_by_ids(txn, definition, &ids)
        .await?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    let mut outgoing = Vec::new();
    for r in &incoming {
        let Some(id) = &r.id else { continue };
        let Some(current) = existing.get(id) else {
            issues.push(
                &record_id_path(r.index),
                format!("there is no `{}` record `{id}`", definition.handle),
            );
            continue;
        };
        let attributes = merge_attributes(
            definition,
            r.index,
            current.attributes.clone(),
            r.attributes,
            &mut issues,
        );
        outgoing.push(Outgoing {
            index: r.index,
            record: Record {
                id: current.id.clone(),
                name: r.name.clone().unwrap_or_else(|| current.name.clone()),
                attributes,
                created_at: current.created_at,
                updated_at: batch.now,
                created_by: current.created_by.clone(),
                updated_by: Some(batch.author.to_owned()),
            },
            before: Some(current.clone()),
        });
    }
    check_unique(txn, definition, &outgoing, &mut issues).await?;
    let written: Vec<(usize, &Map<String, Value>)> =
        incoming.iter().map(|r| (r.index, r.attributes)).collect();
    check_relationships(txn, definition, &outgoing, &written, &mut issues).await?;
    if !issues.is_empty() {
        return Err(ObjectsError::Invalid(issues.into_vec()));
    }
    decide_writes(batch.decide, &outgoing)?;
    let changed: Vec<&Record> = outgoing.iter().map(|o| &o.record).collect();
    records::update_records(txn, &definition.workspace_id, &definition.id, &changed)
        .await
        .map_err(ObjectsError::from_write)?;
    write_unique_values(txn, definition, &outgoing)
        .await
        .map_err(ObjectsError::from_write)?;
    Ok(outgoing.into_iter().map(|o| o.record).collect())
}
