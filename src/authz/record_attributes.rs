//! Record attributes as policies read them.
//!
//! The schema's `RecordAttributes` type (the `attributes` of `entity Record`) names the
//! record attributes policies may read, across every object, and the Cedar type each is
//! read as. Every one is optional: a record of an object without that attribute, or with
//! no value for it, simply lacks it, so policies test it with `has`. A decision about a
//! record gives Cedar exactly the declared attributes the record holds, converted from the
//! attribute's normal form; nothing else of the record reaches the policies.
//!
//! The pairing of an object attribute's type with a declared Cedar type is checked when a
//! definition is created or changed ([`RecordAttributeTypes::check_definition`]), so a
//! stored value always has the declared shape. A value the declared type cannot hold
//! exactly (a number with more than four fractional digits read as `decimal`) is refused
//! when it is written ([`RecordAttributeTypes::check_values`]); a decision that meets one
//! anyway denies, with the reason among its errors.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::objects::attribute::{Attribute, AttributeKind};
use crate::objects::definition::ObjectDefinition;
use crate::objects::handle::AttributeKey;

/// The attribute of `entity Record` that holds the record's attribute values.
pub const ATTRIBUTES: &str = "attributes";

/// The Cedar types a record attribute may be declared as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CedarType {
    String,
    Long,
    Decimal,
    Bool,
    Datetime,
    StringSet,
}

impl CedarType {
    pub fn name(self) -> &'static str {
        match self {
            CedarType::String => "String",
            CedarType::Long => "Long",
            CedarType::Decimal => "decimal",
            CedarType::Bool => "Bool",
            CedarType::Datetime => "datetime",
            CedarType::StringSet => "Set<String>",
        }
    }

    /// Parses one attribute type of the schema's JSON form.
    fn from_schema_json(declared: &Value) -> Option<CedarType> {
        let name = declared.get("name").and_then(Value::as_str);
        match declared.get("type").and_then(Value::as_str)? {
            "String" => Some(CedarType::String),
            "Long" => Some(CedarType::Long),
            "Boolean" => Some(CedarType::Bool),
            "Extension" if name == Some("decimal") => Some(CedarType::Decimal),
            "Extension" if name == Some("datetime") => Some(CedarType::Datetime),
            "EntityOrCommon" if name == Some("String") => Some(CedarType::String),
            "EntityOrCommon" if name == Some("Long") => Some(CedarType::Long),
            "EntityOrCommon" if name == Some("Bool") => Some(CedarType::Bool),
            "EntityOrCommon" if name == Some("decimal") => Some(CedarType::Decimal),
            "EntityOrCommon" if name == Some("datetime") => Some(CedarType::Datetime),
            "Set" => match CedarType::from_schema_json(declared.get("element")?)? {
                CedarType::String => Some(CedarType::StringSet),
                _ => None,
            },
            _ => None,
        }
    }

    /// The Cedar types an object attribute of `kind` can be read as, the first being the
    /// natural one.
    fn readable_as(kind: &AttributeKind) -> &'static [CedarType] {
        match kind {
            AttributeKind::String
            | AttributeKind::Text
            | AttributeKind::Email
            | AttributeKind::Url
            | AttributeKind::Select { .. }
            | AttributeKind::Relationship { .. } => &[CedarType::String],
            AttributeKind::Integer => &[CedarType::Long, CedarType::Decimal],
            AttributeKind::Number => &[CedarType::Decimal],
            AttributeKind::Boolean => &[CedarType::Bool],
            AttributeKind::Datetime | AttributeKind::Date => {
                &[CedarType::Datetime, CedarType::String]
            }
            AttributeKind::Multiselect { .. } => &[CedarType::StringSet],
            AttributeKind::Json => &[],
        }
    }

    /// `value`, in its attribute type's normal form, as this Cedar type.
    fn read(self, value: &Value) -> Result<CedarValue<'_>, String> {
        match (self, value) {
            (CedarType::String, Value::String(s)) => Ok(CedarValue::String(s)),
            (CedarType::Long, Value::Number(n)) => n
                .as_i64()
                .map(CedarValue::Long)
                .ok_or_else(|| format!("{n} is not a whole number")),
            (CedarType::Decimal, Value::Number(n)) => decimal_literal(n).map(CedarValue::Decimal),
            (CedarType::Bool, Value::Bool(b)) => Ok(CedarValue::Bool(*b)),
            // Date-times are stored to the millisecond with `Z`, and dates as `YYYY-MM-DD`:
            // both are forms `datetime(…)` accepts.
            (CedarType::Datetime, Value::String(s)) => Ok(CedarValue::Datetime(s)),
            (CedarType::StringSet, Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.as_str()),
                    other => Err(format!("{other} is not a string")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(CedarValue::StringSet),
            (declared, other) => Err(format!("{other} cannot be read as {}", declared.name())),
        }
    }
}

