//! The `record_unique_values` table: one row for each value of a unique attribute that a
//! live record holds, so the database's unique index, not the application, keeps a value
//! to one record under concurrent writers.

use sea_orm::sea_query::{Cond, Expr, ExprTrait, InsertStatement, OnConflict, Query};
use sea_orm::{ConnectionTrait, DeriveIden};

use super::{IN_CHUNK, INSERT_CHUNK, StoreError};

#[derive(Clone, Copy, DeriveIden)]
enum RecordUniqueValues {
    Table,
    WorkspaceId,
    ObjectId,
    AttributeKey,
    Value,
    RecordId,
}

/// The values of one object.
fn of_object(workspace_id: &str, object_id: &str) -> Cond {
    Cond::all()
        .add(Expr::col(RecordUniqueValues::WorkspaceId).eq(workspace_id))
        .add(Expr::col(RecordUniqueValues::ObjectId).eq(object_id))
}

/// Which records hold the given unique keys of an attribute: `(key, record id)`.
pub async fn find_unique_owners(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    attribute: &str,
    values: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut owners = Vec::new();
    for chunk in values.chunks(IN_CHUNK) {
        let select = Query::select()
            .columns([RecordUniqueValues::Value, RecordUniqueValues::RecordId])
            .from(RecordUniqueValues::Table)
            .cond_where(of_object(workspace_id, object_id))
            .and_where(Expr::col(RecordUniqueValues::AttributeKey).eq(attribute))
            .and_where(Expr::col(RecordUniqueValues::Value).is_in(chunk))
            .take();
        for row in db.query_all(&select).await? {
            owners.push((row.try_get("", "value")?, row.try_get("", "record_id")?));
        }
    }
    Ok(owners)
}

/// A unique attribute value held by a record.
pub struct UniqueValue<'a> {
    pub attribute: &'a str,
    pub value: String,
    pub record_id: &'a str,
}

/// Claims unique values; the unique index refuses a value another live record holds.
pub async fn insert_unique_values(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    values: &[UniqueValue<'_>],
) -> Result<(), StoreError> {
    for chunk in values.chunks(INSERT_CHUNK) {
        db.execute(&unique_value_insert(workspace_id, object_id, chunk)?)
            .await?;
    }
    Ok(())
}

fn unique_value_insert(
    workspace_id: &str,
    object_id: &str,
    values: &[UniqueValue<'_>],
) -> Result<InsertStatement, StoreError> {
    let mut insert = Query::insert();
    insert.into_table(RecordUniqueValues::Table).columns([
        RecordUniqueValues::WorkspaceId,
        RecordUniqueValues::ObjectId,
        RecordUniqueValues::AttributeKey,
        RecordUniqueValues::Value,
        RecordUniqueValues::RecordId,
    ]);
    for v in values {
        insert.values([
            workspace_id.into(),
            object_id.into(),
            v.attribute.into(),
            v.value.as_str().into(),
            v.record_id.into(),
        ])?;
    }
    Ok(insert)
}

/// Claims unique values where no live record holds them yet, and says how many it claimed:
/// the rest are taken (by another record, or twice among `values`).
pub async fn claim_unique_values(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    values: &[UniqueValue<'_>],
) -> Result<u64, StoreError> {
    let mut claimed = 0;
    for chunk in values.chunks(INSERT_CHUNK) {
        let mut insert = unique_value_insert(workspace_id, object_id, chunk)?;
        insert.on_conflict(
            OnConflict::columns([
                RecordUniqueValues::Value,
                RecordUniqueValues::AttributeKey,
                RecordUniqueValues::ObjectId,
                RecordUniqueValues::WorkspaceId,
            ])
            .do_nothing()
            .to_owned(),
        );
        claimed += db.execute(&insert).await?.rows_affected();
    }
    Ok(claimed)
}

/// Releases every unique value the given records hold.
pub async fn delete_unique_values(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    record_ids: &[String],
) -> Result<(), StoreError> {
    for chunk in record_ids.chunks(IN_CHUNK) {
        let delete = Query::delete()
            .from_table(RecordUniqueValues::Table)
            .cond_where(of_object(workspace_id, object_id))
            .and_where(Expr::col(RecordUniqueValues::RecordId).is_in(chunk))
            .take();
        db.execute(&delete).await?;
    }
    Ok(())
}

/// Releases the values of one attribute (no longer unique, or gone) that the given records
/// hold; by record, so each call costs its records, not the whole attribute.
pub async fn delete_unique_values_of_key(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    attribute: &str,
    record_ids: &[String],
) -> Result<(), StoreError> {
    for chunk in record_ids.chunks(IN_CHUNK) {
        let delete = Query::delete()
            .from_table(RecordUniqueValues::Table)
            .cond_where(of_object(workspace_id, object_id))
            .and_where(Expr::col(RecordUniqueValues::RecordId).is_in(chunk))
            .and_where(Expr::col(RecordUniqueValues::AttributeKey).eq(attribute))
            .take();
        db.execute(&delete).await?;
    }
    Ok(())
}
