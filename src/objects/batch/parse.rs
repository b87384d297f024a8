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

/// Where a record's attribute is in a batch body: `records[index].attributes.key`.
pub fn attribute_path(index: usize, key: &str) -> Vec<PathSegment> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(issues: &[Issue]) -> Vec<Vec<PathSegment>> {
        issues.iter().map(|i| i.path.clone()).collect()
    }

    fn invalid(result: Result<&Vec<Value>, ObjectsError>) -> Vec<Issue> {
        match result {
            Err(ObjectsError::Invalid(issues)) => issues,
            Err(other) => panic!("another error: {other}"),
            Ok(items) => panic!("accepted: {items:?}"),
        }
    }

    #[test]
    fn a_batch_body_is_an_object_with_its_list_within_the_limit() {
        let allowed = ["records", "matchOn"];
        let ok = json!({"records": [{}, {}], "matchOn": "id"});
        assert_eq!(
            batch_items(&ok, "records", &allowed, 2).map(Vec::len).ok(),
            Some(2)
        );

        let cases: Vec<(Value, Vec<Vec<PathSegment>>, &str)> = vec![
            (json!([]), vec![vec![]], "not an object"),
            (json!({}), vec![vec!["records".into()]], "no list"),
            (
                json!({"records": {}}),
                vec![vec!["records".into()]],
                "not a list",
            ),
            (
                json!({"records": [{}, {}, {}]}),
                vec![vec!["records".into()]],
                "over the limit",
            ),
            (
                json!({"records": [], "extra": 1}),
                vec![vec!["extra".into()]],
                "an unknown field",
            ),
        ];
        for (body, expected, description) in cases {
            let issues = invalid(batch_items(&body, "records", &allowed, 2));
            assert_eq!(paths(&issues), expected, "{description}: {issues:?}");
        }
        let issues = invalid(batch_items(
            &json!({"records": [1, 2, 3]}),
            "records",
            &allowed,
            2,
        ));
        assert!(
            issues[0]
                .message
                .contains("at most 2 items; this one has 3"),
            "{issues:?}"
        );
    }

    #[test]
    fn a_record_reads_id_name_and_attributes() {
        let mut issues = Issues::new();
        let item = json!({"id": "inv-1", "name": "  Acme  ", "attributes": {"amount": 5}});
        let record = parse_incoming(3, &item, true, &mut issues).expect("a valid record");
        assert!(issues.is_empty(), "{:?}", issues.into_vec());
        assert_eq!(record.index, 3);
        assert_eq!(record.id.as_deref(), Some("inv-1"));
        assert_eq!(record.name, Some(Some("Acme".to_owned())));
        assert_eq!(record.attributes.get("amount"), Some(&json!(5)));

        let mut issues = Issues::new();
        let null_name = json!({"name": null});
        let record = parse_incoming(0, &null_name, false, &mut issues).expect("valid");
        assert_eq!(
            (record.id, record.name),
            (None, Some(None)),
            "null name removes"
        );
        assert!(record.attributes.is_empty());
        let empty = json!({});
        let record = parse_incoming(0, &empty, false, &mut issues).expect("valid");
        assert_eq!(record.name, None, "an absent name is left as it is");
        assert!(issues.is_empty(), "{:?}", issues.into_vec());
    }

    #[test]
    fn each_problem_of_a_record_is_an_issue_at_its_path() {
        let at = |tail: &[&str]| -> Vec<PathSegment> {
            let mut path = record_path(4);
            path.extend(tail.iter().map(|s| PathSegment::from(*s)));
            path
        };
        let cases: Vec<(Value, bool, Vec<Vec<PathSegment>>, &str)> = vec![
            (json!("rec_1"), false, vec![at(&[])], "not an object"),
            (
                json!({"color": "red"}),
                false,
                vec![at(&["color"])],
                "an unknown field",
            ),
            (json!({}), true, vec![at(&["id"])], "a patch without id"),
            (
                json!({"id": null}),
                true,
                vec![at(&["id"])],
                "a patch with a null id",
            ),
            (
                json!({"id": "a b"}),
                false,
                vec![at(&["id"])],
                "an id with a space",
            ),
            (
                json!({"id": 7}),
                false,
                vec![at(&["id"])],
                "an id that is a number",
            ),
            (
                json!({"name": ""}),
                false,
                vec![at(&["name"])],
                "an empty name",
            ),
            (
                json!({"name": "x".repeat(201)}),
                false,
                vec![at(&["name"])],
                "a name of 201 characters",
            ),
            (
                json!({"attributes": []}),
                false,
                vec![at(&["attributes"])],
                "attributes a list",
            ),
            (
                json!({"id": 1, "name": 2, "other": 3}),
                false,
                vec![at(&["other"]), at(&["id"]), at(&["name"])],
                "several at once",
            ),
        ];
        for (item, id_required, expected, description) in cases {
            let mut issues = Issues::new();
            parse_incoming(4, &item, id_required, &mut issues);
            let issues = issues.into_vec();
            assert_eq!(paths(&issues), expected, "{description}: {issues:?}");
        }
    }

    #[test]
    fn delete_ids_must_be_record_id_strings() {
        let mut issues = Issues::new();
        let ids = parse_ids(
            &[json!("rec_1"), json!(5), json!("a b"), json!("rec_2")],
            &mut issues,
        );
        assert_eq!(ids, vec![(0, "rec_1".to_owned()), (3, "rec_2".to_owned())]);
        assert_eq!(
            paths(&issues.into_vec()),
            vec![
                vec![PathSegment::from("ids"), 1.into()],
                vec![PathSegment::from("ids"), 2.into()]
            ]
        );
    }
}
