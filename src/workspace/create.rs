//! Creating a workspace: the handle must be free, the name printable.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::{Workspace, WorkspaceHandle, parse_name};
use crate::id::new_id;
use crate::store::{self, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("{0}")]
    Invalid(String),
    #[error("a workspace with handle `{0}` already exists")]
    Exists(WorkspaceHandle),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn create_workspace(
    db: &DatabaseConnection,
    handle: WorkspaceHandle,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Workspace, WorkspaceError> {
    let name = parse_name("the workspace name", name).map_err(WorkspaceError::Invalid)?;
    if store::workspaces::find_workspace_by_handle(db, &handle)
        .await?
        .is_some()
    {
        return Err(WorkspaceError::Exists(handle));
    }
    let id = new_id("ws");
    store::workspaces::insert_workspace(db, &id, &handle, &name, now)
        .await
        .map_err(|e| {
            if e.is_unique_violation() {
                WorkspaceError::Exists(handle)
            } else {
                e.into()
            }
        })
}
