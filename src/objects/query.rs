//! Record queries: filters, sort and page, parsed from GET parameters or a POST body into
//! one typed [`RecordQuery`] that storage turns into SQL. Values are parsed by the type of
//! the field they filter, so a filter on an unknown field or with a value of the wrong type
//! is an error, never an empty result.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::definition::{AttributeKey, AttributeKind, ObjectDefinition};
use super::record::Record;
use super::value::{normalize, parse_datetime};
use crate::issue::{Issue, PathSegment};

/// Page size when the query does not name one.
pub const DEFAULT_LIMIT: usize = 50;

/// What a query can filter and sort on.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Id,
    Name,
    CreatedAt,
    UpdatedAt,
    Attribute {
        key: AttributeKey,
        kind: AttributeKind,
    },
}

/// How a field's values compare in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueClass {
    Text,
    Number,
    Bool,
    Time,
    Multi,
    Json,
}

impl Field {
    pub fn class(&self) -> ValueClass {
        match self {
            Field::Id | Field::Name => ValueClass::Text,
            Field::CreatedAt | Field::UpdatedAt => ValueClass::Time,
            Field::Attribute { kind, .. } => match kind {
                AttributeKind::Number | AttributeKind::Integer => ValueClass::Number,
                AttributeKind::Boolean => ValueClass::Bool,
                AttributeKind::Multiselect { .. } => ValueClass::Multi,
                AttributeKind::Json => ValueClass::Json,
                _ => ValueClass::Text,
            },
        }
    }

    fn name(&self) -> &str {
        match self {
            Field::Id => "id",
            Field::Name => "name",
            Field::CreatedAt => "createdAt",
            Field::UpdatedAt => "updatedAt",
            Field::Attribute { key, .. } => key.as_str(),
        }
    }

    /// Whether rows may lack a value (sorts put those last).
    pub fn nullable(&self) -> bool {
        matches!(self, Field::Name | Field::Attribute { .. })
    }

    /// This field's sortable value in a record.
    fn value_of(&self, record: &Record) -> Option<Scalar> {
        match self {
            Field::Id => Some(Scalar::Text(record.id.clone())),
            Field::Name => record.name.clone().map(Scalar::Text),
            Field::CreatedAt => Some(Scalar::Time(record.created_at)),
            Field::UpdatedAt => Some(Scalar::Time(record.updated_at)),
            Field::Attribute { key, .. } => match record.attributes.get(key.as_str())? {
                Value::String(s) => Some(Scalar::Text(s.clone())),
                Value::Number(n) => n.as_f64().map(Scalar::Number),
                Value::Bool(b) => Some(Scalar::Bool(*b)),
                _ => None,
            },
        }
    }
}

/// A value compared in SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Number(f64),
    Bool(bool),
    Time(DateTime<Utc>),
}

impl Scalar {
    fn to_json(&self) -> Value {
        match self {
            Scalar::Text(s) => Value::from(s.clone()),
            Scalar::Number(n) => json!(n),
            Scalar::Bool(b) => Value::from(*b),
            Scalar::Time(t) => Value::from(t.to_rfc3339_opts(SecondsFormat::Micros, true)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
}

/// What a filter asks of its field.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `ne` also matches records without a value.
    Compare(CompareOp, Scalar),
    /// Case-insensitive substring.
    Contains(String),
    In(Vec<Scalar>),
    /// A multiselect holds this option.
    HasOption(String),
    /// A multiselect holds any of these options.
    HasAnyOption(Vec<String>),
    Exists(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub field: Field,
    pub condition: Condition,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub field: Field,
    pub descending: bool,
}

/// A validated query: every filter must hold; `sort` always ends with `id`, so the order
/// is total and a keyset cursor is exact.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordQuery {
    pub filters: Vec<Filter>,
    pub sort: Vec<SortKey>,
    pub limit: usize,
    /// The sort values of the last record of the previous page.
    pub after: Option<Vec<Option<Scalar>>>,
}

impl RecordQuery {
    /// The cursor that continues after `last`.
    pub fn cursor_after(&self, last: &Record) -> String {
        let values: Vec<Value> = self
            .sort
            .iter()
            .map(|k| k.field.value_of(last).map_or(Value::Null, |v| v.to_json()))
            .collect();
        let payload = json!({ "s": sort_signature(&self.sort), "v": values });
        URL_SAFE_NO_PAD.encode(payload.to_string())
    }
}

fn sort_signature(sort: &[SortKey]) -> String {
    sort.iter()
        .map(|k| format!("{}{}", if k.descending { "-" } else { "" }, k.field.name()))
        .collect::<Vec<_>>()
        .join(",")
}

const OPS: &str = "eq, ne, gt, gte, lt, lte, contains, in, exists";

/// The raw parts of a query before typing, from either form.
struct RawQuery<'a> {
    filters: Vec<RawFilter<'a>>,
    sort: Vec<(String, Vec<PathSegment>)>,
    limit: Option<(Result<usize, String>, Vec<PathSegment>)>,
    cursor: Option<(String, Vec<PathSegment>)>,
}

struct RawFilter<'a> {
    field: String,
    op: String,
    value: RawValue<'a>,
    path: Vec<PathSegment>,
}

