//! The key revocation sequence (`key_events`). Revoke and rotate append to it in their own
//! transaction; each server reads the rows after the last sequence number it has seen and
//! drops those keys from its cache. On PostgreSQL the append also sends a NOTIFY, delivered
//! at commit, so listening servers read the sequence at once instead of at their next poll.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::StoreError;
use super::entity::key_event;
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

/// The PostgreSQL advisory lock that orders appends ("andikeys" in ASCII).
const KEY_EVENTS_LOCK: i64 = 0x616e_6469_6b65_7973;

/// Appends an event for key `key_id` inside `txn`, the transaction that changes the key, so
/// the change and its announcement commit together: one row for each of the key's secrets,
/// since a server's cache holds the key by whichever secret it was presented with. Call it
/// after the change, so a secret the change adds is announced too (harmless: it cannot be
/// cached before the commit).
pub async fn insert_key_event(
    txn: &DatabaseTransaction,
    key_id: &str,
    kind: KeyEventKind,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let digests = super::api_keys::find_key_digests(txn, key_id).await?;
    if digests.is_empty() {
        return Err(StoreError::Corrupt(format!("key {key_id} has no secret")));
    }
    // Readers move past the highest number they have seen, so an event must never become
    // visible after one with a higher number. A bigserial alone allows that: numbers are
    // taken at insert, and transactions commit in any order. Hence this lock, taken before
    // the insert takes its number and held until the transaction commits or rolls back;
    // PostgreSQL makes a commit visible before it releases the transaction's locks. So an
    // append takes its number only once every lower-numbered append has committed (and is
    // visible to every later snapshot) or rolled back (its number is a gap with no event):
    // a snapshot that shows number N shows every event below N, and none is skipped.
    // SQLite needs no lock: `store::begin_write` takes its single write lock at BEGIN, the
    // number is taken under it, and the lock is released at commit. The cost is that
    // appends across all servers take turns for the rest of their (short) transactions;
    // revocations are rare. Reading only events older than the oldest running transaction
    // (`pg_snapshot_xmin`) would avoid the turns, but a long transaction anywhere would
    // then hold back every revocation.
    if txn.get_database_backend() == DbBackend::Postgres {
        // Written by hand: both are PostgreSQL commands sea-query has no statement for, and
        // they hold only constants of this file.
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({KEY_EVENTS_LOCK})"))
            .await?;
    }
    key_event::Entity::insert_many(digests.into_iter().map(|digest| key_event::ActiveModel {
        key_id: Set(key_id.to_owned()),
        key_hash: Set(digest.to_hex()),
        kind: Set(kind.as_str().to_owned()),
        created_at: Set(now),
        ..Default::default()
    }))
    .exec(txn)
    .await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("NOTIFY {KEY_EVENTS_CHANNEL}"))
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
