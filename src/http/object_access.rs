//! Finding the object a route names and asking Cedar about it, shared by the definition
//! and record handlers.

use super::error::ApiError;
use super::extract::Authenticated;
use super::state::AppState;
use crate::authz::{Action, Resource};
use crate::objects::definition::ObjectDefinition;
use crate::objects::handle::ObjectHandle;
use crate::store;

/// Finds the object a route names and asks Cedar about it. A missing object is put to
/// Cedar as a placeholder in the key's own workspace, so a key without the permission
/// gets 403 whether or not the object exists, and one with it gets 404. An object of
/// another workspace is never found: lookups are scoped to the key's workspace.
pub async fn authorized_object(
    state: &AppState,
    auth: &Authenticated,
    handle: &str,
    action: Action,
) -> Result<ObjectDefinition, ApiError> {
    let workspace_id = &auth.principal.workspace.id;
    let found = match ObjectHandle::parse(handle) {
        Ok(handle) => {
            store::objects::find_definition_by_handle(&state.db, workspace_id, &handle).await?
        }
        Err(_) => None,
    };
    let resource = match &found {
        Some(definition) => Resource::object(definition),
        None => Resource::ObjectDefinition {
            id: placeholder_id(handle),
            handle: handle.to_owned(),
            workspace_id: workspace_id.clone(),
            attribute_keys: None,
        },
    };
    state
        .authz
        .authorize(&auth.principal, action, &resource, &auth.context)?;
    found.ok_or_else(|| object_not_found(handle))
}

/// The entity id Cedar sees for an object that does not exist.
pub fn placeholder_id(handle: &str) -> String {
    format!("missing:{handle}")
}

pub fn object_not_found(handle: &str) -> ApiError {
    ApiError::NotFound(format!(
        "there is no object `{handle}` in this workspace; GET /api/objects lists them"
    ))
}

/// Takes the object's write lock in `txn` and reads it again, so a batch validates
/// against the definition as it is while it writes.
pub async fn relock(
    txn: &sea_orm::DatabaseTransaction,
    definition: &ObjectDefinition,
) -> Result<ObjectDefinition, ApiError> {
    store::objects::lock_definition(txn, &definition.workspace_id, &definition.id)
        .await?
        .ok_or_else(|| object_not_found(definition.handle.as_str()))
}