enum RawValue<'a> {
    /// From a GET parameter: parsed from text by the field's type.
    Text(String),
    /// From a POST body: must already have the right JSON type.
    Json(&'a Value),
}

/// Parses GET parameters (`filter` repeatable, `sort`, `limit`, `cursor`).
pub fn parse_query_params(
    params: &[(String, String)],
    definition: &ObjectDefinition,
    max_limit: usize,
) -> Result<RecordQuery, Vec<Issue>> {
    let mut issues = Vec::new();
    let mut raw = RawQuery {
        filters: Vec::new(),
        sort: Vec::new(),
        limit: None,
        cursor: None,
    };
    for (i, (name, value)) in params.iter().enumerate() {
        let path = vec![PathSegment::from(name.as_str())];
        match name.as_str() {
            "filter" => {
                let mut parts = value.splitn(3, ':');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(field), Some(op), Some(v)) => raw.filters.push(RawFilter {
                        field: field.to_owned(),
                        op: op.to_owned(),
                        value: RawValue::Text(v.to_owned()),
                        path: vec![PathSegment::from("filter"), PathSegment::from(i)],
                    }),
                    _ => issues.push(Issue::new(
                        path,
                        format!("`{value}` is not a filter; write <field>:<op>:<value>, e.g. amount:gt:100"),
                    )),
                }
            }
            "sort" => raw.sort.extend(
                value
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| (s.to_owned(), path.clone())),
            ),
            "limit" => {
                raw.limit = Some((
                    value
                        .parse()
                        .map_err(|_| format!("`{value}` is not a whole number")),
                    path,
                ))
            }
            "cursor" => raw.cursor = Some((value.clone(), path)),
            other => issues.push(Issue::new(
                path,
                format!("unknown parameter `{other}`; expected filter, sort, limit, cursor"),
            )),
        }
    }
    finish(raw, definition, max_limit, issues)
}

