//! Object definitions: their handle, name, description and typed attributes, parsed from
//! JSON into types that cannot hold an invalid definition. Parsing collects every problem
//! with its JSON path, so a client fixes a body in one round trip.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use serde::Serialize;
use serde_json::{Map, Value};

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

/// An object handle: 1–63 lower-case letters, digits and dashes (`expense-report`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ObjectHandle(String);

impl ObjectHandle {
    pub fn parse(candidate: &str) -> Result<ObjectHandle, String> {
        let valid = (1..=63).contains(&candidate.len())
            && candidate
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !candidate.starts_with('-')
            && !candidate.ends_with('-');
        if valid {
            Ok(ObjectHandle(candidate.to_owned()))
        } else {
            Err(format!(
                "`{candidate}` is not a valid handle: use 1-63 lower-case letters, digits and dashes, not starting or ending with a dash"
            ))
        }
    }

    /// The handle derived from a name, in kebab case: `"Expense Report"` → `expense-report`.
    pub fn from_name(name: &str) -> Option<ObjectHandle> {
        let mut kebab = String::new();
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                kebab.push(c.to_ascii_lowercase());
            } else if !kebab.ends_with('-') && !kebab.is_empty() {
                kebab.push('-');
            }
        }
        let kebab: String = kebab.chars().take(63).collect();
        ObjectHandle::parse(kebab.trim_end_matches('-')).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ObjectHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An attribute key: a letter, then up to 63 letters, digits or underscores.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct AttributeKey(String);

impl AttributeKey {
    pub fn parse(candidate: &str) -> Result<AttributeKey, String> {
        let mut bytes = candidate.bytes();
        let valid = candidate.len() <= 64
            && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(AttributeKey(candidate.to_owned()))
        } else {
            Err(format!(
                "`{candidate}` is not a valid attribute key: start with a lower-case letter, then up to 63 letters, digits or underscores"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One choice of a `select` or `multiselect` attribute.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelectOption {
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// An attribute's type, with what only some types carry.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeKind {
    String,
    Text,
    Number,
    Integer,
    Boolean,
    Datetime,
    Date,
    Email,
    Url,
    Select { options: Vec<SelectOption> },
    Multiselect { options: Vec<SelectOption> },
    Relationship { object: ObjectHandle },
    Json,
}

pub const TYPE_NAMES: [&str; 13] = [
    "string",
    "text",
    "number",
    "integer",
    "boolean",
    "datetime",
    "date",
    "email",
    "url",
    "select",
    "multiselect",
    "relationship",
    "json",
];

impl AttributeKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            AttributeKind::String => "string",
            AttributeKind::Text => "text",
            AttributeKind::Number => "number",
            AttributeKind::Integer => "integer",
            AttributeKind::Boolean => "boolean",
            AttributeKind::Datetime => "datetime",
            AttributeKind::Date => "date",
            AttributeKind::Email => "email",
            AttributeKind::Url => "url",
            AttributeKind::Select { .. } => "select",
            AttributeKind::Multiselect { .. } => "multiselect",
            AttributeKind::Relationship { .. } => "relationship",
            AttributeKind::Json => "json",
        }
    }

    /// Types whose values can be compared for uniqueness.
    fn can_be_unique(&self) -> bool {
        !matches!(
            self,
            AttributeKind::Boolean | AttributeKind::Multiselect { .. } | AttributeKind::Json
        )
    }
}

/// A typed attribute of an object definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub kind: AttributeKind,
    pub name: Option<String>,
    pub description: Option<String>,
    pub required: bool,
    pub unique: bool,
}

impl Attribute {
    /// The attribute as the API shows it and as it is stored.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("type".into(), Value::from(self.kind.type_name()));
        if let Some(name) = &self.name {
            map.insert("name".into(), Value::from(name.clone()));
        }
        if let Some(description) = &self.description {
            map.insert("description".into(), Value::from(description.clone()));
        }
        map.insert("required".into(), Value::from(self.required));
        map.insert("unique".into(), Value::from(self.unique));
        match &self.kind {
            AttributeKind::Select { options } | AttributeKind::Multiselect { options } => {
                map.insert(
                    "options".into(),
                    serde_json::to_value(options).unwrap_or(Value::Null),
                );
            }
            AttributeKind::Relationship { object } => {
                map.insert("object".into(), Value::from(object.as_str()));
            }
            _ => {}
        }
        Value::Object(map)
    }
}

pub type Attributes = BTreeMap<AttributeKey, Attribute>;

