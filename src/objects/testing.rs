//! Fixtures for the unit tests of the objects module.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::attribute::attributes_from_json;
use super::definition::ObjectDefinition;
use super::handle::ObjectHandle;

/// A stored definition of `invoices` with `attributes` in their stored JSON form.
pub fn definition(attributes: Value) -> ObjectDefinition {
    ObjectDefinition {
        id: "obj_1".to_owned(),
        workspace_id: "ws_1".to_owned(),
        handle: ObjectHandle::parse("invoices").expect("a valid handle"),
        name: "Invoices".to_owned(),
        description: None,
        attributes: attributes_from_json(&attributes).expect("valid attributes"),
        created_at: DateTime::<Utc>::UNIX_EPOCH,
        updated_at: DateTime::<Utc>::UNIX_EPOCH,
    }
}
