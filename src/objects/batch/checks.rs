//! The checks of a batch: attribute values against the definition, duplicate ids within
//! the batch, and unique values and relationship targets against the database. Each adds
//! issues by JSON path; none writes.

use std::collections::{BTreeMap, HashMap, HashSet};

use sea_orm::DatabaseTransaction;
use serde_json::{Map, Value};

use super::parse::attribute_path;
use super::write::Outgoing;
use crate::issue::{Issues, PathSegment};
use crate::objects::attribute::AttributeKind;
use crate::objects::attribute_value::{normalize, unique_key};
use crate::objects::definition::ObjectDefinition;
use crate::store::records;
use crate::store::unique_values;
use crate::store::{self, StoreError};

/// Checks `incoming` values against the definition and writes them over `base` (empty
/// for a replacement). `null` removes an attribute.
pub(super) fn merge_attributes(
    definition: &ObjectDefinition,
    index: usize,
    base: Map<String, Value>,
    incoming: &Map<String, Value>,
    issues: &mut Issues,
) -> Map<String, Value> {
    let mut merged = base;
    for (key, value) in incoming {
        let p = attribute_path(index, key);
        let Some((_, attribute)) = definition
            .attributes
            .iter()
            .find(|(k, _)| k.as_str() == key)
        else {
            issues.push(
                &p,
                format!(
                    "`{}` has no attribute `{key}`; its attributes: {}",
                    definition.handle,
                    definition
                        .attributes
                        .keys()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            continue;
        };
        if value.is_null() {
            merged.remove(key);
            continue;
        }
        match normalize(&attribute.kind, value) {
            Ok(normal) => {
                merged.insert(key.clone(), normal);
            }
            Err(message) => issues.push(
                &p,
                format!("`{key}` ({}) {message}", attribute.kind.type_name()),
            ),
        }
    }
    for (key, attribute) in &definition.attributes {
        if attribute.required && !merged.contains_key(key.as_str()) {
            issues.push(
                &attribute_path(index, key.as_str()),
                format!("`{}` is required", key.as_str()),
            );
        }
    }
    merged
}

/// Unique attributes: no two records of the batch and no other live record may share a
/// value. Records rewritten by this batch release their old values.
pub(super) async fn check_unique(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    outgoing: &[Outgoing],
    issues: &mut Issues,
) -> Result<(), StoreError> {
    let rewritten: HashSet<&str> = outgoing
        .iter()
        .filter(|o| o.replaces())
        .map(|o| o.record.id.as_str())
        .collect();
    for (key, attribute) in &definition.attributes {
        if !attribute.unique {
            continue;
        }
        let mut holders: BTreeMap<String, Vec<&Outgoing>> = BTreeMap::new();
        for o in outgoing {
            if let Some(value) = o.record.attributes.get(key.as_str()) {
                holders
                    .entry(unique_key(&attribute.kind, value))
                    .or_default()
                    .push(o);
            }
        }
        for (value, batch_holders) in &holders {
            if batch_holders.len() > 1 {
                let indexes: Vec<String> =
                    batch_holders.iter().map(|o| o.index.to_string()).collect();
                for o in batch_holders {
                    issues.push(
                        &attribute_path(o.index, key.as_str()),
                        format!(
                            "`{}` must be unique, but records {} of this batch share `{value}`",
                            key.as_str(),
                            indexes.join(", ")
                        ),
                    );
                }
            }
        }
        let values: Vec<String> = holders.keys().cloned().collect();
        let owners = unique_values::find_unique_owners(
            txn,
            &definition.workspace_id,
            &definition.id,
            key.as_str(),
            &values,
        )
        .await?;
        for (value, owner) in owners {
            if rewritten.contains(owner.as_str()) {
                continue;
            }
            for o in holders.get(&value).into_iter().flatten() {
                if o.record.id != owner {
                    issues.push(
                        &attribute_path(o.index, key.as_str()),
                        format!(
                            "`{}` must be unique; `{value}` is already used by record `{owner}`",
                            key.as_str()
                        ),
                    );
                }
            }
        }
    }
    Ok(())
}

/// Relationship values written by the batch must name live records of their target
/// object in this workspace (or records of this batch, when the object points to itself).
pub(super) async fn check_relationships(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    outgoing: &[Outgoing],
    written: &[(usize, &Map<String, Value>)],
    issues: &mut Issues,
) -> Result<(), StoreError> {
    let in_batch: HashSet<&str> = outgoing.iter().map(|o| o.record.id.as_str()).collect();
    for (key, attribute) in &definition.attributes {
        let AttributeKind::Relationship { object } = &attribute.kind else {
            continue;
        };
        let mut wanted: Vec<(usize, String)> = Vec::new();
        for (index, attributes) in written {
            if let Some(Value::String(id)) = attributes.get(key.as_str()) {
                wanted.push((*index, id.clone()));
            }
        }
        if wanted.is_empty() {
            continue;
        }
        let target =
            store::objects::find_definition_by_handle(txn, &definition.workspace_id, object)
                .await?;
        let found: HashSet<String> = match &target {
            Some(target) => {
                let mut ids: Vec<String> = wanted.iter().map(|(_, id)| id.clone()).collect();
                ids.sort();
                ids.dedup();
                records::find_existing_ids(txn, &definition.workspace_id, &target.id, &ids)
                    .await?
                    .into_iter()
                    .collect()
            }
            None => HashSet::new(),
        };
        let self_target = target.as_ref().is_some_and(|t| t.id == definition.id);
        for (index, id) in wanted {
            if !(found.contains(&id) || self_target && in_batch.contains(id.as_str())) {
                issues.push(
                    &attribute_path(index, key.as_str()),
                    format!("there is no `{object}` record `{id}` in this workspace"),
                );
            }
        }
    }
    Ok(())
}

/// An id given twice is an issue at its second place, naming the first.
pub(super) fn duplicate_ids<'a>(
    items: impl Iterator<Item = (usize, &'a str)>,
    field_path: impl Fn(usize) -> Vec<PathSegment>,
    issues: &mut Issues,
) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (index, id) in items {
        if let Some(earlier) = first.get(id) {
            issues.push(
                &field_path(index),
                format!("`{id}` appears twice in this batch (also at {earlier})"),
            );
        } else {
            first.insert(id, index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::Issue;
    use crate::objects::testing::definition;
    use serde_json::json;

    fn invoices() -> ObjectDefinition {
        definition(json!({
            "amount": {"type": "number", "required": true},
            "count": {"type": "integer"},
            "due": {"type": "datetime"},
            "note": {"type": "string"}
        }))
    }

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn paths(issues: Issues) -> Vec<Vec<PathSegment>> {
        issues
            .into_vec()
            .into_iter()
            .map(|i: Issue| i.path)
            .collect()
    }

    #[test]
    fn a_merge_writes_normal_forms_over_the_base_and_null_removes() {
        let base = map(json!({"amount": 1, "note": "old", "count": 3}));
        let incoming = map(json!({"note": null, "due": "2026-11-26T10:30:00+01:00", "count": 4.0}));
        let mut issues = Issues::new();
        let merged = merge_attributes(&invoices(), 0, base, &incoming, &mut issues);
        assert!(issues.is_empty(), "{:?}", issues.into_vec());
        assert_eq!(
            Value::Object(merged),
            json!({"amount": 1, "count": 4, "due": "2026-11-26T09:30:00.000Z"})
        );
    }

    #[test]
    fn a_merge_reports_unknown_attributes_wrong_types_and_missing_required_values() {
        let incoming = map(json!({"colour": "red", "count": "four", "note": "fine"}));
        let mut issues = Issues::new();
        let merged = merge_attributes(&invoices(), 2, Map::new(), &incoming, &mut issues);
        assert_eq!(Value::Object(merged), json!({"note": "fine"}));
        let issues = issues.into_vec();
        let found: Vec<&[PathSegment]> = issues.iter().map(|i| i.path.as_slice()).collect();
        assert_eq!(
            found,
            [
                attribute_path(2, "colour"),
                attribute_path(2, "count"),
                attribute_path(2, "amount")
            ],
            "{issues:?}"
        );
        assert!(
            issues[0]
                .message
                .contains("`invoices` has no attribute `colour`"),
            "{issues:?}"
        );
        assert!(
            issues[1].message.starts_with("`count` (integer)"),
            "{issues:?}"
        );
        assert_eq!(issues[2].message, "`amount` is required");
    }

    #[test]
    fn removing_a_required_value_with_null_is_refused() {
        let base = map(json!({"amount": 1}));
        let mut issues = Issues::new();
        merge_attributes(
            &invoices(),
            0,
            base,
            &map(json!({"amount": null})),
            &mut issues,
        );
        assert_eq!(paths(issues), vec![attribute_path(0, "amount")]);
    }

    #[test]
    fn an_id_given_twice_is_an_issue_at_each_later_place_naming_the_first() {
        let mut issues = Issues::new();
        duplicate_ids(
            [(0, "a"), (1, "b"), (2, "a"), (5, "a")].into_iter(),
            |i| vec!["ids".into(), i.into()],
            &mut issues,
        );
        let issues = issues.into_vec();
        let found: Vec<(Vec<PathSegment>, &str)> = issues
            .iter()
            .map(|i| (i.path.clone(), i.message.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    vec!["ids".into(), 2.into()],
                    "`a` appears twice in this batch (also at 0)"
                ),
                (
                    vec!["ids".into(), 5.into()],
                    "`a` appears twice in this batch (also at 0)"
                ),
            ]
        );
    }
}
