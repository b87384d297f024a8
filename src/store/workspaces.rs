//! Workspace rows.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::StoreError;
use super::entity::workspace;
use crate::workspace::{Workspace, WorkspaceHandle};

fn to_domain(model: workspace::Model) -> Result<Workspace, StoreError> {
    Ok(Workspace {
        handle: WorkspaceHandle::parse(&model.handle).map_err(StoreError::Corrupt)?,
        id: model.id,
        name: model.name,
        created_at: model.created_at,
    })
}

pub async fn insert_workspace(
    db: &impl ConnectionTrait,
    id: &str,
    handle: &WorkspaceHandle,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Workspace, StoreError> {
    let model = workspace::ActiveModel {
        id: Set(id.to_owned()),
        handle: Set(handle.as_str().to_owned()),
        name: Set(name.to_owned()),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    to_domain(model)
}

pub async fn find_workspace_by_handle(
    db: &impl ConnectionTrait,
    handle: &WorkspaceHandle,
) -> Result<Option<Workspace>, StoreError> {
    workspace::Entity::find()
        .filter(workspace::Column::Handle.eq(handle.as_str()))
        .one(db)
        .await?
        .map(to_domain)
        .transpose()
}

pub async fn find_workspace(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<Workspace>, StoreError> {
    workspace::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(to_domain)
        .transpose()
}

pub async fn find_workspaces(db: &impl ConnectionTrait) -> Result<Vec<Workspace>, StoreError> {
    workspace::Entity::find()
        .order_by_asc(workspace::Column::Handle)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}
