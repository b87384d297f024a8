//! Changing a definition: `PATCH /api/objects/{handle}`. A change no record can contradict
//! (a name, a description, a new optional attribute, a loosened constraint, a removal)
//! applies at once; one the records must fit (a new type, a newly required or unique
//! attribute) is recorded and carried out in steps (`change`). A removed attribute leaves
//! the definition at once; its values leave the records in steps afterwards (`sweep`).

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;

use super::attribute::AttributeKind;
use super::change::{needs_check, requested, unique_values_compare_alike};
use super::definition::{DefinitionPatch, ObjectDefinition};
use super::error::ObjectsError;
use super::handle::AttributeKey;
use crate::issue::{Issue, PathSegment};
use crate::store;
use crate::store::attribute_sweeps;
use crate::store::definition_changes;
use crate::store::unique_values;

/// What a definition patch did.
pub enum Patched {
    /// The definition is the patched one; `removed` says whether it lost attributes (whose
    /// values are now to be swept from the records).
    Applied {
        definition: ObjectDefinition,
        removed: bool,
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
        match change {
            None if updated.attributes.remove(&key).is_some() => {}
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
                let before = definition.attributes.get(&key);
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
        let removed = commit_patch(txn, definition, &updated, now).await?;
        return Ok(Patched::Applied {
            definition: updated,
            removed,
        });
    }
    definition_changes::save(txn, &requested(definition, &updated, checked, now)).await?;
    Ok(Patched::Pending)
}

/// Makes `updated` the definition (which was `before`, locked in `txn`): releases the
/// unique values of attributes that are gone or no longer unique, and records a sweep for
/// each removed attribute, whose values the records keep until it runs. Says whether any
/// attribute was removed.
pub async fn commit_patch(
    txn: &DatabaseTransaction,
    before: &ObjectDefinition,
    updated: &ObjectDefinition,
    now: DateTime<Utc>,
) -> Result<bool, ObjectsError> {
    let (workspace_id, object_id) = (&before.workspace_id, &before.id);
    let mut removed = false;
    for (key, attribute) in &before.attributes {
        let after = updated.attributes.get(key);
        if attribute.unique && !after.is_some_and(|a| a.unique) {
            unique_values::delete_unique_values_for_key(txn, workspace_id, object_id, key.as_str())
                .await?;
        }
        if after.is_none() {
            attribute_sweeps::request(txn, workspace_id, object_id, key, now).await?;
            removed = true;
        }
    }
    store::objects::update_definition(txn, updated).await?;
    Ok(removed)
}
