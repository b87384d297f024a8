//! Attributes removed from a definition whose values are still to be removed from its
//! records (`attribute_sweeps`). A row is written in the transaction of the definition
//! change and deleted once no live record holds the value, so a sweep cut short resumes.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Order, Query};
use sea_orm::{ConnectionTrait, DeriveIden};

use super::StoreError;
use crate::objects::handle::AttributeKey;

#[derive(Clone, Copy, DeriveIden)]
enum AttributeSweeps {
    Table,
    ObjectId,
    AttributeKey,
    WorkspaceId,
    RequestedAt,
}

/// The values of `key` to remove from the records of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sweep {
    pub workspace_id: String,
    pub object_id: String,
    pub key: AttributeKey,
}

/// Records that `key`'s values are to be removed from the object's records.
pub async fn request(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    key: &AttributeKey,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let insert = Query::insert()
        .into_table(AttributeSweeps::Table)
        .columns([
            AttributeSweeps::ObjectId,
            AttributeSweeps::AttributeKey,
            AttributeSweeps::WorkspaceId,
            AttributeSweeps::RequestedAt,
        ])
        .values([
            object_id.into(),
            key.as_str().into(),
            workspace_id.into(),
            now.into(),
        ])?
        .on_conflict(
            OnConflict::columns([AttributeSweeps::ObjectId, AttributeSweeps::AttributeKey])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}

/// Whether `key`'s values are still being removed from the object's records.
pub async fn is_pending(
    db: &impl ConnectionTrait,
    object_id: &str,
    key: &AttributeKey,
) -> Result<bool, StoreError> {
    let select = Query::select()
        .column(AttributeSweeps::ObjectId)
        .from(AttributeSweeps::Table)
        .and_where(Expr::col(AttributeSweeps::ObjectId).eq(object_id))
        .and_where(Expr::col(AttributeSweeps::AttributeKey).eq(key.as_str()))
        .take();
    Ok(db.query_one(&select).await?.is_some())
}

/// Every sweep not yet finished, oldest first.
pub async fn pending(db: &impl ConnectionTrait) -> Result<Vec<Sweep>, StoreError> {
    let select = Query::select()
        .columns([
            AttributeSweeps::WorkspaceId,
            AttributeSweeps::ObjectId,
            AttributeSweeps::AttributeKey,
        ])
        .from(AttributeSweeps::Table)
        .order_by(AttributeSweeps::RequestedAt, Order::Asc)
        .take();
    db.query_all(&select)
        .await?
        .iter()
        .map(|row| -> Result<Sweep, StoreError> {
            let key: String = row.try_get("", "attribute_key")?;
            Ok(Sweep {
                workspace_id: row.try_get("", "workspace_id")?,
                object_id: row.try_get("", "object_id")?,
                key: AttributeKey::parse(&key).map_err(StoreError::Corrupt)?,
            })
        })
        .collect()
}

/// Marks a sweep done.
pub async fn finish(db: &impl ConnectionTrait, sweep: &Sweep) -> Result<(), StoreError> {
    let delete = Query::delete()
        .from_table(AttributeSweeps::Table)
        .and_where(Expr::col(AttributeSweeps::ObjectId).eq(sweep.object_id.as_str()))
        .and_where(Expr::col(AttributeSweeps::AttributeKey).eq(sweep.key.as_str()))
        .take();
    db.execute(&delete).await?;
    Ok(())
}
