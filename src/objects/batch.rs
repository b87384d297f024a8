//! Record batches: upsert-many, patch-many and delete-many. Each runs in one transaction
//! that holds its object's lock, validates the whole batch first (types, required, unique,
//! relationships) and collects every issue by JSON path; only a batch without issues is
//! written, so a rejected batch changes nothing.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use serde_json::{Map, Value};

use super::definition::{AttributeKind, ObjectDefinition};
use super::error::ObjectsError;
use super::record::Record;
use super::value::{is_record_id, normalize, unique_key};
use crate::id::new_id;
use crate::issue::{Issue, Issues, PathSegment};
use crate::store::records;
use crate::store::unique_values::{self, UniqueValue};
use crate::store::{self, StoreError};

/// What upsert-many did, with the records in input order.
pub struct Upserted {
    pub created: usize,
    pub updated: usize,
    pub records: Vec<Record>,
}

fn record_path(index: usize) -> Vec<PathSegment> {
    vec!["records".into(), index.into()]
}

fn attribute_path(index: usize, key: &str) -> Vec<PathSegment> {
    vec![
        "records".into(),
        index.into(),
        "attributes".into(),
        key.into(),
    ]
}

/// The records array of a batch body, within the batch limit.
fn batch_items<'a>(
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
struct Incoming<'a> {
    index: usize,
    id: Option<String>,
    /// Absent: unchanged (patch) or none (upsert). `Some(None)`: removed.
    name: Option<Option<String>>,
    attributes: &'a Map<String, Value>,
}

fn parse_incoming<'a>(
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

