//! The attribute type system: each attribute's kind (with the options or target only some
//! kinds carry), its flags, and its JSON form, parsed from a definition body and from
//! storage alike. Parsing collects every problem with its JSON path.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::handle::{AttributeKey, ObjectHandle};
use crate::issue::{Issues, PathSegment};

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

    /// Types whose values an index can hold: one short scalar each. Long text could exceed
    /// a B-tree entry, and lists and JSON are not compared as a whole.
    fn can_be_filterable(&self) -> bool {
        !matches!(
            self,
            AttributeKind::Text | AttributeKind::Multiselect { .. } | AttributeKind::Json
        )
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
    /// Its values are indexed, so filters and sorts on it read an index instead of every
    /// record of the object.
    pub filterable: bool,
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
        map.insert("filterable".into(), Value::from(self.filterable));
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

/// `path` with one more step.
pub(super) fn child_path(
    path: &[PathSegment],
    segment: impl Into<PathSegment>,
) -> Vec<PathSegment> {
    let mut path = path.to_vec();
    path.push(segment.into());
    path
}

/// A non-empty string field of at most 200 characters (descriptions: 2,000), if present.
pub(super) fn optional_text(
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
                &child_path(path, field),
                format!("`{field}` must be 1-{limit} characters"),
            );
            None
        }
        Some(_) => {
            issues.push(
                &child_path(path, field),
                format!("`{field}` must be a string"),
            );
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
            issues.push(
                &child_path(path, field),
                format!("`{field}` must be true or false"),
            );
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
            "filterable",
            "options",
            "object",
        ]
        .contains(&key.as_str())
        {
            issues.push(&child_path(path, key.as_str()), format!("unknown field `{key}`; expected type, name, description, required, unique, filterable, options, object"));
        }
    }
    let name = optional_text(object, "name", path, issues);
    let description = optional_text(object, "description", path, issues);
    let required = optional_bool(object, "required", path, issues);
    let unique = optional_bool(object, "unique", path, issues);
    let filterable = optional_bool(object, "filterable", path, issues);
    let type_name = match object.get("type") {
        Some(Value::String(t)) if TYPE_NAMES.contains(&t.as_str()) => Some(t.as_str()),
        Some(Value::String(t)) => {
            issues.push(
                &child_path(path, "type"),
                format!(
                    "unknown type `{t}`; expected one of {}",
                    TYPE_NAMES.join(", ")
                ),
            );
            None
        }
        Some(_) => {
            issues.push(&child_path(path, "type"), "`type` must be a string");
            None
        }
        None => {
            issues.push(
                &child_path(path, "type"),
                format!("`type` is required; one of {}", TYPE_NAMES.join(", ")),
            );
            None
        }
    };
    let takes_options = matches!(type_name, Some("select" | "multiselect"));
    if object.contains_key("options") && !takes_options && type_name.is_some() {
        issues.push(
            &child_path(path, "options"),
            "`options` is only for select and multiselect attributes",
        );
    }
    if object.contains_key("object") && type_name != Some("relationship") && type_name.is_some() {
        issues.push(
            &child_path(path, "object"),
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
            options: parse_options(object.get("options"), &child_path(path, "options"), issues)?,
        },
        "multiselect" => AttributeKind::Multiselect {
            options: parse_options(object.get("options"), &child_path(path, "options"), issues)?,
        },
        "relationship" => match object.get("object") {
            Some(Value::String(h)) => AttributeKind::Relationship {
                object: ObjectHandle::parse(h)
                    .map_err(|m| issues.push(&child_path(path, "object"), m))
                    .ok()?,
            },
            _ => {
                issues.push(
                    &child_path(path, "object"),
                    "a relationship needs `object`: the handle of the object it points to",
                );
                return None;
            }
        },
        _ => return None,
    };
    if unique && !kind.can_be_unique() {
        issues.push(
            &child_path(path, "unique"),
            format!("a {} attribute cannot be unique", kind.type_name()),
        );
    }
    if filterable && !kind.can_be_filterable() {
        issues.push(
            &child_path(path, "filterable"),
            format!("a {} attribute cannot be filterable", kind.type_name()),
        );
    }
    (issues.len() == before).then_some(Attribute {
        kind,
        name,
        description,
        required,
        unique,
        filterable,
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
        let item_path = child_path(path, i);
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
                    &child_path(&item_path, key.as_str()),
                    format!("unknown field `{key}`; expected value, label, color"),
                );
            }
        }
        let value = match object.get("value") {
            Some(Value::String(v)) if !v.is_empty() && v.chars().count() <= 200 => v.clone(),
            _ => {
                issues.push(
                    &child_path(&item_path, "value"),
                    "`value` must be a string of 1-200 characters",
                );
                continue;
            }
        };
        if options.iter().any(|o: &SelectOption| o.value == value) {
            issues.push(
                &child_path(&item_path, "value"),
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
