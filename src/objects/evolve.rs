//! Changing a definition that already has records: `PATCH /api/objects/{handle}`. A change
//! the live records do not satisfy (a new type, a new required or unique attribute) is
//! refused with the number of records that block it; an accepted change rewrites the
//! records' values into the new type's normal form and rebuilds the unique values.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;

use super::attribute::{Attribute, AttributeKind};
use super::attribute_value::{normalize, unique_key};
use super::definition::{DefinitionPatch, ObjectDefinition};
use super::error::ObjectsError;
use super::handle::AttributeKey;
use super::record::Record;
use crate::issue::{Issue, PathSegment};
use crate::store;
use crate::store::records;
use crate::store::unique_values::{self, UniqueValue};

/// Records read per step of a scan over an object.
const SCAN_PAGE: u64 = 500;

/// Applies `patch` to `definition` (locked by the caller's transaction) and its records.
pub async fn apply_patch(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    patch: DefinitionPatch,
    max_attributes: usize,
    now: DateTime<Utc>,
) -> Result<ObjectDefinition, ObjectsError> {
    let mut updated = definition.clone();
    if let Some(name) = patch.name {
        updated.name = name;
    }
    if let Some(description) = patch.description {
        updated.description = description;
    }
    updated.updated_at = now;

    let mut issues = Vec::new();
    let mut removed: Vec<AttributeKey> = Vec::new();
    let mut checked: Vec<(AttributeKey, Attribute)> = Vec::new();
    for (key, change) in patch.attributes {
        let path = vec![PathSegment::from("attributes"), key.as_str().into()];
        match change {
            None if updated.attributes.remove(&key).is_some() => removed.push(key),
            None => issues.push(Issue::new(
                path,
                format!("there is no attribute `{}` to remove", key.as_str()),
            )),
            Some(attribute) => {
                if let AttributeKind::Relationship { object } = &attribute.kind
                    && *object != definition.handle
                    && store::objects::find_definition_by_handle(
                        txn,
                        &definition.workspace_id,
                        object,
                    )
                    .await?
                    .is_none()
                {
                    issues.push(Issue::new(
                        [path.clone(), vec!["object".into()]].concat(),
                        format!("no object `{object}` in this workspace; create it first"),
                    ));
                }
                let previous = updated.attributes.insert(key.clone(), attribute.clone());
                if previous.as_ref() != Some(&attribute) {
                    checked.push((key, attribute));
                }
            }
        }
    }
    if updated.attributes.len() > max_attributes {
        issues.push(Issue::new(
            vec!["attributes".into()],
            format!("a definition may have at most {max_attributes} attributes"),
        ));
    }
    if !issues.is_empty() {
        return Err(ObjectsError::Invalid(issues));
    }

    for key in &removed {
        records::remove_attribute(txn, &definition.workspace_id, &definition.id, key).await?;
    }
    if !checked.is_empty() {
        migrate_records(txn, definition, &checked).await?;
    }
    store::objects::update_definition(txn, &updated).await?;
    Ok(updated)
}

/// Checks every live record against the changed attributes, then rewrites values and
/// unique values; refuses with a count of blocking records.
async fn migrate_records(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    checked: &[(AttributeKey, Attribute)],
) -> Result<(), ObjectsError> {
    let mut blocking: BTreeMap<&str, u64> = BTreeMap::new();
    let mut rewrites: Vec<Record> = Vec::new();
    let mut unique_values: HashMap<&str, Vec<(String, String)>> = HashMap::new();
    let mut after = 0;
    loop {
        let page = records::scan_live(
            txn,
            &definition.workspace_id,
            &definition.id,
            after,
            SCAN_PAGE,
        )
        .await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (_, mut record) in page {
            let mut changed = false;
            for (key, attribute) in checked {
                let key = key.as_str();
                match record.attributes.get(key) {
                    None if attribute.required => *blocking.entry(key).or_default() += 1,
                    None => {}
                    Some(value) => match normalize(&attribute.kind, value) {
                        Err(_) => *blocking.entry(key).or_default() += 1,
                        Ok(normal) => {
                            if attribute.unique {
                                unique_values.entry(key).or_default().push((
                                    unique_key(&attribute.kind, &normal),
                                    record.id.clone(),
                                ));
                            }
                            if normal != *value {
                                record.attributes.insert(key.to_owned(), normal);
                                changed = true;
                            }
                        }
                    },
                }
            }
            if changed {
                rewrites.push(record);
            }
        }
    }
    for (key, values) in unique_values.iter_mut() {
        values.sort();
        let duplicates = values.windows(2).filter(|w| w[0].0 == w[1].0).count() as u64;
        if duplicates > 0 {
            *blocking.entry(key).or_default() += duplicates;
        }
    }
    if !blocking.is_empty() {
        let detail = blocking
            .iter()
            .map(|(key, n)| format!("{n} record(s) block the change of `{key}`"))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(ObjectsError::RecordsBlockChange(detail));
    }
    for record in &rewrites {
        records::update_record(txn, &definition.workspace_id, &definition.id, record).await?;
    }
    for (key, _) in checked {
        unique_values::delete_unique_values_for_key(
            txn,
            &definition.workspace_id,
            &definition.id,
            key.as_str(),
        )
        .await?;
    }
    let rows: Vec<UniqueValue> = unique_values
        .iter()
        .flat_map(|(key, values)| {
            values.iter().map(|(value, record_id)| UniqueValue {
                attribute: key,
                value: value.clone(),
                record_id,
            })
        })
        .collect();
    unique_values::insert_unique_values(txn, &definition.workspace_id, &definition.id, &rows)
        .await?;
    Ok(())
}
