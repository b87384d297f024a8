//! Creating and deleting object definitions, with the rules that guard them: relationship
//! targets must exist, handles are unique in a workspace, and a definition that records or
//! other definitions depend on is not deleted by accident.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction};

use super::attribute::AttributeKind;
use super::definition::{NewDefinition, ObjectDefinition};
use super::error::ObjectsError;
use crate::id::new_id;
use crate::issue::{Issue, PathSegment};
use crate::store;

/// Creates a definition in `workspace_id`.
pub async fn create_definition(
    db: &DatabaseConnection,
    workspace_id: &str,
    definition: NewDefinition,
    now: DateTime<Utc>,
) -> Result<ObjectDefinition, ObjectsError> {
    let mut issues = Vec::new();
    for (key, target) in definition.relationship_targets() {
        let exists = *target == definition.handle
            || store::objects::find_definition_by_handle(db, workspace_id, target)
                .await?
                .is_some();
        if !exists {
            issues.push(Issue::new(
                vec![
                    "attributes".into(),
                    PathSegment::from(key.as_str()),
                    "object".into(),
                ],
                format!("no object `{target}` in this workspace; create it first"),
            ));
        }
    }
    if !issues.is_empty() {
        return Err(ObjectsError::Invalid(issues));
    }
    let taken = || ObjectsError::HandleTaken(definition.handle.to_string());
    if store::objects::find_definition_by_handle(db, workspace_id, &definition.handle)
        .await?
        .is_some()
    {
        return Err(taken());
    }
    let id = new_id("obj");
    store::objects::insert_definition(db, &id, workspace_id, &definition, now)
        .await
        .map_err(|e| {
            if e.is_unique_violation() {
                taken()
            } else {
                e.into()
            }
        })
}

/// Deletes `definition` (locked in `txn`): refused while another definition's relationship
/// points to it, and while it has live records unless `cascade` deletes them with it.
pub async fn delete_definition(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    cascade: bool,
) -> Result<(), ObjectsError> {
    let referrers: Vec<String> = store::objects::find_definitions(txn, &definition.workspace_id)
        .await?
        .into_iter()
        .filter(|other| other.id != definition.id)
        .filter(|other| {
            other.attributes.values().any(|a| {
                matches!(&a.kind, AttributeKind::Relationship { object } if *object == definition.handle)
            })
        })
        .map(|other| other.handle.to_string())
        .collect();
    if !referrers.is_empty() {
        return Err(ObjectsError::Referenced {
            handle: definition.handle.to_string(),
            referrers,
        });
    }
    let live = store::records::count_live(txn, &definition.workspace_id, &definition.id).await?;
    if live > 0 && !cascade {
        return Err(ObjectsError::HasRecords {
            handle: definition.handle.to_string(),
            live,
        });
    }
    store::objects::delete_definition(txn, &definition.workspace_id, &definition.id).await?;
    Ok(())
}
