//! The key revocation sequence (`key_events`). Revoke and rotate append to it in their own
//! transaction; each server reads the rows after the last sequence number it has seen and
//! drops those keys from its cache. On PostgreSQL the append also sends a NOTIFY, delivered
//! at commit, so listening servers read the sequence at once instead of at their next poll.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::StoreError;
use super::entity::{api_key, key_event};
use crate::keys::secret::KeyDigest;

/// The PostgreSQL channel a key event is announced on.
pub const KEY_EVENTS_CHANNEL: &str = "andi_key_events";

/// What happened to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEventKind {
    Revoked,
    Rotated,
}

impl KeyEventKind {
    fn as_str(self) -> &'static str {
        match self {
            KeyEventKind::Revoked => "revoked",
            KeyEventKind::Rotated => "rotated",
        }
    }
}

/// A changed key, as a cache needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyEvent {
    pub seq: i64,
    pub digest: KeyDigest,
}

/// Appends an event for key `key_id`. Call it inside the transaction that changes the key,
/// so the change and its announcement commit together.
pub async fn insert_key_event(
    db: &impl ConnectionTrait,
    key_id: &str,
    kind: KeyEventKind,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let key_hash: Option<String> = api_key::Entity::find_by_id(key_id.to_owned())
        .select_only()
        .column(api_key::Column::KeyHash)
        .into_tuple()
        .one(db)
        .await?;
    let key_hash =
        key_hash.ok_or_else(|| StoreError::Corrupt(format!("key {key_id} does not exist")))?;
    key_event::ActiveModel {
        key_id: Set(key_id.to_owned()),
        key_hash: Set(key_hash),
        kind: Set(kind.as_str().to_owned()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared(&format!("NOTIFY {KEY_EVENTS_CHANNEL}"))
            .await?;
    }
    Ok(())
}

/// The sequence number of the latest event, 0 when there is none.
pub async fn find_last_key_event_seq(db: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let last: Option<Option<i64>> = key_event::Entity::find()
        .select_only()
        .column_as(key_event::Column::Seq.max(), "last")
        .into_tuple()
        .one(db)
        .await?;
    Ok(last.flatten().unwrap_or(0))
}

/// Up to `limit` events after `seq`, oldest first.
pub async fn find_key_events_after(
    db: &impl ConnectionTrait,
    seq: i64,
    limit: u64,
) -> Result<Vec<KeyEvent>, StoreError> {
    let rows: Vec<(i64, String)> = key_event::Entity::find()
        .select_only()
        .column(key_event::Column::Seq)
        .column(key_event::Column::KeyHash)
        .filter(key_event::Column::Seq.gt(seq))
        .order_by_asc(key_event::Column::Seq)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    rows.into_iter()
        .map(|(seq, hash)| {
            KeyDigest::from_hex(&hash)
                .map(|digest| KeyEvent { seq, digest })
                .ok_or_else(|| StoreError::Corrupt(format!("key event {seq} has a bad digest")))
        })
        .collect()
}
