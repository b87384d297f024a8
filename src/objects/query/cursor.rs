//! Keyset cursors: the sort values of a page's last record, with the signature of the sort
//! they were made for, so a cursor is refused by a query that sorts differently.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use super::{Field, RecordQuery, Scalar, SortKey, ValueClass};
use crate::objects::attribute_value::parse_datetime;
use crate::objects::record::Record;

impl RecordQuery {
    /// The cursor that continues after `last`.
    /// The same query, continuing strictly after `last` in its order, as the cursor of
    /// `last` would.
    pub fn continuing_after(&self, last: &Record) -> RecordQuery {
        RecordQuery {
            after: Some(
                self.sort
                    .iter()
                    .map(|k| sort_value(&k.field, last))
                    .collect(),
            ),
            ..self.clone()
        }
    }

    pub fn cursor_after(&self, last: &Record) -> String {
        let values: Vec<Value> = self
            .sort
            .iter()
            .map(|k| sort_value(&k.field, last).map_or(Value::Null, |v| scalar_json(&v)))
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

/// A field's sortable value in a record.
fn sort_value(field: &Field, record: &Record) -> Option<Scalar> {
    match field {
        Field::Id => Some(Scalar::Text(record.id.clone())),
        Field::Name => record.name.clone().map(Scalar::Text),
        Field::CreatedAt => Some(Scalar::Time(record.created_at)),
        Field::UpdatedAt => Some(Scalar::Time(record.updated_at)),
        Field::CreatedBy => record.created_by.clone().map(Scalar::Text),
        Field::UpdatedBy => record.updated_by.clone().map(Scalar::Text),
        Field::Attribute { key, .. } => match record.attributes.get(key.as_str())? {
            Value::String(s) => Some(Scalar::Text(s.clone())),
            Value::Number(n) => n.as_f64().map(Scalar::Number),
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            _ => None,
        },
    }
}

fn scalar_json(scalar: &Scalar) -> Value {
    match scalar {
        Scalar::Text(s) => Value::from(s.clone()),
        Scalar::Number(n) => json!(n),
        Scalar::Bool(b) => Value::from(*b),
        Scalar::Time(t) => Value::from(t.to_rfc3339_opts(SecondsFormat::Micros, true)),
    }
}

/// The sort values a cursor carries, if it was made for `sort`.
pub(super) fn decode_cursor(cursor: &str, sort: &[SortKey]) -> Result<Vec<Option<Scalar>>, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::attribute::AttributeKind;
    use crate::objects::handle::AttributeKey;
    use chrono::{DateTime, Utc};

    fn key(field: Field, descending: bool) -> SortKey {
        SortKey { field, descending }
    }

    fn attribute(name: &str, kind: AttributeKind) -> Field {
        Field::Attribute {
            key: AttributeKey::parse(name).expect("a key"),
            kind,
        }
    }

    fn query(sort: Vec<SortKey>) -> RecordQuery {
        RecordQuery {
            filters: Vec::new(),
            sort,
            limit: 10,
            after: None,
        }
    }

    fn record() -> Record {
        Record {
            id: "rec_1".to_owned(),
            name: None,
            attributes: Map::from_iter([
                ("amount".to_owned(), json!(12.5)),
                ("paid".to_owned(), json!(true)),
                ("status".to_owned(), json!("open")),
            ]),
            created_at: DateTime::parse_from_rfc3339("2026-11-26T09:30:00.123456Z")
                .expect("a time")
                .with_timezone(&Utc),
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
            created_by: None,
            updated_by: None,
        }
    }

    #[test]
    fn a_cursor_gives_back_the_sort_values_of_the_record_it_was_made_after() {
        let record = record();
        let sort = vec![
            key(attribute("amount", AttributeKind::Number), true),
            key(attribute("paid", AttributeKind::Boolean), false),
            key(attribute("status", AttributeKind::String), false),
            key(attribute("missing", AttributeKind::String), false),
            key(Field::Name, false),
            key(Field::CreatedAt, true),
            key(Field::Id, false),
        ];
        let cursor = query(sort.clone()).cursor_after(&record);
        assert_eq!(
            decode_cursor(&cursor, &sort),
            Ok(vec![
                Some(Scalar::Number(12.5)),
                Some(Scalar::Bool(true)),
                Some(Scalar::Text("open".to_owned())),
                None,
                None,
                Some(Scalar::Time(record.created_at)),
                Some(Scalar::Text("rec_1".to_owned())),
            ])
        );
    }

    #[test]
    fn a_cursor_made_for_another_sort_is_refused() {
        let made_for = vec![key(Field::CreatedAt, false), key(Field::Id, false)];
        let cursor = query(made_for).cursor_after(&record());
        let others = [
            vec![key(Field::CreatedAt, true), key(Field::Id, false)],
            vec![key(Field::UpdatedAt, false), key(Field::Id, false)],
            vec![key(Field::Id, false)],
            vec![
                key(Field::CreatedAt, false),
                key(Field::Name, false),
                key(Field::Id, false),
            ],
        ];
        for sort in others {
            let refused = decode_cursor(&cursor, &sort).expect_err("another sort");
            assert!(refused.contains("not valid for this query"), "{refused}");
        }
    }

    #[test]
    fn a_cursor_that_was_not_made_here_is_refused() {
        let sort = vec![key(Field::CreatedAt, false), key(Field::Id, false)];
        let forged = |payload: Value| URL_SAFE_NO_PAD.encode(payload.to_string());
        let cases = [
            ("not base64", "***".to_owned()),
            ("not JSON", URL_SAFE_NO_PAD.encode("nope")),
            (
                "too few values",
                forged(json!({"s": "createdAt,id", "v": ["2026-11-26T09:30:00Z"]})),
            ),
            (
                "null for a field that always has a value",
                forged(json!({"s": "createdAt,id", "v": [null, "rec_1"]})),
            ),
            (
                "a number for a time",
                forged(json!({"s": "createdAt,id", "v": [5, "rec_1"]})),
            ),
        ];
        for (description, cursor) in cases {
            assert!(
                decode_cursor(&cursor, &sort).is_err(),
                "{description}: {cursor}"
            );
        }
        let honest = forged(json!({"s": "createdAt,id", "v": ["2026-11-26T09:30:00Z", "rec_1"]}));
        assert!(decode_cursor(&honest, &sort).is_ok(), "the control case");
    }
}
