//! Object definitions and their records: types, validation, queries, handlers.

mod batch;
pub mod cache;
pub mod data;
pub mod definition;
mod evolve;
pub mod handlers;
pub mod query;
pub mod record;
pub mod value;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use definition::{Attributes, ObjectHandle, attributes_to_json};
pub use handlers::{objects_create, objects_list};

use utoipa::ToSchema;

/// A stored object definition.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectDefinition {
    pub id: String,
    pub workspace_id: String,
    pub handle: ObjectHandle,
    pub name: String,
    pub description: Option<String>,
    pub attributes: Attributes,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A definition as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDefinitionView {
    pub id: String,
    pub handle: String,
    pub name: String,
    pub description: Option<String>,
    /// Attribute key → `{ type, name?, description?, required, unique, options?, object? }`.
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&ObjectDefinition> for ObjectDefinitionView {
    fn from(d: &ObjectDefinition) -> Self {
        ObjectDefinitionView {
            id: d.id.clone(),
            handle: d.handle.to_string(),
            name: d.name.clone(),
            description: d.description.clone(),
            attributes: attributes_to_json(&d.attributes),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}
