//! A console account, its sessions and its roles in workspaces.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A console account (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub email: String,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

/// What a live session knows besides its user.
#[derive(Debug, Clone)]
pub struct Session {
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A person's role in one workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    /// Manages the workspace's keys and members.
    Admin,
    /// Sees the workspace, its members and its keys' metadata.
    Member,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Admin => "admin",
            MemberRole::Member => "member",
        }
    }
}

impl FromStr for MemberRole {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(MemberRole::Admin),
            "member" => Ok(MemberRole::Member),
            _ => Err(format!(
                "unknown member role `{s}`: expected admin or member"
            )),
        }
    }
}
