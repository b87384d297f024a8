//! The two front ends of a record query, GET parameters and a POST body, each read into a
//! `RawQuery` and then typed against the object's definition. Values are parsed by the
//! type of the field they filter, so a filter on an unknown field or with a value of the
//! wrong type is an error, never an empty result.

use serde_json::Value;

use super::cursor::decode_cursor;
use super::{
    CompareOp, Condition, DEFAULT_LIMIT, Field, Filter, QueryLimits, RecordQuery, Scalar, SortKey,
    ValueClass,
};
use crate::issue::{Issue, PathSegment};
use crate::objects::attribute::AttributeKind;
use crate::objects::attribute_value::{normalize, parse_datetime};
use crate::objects::definition::ObjectDefinition;
use crate::objects::handle::AttributeKey;

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
    limits: QueryLimits,
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
    type_against_definition(raw, definition, limits, issues)
}

/// Parses the body of `POST /query`: `{ where, sort, limit, cursor }`.
pub fn parse_query_body(
    body: &Value,
    definition: &ObjectDefinition,
    limits: QueryLimits,
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
            ("where" | "sort" | "limit" | "cursor", Value::Null) => {}
            ("where", Value::Object(fields)) => {
                for (field, ops) in fields {
                    let field_path = vec!["where".into(), PathSegment::from(field.as_str())];
                    match ops {
                        // With no operator, the field would never be checked and the
                        // condition would match every record.
                        Value::Object(ops) if ops.is_empty() => issues.push(Issue::new(
                            field_path,
                            format!("a condition needs at least one operator, e.g. {{\"gt\": 100}}; operators: {OPS}"),
                        )),
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
    type_against_definition(raw, definition, limits, issues)
}
/// Types the raw parts of a query against the definition: every field must exist, every
/// value must suit its field's type, the sort ends with `id`, and a cursor must fit the sort.
fn type_against_definition(
    raw: RawQuery<'_>,
    definition: &ObjectDefinition,
    limits: QueryLimits,
    mut issues: Vec<Issue>,
) -> Result<RecordQuery, Vec<Issue>> {
    let max_limit = limits.max_page_size;
    // Past a limit the query is refused whole, before any of it is typed.
    if raw.filters.len() > limits.max_filters {
        let root = raw.filters[0]
            .path
            .first()
            .cloned()
            .unwrap_or_else(|| "filter".into());
        return Err(vec![Issue::new(
            vec![root],
            format!(
                "a query may hold at most {} filters; this one has {}: narrow it, or split it into several queries",
                limits.max_filters,
                raw.filters.len()
            ),
        )]);
    }
    if raw.sort.len() > limits.max_sort_keys {
        let root = raw.sort[0]
            .1
            .first()
            .cloned()
            .unwrap_or_else(|| "sort".into());
        return Err(vec![Issue::new(
            vec![root],
            format!(
                "a query may sort on at most {} fields; this one names {}",
                limits.max_sort_keys,
                raw.sort.len()
            ),
        )]);
    }
    let mut filters = Vec::new();
    for filter in raw.filters {
        match parse_filter(&filter, definition) {
            Ok(f) => filters.push(f),
            Err(message) => issues.push(Issue::new(filter.path.clone(), message)),
        }
    }
    let in_values: usize = filters
        .iter()
        .map(|f| match &f.condition {
            Condition::In(values) => values.len(),
            Condition::HasAnyOption(options) => options.len(),
            _ => 0,
        })
        .sum();
    if in_values > limits.max_in_values {
        issues.push(Issue::new(
            vec![],
            format!(
                "the `in` lists of a query may hold at most {} values together; this one has {}: split it into several queries",
                limits.max_in_values, in_values
            ),
        ));
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
        "createdBy" => Ok(Field::CreatedBy),
        "updatedBy" => Ok(Field::UpdatedBy),
        other => definition
            .attributes
            .iter()
            .find(|(key, _)| key.as_str() == other)
            .map(|(key, attribute)| Field::Attribute {
                key: key.clone(),
                kind: attribute.kind.clone(),
            })
            .ok_or_else(|| {
                let mut known: Vec<&str> = vec![
                    "id",
                    "name",
                    "createdAt",
                    "updatedAt",
                    "createdBy",
                    "updatedBy",
                ];
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
        Field::Id | Field::Name | Field::CreatedBy | Field::UpdatedBy => {
            text_value(value, name).map(Scalar::Text)
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::record::Record;
    use crate::objects::testing::definition;
    use chrono::{DateTime, Utc};
    use serde_json::{Map, json};

    const MAX_LIMIT: usize = 100;
    const LIMITS: QueryLimits = QueryLimits {
        max_page_size: MAX_LIMIT,
        max_filters: 5,
        max_sort_keys: 3,
        max_in_values: 10,
    };

    fn invoices() -> ObjectDefinition {
        definition(json!({
            "amount": {"type": "number"},
            "count": {"type": "integer"},
            "paid": {"type": "boolean"},
            "status": {"type": "select", "options": [{"value": "open"}, {"value": "paid"}]},
            "tags": {"type": "multiselect", "options": [{"value": "red"}, {"value": "blue"}]},
            "due": {"type": "datetime"},
            "extra": {"type": "json"}
        }))
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn from_params(pairs: &[(&str, &str)]) -> Result<RecordQuery, Vec<Issue>> {
        parse_query_params(&params(pairs), &invoices(), LIMITS)
    }

    fn from_body(body: Value) -> Result<RecordQuery, Vec<Issue>> {
        parse_query_body(&body, &invoices(), LIMITS)
    }

    fn attribute(key: &str) -> Field {
        let definition = invoices();
        let (key, attribute) = definition
            .attributes
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .expect("an attribute of the fixture");
        Field::Attribute {
            key: key.clone(),
            kind: attribute.kind.clone(),
        }
    }

    fn paths(issues: &[Issue]) -> Vec<Vec<PathSegment>> {
        issues.iter().map(|i| i.path.clone()).collect()
    }

    #[test]
    fn each_operator_parses_from_a_parameter_and_from_a_body() {
        let text = |s: &str| Scalar::Text(s.to_owned());
        let cases: Vec<(&str, Value, Field, Condition)> = vec![
            (
                "amount:eq:100",
                json!({"amount": {"eq": 100}}),
                attribute("amount"),
                Condition::Compare(CompareOp::Eq, Scalar::Number(100.0)),
            ),
            (
                "amount:ne:1.5",
                json!({"amount": {"ne": 1.5}}),
                attribute("amount"),
                Condition::Compare(CompareOp::Ne, Scalar::Number(1.5)),
            ),
            (
                "count:gt:2.5",
                json!({"count": {"gt": 2.5}}),
                attribute("count"),
                Condition::Compare(CompareOp::Gt, Scalar::Number(2.5)),
            ),
            (
                "name:gte:b",
                json!({"name": {"gte": "b"}}),
                Field::Name,
                Condition::Compare(CompareOp::Gte, text("b")),
            ),
            (
                "due:lt:2026-11-26T09:30:00Z",
                json!({"due": {"lt": "2026-11-26T09:30:00Z"}}),
                attribute("due"),
                Condition::Compare(CompareOp::Lt, text("2026-11-26T09:30:00.000Z")),
            ),
            (
                "createdAt:lte:2026-11-26T09:30:00Z",
                json!({"createdAt": {"lte": "2026-11-26T09:30:00Z"}}),
                Field::CreatedAt,
                Condition::Compare(
                    CompareOp::Lte,
                    Scalar::Time(
                        DateTime::parse_from_rfc3339("2026-11-26T09:30:00Z")
                            .expect("a time")
                            .with_timezone(&Utc),
                    ),
                ),
            ),
            (
                "paid:eq:true",
                json!({"paid": {"eq": true}}),
                attribute("paid"),
                Condition::Compare(CompareOp::Eq, Scalar::Bool(true)),
            ),
            (
                "name:contains:Acme",
                json!({"name": {"contains": "Acme"}}),
                Field::Name,
                Condition::Contains("Acme".to_owned()),
            ),
            (
                "tags:contains:red",
                json!({"tags": {"contains": "red"}}),
                attribute("tags"),
                Condition::HasOption("red".to_owned()),
            ),
            (
                "status:in:open,paid",
                json!({"status": {"in": ["open", "paid"]}}),
                attribute("status"),
                Condition::In(vec![text("open"), text("paid")]),
            ),
            (
                "tags:in:red,blue",
                json!({"tags": {"in": ["red", "blue"]}}),
                attribute("tags"),
                Condition::HasAnyOption(vec!["red".to_owned(), "blue".to_owned()]),
            ),
            (
                "extra:exists:false",
                json!({"extra": {"exists": false}}),
                attribute("extra"),
                Condition::Exists(false),
            ),
        ];
        for (param, body_where, field, condition) in cases {
            let expected = vec![Filter { field, condition }];
            let query = from_params(&[("filter", param)])
                .unwrap_or_else(|issues| panic!("{param}: {issues:?}"));
            assert_eq!(query.filters, expected, "GET filter={param}");
            let query = from_body(json!({ "where": body_where }))
                .unwrap_or_else(|issues| panic!("{body_where}: {issues:?}"));
            assert_eq!(query.filters, expected, "POST where {body_where}");
        }
    }

    #[test]
    fn an_unknown_field_is_an_issue_at_its_path() {
        let issues =
            from_params(&[("sort", "name"), ("filter", "nope:eq:1")]).expect_err("unknown field");
        assert_eq!(paths(&issues), vec![vec!["filter".into(), 1.into()]]);
        assert!(
            issues[0].message.contains("unknown field `nope`"),
            "{issues:?}"
        );

        let issues = from_body(json!({"where": {"nope": {"eq": 1}}, "sort": ["-nada"]}))
            .expect_err("unknown fields");
        let found = paths(&issues);
        for path in [
            vec!["where".into(), "nope".into(), "eq".into()],
            vec!["sort".into(), 0.into()],
        ] {
            assert!(found.contains(&path), "missing {path:?} in {issues:?}");
        }
        assert_eq!(found.len(), 2, "{issues:?}");
    }

    #[test]
    fn a_condition_without_operators_is_an_issue_not_a_match_of_everything() {
        for field in ["amount", "x-unknown"] {
            let issues = from_body(json!({"where": {field: {}}})).expect_err(field);
            assert_eq!(paths(&issues), vec![vec!["where".into(), field.into()]]);
            assert!(
                issues[0].message.contains("at least one operator"),
                "{issues:?}"
            );
        }
    }

    #[test]
    fn a_value_of_the_wrong_type_is_an_issue_not_an_empty_result() {
        type Case = (
            Result<RecordQuery, Vec<Issue>>,
            Vec<PathSegment>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                from_params(&[("filter", "amount:gt:abc")]),
                vec!["filter".into(), 0.into()],
                "a number parameter that is not a number",
            ),
            (
                from_body(json!({"where": {"amount": {"gt": "100"}}})),
                vec!["where".into(), "amount".into(), "gt".into()],
                "a number filter given a JSON string",
            ),
            (
                from_params(&[("filter", "paid:gt:true")]),
                vec!["filter".into(), 0.into()],
                "an order comparison on a boolean",
            ),
            (
                from_params(&[("filter", "tags:contains:green")]),
                vec!["filter".into(), 0.into()],
                "a multiselect option that does not exist",
            ),
            (
                from_params(&[("filter", "createdAt:gt:yesterday")]),
                vec!["filter".into(), 0.into()],
                "a time that is not RFC 3339",
            ),
            (
                from_body(json!({"where": {"status": {"in": "open"}}})),
                vec!["where".into(), "status".into(), "in".into()],
                "`in` given a single value in a body",
            ),
            (
                from_params(&[("filter", "amount:between:1")]),
                vec!["filter".into(), 0.into()],
                "an unknown operator",
            ),
            (
                from_params(&[("filter", "amount")]),
                vec!["filter".into()],
                "a filter without operator and value",
            ),
            (
                from_params(&[("sort", "tags")]),
                vec!["sort".into()],
                "a sort on a multiselect",
            ),
        ];
        for (result, path, description) in cases {
            let issues = result.expect_err(description);
            assert_eq!(paths(&issues), vec![path], "{description}: {issues:?}");
        }
    }

    #[test]
    fn limit_takes_one_to_the_maximum_and_defaults_when_absent() {
        assert_eq!(from_params(&[]).expect("no limit").limit, DEFAULT_LIMIT);
        for good in ["1", "100"] {
            let query = from_params(&[("limit", good)]).expect(good);
            assert_eq!(query.limit.to_string(), good);
        }
        for bad in ["0", "101", "-1", "ten", "1.5"] {
            let issues = from_params(&[("limit", bad)]).expect_err(bad);
            assert_eq!(paths(&issues), vec![vec!["limit".into()]], "limit={bad}");
        }
        assert_eq!(from_body(json!({"limit": 100})).expect("100").limit, 100);
        for bad in [json!(0), json!(101), json!(-1), json!(1.5), json!("10")] {
            let issues = from_body(json!({ "limit": bad })).expect_err("a bad limit");
            assert_eq!(paths(&issues), vec![vec!["limit".into()]], "limit {bad}");
        }
    }

    #[test]
    fn the_sort_defaults_to_creation_and_always_ends_with_id() {
        let sorted = |query: RecordQuery| -> Vec<(Field, bool)> {
            query
                .sort
                .into_iter()
                .map(|k| (k.field, k.descending))
                .collect()
        };
        assert_eq!(
            sorted(from_params(&[]).expect("no sort")),
            vec![(Field::CreatedAt, false), (Field::Id, false)]
        );
        assert_eq!(
            sorted(from_body(json!({"sort": ["-amount", "+name"]})).expect("a sort")),
            vec![
                (attribute("amount"), true),
                (Field::Name, false),
                (Field::Id, false)
            ]
        );
        assert_eq!(
            sorted(from_params(&[("sort", "-id")]).expect("by id")),
            vec![(Field::Id, true)]
        );
    }

    #[test]
    fn a_cursor_continues_only_the_sort_it_was_made_for() {
        let record = Record {
            id: "rec_1".to_owned(),
            name: Some("Acme".to_owned()),
            attributes: Map::from_iter([("amount".to_owned(), json!(250))]),
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
            created_by: None,
            updated_by: None,
        };
        let first = from_params(&[("sort", "-amount")]).expect("a sort");
        let cursor = first.cursor_after(&record);

        let next = from_params(&[("sort", "-amount"), ("cursor", &cursor)]).expect("same sort");
        assert_eq!(
            next.after,
            Some(vec![
                Some(Scalar::Number(250.0)),
                Some(Scalar::Text("rec_1".to_owned()))
            ])
        );

        let issues =
            from_params(&[("sort", "amount"), ("cursor", &cursor)]).expect_err("another sort");
        assert_eq!(paths(&issues), vec![vec!["cursor".into()]], "{issues:?}");
        let issues =
            from_body(json!({"sort": ["-amount"], "cursor": "not-a-cursor"})).expect_err("garbage");
        assert_eq!(paths(&issues), vec![vec!["cursor".into()]], "{issues:?}");
    }

    #[test]
    fn a_query_past_a_size_limit_is_refused_with_the_limit_named() {
        let six: Vec<(&str, &str)> = (0..6).map(|_| ("filter", "amount:ne:1")).collect();
        let issues = from_params(&six).unwrap_err();
        assert_eq!(issues.len(), 1);
        assert!(
            issues[0].message.contains("at most 5 filters"),
            "{issues:?}"
        );
        assert!(
            from_params(&six[..5]).is_ok(),
            "five filters are within the limit"
        );

        let issues = from_params(&[("sort", "amount,count,paid,due")]).unwrap_err();
        assert!(issues[0].message.contains("at most 3 fields"), "{issues:?}");

        let eleven: Vec<Value> = (0..11).map(|i| json!(format!("n{i}"))).collect();
        let issues = from_body(json!({"where": {"id": {"in": eleven}}})).unwrap_err();
        assert!(
            issues[0].message.contains("at most 10 values"),
            "{issues:?}"
        );
    }
}