/// Parses the body of `POST /query`: `{ where, sort, limit, cursor }`.
pub fn parse_query_body(
    body: &Value,
    definition: &ObjectDefinition,
    max_limit: usize,
) -> Result<RecordQuery, Vec<Issue>> {
    let mut issues = Vec::new();
    let mut raw = RawQuery {
        filters: Vec::new(),
        sort: Vec::new(),
        limit: None,
        cursor: None,
    };
    let Some(object) = body.as_object() else {
        return Err(vec![Issue::new(vec![], "the body must be a JSON object")]);
    };
    for (key, value) in object {
        let path = vec![PathSegment::from(key.as_str())];
        match (key.as_str(), value) {
            (_, Value::Null) => {}
            ("where", Value::Object(fields)) => {
                for (field, ops) in fields {
                    let field_path = vec!["where".into(), PathSegment::from(field.as_str())];
                    match ops {
                        Value::Object(ops) => raw.filters.extend(ops.iter().map(|(op, v)| {
                            let mut path = field_path.clone();
                            path.push(PathSegment::from(op.as_str()));
                            RawFilter {
                                field: field.clone(),
                                op: op.clone(),
                                value: RawValue::Json(v),
                                path,
                            }
                        })),
                        _ => issues.push(Issue::new(
                            field_path,
                            format!("a condition is an object of operators, e.g. {{\"gt\": 100}}; operators: {OPS}"),
                        )),
                    }
                }
            }
            ("where", _) => issues.push(Issue::new(
                path,
                "`where` must be an object: { <field>: { <op>: value } }",
            )),
            ("sort", Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let mut item_path = path.clone();
                    item_path.push(PathSegment::from(i));
                    match item.as_str() {
                        Some(s) => raw.sort.push((s.to_owned(), item_path)),
                        None => issues.push(Issue::new(
                            item_path,
                            "a sort key is a field name, with `-` in front for descending",
                        )),
                    }
                }
            }
            ("sort", Value::String(s)) => raw.sort.extend(
                s.split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| (s.to_owned(), path.clone())),
            ),
            ("sort", _) => issues.push(Issue::new(
                path,
                "`sort` must be a list of field names such as [\"-amount\", \"name\"]",
            )),
            ("limit", v) => {
                raw.limit = Some((
                    v.as_u64()
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or_else(|| "`limit` must be a whole number".to_owned()),
                    path,
                ))
            }
            ("cursor", Value::String(c)) => raw.cursor = Some((c.clone(), path)),
            ("cursor", _) => issues.push(Issue::new(
                path,
                "`cursor` must be a string from `nextCursor`",
            )),
            (other, _) => issues.push(Issue::new(
                path,
                format!("unknown field `{other}`; expected where, sort, limit, cursor"),
            )),
        }
    }
    finish(raw, definition, max_limit, issues)
}

fn finish(
    raw: RawQuery<'_>,
    definition: &ObjectDefinition,
    max_limit: usize,
    mut issues: Vec<Issue>,
) -> Result<RecordQuery, Vec<Issue>> {
    let mut filters = Vec::new();
    for filter in raw.filters {
        match parse_filter(&filter, definition) {
            Ok(f) => filters.push(f),
            Err(message) => issues.push(Issue::new(filter.path.clone(), message)),
        }
    }
    let mut sort: Vec<SortKey> = Vec::new();
    for (key, path) in raw.sort {
        let (name, descending) = match key.strip_prefix('-') {
            Some(name) => (name, true),
            None => (key.strip_prefix('+').unwrap_or(&key), false),
        };
        match resolve_field(name, definition) {
            Ok(field) if matches!(field.class(), ValueClass::Multi | ValueClass::Json) => issues
                .push(Issue::new(
                    path,
                    format!("`{name}` cannot be sorted: its values are lists or JSON"),
                )),
            Ok(field) if sort.iter().any(|k| k.field == field) => {
                issues.push(Issue::new(path, format!("`{name}` is sorted on twice")))
            }
            Ok(field) => sort.push(SortKey { field, descending }),
            Err(message) => issues.push(Issue::new(path, message)),
        }
    }
    if sort.is_empty() {
        sort.push(SortKey {
            field: Field::CreatedAt,
            descending: false,
        });
    }
    if !sort.iter().any(|k| k.field == Field::Id) {
        sort.push(SortKey {
            field: Field::Id,
            descending: false,
        });
    }
    let limit = match raw.limit {
        None => DEFAULT_LIMIT,
        Some((Ok(n), _)) if (1..=max_limit).contains(&n) => n,
        Some((Ok(_), path)) | Some((Err(_), path)) => {
            issues.push(Issue::new(
                path,
                format!("`limit` must be a whole number from 1 to {max_limit}"),
            ));
            DEFAULT_LIMIT
        }
    };
    let after = match raw.cursor {
        None => None,
        Some((cursor, path)) => match decode_cursor(&cursor, &sort) {
            Ok(values) => Some(values),
            Err(message) => {
                issues.push(Issue::new(path, message));
                None
            }
        },
    };
    if issues.is_empty() {
        Ok(RecordQuery {
            filters,
            sort,
            limit,
            after,
        })
    } else {
        Err(issues)
    }
}

