//! The console's side of access: the signed-in person's requests put to
//! [`crate::account::access`], which loads memberships and asks Cedar.

use sea_orm::DatabaseConnection;

use super::session::SignedIn;
use crate::account::access::{self, AccessError, WorkspaceAccess};
use crate::authz::{Action, Resource};
use crate::http::state::AppState;
use crate::principal::UserPrincipal;

/// The principal of the signed-in person acting on no workspace.
pub fn console_principal(signed_in: &SignedIn) -> UserPrincipal {
    access::console_principal(&signed_in.user)
}

/// Opens workspace `handle` for the signed-in person, or `NotFound` when they are no member.
pub async fn open_workspace(
    db: &DatabaseConnection,
    signed_in: &SignedIn,
    handle: &str,
) -> Result<WorkspaceAccess, AccessError> {
    access::open_workspace(db, &signed_in.user, handle).await
}

/// Asks Cedar about the signed-in person's request; a denial says what they lack.
pub fn decide(
    state: &AppState,
    signed_in: &SignedIn,
    principal: &UserPrincipal,
    action: Action,
    resource: &Resource,
) -> Result<(), AccessError> {
    access::decide(
        &state.authz,
        &signed_in.context,
        principal,
        action,
        resource,
    )
}
