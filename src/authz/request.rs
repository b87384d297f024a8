//! What a decision is about (the resource) and the facts of the request it is made in.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::keys::api_key::ApiKey;
use crate::keys::grant::{Permission, Role};
use crate::keys::metadata::KeyMetadata;
use crate::keys::object_limit::ObjectLimit;
use crate::keys::secret::Environment;
use crate::objects::attribute::Attributes;
use crate::objects::definition::ObjectDefinition;
use crate::objects::record::Record;
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
        /// Its grants, its parents in Cedar as for a key asking.
        role: Option<Role>,
        permissions: Vec<Permission>,
        environment: Environment,
        metadata: KeyMetadata,
        objects: Option<ObjectLimit>,
    },
    ObjectDefinition {
        id: String,
        handle: String,
        workspace_id: String,
        /// The keys of its attributes; unknown for an object that does not exist.
        attribute_keys: Option<Vec<String>>,
    },
    Record {
        id: String,
        object_id: String,
        object_handle: String,
        workspace_id: String,
        /// What the record holds; none for a record that does not exist.
        data: Option<RecordData>,
    },
}

/// What a record holds that policies may read: its attribute values (those the schema
/// declares are given to Cedar) and the keys that created and last changed it.
#[derive(Debug, Clone, Default)]
pub struct RecordData {
    pub attributes: Map<String, Value>,
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
}

/// The keys of a definition's attributes, as `ObjectDefinition::attributeKeys` holds them.
pub fn attribute_keys(attributes: &Attributes) -> Vec<String> {
    attributes
        .keys()
        .map(|key| key.as_str().to_owned())
        .collect()
}

impl Resource {
    /// An object definition that exists, with its attribute keys.
    pub fn object(definition: &ObjectDefinition) -> Resource {
        Resource::ObjectDefinition {
            id: definition.id.clone(),
            handle: definition.handle.to_string(),
            workspace_id: definition.workspace_id.clone(),
            attribute_keys: Some(attribute_keys(&definition.attributes)),
        }
    }

    /// Record `id` of `definition`, with what it holds when it exists.
    pub fn record(definition: &ObjectDefinition, id: &str, record: Option<&Record>) -> Resource {
        Resource::Record {
            id: id.to_owned(),
            object_id: definition.id.clone(),
            object_handle: definition.handle.to_string(),
            workspace_id: definition.workspace_id.clone(),
            data: record.map(|record| RecordData {
                attributes: record.attributes.clone(),
                created_by: record.created_by.clone(),
                updated_by: record.updated_by.clone(),
            }),
        }
    }

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
            role: key.grants.role(),
            permissions: key.grants.permissions().to_vec(),
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
            role: principal.role,
            permissions: principal.permissions.clone(),
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