fn resolve_field(name: &str, definition: &ObjectDefinition) -> Result<Field, String> {
    match name {
        "id" => Ok(Field::Id),
        "name" => Ok(Field::Name),
        "createdAt" => Ok(Field::CreatedAt),
        "updatedAt" => Ok(Field::UpdatedAt),
        other => definition
            .attributes
            .iter()
            .find(|(key, _)| key.as_str() == other)
            .map(|(key, attribute)| Field::Attribute {
                key: key.clone(),
                kind: attribute.kind.clone(),
            })
            .ok_or_else(|| {
                let mut known: Vec<&str> = vec!["id", "name", "createdAt", "updatedAt"];
                known.extend(definition.attributes.keys().map(AttributeKey::as_str));
                format!(
                    "unknown field `{other}`; known fields: {}",
                    known.join(", ")
                )
            }),
    }
}

fn parse_filter(raw: &RawFilter<'_>, definition: &ObjectDefinition) -> Result<Filter, String> {
    let field = resolve_field(&raw.field, definition)?;
    let class = field.class();
    let name = field.name().to_owned();
    let unsupported = |op: &str| -> String {
        format!(
            "`{op}` does not apply to `{name}`; {}",
            match class {
                ValueClass::Multi => "a multiselect takes contains, in and exists",
                ValueClass::Json => "a json attribute takes exists",
                ValueClass::Bool => "a boolean takes eq, ne, in and exists",
                ValueClass::Number | ValueClass::Time =>
                    "use eq, ne, gt, gte, lt, lte, in or exists",
                ValueClass::Text => "use eq, ne, gt, gte, lt, lte, contains, in or exists",
            }
        )
    };
    let compare = |op: CompareOp| -> Result<Condition, String> {
        match class {
            ValueClass::Multi | ValueClass::Json => Err(unsupported(&raw.op)),
            ValueClass::Bool if !matches!(op, CompareOp::Eq | CompareOp::Ne) => {
                Err(unsupported(&raw.op))
            }
            _ => Ok(Condition::Compare(op, scalar(&field, &raw.value)?)),
        }
    };
    let condition = match raw.op.as_str() {
        "eq" => compare(CompareOp::Eq)?,
        "ne" => compare(CompareOp::Ne)?,
        "gt" => compare(CompareOp::Gt)?,
        "gte" => compare(CompareOp::Gte)?,
        "lt" => compare(CompareOp::Lt)?,
        "lte" => compare(CompareOp::Lte)?,
        "contains" => match class {
            ValueClass::Text => Condition::Contains(text_value(&raw.value, &name)?),
            ValueClass::Multi => {
                Condition::HasOption(option_value(&field, &text_value(&raw.value, &name)?)?)
            }
            _ => return Err(unsupported("contains")),
        },
        "in" => {
            let items: Vec<RawValue<'_>> = match &raw.value {
                RawValue::Text(t) => t.split(',').map(|s| RawValue::Text(s.to_owned())).collect(),
                RawValue::Json(Value::Array(items)) => items.iter().map(RawValue::Json).collect(),
                RawValue::Json(_) => {
                    return Err(format!("`in` takes a list of values for `{name}`"));
                }
            };
            if items.is_empty() || items.len() > 1_000 {
                return Err("`in` takes 1 to 1,000 values".to_owned());
            }
            match class {
                ValueClass::Json => return Err(unsupported("in")),
                ValueClass::Multi => Condition::HasAnyOption(
                    items
                        .iter()
                        .map(|v| text_value(v, &name).and_then(|t| option_value(&field, &t)))
                        .collect::<Result<_, _>>()?,
                ),
                _ => Condition::In(
                    items
                        .iter()
                        .map(|v| scalar(&field, v))
                        .collect::<Result<_, _>>()?,
                ),
            }
        }
        "exists" => Condition::Exists(match &raw.value {
            RawValue::Text(t) if t == "true" => true,
            RawValue::Text(t) if t == "false" => false,
            RawValue::Json(Value::Bool(b)) => *b,
            _ => return Err("`exists` takes true or false".to_owned()),
        }),
        other => return Err(format!("unknown operator `{other}`; expected one of {OPS}")),
    };
    Ok(Filter { field, condition })
}

