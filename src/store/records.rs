//! Record rows, always filtered by workspace and object: reads by id, inserts, updates, soft
//! deletes and scans. Attributes are a JSON column (JSONB on PostgreSQL, JSON text on
//! SQLite). Every statement is built with sea-query and binds every value it carries,
//! attribute keys and JSON paths included.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Asterisk, Cond, Expr, ExprTrait, Func, IntoIden, Order, Query, SelectStatement, TableRef,
    ValueTuple,
};
use sea_orm::{ConnectionTrait, DbBackend, DeriveIden, QueryResult};
use serde_json::{Map, Value as Json};

use super::unique_values::delete_unique_values;
use super::{IN_CHUNK, INSERT_CHUNK, StoreError};
use crate::objects::definition::ObjectDefinition;
use crate::objects::handle::AttributeKey;
use crate::objects::record::Record;

#[derive(Clone, Copy, DeriveIden)]
pub(super) enum Records {
    Table,
    WorkspaceId,
    ObjectId,
    Id,
    Name,
    Attributes,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
    CreatedBy,
    UpdatedBy,
}

/// The columns [`to_record`] reads.
const COLUMNS: [Records; 7] = [
    Records::Id,
    Records::Name,
    Records::Attributes,
    Records::CreatedAt,
    Records::UpdatedAt,
    Records::CreatedBy,
    Records::UpdatedBy,
];

/// The live rows of one object.
fn live(workspace_id: &str, object_id: &str) -> Cond {
    Cond::all()
        .add(Expr::col(Records::WorkspaceId).eq(workspace_id))
        .add(Expr::col(Records::ObjectId).eq(object_id))
        .add(Expr::col(Records::DeletedAt).is_null())
}

/// The columns of [`to_record`] from the live rows of one object.
pub(super) fn select_live(workspace_id: &str, object_id: &str) -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(Records::Table)
        .cond_where(live(workspace_id, object_id))
        .take()
}

/// The SQLite JSON path of an attribute. A key is a validated identifier, so the path
/// names exactly that member.
pub(super) fn json_path(key: &AttributeKey) -> String {
    format!("$.{}", key.as_str())
}

/// A record of `definition` as the definition has it: values of attributes it no longer
/// defines (removed, and not yet swept from the stored row by `objects::sweep`) are left
/// out, so no read, write or decision sees them.
pub(super) fn to_record(
    row: &QueryResult,
    definition: &ObjectDefinition,
) -> Result<Record, StoreError> {
    let attributes: Json = row.try_get("", "attributes")?;
    let mut attributes: Map<String, Json> = match attributes {
        Json::Object(map) => map,
        // SQLite may hand JSON back as its text.
        Json::String(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("record attributes: {e}")))?,
        other => {
            return Err(StoreError::Corrupt(format!(
                "record attributes are not an object: {other}"
            )));
        }
    };
    attributes.retain(|key, _| definition.attributes.contains_key(key.as_str()));
    Ok(Record {
        id: row.try_get("", "id")?,
        name: row.try_get("", "name")?,
        attributes,
        created_at: row.try_get("", "created_at")?,
        updated_at: row.try_get("", "updated_at")?,
        created_by: row.try_get("", "created_by")?,
        updated_by: row.try_get("", "updated_by")?,
    })
}

/// The live records of `definition` among `ids`.
pub async fn find_live_by_ids(
    db: &impl ConnectionTrait,
    definition: &ObjectDefinition,
    ids: &[String],
) -> Result<Vec<Record>, StoreError> {
    let mut records = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let select = select_live(&definition.workspace_id, &definition.id)
            .and_where(Expr::col(Records::Id).is_in(chunk))
            .take();
        for row in db.query_all(&select).await? {
            records.push(to_record(&row, definition)?);
        }
    }
    Ok(records)
}

pub async fn find_live(
    db: &impl ConnectionTrait,
    definition: &ObjectDefinition,
    id: &str,
) -> Result<Option<Record>, StoreError> {
    Ok(find_live_by_ids(db, definition, &[id.to_owned()])
        .await?
        .pop())
}

pub async fn count_live(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
) -> Result<u64, StoreError> {
    let select = Query::select()
        .expr_as(Func::count(Expr::col(Asterisk)), "n")
        .from(Records::Table)
        .cond_where(live(workspace_id, object_id))
        .take();
    let n: i64 = match db.query_one(&select).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or_default())
}

pub async fn insert_records(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    records: &[&Record],
) -> Result<(), StoreError> {
    for chunk in records.chunks(INSERT_CHUNK) {
        let mut insert = Query::insert();
        insert.into_table(Records::Table).columns([
            Records::WorkspaceId,
            Records::ObjectId,
            Records::Id,
            Records::Name,
            Records::Attributes,
            Records::CreatedAt,
            Records::UpdatedAt,
            Records::CreatedBy,
            Records::UpdatedBy,
        ]);
        for record in chunk {
            insert.values([
                workspace_id.into(),
                object_id.into(),
                record.id.as_str().into(),
                record.name.clone().into(),
                Json::Object(record.attributes.clone()).into(),
                record.created_at.into(),
                record.updated_at.into(),
                record.created_by.clone().into(),
                record.updated_by.clone().into(),
            ])?;
        }
        db.execute(&insert).await?;
    }
    Ok(())
}

