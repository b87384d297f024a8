//! Changing a definition: `PATCH /api/objects/{handle}`. A change no record can contradict
//! (a name, a description, a new optional attribute, a loosened constraint, a removal)
//! applies at once; one the records must fit (a new type, a newly required or unique
//! attribute) is recorded and carried out in steps (`change`). A removed attribute leaves
//! the definition at once; its values leave the records in steps afterwards (`sweep`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;

use super::attribute::{Attribute, AttributeKind};
use super::definition::{DefinitionPatch, ObjectDefinition};
use super::error::ObjectsError;
use super::handle::AttributeKey;
use crate::issue::{Issue, PathSegment};
use crate::store;
use crate::store::attribute_sweeps;
use crate::store::definition_changes::{self, DefinitionChange, Phase};

/// What a definition patch did.
pub enum Patched {
    /// The definition is the patched one; `swept` says whether attributes it lost, or that
    /// are no longer unique, left values to sweep from the records.
    Applied {
        definition: ObjectDefinition,
        swept: bool,
    },
    /// The records must be checked first: the change is recorded, pending (`change`).
    Pending,
}

/// Applies `patch` to `definition` (locked by the caller's transaction) and its records.
pub async fn apply_patch(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    patch: DefinitionPatch,
    max_attributes: usize,
    now: DateTime<Utc>,
) -> Result<Patched, ObjectsError> {
    if definition_changes::find_pending(txn, &definition.id)
        .await?
        .is_some()
    {
        return Err(ObjectsError::ChangeInProgress(
            definition.handle.to_string(),
        ));
    }
    let mut updated = definition.clone();
    if let Some(name) = patch.name {
        updated.name = name;
    }
    if let Some(description) = patch.description {
        updated.description = description;
    }
    updated.updated_at = now;

    let mut issues = Vec::new();
    let mut checked: Vec<AttributeKey> = Vec::new();
    for (key, change) in patch.attributes {
        let path = vec![PathSegment::from("attributes"), key.as_str().into()];
        let sweeping = attribute_sweeps::is_pending(txn, &definition.id, &key).await?;
        let before = definition.attributes.get(&key);
        match change {
            None if sweeping && before.is_some() => {
                return Err(ObjectsError::UniqueValuesBeingReleased(
                    key.as_str().to_owned(),
                ));
            }
            None if updated.attributes.remove(&key).is_some() => {}
            None => issues.push(Issue::new(
                path,
                format!("there is no attribute `{}` to remove", key.as_str()),
            )),
            Some(_) if sweeping && before.is_none() => {
                return Err(ObjectsError::AttributeBeingRemoved(key.as_str().to_owned()));
            }
            Some(attribute)
                if sweeping && attribute.unique && !before.is_some_and(|b| b.unique) =>
            {
                return Err(ObjectsError::UniqueValuesBeingReleased(
                    key.as_str().to_owned(),
                ));
            }
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
                if let Some(before) = before
                    && before.unique
                    && attribute.unique
                    && !unique_values_compare_alike(&before.kind, &attribute.kind)
                {
                    issues.push(Issue::new(
                        path.clone(),
                        format!(
                            "`{}` is unique, and {} values compare differently from {} values (e-mail addresses without case, datetimes as instants), so its unique values cannot carry over: make it not unique, change its type, then make it unique again",
                            key.as_str(),
                            attribute.kind.type_name(),
                            before.kind.type_name(),
                        ),
                    ));
                }
                if needs_check(before, &attribute) {
                    checked.push(key.clone());
                }
                updated.attributes.insert(key, attribute);
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

    if checked.is_empty() {
        let swept = commit_patch(txn, definition, &updated, now).await?;
        return Ok(Patched::Applied {
            definition: updated,
            swept,
        });
    }
    definition_changes::save(txn, &requested(definition, &updated, checked, now)).await?;
    Ok(Patched::Pending)
}

/// Makes `updated` the definition (which was `before`, locked in `txn`) and records a sweep
/// for each attribute that is gone (its values) or no longer unique (its unique values):
/// the records keep them until the sweep runs, and no read or write sees them meanwhile.
/// Says whether it recorded any.
pub async fn commit_patch(
    txn: &DatabaseTransaction,
    before: &ObjectDefinition,
    updated: &ObjectDefinition,
    now: DateTime<Utc>,
) -> Result<bool, ObjectsError> {
    let mut swept = false;
    for (key, attribute) in &before.attributes {
        let after = updated.attributes.get(key);
        if after.is_none() || (attribute.unique && !after.is_some_and(|a| a.unique)) {
            attribute_sweeps::request(txn, &before.workspace_id, &before.id, key, now).await?;
            swept = true;
        }
    }
    store::objects::update_definition(txn, updated).await?;
    Ok(swept)
}

/// Whether records that satisfy `before` (none: a new attribute, which no record holds)
/// must be checked against `after`: a loosened constraint or a new name never needs it.
fn needs_check(before: Option<&Attribute>, after: &Attribute) -> bool {
    match before {
        None => after.required,
        Some(before) => {
            before.kind != after.kind
                || (after.required && !before.required)
                || (after.unique && !before.unique)
        }
    }
}

/// Whether values that are unique as `before` are compared alike as `after`, so the
/// claims already held stay right: e-mail addresses compare without case, and datetimes
/// as instants rather than as the text another type stored.
fn unique_values_compare_alike(before: &AttributeKind, after: &AttributeKind) -> bool {
    let email = |kind: &AttributeKind| matches!(kind, AttributeKind::Email);
    let datetime = |kind: &AttributeKind| matches!(kind, AttributeKind::Datetime);
    email(before) == email(after) && (datetime(before) || !datetime(after))
}

/// The change a definition patch asks for, to be checked against the records.
fn requested(
    definition: &ObjectDefinition,
    updated: &ObjectDefinition,
    checked: Vec<AttributeKey>,
    now: DateTime<Utc>,
) -> DefinitionChange {
    DefinitionChange {
        workspace_id: definition.workspace_id.clone(),
        object_id: definition.id.clone(),
        name: updated.name.clone(),
        description: updated.description.clone(),
        attributes: updated.attributes.clone(),
        checked,
        phase: Phase::Checking,
        after_id: None,
        records_checked: 0,
        blocking: BTreeMap::new(),
        requested_at: now,
        finished_at: None,
    }
}
