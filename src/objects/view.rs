//! Object definitions as the API shows them.

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::attribute::attributes_to_json;
use super::definition::ObjectDefinition;

/// A definition as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectDefinitionView {
    pub id: String,
    pub handle: String,
    pub name: String,
    pub description: Option<String>,
    /// Attribute key → `{ type, name?, description?, required, unique, filterable, options?, object? }`.
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
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

#[derive(Serialize, ToSchema)]
pub struct ObjectList {
    items: Vec<ObjectDefinitionView>,
}

impl ObjectList {
    /// The JSON body of `GET /api/objects`.
    pub fn render(definitions: &[ObjectDefinition]) -> Result<Bytes, serde_json::Error> {
        let list = ObjectList {
            items: definitions.iter().map(ObjectDefinitionView::from).collect(),
        };
        serde_json::to_vec(&list).map(Bytes::from)
    }
}
