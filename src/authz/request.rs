//! What a decision is about (the resource) and the facts of the request it is made in.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::keys::api_key::ApiKey;
use crate::keys::metadata::KeyMetadata;
use crate::keys::object_limit::ObjectLimit;
use crate::keys::secret::Environment;
use crate::principal::KeyPrincipal;

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
        metadata: KeyMetadata,
        objects: Option<ObjectLimit>,
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

impl Resource {
    /// A stored key as the resource of a decision (a console user revoking it, say).
    pub fn api_key(key: &ApiKey) -> Resource {
        Resource::ApiKey {
            id: key.id.clone(),
            workspace_id: key.workspace_id.clone(),
            environment: key.environment,
            metadata: key.metadata.clone(),
            objects: key.objects.clone(),
        }
    }

    /// The calling key as the resource of a decision about itself (`readSelf`).
    pub fn own_key(principal: &KeyPrincipal) -> Resource {
        Resource::ApiKey {
            id: principal.key_id.clone(),
            workspace_id: principal.workspace.id.clone(),
            environment: principal.environment,
            metadata: principal.metadata.clone(),
            objects: principal.objects.clone(),
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
