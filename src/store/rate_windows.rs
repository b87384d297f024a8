//! Per-key request counts in fixed windows, shared by every server on the database.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::StoreError;
use super::entity::key_rate_window;

/// Counts one request of key `key_id` in the window that began at `window_start` and
/// returns the window's count so far, this request included. One atomic upsert, so two
/// servers counting at once both see their own increment: the count is exact.
pub async fn count_key_request(
    db: &impl ConnectionTrait,
    key_id: &str,
    window_start: i64,
) -> Result<i64, StoreError> {
    let counted = key_rate_window::Entity::insert(key_rate_window::ActiveModel {
        key_id: Set(key_id.to_owned()),
        window_start: Set(window_start),
        count: Set(1),
    })
    .on_conflict(
        OnConflict::columns([
            key_rate_window::Column::KeyId,
            key_rate_window::Column::WindowStart,
        ])
        .value(
            key_rate_window::Column::Count,
            Expr::col((key_rate_window::Entity, key_rate_window::Column::Count)).add(1),
        )
        .to_owned(),
    )
    .exec_with_returning(db)
    .await?;
    if counted.count == 1 {
        // The first request of a new window: the key's earlier windows are done with.
        key_rate_window::Entity::delete_many()
            .filter(key_rate_window::Column::KeyId.eq(key_id))
            .filter(key_rate_window::Column::WindowStart.lt(window_start))
            .exec(db)
            .await?;
    }
    Ok(counted.count)
}
