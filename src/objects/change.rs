//! Definition changes that the records must fit: a new type, a newly required or newly
//! unique attribute. `PATCH /api/objects/{handle}` records such a change
//! (`store::definition_changes`) and it is carried out here, in steps, each a short
//! transaction under the object's lock, so the object's readers and writers are never held
//! for the whole run, whatever the number of records:
//!
//! 1. **Checking**: records are read in id order, a page a step (sized so a step takes
//!    about 25 ms, `worker::Pace`), and checked against the
//!    changed attributes; values of a newly unique attribute are claimed as they go, so the
//!    unique index finds two records that share one.
//! 2. **Rewriting** (only for a new `integer` or `datetime` type, whose normal forms differ
//!    from what other types store): every value is rewritten into the new normal form, a
//!    page a step. Both forms are valid under both types (`5.0` and `5` are numbers, any
//!    datetime is a string), so the object stays consistent between steps; the exception
//!    is a `select` whose options are datetimes written another way, whose rewritten
//!    values are not among its options until the change applies.
//! 3. The definition becomes the changed one in the last step's transaction. If some
//!    records did not fit, the change is refused instead, with their count, and the
//!    definition is as it was; first, the unique values it claimed are released, a page a
//!    step (**releasing**), so the change can be asked for again as soon as it is refused.
//!
//! While a change is pending, writes of records the check has passed (id at most its
//! place, or any record once it is rewriting) must fit the changed attributes as well
//! ([`hold_writes`]); records it has yet to reach are checked when it reaches them. A crash
//! leaves the change pending with its place saved; it resumes at the next start.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::attribute::{Attribute, AttributeKind, Attributes, attributes_to_json};
use super::attribute_value::{normalize, unique_key};
use super::batch::attribute_path;
use super::definition::ObjectDefinition;
use super::error::ObjectsError;
use super::evolve::commit_patch;
use super::handle::AttributeKey;
use super::record::Record;
use super::worker::{PAUSE, Pace, Worker};
use crate::issue::Issue;
use crate::store::definition_changes::{self, DefinitionChange, Phase};
use crate::store::unique_values::{self, UniqueValue};
use crate::store::{self, StoreError, records};

/// One changed attribute the records are checked against.
struct Check<'a> {
    key: &'a AttributeKey,
    before: Option<&'a Attribute>,
    after: &'a Attribute,
}

/// How a record's value fits a changed attribute.
enum Fit {
    Absent,
    /// Its value in the new type's normal form.
    Fits(Value),
    Misfit(String),
}

impl<'a> Check<'a> {
    /// Its values are claimed anew: it becomes unique.
    fn claims(&self) -> bool {
        self.after.unique && !self.before.is_some_and(|b| b.unique)
    }

    /// Its values are rewritten into the new type's normal form.
    fn rewrites(&self) -> bool {
        self.before.is_some_and(|b| b.kind != self.after.kind)
            && matches!(
                self.after.kind,
                AttributeKind::Integer | AttributeKind::Datetime
            )
    }

    fn fit(&self, record: &Record) -> Fit {
        match record.attributes.get(self.key.as_str()) {
            None if self.after.required => Fit::Misfit("is required".to_owned()),
            None => Fit::Absent,
            Some(value) => match normalize(&self.after.kind, value) {
                Ok(normal) => Fit::Fits(normal),
                Err(message) => Fit::Misfit(message),
            },
        }
    }

    fn claim<'r>(&self, record: &'r Record, normal: &Value) -> UniqueValue<'r>
    where
        'a: 'r,
    {
        UniqueValue {
            attribute: self.key.as_str(),
            value: unique_key(&self.after.kind, normal),
            record_id: &record.id,
        }
    }
}

/// The checks of a change's `checked` attributes, as `attributes` (the change's) define them.
fn checks_of<'a>(
    definition: &'a ObjectDefinition,
    checked: &'a [AttributeKey],
    attributes: &'a Attributes,
) -> Vec<Check<'a>> {
    checked
        .iter()
        .filter_map(|key| {
            Some(Check {
                key,
                before: definition.attributes.get(key),
                after: attributes.get(key)?,
            })
        })
        .collect()
}

