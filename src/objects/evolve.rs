//! Changing a definition that already has records: `PATCH /api/objects/{handle}`. A change
//! the live records do not satisfy (a new type, a new required or unique attribute) is
//! refused with the number of records that block it; an accepted change rewrites the
//! records' values into the new type's normal form and rebuilds the unique values. A
//! removed attribute leaves the definition at once; its values leave the records in steps
//! afterwards (`sweep`).

use std::collections::BTreeMap;

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
use crate::store::attribute_sweeps;
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
                if !definition.attributes.contains_key(&key)
                    && attribute_sweeps::is_pending(txn, &definition.id, &key).await?
                {
                    return Err(ObjectsError::AttributeBeingRemoved(key.as_str().to_owned()));
                }
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
                if !previous.is_some_and(|p| constrains_alike(&p, &attribute)) {
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

    // The records' values go in steps after the commit (`sweep`); until then reads leave
    // them out, as the definition no longer has them.
    for key in &removed {
        unique_values::delete_unique_values_for_key(
            txn,
            &definition.workspace_id,
            &definition.id,
            key.as_str(),
        )
        .await?;
        attribute_sweeps::request(txn, &definition.workspace_id, &definition.id, key, now).await?;
    }
    if !checked.is_empty() {
        migrate_records(txn, definition, &checked).await?;
    }
    store::objects::update_definition(txn, &updated).await?;
    Ok(updated)
}

/// Whether records that satisfy `before` satisfy `after` as they are: a new name,
/// description or `filterable` changes no value (the index is built after the commit).
fn constrains_alike(before: &Attribute, after: &Attribute) -> bool {
    before.kind == after.kind && before.required == after.required && before.unique == after.unique
}

/// Checks every live record against the changed attributes and rewrites values and unique
/// values page by page, so memory holds one page however many records there are; refuses
/// with a count of blocking records. Everything runs in the caller's transaction, so a
/// refusal or a crash part-way leaves the object as it was.
async fn migrate_records(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    checked: &[(AttributeKey, Attribute)],
) -> Result<(), ObjectsError> {
    let (workspace_id, object_id) = (&definition.workspace_id, &definition.id);
    // Released first and claimed again page by page: the unique index, not memory, finds
    // two records that now share a value.
    for (key, _) in checked {
        unique_values::delete_unique_values_for_key(txn, workspace_id, object_id, key.as_str())
            .await?;
    }
    let mut blocking: BTreeMap<&str, u64> = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = records::scan_live(txn, definition, after.as_deref(), SCAN_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        let mut rewrites: Vec<Record> = Vec::new();
        let mut claims: Vec<(&str, String, String)> = Vec::new();
        for mut record in page {
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
                                claims.push((
                                    key,
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
        // Once the change is refused, the rest of the scan only counts.
        if !blocking.is_empty() {
            continue;
        }
        let rewrites: Vec<&Record> = rewrites.iter().collect();
        records::update_records(txn, workspace_id, object_id, &rewrites).await?;
        for (key, _) in checked {
            let rows: Vec<UniqueValue> = claims
                .iter()
                .filter(|(k, _, _)| k == &key.as_str())
                .map(|(attribute, value, record_id)| UniqueValue {
                    attribute,
                    value: value.clone(),
                    record_id,
                })
                .collect();
            let claimed =
                unique_values::claim_unique_values(txn, workspace_id, object_id, &rows).await?;
            let duplicates = rows.len() as u64 - claimed;
            if duplicates > 0 {
                *blocking.entry(key.as_str()).or_default() += duplicates;
            }
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
    Ok(())
}