fn text_value(value: &RawValue<'_>, name: &str) -> Result<String, String> {
    match value {
        RawValue::Text(t) => Ok(t.clone()),
        RawValue::Json(Value::String(s)) => Ok(s.clone()),
        RawValue::Json(_) => Err(format!("`{name}` takes a string here")),
    }
}

fn option_value(field: &Field, value: &str) -> Result<String, String> {
    match field {
        Field::Attribute {
            kind: AttributeKind::Multiselect { options },
            key,
        } if !options.iter().any(|o| o.value == value) => Err(format!(
            "`{value}` is not an option of `{key}`",
            key = key.as_str()
        )),
        _ => Ok(value.to_owned()),
    }
}

/// A filter value, parsed by the field's type.
fn scalar(field: &Field, value: &RawValue<'_>) -> Result<Scalar, String> {
    let name = field.name();
    match field {
        Field::Id | Field::Name => text_value(value, name).map(Scalar::Text),
        Field::CreatedAt | Field::UpdatedAt => {
            let text = text_value(value, name)?;
            parse_datetime(&text).map(Scalar::Time).ok_or_else(|| {
                format!("`{name}` takes an RFC 3339 date-time such as 2026-11-26T09:30:00Z")
            })
        }
        Field::Attribute { kind, .. } => {
            let json = match value {
                RawValue::Json(v) => (*v).clone(),
                RawValue::Text(t) => match kind {
                    AttributeKind::Number | AttributeKind::Integer => t
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(Value::Number)
                        .ok_or_else(|| format!("`{name}` takes a number; `{t}` is not one"))?,
                    AttributeKind::Boolean => match t.as_str() {
                        "true" => Value::Bool(true),
                        "false" => Value::Bool(false),
                        _ => return Err(format!("`{name}` takes true or false")),
                    },
                    _ => Value::from(t.clone()),
                },
            };
            // A number filter on an integer attribute may be fractional (`lt 2.5`).
            let check_kind = match kind {
                AttributeKind::Integer => &AttributeKind::Number,
                other => other,
            };
            let normal =
                normalize(check_kind, &json).map_err(|m| format!("the value for `{name}` {m}"))?;
            Ok(match normal {
                Value::Number(n) => Scalar::Number(n.as_f64().unwrap_or_default()),
                Value::Bool(b) => Scalar::Bool(b),
                Value::String(s) => Scalar::Text(s),
                other => Scalar::Text(other.to_string()),
            })
        }
    }
}

fn decode_cursor(cursor: &str, sort: &[SortKey]) -> Result<Vec<Option<Scalar>>, String> {
    let invalid = || {
        "this cursor is not valid for this query; pass `nextCursor` from the previous page unchanged, with the same sort".to_owned()
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let payload: Map<String, Value> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if payload.get("s").and_then(Value::as_str) != Some(sort_signature(sort).as_str()) {
        return Err(invalid());
    }
    let values = payload
        .get("v")
        .and_then(Value::as_array)
        .ok_or_else(invalid)?;
    if values.len() != sort.len() {
        return Err(invalid());
    }
    sort.iter()
        .zip(values)
        .map(|(key, value)| {
            if value.is_null() {
                return if key.field.nullable() {
                    Ok(None)
                } else {
                    Err(invalid())
                };
            }
            let scalar = match (key.field.class(), value) {
                (ValueClass::Text, Value::String(s)) => Scalar::Text(s.clone()),
                (ValueClass::Number, Value::Number(n)) => {
                    Scalar::Number(n.as_f64().ok_or_else(invalid)?)
                }
                (ValueClass::Bool, Value::Bool(b)) => Scalar::Bool(*b),
                (ValueClass::Time, Value::String(s)) => {
                    Scalar::Time(parse_datetime(s).ok_or_else(invalid)?)
                }
                _ => return Err(invalid()),
            };
            Ok(Some(scalar))
        })
        .collect()
}