/// Why a refused change was refused, as its 409 says it.
pub fn refusal(change: &DefinitionChange) -> ObjectsError {
    let detail = change
        .blocking
        .iter()
        .map(|(key, n)| format!("{n} record(s) block the change of `{key}`"))
        .collect::<Vec<_>>()
        .join("; ");
    ObjectsError::RecordsBlockChange(detail)
}

/// Carries every pending change to its end, oldest first; wakes `sweeper` when an applied
/// change left values to sweep.
pub async fn run_pending(db: &DatabaseConnection, sweeper: &Worker) -> Result<(), ObjectsError> {
    for change in definition_changes::pending(db).await? {
        let mut pace = Pace::new();
        loop {
            // Definition times are kept to the microsecond, as both databases store them.
            let now = Utc::now().trunc_subsecs(6);
            let started = Instant::now();
            let stepped = step(
                db,
                &change.workspace_id,
                &change.object_id,
                pace.records(),
                now,
            );
            match stepped.await? {
                Stepped::Progress => {
                    pace.took(started.elapsed());
                    tokio::time::sleep(PAUSE).await;
                }
                Stepped::Applied {
                    before,
                    after,
                    swept,
                } => {
                    store::attribute_indexes::sync_attribute_indexes(
                        db,
                        Some(&before),
                        Some(&after),
                    )
                    .await?;
                    if swept {
                        sweeper.wake();
                    }
                    tracing::info!(object = %change.object_id, "definition change applied");
                    break;
                }
                Stepped::Refused => {
                    tracing::info!(object = %change.object_id, "definition change refused: records do not fit it");
                    break;
                }
                Stepped::Idle => break,
            }
        }
    }
    Ok(())
}

/// A definition change as `GET /api/objects/{handle}/change` shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DefinitionChangeView {
    /// `checking`, `rewriting` or `releasing` while pending, then `applied` or `refused`.
    #[schema(example = "checking")]
    pub state: &'static str,
    /// The attributes the records are checked against, as the change defines them.
    #[schema(value_type = Object)]
    pub attributes: Value,
    /// Records checked so far.
    pub records_checked: u64,
    /// Attribute key → how many records do not fit it.
    #[schema(value_type = Object)]
    pub blocking: BTreeMap<String, u64>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub requested_at: DateTime<Utc>,
    #[serde(
        serialize_with = "crate::timestamp::serialize_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<&DefinitionChange> for DefinitionChangeView {
    fn from(change: &DefinitionChange) -> Self {
        let checked: Attributes = change
            .attributes
            .iter()
            .filter(|(key, _)| change.checked.contains(key))
            .map(|(key, attribute)| (key.clone(), attribute.clone()))
            .collect();
        DefinitionChangeView {
            state: change.phase.as_str(),
            attributes: attributes_to_json(&checked),
            records_checked: change.records_checked,
            blocking: change.blocking.clone(),
            requested_at: change.requested_at,
            finished_at: change.finished_at,
        }
    }
}

/// What one step did.
pub enum Stepped {
    /// There is more to do.
    Progress,
    /// The change is applied: the definition was `before` and is `after`; `swept` says
    /// whether it left values to sweep (`commit_patch`).
    Applied {
        before: Box<ObjectDefinition>,
        after: Box<ObjectDefinition>,
        swept: bool,
    },
    /// Records did not fit; nothing changed.
    Refused,
    /// Nothing is pending for the object (finished elsewhere, or the object is gone).
    Idle,
}