/// Replaces the name, attributes and update time of live records: one `UPDATE … FROM
/// (VALUES …)` per chunk of rows, not a statement per record (both backends name the
/// columns of a VALUES list `column1`, `column2`, …).
pub async fn update_records(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    records: &[&Record],
) -> Result<(), StoreError> {
    let given = |n: u8| Expr::col(("v", format!("column{n}")));
    for chunk in records.chunks(INSERT_CHUNK) {
        let rows = chunk
            .iter()
            .map(|record| {
                ValueTuple::Many(vec![
                    record.id.as_str().into(),
                    record.name.clone().into(),
                    Json::Object(record.attributes.clone()).into(),
                    record.updated_at.into(),
                    record.updated_by.clone().into(),
                ])
            })
            .collect();
        let update = Query::update()
            .table(Records::Table)
            .values([
                (Records::Name, given(2)),
                (Records::Attributes, given(3)),
                (Records::UpdatedAt, given(4)),
                (Records::UpdatedBy, given(5)),
            ])
            .from(TableRef::ValuesList(rows, "v".into_iden()))
            .cond_where(live(workspace_id, object_id))
            .and_where(Expr::col(Records::Id).equals(("v", "column1")))
            .take();
        db.execute(&update).await?;
    }
    Ok(())
}

/// Soft-deletes live records: they stay, with a deletion time, hidden from every read.
pub async fn soft_delete(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    ids: &[String],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut deleted = 0;
    for chunk in ids.chunks(IN_CHUNK) {
        let update = Query::update()
            .table(Records::Table)
            .value(Records::DeletedAt, now)
            .cond_where(live(workspace_id, object_id))
            .and_where(Expr::col(Records::Id).is_in(chunk))
            .take();
        deleted += db.execute(&update).await?.rows_affected();
    }
    delete_unique_values(db, workspace_id, object_id, ids).await?;
    Ok(deleted)
}

/// Removes `key`'s value from those of the live records `ids` that hold one; returns how
/// many changed.
pub async fn remove_values(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    key: &AttributeKey,
    ids: &[String],
) -> Result<u64, StoreError> {
    let attributes = Expr::col(Records::Attributes);
    let (removed, held) = match db.get_database_backend() {
        // `jsonb - text` removes that key.
        DbBackend::Postgres => (
            attributes.clone().sub(key.as_str()),
            Expr::expr(Func::cust("jsonb_exists").arg(attributes).arg(key.as_str())),
        ),
        _ => (
            Func::cust("json_remove")
                .arg(attributes.clone())
                .arg(json_path(key))
                .into(),
            Expr::expr(Func::cust("json_type").arg(attributes).arg(json_path(key))).is_not_null(),
        ),
    };
    let mut changed = 0;
    for chunk in ids.chunks(IN_CHUNK) {
        let update = Query::update()
            .table(Records::Table)
            .value(Records::Attributes, removed.clone())
            .cond_where(live(workspace_id, object_id))
            .and_where(Expr::col(Records::Id).is_in(chunk))
            .and_where(held.clone())
            .take();
        changed += db.execute(&update).await?.rows_affected();
    }
    Ok(changed)
}

/// Up to `limit` live rows after the id `after` (from the start when `None`), in id order,
/// without columns yet. It walks the index of live ids, so each page costs the same however
/// far a scan has gone (ordered by storage key instead, SQLite sorted the whole object for
/// each page).
fn live_in_id_order(
    workspace_id: &str,
    object_id: &str,
    after: Option<&str>,
    limit: u64,
) -> SelectStatement {
    let mut select = Query::select()
        .from(Records::Table)
        .cond_where(live(workspace_id, object_id))
        .order_by(Records::Id, Order::Asc)
        .limit(limit)
        .take();
    if let Some(after) = after {
        select.and_where(Expr::col(Records::Id).gt(after));
    }
    select
}

/// The ids of live records after `after`, in id order.
pub async fn live_ids_after(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<String>, StoreError> {
    let select = live_in_id_order(workspace_id, object_id, after, limit)
        .column(Records::Id)
        .take();
    db.query_all(&select)
        .await?
        .iter()
        .map(|row| row.try_get("", "id").map_err(StoreError::from))
        .collect()
}

/// Which of the live records `ids` come at or before `last` in the order of
/// [`live_in_id_order`]: the database compares, as it does for the scan (its collation
/// need not be byte order).
pub async fn live_ids_up_to(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    ids: &[&str],
    last: &str,
) -> Result<Vec<String>, StoreError> {
    let mut found = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let select = Query::select()
            .column(Records::Id)
            .from(Records::Table)
            .cond_where(live(workspace_id, object_id))
            .and_where(Expr::col(Records::Id).is_in(chunk.iter().copied()))
            .and_where(Expr::col(Records::Id).lte(last))
            .take();
        for row in db.query_all(&select).await? {
            found.push(row.try_get("", "id")?);
        }
    }
    Ok(found)
}

/// Live records of `definition` in id order after `after`, for scans over a whole object.
pub async fn scan_live(
    db: &impl ConnectionTrait,
    definition: &ObjectDefinition,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Record>, StoreError> {
    let select = live_in_id_order(&definition.workspace_id, &definition.id, after, limit)
        .columns(COLUMNS)
        .take();
    db.query_all(&select)
        .await?
        .iter()
        .map(|row| to_record(row, definition))
        .collect()
}

/// Which live records of another object (or this one) exist among `ids`.
pub async fn find_existing_ids(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    ids: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut found = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let select = Query::select()
            .column(Records::Id)
            .from(Records::Table)
            .cond_where(live(workspace_id, object_id))
            .and_where(Expr::col(Records::Id).is_in(chunk))
            .take();
        for row in db.query_all(&select).await? {
            found.push(row.try_get("", "id")?);
        }
    }
    Ok(found)
}
