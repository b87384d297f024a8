//! Idempotency-key rows: claimed when a creating request starts, completed with its answer,
//! released when it failed in a way a retry should run again.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DeriveIden};

use super::StoreError;

#[derive(Clone, Copy, DeriveIden)]
enum IdempotencyKeys {
    Table,
    Scope,
    Key,
    Fingerprint,
    Status,
    Headers,
    Body,
    CreatedAt,
}

/// What a claim found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key was free and is now this request's.
    New,
    /// Another request holds it and has not answered yet.
    InProgress,
    /// It was used before (and has not expired).
    Used {
        fingerprint: String,
        answer: StoredAnswer,
    },
}

/// A first answer, as it is replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    /// JSON object of the replayed headers (content type, location, ETag).
    pub headers: String,
    pub body: String,
}

/// Claims `key` in `scope` for a request with `fingerprint`, forgetting a use older than
/// `expired_before` first.
pub async fn claim(
    db: &impl ConnectionTrait,
    scope: &str,
    key: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
    expired_before: DateTime<Utc>,
) -> Result<Claim, StoreError> {
    let expired = Query::delete()
        .from_table(IdempotencyKeys::Table)
        .and_where(Expr::col(IdempotencyKeys::CreatedAt).lt(expired_before))
        .take();
    db.execute(&expired).await?;
    let insert = Query::insert()
        .into_table(IdempotencyKeys::Table)
        .columns([
            IdempotencyKeys::Scope,
            IdempotencyKeys::Key,
            IdempotencyKeys::Fingerprint,
            IdempotencyKeys::CreatedAt,
        ])
        .values_panic([scope.into(), key.into(), fingerprint.into(), now.into()])
        .on_conflict(
            OnConflict::columns([IdempotencyKeys::Scope, IdempotencyKeys::Key])
                .do_nothing()
                .to_owned(),
        )
        .take();
    if db.execute(&insert).await?.rows_affected() == 1 {
        return Ok(Claim::New);
    }
    let select = Query::select()
        .columns([
            IdempotencyKeys::Fingerprint,
            IdempotencyKeys::Status,
            IdempotencyKeys::Headers,
            IdempotencyKeys::Body,
        ])
        .from(IdempotencyKeys::Table)
        .and_where(Expr::col(IdempotencyKeys::Scope).eq(scope))
        .and_where(Expr::col(IdempotencyKeys::Key).eq(key))
        .take();
    let Some(row) = db.query_one(&select).await? else {
        // Expired and deleted by another request between the two statements.
        return Ok(Claim::InProgress);
    };
    let fingerprint: String = row.try_get("", "fingerprint")?;
    let status: Option<i32> = row.try_get("", "status")?;
    let Some(status) = status else {
        return Ok(Claim::InProgress);
    };
    Ok(Claim::Used {
        fingerprint,
        answer: StoredAnswer {
            status: u16::try_from(status)
                .map_err(|_| StoreError::Corrupt(format!("idempotent status {status}")))?,
            headers: row
                .try_get::<Option<String>>("", "headers")?
                .unwrap_or_default(),
            body: row
                .try_get::<Option<String>>("", "body")?
                .unwrap_or_default(),
        },
    })
}

/// Stores the first answer under a claimed key.
pub async fn complete(
    db: &impl ConnectionTrait,
    scope: &str,
    key: &str,
    answer: &StoredAnswer,
) -> Result<(), StoreError> {
    let update = Query::update()
        .table(IdempotencyKeys::Table)
        .values([
            (IdempotencyKeys::Status, i32::from(answer.status).into()),
            (IdempotencyKeys::Headers, answer.headers.clone().into()),
            (IdempotencyKeys::Body, answer.body.clone().into()),
        ])
        .and_where(Expr::col(IdempotencyKeys::Scope).eq(scope))
        .and_where(Expr::col(IdempotencyKeys::Key).eq(key))
        .take();
    db.execute(&update).await?;
    Ok(())
}

/// Frees a claimed key, so a retry runs the request again.
pub async fn release(db: &impl ConnectionTrait, scope: &str, key: &str) -> Result<(), StoreError> {
    let delete = Query::delete()
        .from_table(IdempotencyKeys::Table)
        .and_where(Expr::col(IdempotencyKeys::Scope).eq(scope))
        .and_where(Expr::col(IdempotencyKeys::Key).eq(key))
        .and_where(Expr::col(IdempotencyKeys::Status).is_null())
        .take();
    db.execute(&delete).await?;
    Ok(())
}
