//! Object definitions: a stored definition, and the bodies that create one (`POST`) or
//! change one (`PATCH`), parsed from JSON into types that cannot hold an invalid definition.
//! Parsing collects every problem with its JSON path, so a client fixes a body in one round
//! trip.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::attribute::{
    Attribute, AttributeKind, Attributes, child_path, optional_text, parse_attribute,
};
use super::handle::{AttributeKey, ObjectHandle};
use crate::issue::{Issue, Issues, PathSegment};

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

/// A definition to create, fully validated but for references to other objects, which
/// need the database: see [`NewDefinition::relationship_targets`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewDefinition {
    pub handle: ObjectHandle,
    pub name: String,
    pub description: Option<String>,
    pub attributes: Attributes,
}

impl NewDefinition {
    /// Each relationship attribute with the object it points to.
    pub fn relationship_targets(&self) -> impl Iterator<Item = (&AttributeKey, &ObjectHandle)> {
        self.attributes
            .iter()
            .filter_map(|(key, attribute)| match &attribute.kind {
                AttributeKind::Relationship { object } => Some((key, object)),
                _ => None,
            })
    }
}

/// The attribute map of a body, sent as `attributes` or as its alias `fields`, with the
/// path of the one that was sent.
fn attributes_field<'a>(
    object: &'a Map<String, Value>,
    issues: &mut Issues,
) -> Option<(Vec<PathSegment>, &'a Value)> {
    match (object.get("attributes"), object.get("fields")) {
        (Some(_), Some(_)) => {
            issues.push(
                &["fields".into()],
                "send `attributes` or its alias `fields`, not both",
            );
            None
        }
        (Some(value), None) => Some((vec!["attributes".into()], value)),
        (None, Some(value)) => Some((vec!["fields".into()], value)),
        (None, None) => None,
    }
}

/// Parses the body of `POST /api/objects`.
pub fn parse_new_definition(
    body: &Value,
    max_attributes: usize,
) -> Result<NewDefinition, Vec<Issue>> {
    let mut issues = Issues::new();
    let Some(object) = body.as_object() else {
        return Err(vec![Issue::new(vec![], "the body must be a JSON object")]);
    };
    for key in object.keys() {
        if !["name", "handle", "description", "attributes", "fields"].contains(&key.as_str()) {
            issues.push(
                &[key.as_str().into()],
                format!("unknown field `{key}`; expected name, handle, description, attributes"),
            );
        }
    }
    let name = optional_text(object, "name", &[], &mut issues);
    if object.get("name").is_none_or(Value::is_null) {
        issues.push(&["name".into()], "`name` is required");
    }
    let handle = match object.get("handle") {
        None | Some(Value::Null) => name.as_deref().and_then(|name| {
            let derived = ObjectHandle::from_name(name);
            if derived.is_none() {
                issues.push(
                    &["name".into()],
                    "cannot derive a handle from this name; give a `handle`",
                );
            }
            derived
        }),
        Some(Value::String(h)) => ObjectHandle::parse(h)
            .map_err(|m| issues.push(&["handle".into()], m))
            .ok(),
        Some(_) => {
            issues.push(&["handle".into()], "`handle` must be a string");
            None
        }
    };
    let description = optional_text(object, "description", &[], &mut issues);
    let mut attributes = Attributes::new();
    if let Some((path, value)) = attributes_field(object, &mut issues) {
        match value.as_object() {
            Some(map) => {
                if map.len() > max_attributes {
                    issues.push(
                        &path,
                        format!("a definition may have at most {max_attributes} attributes"),
                    );
                }
                for (key, spec) in map {
                    let attribute_path = child_path(&path, key.as_str());
                    let key = AttributeKey::parse(key)
                        .map_err(|m| issues.push(&attribute_path, m))
                        .ok();
                    let attribute = parse_attribute(spec, &attribute_path, &mut issues);
                    if let (Some(key), Some(attribute)) = (key, attribute) {
                        attributes.insert(key, attribute);
                    }
                }
            }
            None => issues.push(
                &path,
                "`attributes` must be an object mapping attribute keys to their definitions",
            ),
        }
    }
    match (name, handle, issues.is_empty()) {
        (Some(name), Some(handle), true) => Ok(NewDefinition {
            handle,
            name,
            description,
            attributes,
        }),
        _ => Err(issues.into_vec()),
    }
}

/// The body of `PATCH /api/objects/{handle}`: what to change, each part optional.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DefinitionPatch {
    pub name: Option<String>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<String>>,
    /// A new or replaced attribute, or `None` to remove one.
    pub attributes: BTreeMap<AttributeKey, Option<Attribute>>,
}

