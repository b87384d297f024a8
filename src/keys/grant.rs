//! What a key may be granted: explicit permissions and an optional role. What a role
//! contains is defined by `policies/entities.json`, not here, so the security team owns it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A permission name as users see it (`objects.read`) and as Cedar groups actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "objects.read")]
    ObjectsRead,
    #[serde(rename = "objects.write")]
    ObjectsWrite,
    #[serde(rename = "workspaces.read")]
    WorkspacesRead,
}

impl Permission {
    pub const ALL: [Permission; 3] = [
        Permission::ObjectsRead,
        Permission::ObjectsWrite,
        Permission::WorkspacesRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ObjectsRead => "objects.read",
            Permission::ObjectsWrite => "objects.write",
            Permission::WorkspacesRead => "workspaces.read",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!("unknown permission `{s}`: expected one of objects.read, objects.write, workspaces.read")
            })
    }
}

/// A named bundle of permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Editor,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Editor, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`: expected one of admin, editor, viewer"))
    }
}

/// A key's grants: never empty, so no key is created that can do nothing by accident and
/// no key silently becomes an admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    role: Option<Role>,
    permissions: Vec<Permission>,
}

impl Grants {
    pub fn new(role: Option<Role>, mut permissions: Vec<Permission>) -> Result<Grants, String> {
        permissions.sort();
        permissions.dedup();
        if role.is_none() && permissions.is_empty() {
            return Err(
                "a key needs at least one permission or a role; choose what it may do (least privilege)"
                    .to_owned(),
            );
        }
        Ok(Grants { role, permissions })
    }

    pub fn role(&self) -> Option<Role> {
        self.role
    }

    pub fn permissions(&self) -> &[Permission] {
        &self.permissions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_refuse_to_be_empty() {
        assert!(Grants::new(None, vec![]).is_err());
        assert!(Grants::new(Some(Role::Viewer), vec![]).is_ok());
    }

    #[test]
    fn permissions_are_deduplicated_and_sorted() {
        let grants = Grants::new(
            None,
            vec![
                Permission::ObjectsWrite,
                Permission::ObjectsRead,
                Permission::ObjectsWrite,
            ],
        )
        .expect("valid grants");
        assert_eq!(
            grants.permissions(),
            &[Permission::ObjectsRead, Permission::ObjectsWrite]
        );
    }

    #[test]
    fn names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("objects.delete".parse::<Permission>().is_err());
    }
}
