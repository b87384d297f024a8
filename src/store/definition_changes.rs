//! Definition changes being checked against an object's records (`definition_changes`), one
//! row per object: the definition the change would leave, which attributes the records are
//! checked against, and how far the check has come. A finished change keeps its outcome
//! (applied or refused) until the object's next change replaces the row.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{ConnectionTrait, DeriveIden, QueryResult};
use serde_json::Value;

use super::StoreError;
use crate::objects::attribute::{Attributes, attributes_from_json, attributes_to_json};
use crate::objects::handle::AttributeKey;

#[derive(Clone, Copy, DeriveIden)]
enum DefinitionChanges {
    Table,
    ObjectId,
    WorkspaceId,
    Name,
    Description,
    Attributes,
    Checked,
    Phase,
    AfterId,
    RecordsChecked,
    Blocking,
    RequestedAt,
    FinishedAt,
}

/// Where a change stands. The first three are pending; while checking or rewriting, writers
/// of the object are held to the changed attributes too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Records are read in id order and checked against the changed attributes.
    Checking,
    /// Every record fits; values are being rewritten into the new types' normal forms.
    Rewriting,
    /// Some records do not fit; the unique values the check claimed are being released.
    Releasing,
    /// The definition now is the changed one.
    Applied,
    /// Some records did not fit; the definition is as it was.
    Refused,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Checking => "checking",
            Phase::Rewriting => "rewriting",
            Phase::Releasing => "releasing",
            Phase::Applied => "applied",
            Phase::Refused => "refused",
        }
    }

    fn parse(text: &str) -> Result<Phase, StoreError> {
        match text {
            "checking" => Ok(Phase::Checking),
            "rewriting" => Ok(Phase::Rewriting),
            "releasing" => Ok(Phase::Releasing),
            "applied" => Ok(Phase::Applied),
            "refused" => Ok(Phase::Refused),
            other => Err(StoreError::Corrupt(format!(
                "unknown definition change phase `{other}`"
            ))),
        }
    }

    pub fn is_pending(self) -> bool {
        matches!(self, Phase::Checking | Phase::Rewriting | Phase::Releasing)
    }
}

