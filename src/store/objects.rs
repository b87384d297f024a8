//! Object definition rows, always filtered by workspace.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::StoreError;
use super::entity::object_definition;
use crate::objects::attribute::{attributes_from_json, attributes_to_json};
use crate::objects::definition::{NewDefinition, ObjectDefinition};
use crate::objects::handle::ObjectHandle;

fn to_domain(model: object_definition::Model) -> Result<ObjectDefinition, StoreError> {
    Ok(ObjectDefinition {
        handle: ObjectHandle::parse(&model.handle).map_err(StoreError::Corrupt)?,
        attributes: attributes_from_json(&model.attributes).map_err(StoreError::Corrupt)?,
        id: model.id,
        workspace_id: model.workspace_id,
        name: model.name,
        description: model.description,
        created_at: model.created_at,
        updated_at: model.updated_at,
    })
}

pub async fn insert_definition(
    db: &impl ConnectionTrait,
    id: &str,
    workspace_id: &str,
    definition: &NewDefinition,
    now: DateTime<Utc>,
) -> Result<ObjectDefinition, StoreError> {
    let model = object_definition::ActiveModel {
        id: Set(id.to_owned()),
        workspace_id: Set(workspace_id.to_owned()),
        handle: Set(definition.handle.as_str().to_owned()),
        name: Set(definition.name.clone()),
        description: Set(definition.description.clone()),
        attributes: Set(attributes_to_json(&definition.attributes)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    to_domain(model)
}

pub async fn find_definitions(
    db: &impl ConnectionTrait,
    workspace_id: &str,
) -> Result<Vec<ObjectDefinition>, StoreError> {
    object_definition::Entity::find()
        .filter(object_definition::Column::WorkspaceId.eq(workspace_id))
        .order_by_asc(object_definition::Column::Handle)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// Every definition of every workspace, for checks that span them all (a policy schema
/// against the attributes it declares).
pub async fn find_every_definition(
    db: &impl ConnectionTrait,
) -> Result<Vec<ObjectDefinition>, StoreError> {
    object_definition::Entity::find()
        .order_by_asc(object_definition::Column::WorkspaceId)
        .order_by_asc(object_definition::Column::Handle)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

pub async fn find_definition_by_handle(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    handle: &ObjectHandle,
) -> Result<Option<ObjectDefinition>, StoreError> {
    object_definition::Entity::find()
        .filter(object_definition::Column::WorkspaceId.eq(workspace_id))
        .filter(object_definition::Column::Handle.eq(handle.as_str()))
        .one(db)
        .await?
        .map(to_domain)
        .transpose()
}

/// Locks an object definition for the rest of the transaction and reads it as it is, so
/// writers of one object's records and changes to its definition take turns, each seeing
/// the definition the last one left; none if it no longer exists. SQLite has no row locks
/// (sea-query leaves `FOR UPDATE` out there): its write transaction
/// ([`super::begin_write`]) already holds the database's one write lock.
pub async fn lock_definition(
    txn: &DatabaseTransaction,
    workspace_id: &str,
    object_id: &str,
) -> Result<Option<ObjectDefinition>, StoreError> {
    object_definition::Entity::find()
        .filter(object_definition::Column::WorkspaceId.eq(workspace_id))
        .filter(object_definition::Column::Id.eq(object_id))
        .lock_exclusive()
        .one(txn)
        .await?
        .map(to_domain)
        .transpose()
}

/// Saves a definition's name, description, attributes and update time.
pub async fn update_definition(
    db: &impl ConnectionTrait,
    definition: &ObjectDefinition,
) -> Result<(), StoreError> {
    object_definition::Entity::update_many()
        .col_expr(
            object_definition::Column::Name,
            Expr::value(definition.name.clone()),
        )
        .col_expr(
            object_definition::Column::Description,
            Expr::value(definition.description.clone()),
        )
        .col_expr(
            object_definition::Column::Attributes,
            Expr::value(attributes_to_json(&definition.attributes)),
        )
        .col_expr(
            object_definition::Column::UpdatedAt,
            Expr::value(definition.updated_at),
        )
        .filter(object_definition::Column::WorkspaceId.eq(definition.workspace_id.as_str()))
        .filter(object_definition::Column::Id.eq(definition.id.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes a definition; its records and unique values go with it (foreign keys cascade).
pub async fn delete_definition(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    id: &str,
) -> Result<(), StoreError> {
    object_definition::Entity::delete_many()
        .filter(object_definition::Column::WorkspaceId.eq(workspace_id))
        .filter(object_definition::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn find_definition_by_id(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    id: &str,
) -> Result<Option<ObjectDefinition>, StoreError> {
    object_definition::Entity::find()
        .filter(object_definition::Column::WorkspaceId.eq(workspace_id))
        .filter(object_definition::Column::Id.eq(id))
        .one(db)
        .await?
        .map(to_domain)
        .transpose()
}
