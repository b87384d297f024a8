//! `POST /data/upsert-many`: creates the records that match no live record and replaces
//! those that match one, by id or by a unique attribute (`matchOn`).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use serde_json::{Map, Value};

use super::checks::{check_relationships, check_unique, duplicate_ids, merge_attributes};
use super::parse::{
    Incoming, attribute_path, batch_items, parse_incoming, record_id_path, record_path,
};
use super::write::{Outgoing, write_unique_values};
use crate::id::new_id;
use crate::issue::Issues;
use crate::objects::attribute::Attribute;
use crate::objects::attribute_value::unique_key;
use crate::objects::definition::ObjectDefinition;
use crate::objects::error::ObjectsError;
use crate::objects::handle::AttributeKey;
use crate::objects::record::Record;
use crate::store::StoreError;
use crate::store::records;

/// What upsert-many did, with the records in input order.
pub struct Upserted {
    pub created: usize,
    pub updated: usize,
    pub records: Vec<Record>,
}

/// A record of an upsert body, its attributes checked against the definition, not yet
/// matched to a live record.
#[derive(Debug, Clone, PartialEq)]
struct Candidate {
    index: usize,
    /// The id the client gave, if any.
    id: Option<String>,
    name: Option<String>,
    attributes: Map<String, Value>,
}

/// How an upsert finds the live record each of its records replaces.
#[derive(Debug, PartialEq)]
enum MatchOn {
    /// By the given `id`.
    Id,
    /// By the value of a unique attribute.
    Unique {
        key: AttributeKey,
        attribute: Attribute,
    },
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
    let match_on = parse_match_on(body.get("matchOn"), definition, &mut issues);
    let candidates = parse_candidates(definition, items, &mut issues);
    duplicate_ids(
        candidates
            .iter()
            .filter_map(|c| c.id.as_deref().map(|id| (c.index, id))),
        record_id_path,
        &mut issues,
    );
    let matched = resolve_matches(txn, definition, &match_on, &candidates, &mut issues).await?;
    let outgoing = to_outgoing(candidates, matched, now);
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

/// The `matchOn` of an upsert body: absent, `null` or `"id"` match by id; otherwise the key
/// of a unique attribute. An invalid one is an issue (and the batch matches by id, to
/// report the rest of its issues).
fn parse_match_on(
    value: Option<&Value>,
    definition: &ObjectDefinition,
    issues: &mut Issues,
) -> MatchOn {
    let key = match value {
        None | Some(Value::Null) => return MatchOn::Id,
        Some(Value::String(key)) if key == "id" => return MatchOn::Id,
        Some(Value::String(key)) => key,
        Some(_) => {
            issues.push(
                &["matchOn".into()],
                "`matchOn` must be \"id\" or the key of a unique attribute",
            );
            return MatchOn::Id;
        }
    };
    match definition
        .attributes
        .iter()
        .find(|(k, _)| k.as_str() == key)
    {
        Some((k, attribute)) if attribute.unique => MatchOn::Unique {
            key: k.clone(),
            attribute: attribute.clone(),
        },
        Some(_) => {
            issues.push(
                &["matchOn".into()],
                format!("`{key}` is not unique, so it cannot identify a record; make it unique or match on id"),
            );
            MatchOn::Id
        }
        None => {
            issues.push(
                &["matchOn".into()],
                format!("`{}` has no attribute `{key}`", definition.handle),
            );
            MatchOn::Id
        }
    }
}

/// The records of an upsert body with their attributes checked: every record is read
/// before any is checked, so the issues come in that order.
fn parse_candidates(
    definition: &ObjectDefinition,
    items: &[Value],
    issues: &mut Issues,
) -> Vec<Candidate> {
    let incoming: Vec<Incoming> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse_incoming(i, item, false, issues))
        .collect();
    incoming
        .iter()
        .map(|r| Candidate {
            index: r.index,
            id: r.id.clone(),
            name: r.name.clone().flatten(),
            attributes: merge_attributes(definition, r.index, Map::new(), r.attributes, issues),
        })
        .collect()
}