/// Checks `incoming` values against the definition and writes them over `base` (empty
/// for a replacement). `null` removes an attribute.
fn merge_attributes(
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

/// A parsed record of an upsert: index, given id, name, checked attributes.
type Candidate = (usize, Option<String>, Option<String>, Map<String, Value>);

/// A record about to be written, and whether it replaces a live one.
struct Outgoing {
    index: usize,
    record: Record,
    existing: bool,
}

/// Unique attributes: no two records of the batch and no other live record may share a
/// value. Records rewritten by this batch release their old values.
async fn check_unique(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    outgoing: &[Outgoing],
    issues: &mut Issues,
) -> Result<(), StoreError> {
    let rewritten: HashSet<&str> = outgoing
        .iter()
        .filter(|o| o.existing)
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
async fn check_relationships(
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

/// Claims the unique values of the written records, after releasing those they held.
async fn write_unique_values(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    outgoing: &[Outgoing],
) -> Result<(), StoreError> {
    let rewritten: Vec<String> = outgoing
        .iter()
        .filter(|o| o.existing)
        .map(|o| o.record.id.clone())
        .collect();
    unique_values::delete_unique_values(txn, &definition.workspace_id, &definition.id, &rewritten)
        .await?;
    let mut values = Vec::new();
    for (key, attribute) in &definition.attributes {
        if !attribute.unique {
            continue;
        }
        for o in outgoing {
            if let Some(value) = o.record.attributes.get(key.as_str()) {
                values.push(UniqueValue {
                    attribute: key.as_str(),
                    value: unique_key(&attribute.kind, value),
                    record_id: &o.record.id,
                });
            }
        }
    }
    unique_values::insert_unique_values(txn, &definition.workspace_id, &definition.id, &values)
        .await
}

fn duplicate_ids<'a>(
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

/// `POST /data/upsert-many`: creates the unmatched records and replaces the matched.
pub async fn upsert_many(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    body: &Value,
    max_batch: usize,
    now: DateTime<Utc>,
) -> Result<Upserted, ObjectsError> {
    let items = batch_items(body, "records", &["records", "matchOn"], max_batch)?;
    let mut issues = Issues::new();
    let match_on = match body.get("matchOn") {
        None | Some(Value::Null) => None,
        Some(Value::String(key)) if key == "id" => None,
        Some(Value::String(key)) => match definition
            .attributes
            .iter()
            .find(|(k, _)| k.as_str() == key)
        {
            Some((k, attribute)) if attribute.unique => Some((k.clone(), attribute.clone())),
            Some(_) => {
                issues.push(
                    &["matchOn".into()],
                    format!("`{key}` is not unique, so it cannot identify a record; make it unique or match on id"),
                );
                None
            }
            None => {
                issues.push(
                    &["matchOn".into()],
                    format!("`{}` has no attribute `{key}`", definition.handle),
                );
                None
            }
        },
        Some(_) => {
            issues.push(
                &["matchOn".into()],
                "`matchOn` must be \"id\" or the key of a unique attribute",
            );
            None
        }
    };
    let incoming: Vec<Incoming> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse_incoming(i, item, false, &mut issues))
        .collect();
    // (index, given id, name, checked attributes) of each record.
    let candidates: Vec<Candidate> = incoming
        .iter()
        .map(|r| {
            (
                r.index,
                r.id.clone(),
                r.name.clone().flatten(),
                merge_attributes(definition, r.index, Map::new(), r.attributes, &mut issues),
            )
        })
        .collect();

    duplicate_ids(
        candidates
            .iter()
            .filter_map(|(i, id, _, _)| id.as_deref().map(|id| (*i, id))),
        |i| vec!["records".into(), i.into(), "id".into()],
        &mut issues,
    );

    // Which live record each candidate replaces, if any.
    let mut matched: HashMap<usize, Record> = HashMap::new();
    match &match_on {
        None => {
            let ids: Vec<String> = candidates.iter().filter_map(|c| c.1.clone()).collect();
            let existing: HashMap<String, Record> =
                records::find_live_by_ids(txn, &definition.workspace_id, &definition.id, &ids)
                    .await?
                    .into_iter()
                    .map(|r| (r.id.clone(), r))
                    .collect();
            for (index, id, _, _) in &candidates {
                if let Some(record) = id.as_ref().and_then(|id| existing.get(id)) {
                    matched.insert(*index, record.clone());
                }
            }
        }
        Some((key, attribute)) => {
            let mut by_value: Vec<(usize, String)> = Vec::new();
            for (index, _, _, attributes) in &candidates {
                match attributes.get(key.as_str()) {
                    Some(value) => by_value.push((*index, unique_key(&attribute.kind, value))),
                    None => issues.push(
                        &attribute_path(*index, key.as_str()),
                        format!("`{}` is needed to match records (matchOn)", key.as_str()),
                    ),
                }
            }
            let values: Vec<String> = by_value.iter().map(|(_, v)| v.clone()).collect();
            let owners: HashMap<String, String> = unique_values::find_unique_owners(
                txn,
                &definition.workspace_id,
                &definition.id,
                key.as_str(),
                &values,
            )
            .await?
            .into_iter()
            .collect();
            let owner_ids: Vec<String> = owners.values().cloned().collect();
            let existing: HashMap<String, Record> = records::find_live_by_ids(
                txn,
                &definition.workspace_id,
                &definition.id,
                &owner_ids,
            )
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
            for (index, value) in &by_value {
                if let Some(record) = owners.get(value).and_then(|id| existing.get(id)) {
                    matched.insert(*index, record.clone());
                }
            }
            // A given id must agree with the match, and a new record cannot take a live id.
            let unmatched_ids: Vec<String> = candidates
                .iter()
                .filter(|c| !matched.contains_key(&c.0))
                .filter_map(|c| c.1.clone())
                .collect();
            let taken: HashSet<String> = records::find_existing_ids(
                txn,
                &definition.workspace_id,
                &definition.id,
                &unmatched_ids,
            )
            .await?
            .into_iter()
            .collect();
            for (index, id, _, _) in &candidates {
                let id_path = vec!["records".into(), (*index).into(), "id".into()];
                match (id, matched.get(index)) {
                    (Some(id), Some(record)) if *id != record.id => issues.push(
                        &id_path,
                        format!(
                            "this record matches `{}` by {}, not `{id}`; drop `id` or fix it",
                            record.id,
                            key.as_str()
                        ),
                    ),
                    (Some(id), None) if taken.contains(id) => issues.push(
                        &id_path,
                        format!(
                            "record `{id}` exists with another {}; match on id to replace it",
                            key.as_str()
                        ),
                    ),
                    _ => {}
                }
            }
        }
    }

    let mut outgoing: Vec<Outgoing> = Vec::with_capacity(candidates.len());
    for (index, id, name, attributes) in candidates {
        let existing = matched.remove(&index);
        let record = Record {
            id: existing
                .as_ref()
                .map(|r| r.id.clone())
                .or(id)
                .unwrap_or_else(|| new_id("rec")),
            name,
            attributes,
            created_at: existing.as_ref().map_or(now, |r| r.created_at),
            updated_at: now,
        };
        outgoing.push(Outgoing {
            index,
            record,
            existing: existing.is_some(),
        });
    }
    // Two records of the batch that match the same live record would both replace it.
    duplicate_ids(
        outgoing
            .iter()
            .filter(|o| o.existing)
            .map(|o| (o.index, o.record.id.as_str())),
        record_path,
        &mut issues,
    );
    check_unique(txn, definition, &outgoing, &mut issues).await?;
    let written: Vec<(usize, &Map<String, Value>)> = outgoing
        .iter()
        .map(|o| (o.index, &o.record.attributes))
        .collect();
    check_relationships(txn, definition, &outgoing, &written, &mut issues).await?;
    if !issues.is_empty() {
        return Err(ObjectsError::Invalid(issues.into_vec()));
    }

    let new: Vec<&Record> = outgoing
        .iter()
        .filter(|o| !o.existing)
        .map(|o| &o.record)
        .collect();
    records::insert_records(txn, &definition.workspace_id, &definition.id, &new)
        .await
        .map_err(ObjectsError::from_write)?;
    for o in outgoing.iter().filter(|o| o.existing) {
        records::update_record(txn, &definition.workspace_id, &definition.id, &o.record)
            .await
            .map_err(ObjectsError::from_write)?;
    }
    write_unique_values(txn, definition, &outgoing)
        .await
        .map_err(ObjectsError::from_write)?;
    let created = new.len();
    Ok(Upserted {
        created,
        updated: outgoing.len() - created,
        records: outgoing.into_iter().map(|o| o.record).collect(),
    })
}

/// `PATCH /data/patch-many`: merges changes into existing records.
pub async fn patch_many(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    body: &Value,
    max_batch: usize,
    now: DateTime<Utc>,
) -> Result<Vec<Record>, ObjectsError> {
    let items = batch_items(body, "records", &["records"], max_batch)?;
    let mut issues = Issues::new();
    let incoming: Vec<Incoming> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse_incoming(i, item, true, &mut issues))
        .collect();
    duplicate_ids(
        incoming
            .iter()
            .filter_map(|r| r.id.as_deref().map(|id| (r.index, id))),
        |i| vec!["records".into(), i.into(), "id".into()],
        &mut issues,
    );
    let ids: Vec<String> = incoming.iter().filter_map(|r| r.id.clone()).collect();
    let existing: HashMap<String, Record> =
        records::find_live_by_ids(txn, &definition.workspace_id, &definition.id, &ids)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
    let mut outgoing = Vec::new();
    for r in &incoming {
        let Some(id) = &r.id else { continue };
        let Some(current) = existing.get(id) else {
            issues.push(
                &["records".into(), r.index.into(), "id".into()],
                format!("there is no `{}` record `{id}`", definition.handle),
            );
            continue;
        };
        let attributes = merge_attributes(
            definition,
            r.index,
            current.attributes.clone(),
            r.attributes,
            &mut issues,
        );
        outgoing.push(Outgoing {
            index: r.index,
            record: Record {
                id: current.id.clone(),
                name: r.name.clone().unwrap_or_else(|| current.name.clone()),
                attributes,
                created_at: current.created_at,
                updated_at: now,
            },
            existing: true,
        });
    }
    check_unique(txn, definition, &outgoing, &mut issues).await?;
    let written: Vec<(usize, &Map<String, Value>)> =
        incoming.iter().map(|r| (r.index, r.attributes)).collect();
    check_relationships(txn, definition, &outgoing, &written, &mut issues).await?;
    if !issues.is_empty() {
        return Err(ObjectsError::Invalid(issues.into_vec()));
    }
    for o in &outgoing {
        records::update_record(txn, &definition.workspace_id, &definition.id, &o.record)
            .await
            .map_err(ObjectsError::from_write)?;
    }
    write_unique_values(txn, definition, &outgoing)
        .await
        .map_err(ObjectsError::from_write)?;
    Ok(outgoing.into_iter().map(|o| o.record).collect())
}

/// `POST /data/delete-many`: soft-deletes every listed record, or none.
pub async fn delete_many(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    body: &Value,
    max_batch: usize,
    now: DateTime<Utc>,
) -> Result<u64, ObjectsError> {
    let items = batch_items(body, "ids", &["ids"], max_batch)?;
    let mut issues = Issues::new();
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
    duplicate_ids(
        ids.iter().map(|(i, id)| (*i, id.as_str())),
        |i| vec!["ids".into(), i.into()],
        &mut issues,
    );
    let wanted: Vec<String> = ids.iter().map(|(_, id)| id.clone()).collect();
    let found: HashSet<String> =
        records::find_existing_ids(txn, &definition.workspace_id, &definition.id, &wanted)
            .await?
            .into_iter()
            .collect();
    for (i, id) in &ids {
        if !found.contains(id) {
            issues.push(
                &["ids".into(), (*i).into()],
                format!("there is no `{}` record `{id}`", definition.handle),
            );
        }
    }
    if !issues.is_empty() {
        return Err(ObjectsError::Invalid(issues.into_vec()));
    }
    Ok(records::soft_delete(txn, &definition.workspace_id, &definition.id, &wanted, now).await?)
}