/// Runs one step of the object's pending change over up to `records` records, in a
/// transaction of its own.
pub async fn step(
    db: &DatabaseConnection,
    workspace_id: &str,
    object_id: &str,
    records: u64,
    now: DateTime<Utc>,
) -> Result<Stepped, ObjectsError> {
    let txn = store::begin_write(db).await?;
    let definition = store::objects::lock_definition(&txn, workspace_id, object_id).await?;
    let Some(mut change) = definition_changes::find_pending(&txn, object_id).await? else {
        txn.commit().await.map_err(StoreError::from)?;
        return Ok(Stepped::Idle);
    };
    let Some(definition) = definition else {
        definition_changes::delete(&txn, object_id).await?;
        txn.commit().await.map_err(StoreError::from)?;
        return Ok(Stepped::Idle);
    };
    let page = records::scan_live(&txn, &definition, change.after_id.as_deref(), records).await?;
    let checks = checks_of(&definition, &change.checked, &change.attributes);
    let stepped = match (change.phase, page.last()) {
        // `find_pending` gives only pending changes.
        (Phase::Applied | Phase::Refused, _) => Stepped::Idle,
        (Phase::Checking, Some(last)) => {
            let after_id = last.id.clone();
            check_page(&txn, &definition, &checks, &page, &mut change.blocking).await?;
            change.records_checked += page.len() as u64;
            change.after_id = Some(after_id);
            Stepped::Progress
        }
        (Phase::Checking, None) if !change.blocking.is_empty() => {
            if checks.iter().any(Check::claims) {
                change.phase = Phase::Releasing;
                change.after_id = None;
                Stepped::Progress
            } else {
                change.phase = Phase::Refused;
                change.finished_at = Some(now);
                Stepped::Refused
            }
        }
        (Phase::Releasing, Some(last)) => {
            let ids: Vec<String> = page.iter().map(|record| record.id.clone()).collect();
            for check in checks.iter().filter(|check| check.claims()) {
                unique_values::delete_unique_values_of_key(
                    &txn,
                    workspace_id,
                    object_id,
                    check.key.as_str(),
                    &ids,
                )
                .await?;
            }
            change.after_id = Some(last.id.clone());
            Stepped::Progress
        }
        (Phase::Releasing, None) => {
            change.phase = Phase::Refused;
            change.finished_at = Some(now);
            Stepped::Refused
        }
        (Phase::Checking, None) if checks.iter().any(Check::rewrites) => {
            change.phase = Phase::Rewriting;
            change.after_id = None;
            Stepped::Progress
        }
        (Phase::Rewriting, Some(last)) => {
            let after_id = last.id.clone();
            let mut page = page;
            rewrite(&txn, &definition, &checks, &mut page).await?;
            change.after_id = Some(after_id);
            Stepped::Progress
        }
        (_, None) => {
            let mut after = definition.clone();
            after.name = change.name.clone();
            after.description = change.description.clone();
            after.attributes = change.attributes.clone();
            after.updated_at = now;
            let swept = commit_patch(&txn, &definition, &after, now).await?;
            change.phase = Phase::Applied;
            change.finished_at = Some(now);
            Stepped::Applied {
                before: Box::new(definition.clone()),
                after: Box::new(after),
                swept,
            }
        }
    };
    definition_changes::save_progress(&txn, &change).await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(stepped)
}