/// The live record each candidate replaces, by candidate index.
async fn resolve_matches(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    match_on: &MatchOn,
    candidates: &[Candidate],
    issues: &mut Issues,
) -> Result<HashMap<usize, Record>, StoreError> {
    let (key, attribute) = match match_on {
        MatchOn::Id => {
            let ids: Vec<String> = candidates.iter().filter_map(|c| c.id.clone()).collect();
            let existing: HashMap<String, Record> =
                records::find_live_by_ids(txn, &definition.workspace_id, &definition.id, &ids)
                    .await?
                    .into_iter()
                    .map(|r| (r.id.clone(), r))
                    .collect();
            return Ok(candidates
                .iter()
                .filter_map(|c| {
                    let record = existing.get(c.id.as_ref()?)?;
                    Some((c.index, record.clone()))
                })
                .collect());
        }
        MatchOn::Unique { key, attribute } => (key, attribute),
    };
    let by_value = match_values(candidates, key, attribute, issues);
    let values: Vec<String> = by_value.iter().map(|(_, v)| v.clone()).collect();
    let owners: HashMap<String, String> = records::find_unique_owners(
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
    let existing: HashMap<String, Record> =
        records::find_live_by_ids(txn, &definition.workspace_id, &definition.id, &owner_ids)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
    let mut matched: HashMap<usize, Record> = HashMap::new();
    for (index, value) in &by_value {
        if let Some(record) = owners.get(value).and_then(|id| existing.get(id)) {
            matched.insert(*index, record.clone());
        }
    }
    let unmatched_ids: Vec<String> = candidates
        .iter()
        .filter(|c| !matched.contains_key(&c.index))
        .filter_map(|c| c.id.clone())
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
    check_given_ids(candidates, &matched, &taken, key, issues);
    Ok(matched)
}

/// Each candidate's value of the `matchOn` attribute, in its unique form; a candidate
/// without one is an issue.
fn match_values(
    candidates: &[Candidate],
    key: &AttributeKey,
    attribute: &Attribute,
    issues: &mut Issues,
) -> Vec<(usize, String)> {
    let mut by_value = Vec::new();
    for c in candidates {
        match c.attributes.get(key.as_str()) {
            Some(value) => by_value.push((c.index, unique_key(&attribute.kind, value))),
            None => issues.push(
                &attribute_path(c.index, key.as_str()),
                format!("`{}` is needed to match records (matchOn)", key.as_str()),
            ),
        }
    }
    by_value
}

/// Under `matchOn`, a given id must agree with the record matched, and a record that
/// matches none cannot take the id of a live one (`taken`).
fn check_given_ids(
    candidates: &[Candidate],
    matched: &HashMap<usize, Record>,
    taken: &HashSet<String>,
    key: &AttributeKey,
    issues: &mut Issues,
) {
    for c in candidates {
        let id_path = record_id_path(c.index);
        match (&c.id, matched.get(&c.index)) {
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

/// The records to write: a matched candidate keeps the id and creation time of the live
/// record it replaces; an unmatched one keeps its given id or gets a new one.
fn to_outgoing(
    candidates: Vec<Candidate>,
    mut matched: HashMap<usize, Record>,
    now: DateTime<Utc>,
) -> Vec<Outgoing> {
    candidates
        .into_iter()
        .map(|c| {
            let existing = matched.remove(&c.index);
            let record = Record {
                id: existing
                    .as_ref()
                    .map(|r| r.id.clone())
                    .or(c.id)
                    .unwrap_or_else(|| new_id("rec")),
                name: c.name,
                attributes: c.attributes,
                created_at: existing.as_ref().map_or(now, |r| r.created_at),
                updated_at: now,
            };
            Outgoing {
                index: c.index,
                record,
                existing: existing.is_some(),
            }
        })
        .collect()
}