/// A definition change and its progress.
#[derive(Debug, Clone, PartialEq)]
pub struct DefinitionChange {
    pub workspace_id: String,
    pub object_id: String,
    /// The definition as the change leaves it.
    pub name: String,
    pub description: Option<String>,
    pub attributes: Attributes,
    /// The attributes records are checked against (a subset of `attributes`).
    pub checked: Vec<AttributeKey>,
    pub phase: Phase,
    /// The last record (by id) the current phase has done.
    pub after_id: Option<String>,
    pub records_checked: u64,
    /// Attribute key → how many records do not fit it.
    pub blocking: BTreeMap<String, u64>,
    pub requested_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: [DefinitionChanges; 12] = [
    DefinitionChanges::ObjectId,
    DefinitionChanges::WorkspaceId,
    DefinitionChanges::Name,
    DefinitionChanges::Description,
    DefinitionChanges::Attributes,
    DefinitionChanges::Checked,
    DefinitionChanges::Phase,
    DefinitionChanges::AfterId,
    DefinitionChanges::RecordsChecked,
    DefinitionChanges::Blocking,
    DefinitionChanges::RequestedAt,
    DefinitionChanges::FinishedAt,
];

/// Writes `change` as the object's change, replacing a finished one.
pub async fn save(db: &impl ConnectionTrait, change: &DefinitionChange) -> Result<(), StoreError> {
    let delete = Query::delete()
        .from_table(DefinitionChanges::Table)
        .and_where(Expr::col(DefinitionChanges::ObjectId).eq(change.object_id.as_str()))
        .take();
    db.execute(&delete).await?;
    let checked: Vec<&str> = change.checked.iter().map(AttributeKey::as_str).collect();
    let insert = Query::insert()
        .into_table(DefinitionChanges::Table)
        .columns(COLUMNS)
        .values([
            change.object_id.as_str().into(),
            change.workspace_id.as_str().into(),
            change.name.as_str().into(),
            change.description.clone().into(),
            attributes_to_json(&change.attributes).to_string().into(),
            serde_json::json!(checked).to_string().into(),
            change.phase.as_str().into(),
            change.after_id.clone().into(),
            (change.records_checked as i64).into(),
            serde_json::json!(change.blocking).to_string().into(),
            change.requested_at.into(),
            change.finished_at.into(),
        ])?
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}

/// Records a step's progress: its phase, its place, its counts and when it finished.
pub async fn save_progress(
    db: &impl ConnectionTrait,
    change: &DefinitionChange,
) -> Result<(), StoreError> {
    let update = Query::update()
        .table(DefinitionChanges::Table)
        .values([
            (DefinitionChanges::Phase, change.phase.as_str().into()),
            (DefinitionChanges::AfterId, change.after_id.clone().into()),
            (
                DefinitionChanges::RecordsChecked,
                (change.records_checked as i64).into(),
            ),
            (
                DefinitionChanges::Blocking,
                serde_json::json!(change.blocking).to_string().into(),
            ),
            (DefinitionChanges::FinishedAt, change.finished_at.into()),
        ])
        .and_where(Expr::col(DefinitionChanges::ObjectId).eq(change.object_id.as_str()))
        .take();
    db.execute(&update).await?;
    Ok(())
}

/// The object's latest change, pending or finished.
pub async fn find(
    db: &impl ConnectionTrait,
    object_id: &str,
) -> Result<Option<DefinitionChange>, StoreError> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(DefinitionChanges::Table)
        .and_where(Expr::col(DefinitionChanges::ObjectId).eq(object_id))
        .take();
    db.query_one(&select)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The object's change if one is pending.
pub async fn find_pending(
    db: &impl ConnectionTrait,
    object_id: &str,
) -> Result<Option<DefinitionChange>, StoreError> {
    Ok(find(db, object_id)
        .await?
        .filter(|change| change.phase.is_pending()))
}

/// Every pending change, oldest first.
pub async fn pending(db: &impl ConnectionTrait) -> Result<Vec<DefinitionChange>, StoreError> {
    let select = Query::select()
        .columns(COLUMNS)
        .from(DefinitionChanges::Table)
        .and_where(Expr::col(DefinitionChanges::Phase).is_in([
            Phase::Checking.as_str(),
            Phase::Rewriting.as_str(),
            Phase::Releasing.as_str(),
        ]))
        .order_by(DefinitionChanges::RequestedAt, Order::Asc)
        .take();
    db.query_all(&select).await?.iter().map(from_row).collect()
}

/// Forgets the change of an object that no longer exists.
pub async fn delete(db: &impl ConnectionTrait, object_id: &str) -> Result<(), StoreError> {
    let delete = Query::delete()
        .from_table(DefinitionChanges::Table)
        .and_where(Expr::col(DefinitionChanges::ObjectId).eq(object_id))
        .take();
    db.execute(&delete).await?;
    Ok(())
}

fn from_row(row: &QueryResult) -> Result<DefinitionChange, StoreError> {
    let corrupt =
        |what: &str, e: String| StoreError::Corrupt(format!("definition change {what}: {e}"));
    let json = |column: &str| -> Result<Value, StoreError> {
        let text: String = row.try_get("", column)?;
        serde_json::from_str(&text).map_err(|e| corrupt(column, e.to_string()))
    };
    let checked: Vec<String> =
        serde_json::from_value(json("checked")?).map_err(|e| corrupt("checked", e.to_string()))?;
    let checked = checked
        .iter()
        .map(|key| AttributeKey::parse(key))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt("checked", e))?;
    let blocking: BTreeMap<String, u64> = serde_json::from_value(json("blocking")?)
        .map_err(|e| corrupt("blocking", e.to_string()))?;
    let records_checked: i64 = row.try_get("", "records_checked")?;
    let phase: String = row.try_get("", "phase")?;
    Ok(DefinitionChange {
        workspace_id: row.try_get("", "workspace_id")?,
        object_id: row.try_get("", "object_id")?,
        name: row.try_get("", "name")?,
        description: row.try_get("", "description")?,
        attributes: attributes_from_json(&json("attributes")?)
            .map_err(|e| corrupt("attributes", e))?,
        checked,
        phase: Phase::parse(&phase)?,
        after_id: row.try_get("", "after_id")?,
        records_checked: u64::try_from(records_checked).unwrap_or(0),
        blocking,
        requested_at: row.try_get("", "requested_at")?,
        finished_at: row.try_get("", "finished_at")?,
    })
}