/// Checks a page of records and claims the values of newly unique attributes; counts the
/// records that do not fit, and once there are any, only counts.
async fn check_page(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    checks: &[Check<'_>],
    page: &[Record],
    blocking: &mut BTreeMap<String, u64>,
) -> Result<(), StoreError> {
    // One list of claims for each check, empty for those that claim nothing.
    let mut claims: Vec<Vec<UniqueValue<'_>>> = checks.iter().map(|_| Vec::new()).collect();
    for record in page {
        for (check, claims) in checks.iter().zip(&mut claims) {
            match check.fit(record) {
                Fit::Misfit(_) => *blocking.entry(check.key.as_str().to_owned()).or_default() += 1,
                Fit::Fits(normal) if check.claims() => claims.push(check.claim(record, &normal)),
                Fit::Fits(_) | Fit::Absent => {}
            }
        }
    }
    if !blocking.is_empty() {
        return Ok(());
    }
    for (check, claims) in checks.iter().zip(&claims) {
        let claimed = unique_values::claim_unique_values(
            txn,
            &definition.workspace_id,
            &definition.id,
            claims,
        )
        .await?;
        let taken = claims.len() as u64 - claimed;
        if taken > 0 {
            *blocking.entry(check.key.as_str().to_owned()).or_default() += taken;
        }
    }
    Ok(())
}

/// Rewrites the records' values of retyped attributes into their normal forms.
async fn rewrite(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    checks: &[Check<'_>],
    records: &mut [Record],
) -> Result<(), StoreError> {
    let mut changed = vec![false; records.len()];
    for (record, changed) in records.iter_mut().zip(&mut changed) {
        for check in checks.iter().filter(|check| check.rewrites()) {
            if let Fit::Fits(normal) = check.fit(record)
                && record.attributes.get(check.key.as_str()) != Some(&normal)
            {
                record
                    .attributes
                    .insert(check.key.as_str().to_owned(), normal);
                *changed = true;
            }
        }
    }
    let rewritten: Vec<&Record> = records
        .iter()
        .zip(&changed)
        .filter_map(|(record, changed)| changed.then_some(record))
        .collect();
    records::update_records(txn, &definition.workspace_id, &definition.id, &rewritten).await
}

/// Holds records a batch has just written (in `txn`, in batch order) to the object's pending
/// change, if it has one and no record blocks it yet: those the check has passed must fit
/// the changed attributes, claim the values of newly unique ones, and, once the change is
/// rewriting, take the new normal forms. A record that does not fit fails the batch with an
/// issue at its path.
pub async fn hold_writes(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    written: &mut [Record],
) -> Result<(), ObjectsError> {
    let Some(change) = definition_changes::find_pending(txn, &definition.id).await? else {
        return Ok(());
    };
    // Records already block it: it will be refused, and holds no writer to it meanwhile.
    if !change.blocking.is_empty() {
        return Ok(());
    }
    let checks = checks_of(definition, &change.checked, &change.attributes);
    let passed: HashSet<String> = match (change.phase, change.after_id.as_deref()) {
        (Phase::Rewriting, _) => written.iter().map(|r| r.id.clone()).collect(),
        (_, Some(last)) => {
            let ids: Vec<&str> = written.iter().map(|r| r.id.as_str()).collect();
            records::live_ids_up_to(txn, &definition.workspace_id, &definition.id, &ids, last)
                .await?
                .into_iter()
                .collect()
        }
        (_, None) => HashSet::new(),
    };
    let mut issues = Vec::new();
    // One list of claims for each check, each with its record's place in the batch.
    let mut claims: Vec<Vec<(usize, UniqueValue<'_>)>> =
        checks.iter().map(|_| Vec::new()).collect();
    for (index, record) in written.iter().enumerate() {
        if !passed.contains(&record.id) {
            continue;
        }
        for (check, claims) in checks.iter().zip(&mut claims) {
            match check.fit(record) {
                Fit::Misfit(message) => issues.push(Issue::new(
                    attribute_path(index, check.key.as_str()),
                    format!(
                        "{message}: `{}` is changing to {} (GET /api/objects/{}/change), and written records must fit the change",
                        check.key.as_str(),
                        describe(check.after),
                        definition.handle
                    ),
                )),
                Fit::Fits(normal) if check.claims() => {
                    claims.push((index, check.claim(record, &normal)));
                }
                Fit::Fits(_) | Fit::Absent => {}
            }
        }
    }
    if !issues.is_empty() {
        return Err(ObjectsError::Invalid(issues));
    }
    for (check, claims) in checks.iter().zip(claims).filter(|(_, c)| !c.is_empty()) {
        let values: Vec<String> = claims.iter().map(|(_, c)| c.value.clone()).collect();
        let owners: BTreeMap<String, String> = unique_values::find_unique_owners(
            txn,
            &definition.workspace_id,
            &definition.id,
            check.key.as_str(),
            &values,
        )
        .await?
        .into_iter()
        .collect();
        for (index, claim) in &claims {
            if let Some(owner) = owners.get(&claim.value).filter(|o| *o != claim.record_id) {
                issues.push(Issue::new(
                    attribute_path(*index, check.key.as_str()),
                    format!(
                        "record `{owner}` holds this value, and `{}` is becoming unique (GET /api/objects/{}/change)",
                        check.key.as_str(),
                        definition.handle
                    ),
                ));
            }
        }
        if !issues.is_empty() {
            return Err(ObjectsError::Invalid(issues));
        }
        let claims: Vec<UniqueValue<'_>> = claims.into_iter().map(|(_, claim)| claim).collect();
        unique_values::insert_unique_values(txn, &definition.workspace_id, &definition.id, &claims)
            .await
            .map_err(ObjectsError::from_write)?;
    }
    if change.phase == Phase::Rewriting {
        rewrite(txn, definition, &checks, written).await?;
    }
    Ok(())
}

fn describe(attribute: &Attribute) -> String {
    let mut what = format!("a {}", attribute.kind.type_name());
    if attribute.required {
        what.push_str(", required");
    }
    if attribute.unique {
        what.push_str(", unique");
    }
    what
}
