//! What a decision is about (the resource) and the facts of the request it is made in.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::keys::secret::Environment;

/// The id of the single `Console` entity.
pub(super) const CONSOLE_ID: &str = "andi";

/// What a decision is about: the resource, with the workspace it lives in.
#[derive(Debug, Clone)]
pub enum Resource {
    /// The console itself, for the actions that concern no workspace yet.
    Console,
    Workspace {
        id: String,
    },
    /// A key, as a key reading itself or a user managing it sees it.
    ApiKey {
        id: String,
        workspace_id: String,
        environment: Environment,
    },
    ObjectDefinition {
        id: String,
        handle: String,
        workspace_id: String,
    },
    Record {
        id: String,
        object_id: String,
        object_handle: String,
        workspace_id: String,
    },
}

impl Resource {
    /// The workspace the resource belongs to; none for the console.
    pub fn workspace_id(&self) -> Option<&str> {
        match self {
            Resource::Console => None,
            Resource::Workspace { id } => Some(id),
            Resource::ApiKey { workspace_id, .. }
            | Resource::ObjectDefinition { workspace_id, .. }
            | Resource::Record { workspace_id, .. } => Some(workspace_id),
        }
    }
}

/// Facts about the request that policies may use: client IP, time, method and path.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub ip: IpAddr,
    pub time: DateTime<Utc>,
    pub method: String,
    pub path: String,
}