pub fn attributes_to_json(attributes: &Attributes) -> Value {
    Value::Object(
        attributes
            .iter()
            .map(|(key, attribute)| (key.as_str().to_owned(), attribute.to_json()))
            .collect(),
    )
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

fn at(path: &[PathSegment], segment: impl Into<PathSegment>) -> Vec<PathSegment> {
    let mut path = path.to_vec();
    path.push(segment.into());
    path
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
    let attributes_field = match (object.get("attributes"), object.get("fields")) {
        (Some(_), Some(_)) => {
            issues.push(
                &["fields".into()],
                "send `attributes` or its alias `fields`, not both",
            );
            None
        }
        (Some(value), None) => Some(("attributes", value)),
        (None, Some(value)) => Some(("fields", value)),
        (None, None) => None,
    };
    let mut attributes = Attributes::new();
    if let Some((field, value)) = attributes_field {
        let path = vec![PathSegment::from(field)];
        match value.as_object() {
            Some(map) => {
                if map.len() > max_attributes {
                    issues.push(
                        &path,
                        format!("a definition may have at most {max_attributes} attributes"),
                    );
                }
                for (key, spec) in map {
                    let attribute_path = at(&path, key.as_str());
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
    let attributes_field = match (object.get("attributes"), object.get("fields")) {
        (Some(_), Some(_)) => {
            issues.push(
                &["fields".into()],
                "send `attributes` or its alias `fields`, not both",
            );
            None
        }
        (Some(value), None) => Some(("attributes", value)),
        (None, Some(value)) => Some(("fields", value)),
        (None, None) => None,
    };
    if let Some((field, value)) = attributes_field {
        let path = vec![PathSegment::from(field)];
        match value.as_object() {
            Some(map) => {
                for (key, spec) in map {
                    let attribute_path = at(&path, key.as_str());
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

/// A non-empty string field of at most 200 characters (descriptions: 2,000), if present.
fn optional_text(
    object: &Map<String, Value>,
    field: &str,
    path: &[PathSegment],
    issues: &mut Issues,
) -> Option<String> {
    let limit = if field == "description" { 2_000 } else { 200 };
    match object.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= limit => {
            Some(s.trim().to_owned())
        }
        Some(Value::String(_)) => {
            issues.push(
                &at(path, field),
                format!("`{field}` must be 1-{limit} characters"),
            );
            None
        }
        Some(_) => {
            issues.push(&at(path, field), format!("`{field}` must be a string"));
            None
        }
    }
}

fn optional_bool(
    object: &Map<String, Value>,
    field: &str,
    path: &[PathSegment],
    issues: &mut Issues,
) -> bool {
    match object.get(field) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            issues.push(&at(path, field), format!("`{field}` must be true or false"));
            false
        }
    }
}

/// Parses one attribute definition at `path`.
pub fn parse_attribute(
    spec: &Value,
    path: &[PathSegment],
    issues: &mut Issues,
) -> Option<Attribute> {
    let Some(object) = spec.as_object() else {
        issues.push(
            path,
            "an attribute must be an object such as {\"type\": \"string\"}",
        );
        return None;
    };
    let before = issues.len();
    for key in object.keys() {
        if ![
            "type",
            "name",
            "description",
            "required",
            "unique",
            "options",
            "object",
        ]
        .contains(&key.as_str())
        {
            issues.push(&at(path, key.as_str()), format!("unknown field `{key}`; expected type, name, description, required, unique, options, object"));
        }
    }
    let name = optional_text(object, "name", path, issues);
    let description = optional_text(object, "description", path, issues);
    let required = optional_bool(object, "required", path, issues);
    let unique = optional_bool(object, "unique", path, issues);
    let type_name = match object.get("type") {
        Some(Value::String(t)) if TYPE_NAMES.contains(&t.as_str()) => Some(t.as_str()),
        Some(Value::String(t)) => {
            issues.push(
                &at(path, "type"),
                format!(
                    "unknown type `{t}`; expected one of {}",
                    TYPE_NAMES.join(", ")
                ),
            );
            None
        }
        Some(_) => {
            issues.push(&at(path, "type"), "`type` must be a string");
            None
        }
        None => {
            issues.push(
                &at(path, "type"),
                format!("`type` is required; one of {}", TYPE_NAMES.join(", ")),
            );
            None
        }
    };
    let takes_options = matches!(type_name, Some("select" | "multiselect"));
    if object.contains_key("options") && !takes_options && type_name.is_some() {
        issues.push(
            &at(path, "options"),
            "`options` is only for select and multiselect attributes",
        );
    }
    if object.contains_key("object") && type_name != Some("relationship") && type_name.is_some() {
        issues.push(
            &at(path, "object"),
            "`object` is only for relationship attributes",
        );
    }
    let kind = match type_name? {
        "string" => AttributeKind::String,
        "text" => AttributeKind::Text,
        "number" => AttributeKind::Number,
        "integer" => AttributeKind::Integer,
        "boolean" => AttributeKind::Boolean,
        "datetime" => AttributeKind::Datetime,
        "date" => AttributeKind::Date,
        "email" => AttributeKind::Email,
        "url" => AttributeKind::Url,
        "json" => AttributeKind::Json,
        "select" => AttributeKind::Select {
            options: parse_options(object.get("options"), &at(path, "options"), issues)?,
        },
        "multiselect" => AttributeKind::Multiselect {
            options: parse_options(object.get("options"), &at(path, "options"), issues)?,
        },
        "relationship" => match object.get("object") {
            Some(Value::String(h)) => AttributeKind::Relationship {
                object: ObjectHandle::parse(h)
                    .map_err(|m| issues.push(&at(path, "object"), m))
                    .ok()?,
            },
            _ => {
                issues.push(
                    &at(path, "object"),
                    "a relationship needs `object`: the handle of the object it points to",
                );
                return None;
            }
        },
        _ => return None,
    };
    if unique && !kind.can_be_unique() {
        issues.push(
            &at(path, "unique"),
            format!("a {} attribute cannot be unique", kind.type_name()),
        );
    }
    (issues.len() == before).then_some(Attribute {
        kind,
        name,
        description,
        required,
        unique,
    })
}

fn parse_options(
    value: Option<&Value>,
    path: &[PathSegment],
    issues: &mut Issues,
) -> Option<Vec<SelectOption>> {
    let Some(Value::Array(items)) = value else {
        issues.push(path, "select and multiselect attributes need `options`: a non-empty list of {value, label?, color?}");
        return None;
    };
    if items.is_empty() {
        issues.push(path, "`options` must not be empty");
        return None;
    }
    let before = issues.len();
    let mut options = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = at(path, i);
        let Some(object) = item.as_object() else {
            issues.push(
                &item_path,
                "an option must be an object {value, label?, color?}",
            );
            continue;
        };
        for key in object.keys() {
            if !["value", "label", "color"].contains(&key.as_str()) {
                issues.push(
                    &at(&item_path, key.as_str()),
                    format!("unknown field `{key}`; expected value, label, color"),
                );
            }
        }
        let value = match object.get("value") {
            Some(Value::String(v)) if !v.is_empty() && v.chars().count() <= 200 => v.clone(),
            _ => {
                issues.push(
                    &at(&item_path, "value"),
                    "`value` must be a string of 1-200 characters",
                );
                continue;
            }
        };
        if options.iter().any(|o: &SelectOption| o.value == value) {
            issues.push(
                &at(&item_path, "value"),
                format!("duplicate option `{value}`"),
            );
        }
        let label = optional_text(object, "label", &item_path, issues);
        let color = optional_text(object, "color", &item_path, issues);
        options.push(SelectOption {
            value,
            label,
            color,
        });
    }
    (issues.len() == before).then_some(options)
}

/// Reads attributes back from storage, where they were written by [`attributes_to_json`].
pub fn attributes_from_json(value: &Value) -> Result<Attributes, String> {
    let mut issues = Issues::new();
    let mut attributes = Attributes::new();
    let map = value
        .as_object()
        .ok_or("stored attributes are not an object")?;
    for (key, spec) in map {
        let key = AttributeKey::parse(key)?;
        if let Some(attribute) = parse_attribute(spec, &[], &mut issues) {
            attributes.insert(key, attribute);
        }
    }
    if issues.is_empty() {
        Ok(attributes)
    } else {
        Err(format!(
            "stored attributes are invalid: {:?}",
            issues.into_vec()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(issues: &[Issue]) -> Vec<Vec<PathSegment>> {
        issues.iter().map(|i| i.path.clone()).collect()
    }

    #[test]
    fn handles_are_derived_from_names_in_kebab_case() {
        let cases = [
            ("Expense Report", "expense-report"),
            ("Budget", "budget"),
            ("  A -- B  ", "a-b"),
            ("Q3 2026!", "q3-2026"),
        ];
        for (name, handle) in cases {
            assert_eq!(
                ObjectHandle::from_name(name).map(|h| h.0),
                Some(handle.to_owned()),
                "{name}"
            );
        }
        assert_eq!(ObjectHandle::from_name("!!!"), None);
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
}