/// A record attribute's value as policies read it, borrowed from the stored JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CedarValue<'a> {
    String(&'a str),
    Long(i64),
    /// The argument of `decimal(…)`, exact.
    Decimal(String),
    Bool(bool),
    /// The argument of `datetime(…)`.
    Datetime(&'a str),
    StringSet(Vec<&'a str>),
}

/// The largest magnitude Cedar's `decimal` holds: an `i64` of ten-thousandths.
const DECIMAL_MAX: f64 = i64::MAX as f64 / 10_000.0;

/// The `decimal("…")` literal of `n`, exactly: at most four fractional digits, within range.
fn decimal_literal(n: &serde_json::Number) -> Result<String, String> {
    if let Some(i) = n.as_i64() {
        return if i.unsigned_abs() as f64 <= DECIMAL_MAX {
            Ok(format!("{i}.0"))
        } else {
            Err(format!(
                "{n} is beyond the range of decimal (±{DECIMAL_MAX:.0})"
            ))
        };
    }
    let f = n
        .as_f64()
        .ok_or_else(|| format!("{n} is beyond the range of decimal"))?;
    if f.abs() > DECIMAL_MAX {
        return Err(format!(
            "{n} is beyond the range of decimal (±{DECIMAL_MAX:.0})"
        ));
    }
    let literal = format!("{f:.4}");
    if literal.parse::<f64>() == Ok(f) {
        Ok(literal)
    } else {
        Err(format!(
            "{n} has more than 4 fractional digits, the most decimal holds"
        ))
    }
}

/// What the schema declares policies may read of a record's attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordAttributeTypes(BTreeMap<String, CedarType>);

impl RecordAttributeTypes {
    /// Reads them from the schema's JSON form (the `Andi` namespace). Each problem names
    /// the declared attribute.
    pub(super) fn from_schema_json(namespace: &Value) -> Result<RecordAttributeTypes, Vec<String>> {
        let Some(declared) = namespace.pointer("/entityTypes/Record/shape/attributes/attributes")
        else {
            return Ok(RecordAttributeTypes::default());
        };
        let shape = match declared.get("type").and_then(Value::as_str) {
            Some("Record") => declared,
            Some("EntityOrCommon") => declared
                .get("name")
                .and_then(Value::as_str)
                .and_then(|name| namespace.pointer(&format!("/commonTypes/{name}")))
                .unwrap_or(&Value::Null),
            _ => &Value::Null,
        };
        let Some(attributes) = shape.get("attributes").and_then(Value::as_object) else {
            return Err(vec![
                "`entity Record`'s `attributes` must be a record type of optional attributes, e.g. `type RecordAttributes = { region?: String }`".to_owned(),
            ]);
        };
        let mut types = BTreeMap::new();
        let mut problems = Vec::new();
        for (key, declared) in attributes {
            if declared.get("required").and_then(Value::as_bool) != Some(false) {
                problems.push(format!(
                    "record attribute `{key}` must be optional (`{key}?`): a record may lack any attribute"
                ));
            }
            match CedarType::from_schema_json(declared) {
                Some(cedar_type) => {
                    types.insert(key.clone(), cedar_type);
                }
                None => problems.push(format!(
                    "record attribute `{key}` has a type policies cannot read a record attribute as; use String, Long, decimal, Bool, datetime or Set<String>"
                )),
            }
        }
        if problems.is_empty() {
            Ok(RecordAttributeTypes(types))
        } else {
            Err(problems)
        }
    }

    /// The declared attributes, with their Cedar types.
    pub fn iter(&self) -> impl Iterator<Item = (&str, CedarType)> {
        self.0.iter().map(|(key, t)| (key.as_str(), *t))
    }

    /// Why attributes of a definition being created or changed cannot be read as the
    /// schema declares, one line per attribute: `(key, message)`.
    pub fn check_definition<'a>(
        &self,
        attributes: impl IntoIterator<Item = (&'a AttributeKey, &'a Attribute)>,
    ) -> Vec<(String, String)> {
        attributes
            .into_iter()
            .filter_map(|(key, attribute)| {
                let declared = *self.0.get(key.as_str())?;
                let readable = CedarType::readable_as(&attribute.kind);
                if readable.contains(&declared) {
                    return None;
                }
                let fits = if readable.is_empty() {
                    "no Cedar type".to_owned()
                } else {
                    readable
                        .iter()
                        .map(|t| t.name())
                        .collect::<Vec<_>>()
                        .join(" or ")
                };
                Some((
                    key.as_str().to_owned(),
                    format!(
                        "a `{kind}` attribute cannot be read as {}, which the policy schema declares for record attribute `{}` (a `{kind}` attribute fits {fits}); change the attribute's type or the schema's `RecordAttributes`",
                        declared.name(),
                        key.as_str(),
                        kind = attribute.kind.type_name(),
                    ),
                ))
            })
            .collect()
    }

    /// Every attribute of the stored `definitions` that cannot be read as declared, one
    /// message each, naming the object, its workspace and both types.
    pub fn conflicts_with(&self, definitions: &[ObjectDefinition]) -> Vec<String> {
        definitions
            .iter()
            .flat_map(|definition| {
                self.check_definition(&definition.attributes)
                    .into_iter()
                    .map(move |(_, message)| {
                        format!(
                            "object `{}` (workspace {}): {message}",
                            definition.handle, definition.workspace_id
                        )
                    })
            })
            .collect()
    }

    /// Why values about to be written cannot be read as declared: `(key, message)`.
    pub fn check_values(&self, values: &Map<String, Value>) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter_map(|(key, declared)| {
                let value = values.get(key)?;
                let problem = declared.read(value).err()?;
                Some((
                    key.clone(),
                    format!(
                        "policies read `{key}` as {}, and {problem}",
                        declared.name()
                    ),
                ))
            })
            .collect()
    }

    /// The `attributes` record of a record entity: each declared attribute `values` holds,
    /// by key.
    pub(super) fn read<'s, 'v>(
        &'s self,
        values: &'v Map<String, Value>,
    ) -> Result<Vec<(&'s str, CedarValue<'v>)>, String> {
        self.0
            .iter()
            .filter_map(|(key, declared)| Some((key, declared, values.get(key)?)))
            .filter(|(_, _, value)| !value.is_null())
            .map(|(key, declared, value)| {
                declared
                    .read(value)
                    .map(|read| (key.as_str(), read))
                    .map_err(|problem| format!("record attribute `{key}`: {problem}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn number(text: &str) -> serde_json::Number {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn decimals_are_exact_or_refused() {
        assert_eq!(decimal_literal(&number("120")).unwrap(), "120.0");
        assert_eq!(decimal_literal(&number("120.5")).unwrap(), "120.5000");
        assert_eq!(decimal_literal(&number("-0.0001")).unwrap(), "-0.0001");
        assert!(decimal_literal(&number("1.23456")).is_err());
        assert!(decimal_literal(&number("1e300")).is_err());
    }

    #[test]
    fn declared_types_are_read_from_the_schema() {
        let namespace = json!({
            "entityTypes": {"Record": {"shape": {"type": "Record", "attributes": {
                "attributes": {"type": "EntityOrCommon", "name": "RecordAttributes"}
            }}}},
            "commonTypes": {"RecordAttributes": {"type": "Record", "attributes": {
                "region": {"type": "EntityOrCommon", "name": "String", "required": false},
                "amount": {"type": "EntityOrCommon", "name": "decimal", "required": false},
                "tags": {"type": "Set", "element": {"type": "EntityOrCommon", "name": "String"}, "required": false},
            }}}
        });
        let types = RecordAttributeTypes::from_schema_json(&namespace).unwrap();
        assert_eq!(
            types.iter().collect::<Vec<_>>(),
            vec![
                ("amount", CedarType::Decimal),
                ("region", CedarType::String),
                ("tags", CedarType::StringSet)
            ]
        );
    }

    #[test]
    fn a_required_or_unreadable_declaration_is_refused() {
        let namespace = json!({
            "entityTypes": {"Record": {"shape": {"type": "Record", "attributes": {
                "attributes": {"type": "Record", "attributes": {
                    "region": {"type": "EntityOrCommon", "name": "String"},
                    "owner": {"type": "EntityOrCommon", "name": "ApiKey", "required": false},
                }}
            }}}}
        });
        let problems = RecordAttributeTypes::from_schema_json(&namespace).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("`owner`")));
        assert!(problems.iter().any(|p| p.contains("`region?`")));
    }
}
