//! Who is asking: the principal an authenticated request acts as, as authorization and the
//! audit record name it. Never a secret.

use crate::keys::api_key::ApiKey;
use crate::keys::grant::{Permission, Role};
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
        }
    }
}
