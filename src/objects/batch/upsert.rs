//! `POST /data/upsert-many`: creates the records that match no live record and replaces
//! those that match one, by id or by a unique attribute (`matchOn`).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use serde_json::{Map, Value};

use super::checks::{check_relationships, check_unique, duplicate_ids, merge_attributes};
use super::context::BatchContext;
use super::parse::{
    Incoming, attribute_path, batch_items, parse_incoming, record_id_path, record_path,
};
use super::write::{Outgoing, decide_writes, write_unique_values};
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
use crate::store::unique_values;

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
    batch: BatchContext<'_>,
) -> Result<Upserted, ObjectsError> {
    let items = batch_items(body, "records", &["records", "matchOn"], batch.max_records)?;
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
    let outgoing = to_outgoing(candidates, matched, batch.now, batch.author);
    // Two records of the batch that match the same live record would both replace it.
    duplicate_ids(
        outgoing
            .iter()
            .filter(|o| o.replaces())
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
    decide_writes(batch.decide, &outgoing)?;

    let new: Vec<&Record> = outgoing
        .iter()
        .filter(|o| !o.replaces())
        .map(|o| &o.record)
        .collect();
    records::insert_records(txn, &definition.workspace_id, &definition.id, &new)
        .await
        .map_err(ObjectsError::from_write)?;
    let replaced: Vec<&Record> = outgoing
        .iter()
        .filter(|o| o.replaces())
        .map(|o| &o.record)
        .collect();
    records::update_records(txn, &definition.workspace_id, &definition.id, &replaced)
        .await
        .map_err(ObjectsError::from_write)?;
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
                records::find_live_by_ids(txn, definition, &ids)
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
    let existing: HashMap<String, Record> = records::find_live_by_ids(txn, definition, &owner_ids)
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

/// The records to write: a matched candidate keeps the id, creation time and creator of
/// the live record it replaces; an unmatched one keeps its given id or gets a new one.
fn to_outgoing(
    candidates: Vec<Candidate>,
    mut matched: HashMap<usize, Record>,
    now: DateTime<Utc>,
    author: &str,
) -> Vec<Outgoing> {
    candidates
        .into_iter()
        .map(|c| {
            let before = matched.remove(&c.index);
            let record = Record {
                id: before
                    .as_ref()
                    .map(|r| r.id.clone())
                    .or(c.id)
                    .unwrap_or_else(|| new_id("rec")),
                name: c.name,
                attributes: c.attributes,
                created_at: before.as_ref().map_or(now, |r| r.created_at),
                updated_at: now,
                created_by: before
                    .as_ref()
                    .map_or_else(|| Some(author.to_owned()), |r| r.created_by.clone()),
                updated_by: Some(author.to_owned()),
            };
            Outgoing {
                index: c.index,
                record,
                before,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::{Issue, PathSegment};
    use crate::objects::testing::definition;
    use serde_json::json;

    fn contacts() -> ObjectDefinition {
        definition(json!({
            "email": {"type": "email", "unique": true},
            "phone": {"type": "string"},
            "name2": {"type": "string", "required": true}
        }))
    }

    fn key(name: &str) -> AttributeKey {
        AttributeKey::parse(name).expect("a key")
    }

    fn candidate(index: usize, id: Option<&str>, attributes: Value) -> Candidate {
        let Value::Object(attributes) = attributes else {
            panic!("attributes must be an object");
        };
        Candidate {
            index,
            id: id.map(str::to_owned),
            name: None,
            attributes,
        }
    }

    fn live(id: &str) -> Record {
        Record {
            id: id.to_owned(),
            name: Some("live".to_owned()),
            attributes: Map::new(),
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
            created_by: None,
            updated_by: None,
        }
    }

    fn paths(issues: &[Issue]) -> Vec<Vec<PathSegment>> {
        issues.iter().map(|i| i.path.clone()).collect()
    }

    #[test]
    fn match_on_is_id_unless_it_names_a_unique_attribute() {
        let definition = contacts();
        for value in [None, Some(json!(null)), Some(json!("id"))] {
            let mut issues = Issues::new();
            let found = parse_match_on(value.as_ref(), &definition, &mut issues);
            assert_eq!(found, MatchOn::Id, "matchOn {value:?}");
            assert!(issues.is_empty(), "matchOn {value:?}");
        }
        let mut issues = Issues::new();
        let found = parse_match_on(Some(&json!("email")), &definition, &mut issues);
        let email = definition.attributes.get(&key("email")).expect("email");
        assert_eq!(
            found,
            MatchOn::Unique {
                key: key("email"),
                attribute: email.clone()
            }
        );
        assert!(issues.is_empty());
    }

    #[test]
    fn an_invalid_match_on_is_an_issue_and_the_batch_falls_back_to_ids() {
        let cases = [
            (json!("phone"), "`phone` is not unique"),
            (json!("fax"), "`invoices` has no attribute `fax`"),
            (
                json!(5),
                "`matchOn` must be \"id\" or the key of a unique attribute",
            ),
        ];
        for (value, message) in cases {
            let mut issues = Issues::new();
            let found = parse_match_on(Some(&value), &contacts(), &mut issues);
            assert_eq!(found, MatchOn::Id, "matchOn {value}");
            let issues = issues.into_vec();
            assert_eq!(paths(&issues), vec![vec![PathSegment::from("matchOn")]]);
            assert!(issues[0].message.starts_with(message), "{issues:?}");
        }
    }

    #[test]
    fn candidates_report_every_parse_issue_before_any_attribute_issue() {
        let items = [
            json!({"attributes": {}}),
            json!("not a record"),
            json!({"id": "bad id", "attributes": {"name2": "x"}}),
            json!({"name": "  Ann  ", "attributes": {"name2": "y"}}),
        ];
        let mut issues = Issues::new();
        let candidates = parse_candidates(&contacts(), &items, &mut issues);
        assert_eq!(
            paths(&issues.into_vec()),
            vec![
                record_path(1),
                record_id_path(2),
                attribute_path(0, "name2")
            ]
        );
        assert_eq!(
            candidates.iter().map(|c| c.index).collect::<Vec<_>>(),
            vec![0, 2, 3],
            "a record that is not an object is left out"
        );
        assert_eq!(candidates[1].id, None, "an invalid id is not kept");
        assert_eq!(candidates[2].name.as_deref(), Some("Ann"));
    }

    #[test]
    fn match_values_are_unique_keys_and_a_missing_one_is_an_issue() {
        let definition = contacts();
        let email = definition.attributes.get(&key("email")).expect("email");
        let candidates = [
            candidate(0, None, json!({"email": "Ann@Example.com"})),
            candidate(1, None, json!({"phone": "123"})),
        ];
        let mut issues = Issues::new();
        let values = match_values(&candidates, &key("email"), email, &mut issues);
        assert_eq!(values, vec![(0, "ann@example.com".to_owned())]);
        let issues = issues.into_vec();
        assert_eq!(paths(&issues), vec![attribute_path(1, "email")]);
        assert_eq!(
            issues[0].message,
            "`email` is needed to match records (matchOn)"
        );
    }

    #[test]
    fn a_given_id_must_agree_with_the_match_and_not_take_a_live_id() {
        let candidates = [
            candidate(0, Some("rec_a"), json!({})),
            candidate(1, Some("rec_x"), json!({})),
            candidate(2, Some("rec_taken"), json!({})),
            candidate(3, Some("rec_free"), json!({})),
            candidate(4, None, json!({})),
        ];
        let matched = HashMap::from([(0, live("rec_a")), (1, live("rec_b")), (4, live("rec_c"))]);
        let taken = HashSet::from(["rec_taken".to_owned()]);
        let mut issues = Issues::new();
        check_given_ids(&candidates, &matched, &taken, &key("email"), &mut issues);
        let issues = issues.into_vec();
        assert_eq!(paths(&issues), vec![record_id_path(1), record_id_path(2)]);
        assert_eq!(
            issues[0].message,
            "this record matches `rec_b` by email, not `rec_x`; drop `id` or fix it"
        );
        assert_eq!(
            issues[1].message,
            "record `rec_taken` exists with another email; match on id to replace it"
        );
    }

    #[test]
    fn a_matched_record_keeps_the_live_id_and_creation_time() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T09:30:00Z")
            .expect("a time")
            .with_timezone(&Utc);
        let candidates = vec![
            candidate(0, None, json!({"email": "a@example.com"})),
            candidate(1, Some("rec_given"), json!({})),
            candidate(2, None, json!({})),
        ];
        let matched = HashMap::from([(0, live("rec_live"))]);
        let outgoing = to_outgoing(candidates, matched, now, "key_writer");
        let summary: Vec<(usize, bool, DateTime<Utc>)> = outgoing
            .iter()
            .map(|o| (o.index, o.replaces(), o.record.created_at))
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, true, DateTime::<Utc>::UNIX_EPOCH),
                (1, false, now),
                (2, false, now)
            ]
        );
        assert_eq!(outgoing[0].record.id, "rec_live");
        assert_eq!(outgoing[0].record.name, None, "the name is replaced too");
        assert_eq!(
            outgoing[0].record.attributes.get("email"),
            Some(&json!("a@example.com"))
        );
        assert_eq!(outgoing[1].record.id, "rec_given");
        assert!(
            outgoing[2].record.id.starts_with("rec_"),
            "{}",
            outgoing[2].record.id
        );
        assert!(outgoing.iter().all(|o| o.record.updated_at == now));
    }
}