/// Parses the body of `PATCH /api/objects/{handle}`.
pub fn parse_definition_patch(body: &Value) -> Result<DefinitionPatch, Vec<Issue>> {
    let mut issues = Issues::new();
    let Some(object) = body.as_object() else {
        return Err(vec![Issue::new(vec![], "the body must be a JSON object")]);
    };
    for key in object.keys() {
        match key.as_str() {
            "name" | "description" | "attributes" | "fields" => {}
            "handle" => issues.push(
                &["handle".into()],
                "a handle cannot be changed; create a new object instead",
            ),
            _ => issues.push(
                &[key.as_str().into()],
                format!("unknown field `{key}`; expected name, description, attributes"),
            ),
        }
    }
    let mut patch = DefinitionPatch {
        name: optional_text(object, "name", &[], &mut issues),
        description: match object.get("description") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(_) => Some(optional_text(object, "description", &[], &mut issues)),
        },
        attributes: BTreeMap::new(),
    };
    if matches!(object.get("name"), Some(Value::Null)) {
        issues.push(&["name".into()], "`name` cannot be removed");
    }
    if let Some((path, value)) = attributes_field(object, &mut issues) {
        match value.as_object() {
            Some(map) => {
                for (key, spec) in map {
                    let attribute_path = child_path(&path, key.as_str());
                    let key = AttributeKey::parse(key)
                        .map_err(|m| issues.push(&attribute_path, m))
                        .ok();
                    let attribute = if spec.is_null() {
                        Some(None)
                    } else {
                        parse_attribute(spec, &attribute_path, &mut issues).map(Some)
                    };
                    if let (Some(key), Some(attribute)) = (key, attribute) {
                        patch.attributes.insert(key, attribute);
                    }
                }
            }
            None => issues.push(
                &path,
                "`attributes` must be an object mapping attribute keys to a definition, or to null to remove one",
            ),
        }
    }
    if issues.is_empty() {
        Ok(patch)
    } else {
        Err(issues.into_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::attribute::{attributes_from_json, attributes_to_json};
    use serde_json::json;

    fn paths(issues: &[Issue]) -> Vec<Vec<PathSegment>> {
        issues.iter().map(|i| i.path.clone()).collect()
    }

    #[test]
    fn a_full_definition_parses_and_fields_is_an_alias() {
        let body = json!({
            "name": "Invoices",
            "fields": {
                "amount": {"type": "number", "required": true},
                "status": {"type": "select", "options": [{"value": "open", "color": "green"}, {"value": "paid"}]},
                "customer": {"type": "relationship", "object": "customers", "unique": true}
            }
        });
        let definition = parse_new_definition(&body, 200).expect("valid definition");
        assert_eq!(definition.handle.as_str(), "invoices");
        assert_eq!(definition.attributes.len(), 3);
        assert_eq!(definition.relationship_targets().count(), 1);
        let stored = attributes_to_json(&definition.attributes);
        assert_eq!(attributes_from_json(&stored), Ok(definition.attributes));
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let body = json!({
            "handle": "Bad Handle",
            "attributes": {
                "Amount": {"type": "money"},
                "status": {"type": "select"},
                "flag": {"type": "boolean", "unique": true, "color": "red"}
            }
        });
        let issues = parse_new_definition(&body, 200).expect_err("invalid");
        let found = paths(&issues);
        let expected: Vec<Vec<PathSegment>> = vec![
            vec!["name".into()],
            vec!["handle".into()],
            vec!["attributes".into(), "Amount".into()],
            vec!["attributes".into(), "Amount".into(), "type".into()],
            vec!["attributes".into(), "flag".into(), "color".into()],
            vec!["attributes".into(), "flag".into(), "unique".into()],
            vec!["attributes".into(), "status".into(), "options".into()],
        ];
        for path in expected {
            assert!(
                found.contains(&path),
                "missing issue at {path:?} in {issues:?}"
            );
        }
    }

    #[test]
    fn too_many_attributes_are_refused() {
        let attributes: Map<String, Value> = (0..3)
            .map(|i| (format!("a{i}"), json!({"type": "string"})))
            .collect();
        let issues = parse_new_definition(&json!({"name": "X", "attributes": attributes}), 2)
            .expect_err("too many");
        assert_eq!(paths(&issues), vec![vec![PathSegment::from("attributes")]]);
    }

    #[test]
    fn attributes_and_its_alias_fields_together_are_one_issue_in_both_bodies() {
        let attributes = json!({"amount": {"type": "number"}});
        let body = json!({"name": "X", "attributes": attributes, "fields": attributes});
        let both: Vec<Vec<PathSegment>> = vec![vec!["fields".into()]];
        let new = parse_new_definition(&body, 200).expect_err("both sent");
        assert_eq!(paths(&new), both, "POST: {new:?}");
        let patch = parse_definition_patch(&body).expect_err("both sent");
        assert_eq!(paths(&patch), both, "PATCH: {patch:?}");
    }

    #[test]
    fn a_patch_removes_an_attribute_with_null_and_reads_fields_as_attributes() {
        let patch = parse_definition_patch(&json!({
            "fields": {"old": null, "new": {"type": "string"}}
        }))
        .expect("valid patch");
        let old = AttributeKey::parse("old").expect("a key");
        let new = AttributeKey::parse("new").expect("a key");
        assert_eq!(patch.attributes.get(&old), Some(&None));
        assert!(
            matches!(patch.attributes.get(&new), Some(Some(a)) if a.kind == AttributeKind::String)
        );
    }
}
