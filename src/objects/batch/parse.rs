//! The wire form of a batch: the body's list within the batch limit, and each record of it
//! read into an [`Incoming`] (or each id of a delete), with an issue by JSON path for
//! whatever does not fit.

use serde_json::{Map, Value};

use crate::issue::{Issue, Issues, PathSegment};
use crate::objects::attribute_value::is_record_id;
use crate::objects::error::ObjectsError;

pub(super) fn record_path(index: usize) -> Vec<PathSegment> {
    vec!["records".into(), index.into()]
}

pub(super) fn attribute_path(index: usize, key: &str) -> Vec<PathSegment> {
    vec![
        "records".into(),
        index.into(),
        "attributes".into(),
        key.into(),
    ]
}

pub(super) fn record_id_path(index: usize) -> Vec<PathSegment> {
    vec!["records".into(), index.into(), "id".into()]
}

/// The list under `field` of a batch body, within the batch limit.
pub(super) fn batch_items<'a>(
    body: &'a Value,
    field: &str,
    allowed: &[&str],
    max: usize,
) -> Result<&'a Vec<Value>, ObjectsError> {
    let Some(object) = body.as_object() else {
        return Err(ObjectsError::Invalid(vec![Issue::new(
            vec![],
            "the body must be a JSON object",
        )]));
    };
    let mut issues = Vec::new();
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            issues.push(Issue::new(
                vec![key.as_str().into()],
                format!("unknown field `{key}`; expected {}", allowed.join(", ")),
            ));
        }
    }
    let items = match object.get(field) {
        Some(Value::Array(items)) if items.len() > max => {
            issues.push(Issue::new(
                vec![field.into()],
                format!(
                    "a batch may hold at most {max} items; this one has {}: split it",
                    items.len()
                ),
            ));
            None
        }
        Some(Value::Array(items)) => Some(items),
        _ => {
            issues.push(Issue::new(
                vec![field.into()],
                format!("`{field}` is required: a list"),
            ));
            None
        }
    };
    match items {
        Some(items) if issues.is_empty() => Ok(items),
        _ => Err(ObjectsError::Invalid(issues)),
    }
}

/// A record of a batch body, parsed but not yet checked against the database.
pub(super) struct Incoming<'a> {
    pub index: usize,
    pub id: Option<String>,
    /// Absent: unchanged (patch) or none (upsert). `Some(None)`: removed.
    pub name: Option<Option<String>>,
    pub attributes: &'a Map<String, Value>,
}

/// One record of a batch body; `None` (with issues) if it cannot be read.
pub(super) fn parse_incoming<'a>(
    index: usize,
    item: &'a Value,
    id_required: bool,
    issues: &mut Issues,
) -> Option<Incoming<'a>> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    let base = record_path(index);
    let Some(object) = item.as_object() else {
        issues.push(&base, "a record must be an object {id?, name?, attributes}");
        return None;
    };
    for key in object.keys() {
        if !["id", "name", "attributes"].contains(&key.as_str()) {
            let mut p = base.clone();
            p.push(key.as_str().into());
            issues.push(
                &p,
                format!("unknown field `{key}`; expected id, name, attributes"),
            );
        }
    }
    let mut id_path = base.clone();
    id_path.push("id".into());
    let id = match object.get("id") {
        None | Some(Value::Null) if id_required => {
            issues.push(&id_path, "`id` is required: the record to change");
            None
        }
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if is_record_id(id) => Some(id.clone()),
        Some(_) => {
            issues.push(
                &id_path,
                "`id` must be 1-128 letters, digits, `_`, `.`, `:` or `-`",
            );
            None
        }
    };
    let mut name_path = base.clone();
    name_path.push("name".into());
    let name = match object.get("name") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(n)) if !n.trim().is_empty() && n.chars().count() <= 200 => {
            Some(Some(n.trim().to_owned()))
        }
        Some(_) => {
            issues.push(
                &name_path,
                "`name` must be a string of 1-200 characters, or null",
            );
            None
        }
    };
    let mut attributes_path = base.clone();
    attributes_path.push("attributes".into());
    let attributes = match object.get("attributes") {
        None | Some(Value::Null) => EMPTY.get_or_init(Map::new),
        Some(Value::Object(map)) => map,
        Some(_) => {
            issues.push(
                &attributes_path,
                "`attributes` must be an object mapping attribute keys to values",
            );
            return None;
        }
    };
    Some(Incoming {
        index,
        id,
        name,
        attributes,
    })
}

/// The ids of a delete-many body, each with its index.
pub(super) fn parse_ids(items: &[Value], issues: &mut Issues) -> Vec<(usize, String)> {
    let mut ids: Vec<(usize, String)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(id) if is_record_id(id) => ids.push((i, id.to_owned())),
            _ => issues.push(
                &["ids".into(), i.into()],
                "each id must be a record id string",
            ),
        }
    }
    ids
}
