//! Records: what is stored for each, and what the API shows.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A live record of an object definition, with attributes in their normal form.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: String,
    pub name: Option<String>,
    pub attributes: Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The key that created it; none for records written before Andi recorded it.
    pub created_by: Option<String>,
    /// The key that last changed it.
    pub updated_by: Option<String>,
}

/// A record as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordView {
    pub id: String,
    pub name: Option<String>,
    /// Attribute key → value, in each attribute type's normal form.
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
    /// The id of the key that created it (absent for records older than this field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// The id of the key that last changed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

impl From<&Record> for RecordView {
    fn from(r: &Record) -> Self {
        RecordView {
            id: r.id.clone(),
            name: r.name.clone(),
            attributes: r.attributes.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            created_by: r.created_by.clone(),
            updated_by: r.updated_by.clone(),
        }
    }
}
