//! Who is asking: the principal an authenticated request acts as, as authorization and the
//! audit record name it. Never a secret.

use crate::keys::api_key::ApiKey;
use crate::keys::grant::{Permission, Role};
use crate::keys::metadata::KeyMetadata;
use crate::keys::object_limit::ObjectLimit;
use crate::keys::secret::Environment;

/// The workspace a principal acts in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkspaceRef {
    pub id: String,
    pub handle: String,
}

/// An authenticated API key: who is asking, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyPrincipal {
    pub key_id: String,
    pub workspace: WorkspaceRef,
    pub role: Option<Role>,
    pub permissions: Vec<Permission>,
    pub environment: Environment,
    /// The key's metadata, which policies read as its tags.
    pub metadata: KeyMetadata,
    /// The objects the key is limited to; `None` for every object.
    pub objects: Option<ObjectLimit>,
}

impl From<&ApiKey> for KeyPrincipal {
    fn from(key: &ApiKey) -> KeyPrincipal {
        KeyPrincipal {
            key_id: key.id.clone(),
            workspace: WorkspaceRef {
                id: key.workspace_id.clone(),
                handle: key.workspace_handle.to_string(),
            },
            role: key.grants.role(),
            permissions: key.grants.permissions().to_vec(),
            environment: key.environment,
            metadata: key.metadata.clone(),
            objects: key.objects.clone(),
        }
    }
}

/// A signed-in person: the workspaces they belong to, and the subset they administer.
/// Callers load only the memberships a decision needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserPrincipal {
    pub id: String,
    pub email: String,
    pub member_of: Vec<String>,
    pub admin_of: Vec<String>,
}

/// Who a decision is about: an API key or a signed-in person. Borrowed, so asking costs
/// no copy of the principal.
#[derive(Debug, Clone, Copy)]
pub enum Principal<'a> {
    Key(&'a KeyPrincipal),
    User(&'a UserPrincipal),
}

impl Principal<'_> {
    /// The key's or the user's id.
    pub fn id(&self) -> &str {
        match self {
            Principal::Key(key) => &key.key_id,
            Principal::User(user) => &user.id,
        }
    }

    /// The one workspace the principal acts in: the key's, or the user's when exactly one
    /// membership was loaded (as for a request about one workspace).
    pub fn own_workspace(&self) -> Option<&str> {
        match self {
            Principal::Key(key) => Some(&key.workspace.id),
            Principal::User(user) => match user.member_of.as_slice() {
                [only] => Some(only),
                _ => None,
            },
        }
    }
}
