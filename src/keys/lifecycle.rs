//! The key lifecycle: create, list, revoke, rotate, for the CLI and the console alike.
//! The secret exists in memory only between its creation and the one response that hands
//! it over; what is stored is its digest. Every create, rotate and revoke, done or refused,
//! is an audit event: a span event, and a line of the decision log when there is one. A
//! change is committed only once its line is queued, so no key changes without its record.

use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseConnection;

use super::api_key::{ApiKey, KeyStatus, NewKey};
use super::grant::Grants;
use super::secret::KeySecret;
use crate::authz::{Action, DecisionLog, KeyEvent, KeyOutcome, NotRecorded};
use crate::id::new_id;
use crate::store::api_keys::NewKeyRow;
use crate::store::key_events::KeyEventKind;
use crate::store::{self, StoreError};
use crate::workspace::{Workspace, parse_name};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(String),
    #[error("no key with id `{0}`")]
    NotFound(String),
    #[error("key `{0}` is revoked; a revoked key cannot be rotated, create a new one")]
    Revoked(String),
    #[error("key `{0}` has expired; an expired key cannot be rotated, create a new one")]
    Expired(String),
    #[error(transparent)]
    NotRecorded(#[from] NotRecorded),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who changes a key, as the audit trail and a key's `createdBy` name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in console user, by id (`usr_…`).
    User(String),
    /// `andi key …`, run by this operating-system user.
    Cli(String),
}

impl Actor {
    /// The CLI's actor: the operating-system user from `$USER` or `$LOGNAME`, else the uid
    /// the process runs as (a container often sets neither variable).
    pub fn cli() -> Actor {
        let named = ["USER", "LOGNAME"]
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .find(|user| !user.is_empty());
        Actor::Cli(named.unwrap_or_else(|| {
            use std::os::unix::fs::MetadataExt as _;
            // /proc/self belongs to the process's own uid: no unsafe call needed.
            std::fs::metadata("/proc/self")
                .map_or_else(|_| "unknown".to_owned(), |m| format!("uid {}", m.uid()))
        }))
    }

    /// `usr_…` for a user, `cli:<os user>` for the CLI.
    pub fn name(&self) -> String {
        match self {
            Actor::User(id) => id.clone(),
            Actor::Cli(user) => format!("cli:{user}"),
        }
    }
}

/// Who acts, and the decision log their key events go to (none: span events only).
#[derive(Clone, Copy)]
pub struct Audit<'a> {
    pub actor: &'a Actor,
    pub log: Option<&'a DecisionLog>,
}

/// What a key event says about its key.
struct Subject<'a> {
    key: Option<&'a str>,
    workspace: Option<&'a str>,
    grants: Option<&'a Grants>,
}

impl Subject<'_> {
    fn of(key: &ApiKey) -> Subject<'_> {
        Subject {
            key: Some(&key.id),
            workspace: Some(&key.workspace_id),
            grants: Some(&key.grants),
        }
    }
}

impl Audit<'_> {
    fn record(
        &self,
        event: Action,
        subject: &Subject<'_>,
        outcome: KeyOutcome<'_>,
    ) -> Result<(), NotRecorded> {
        let actor = self.actor.name();
        let role = subject.grants.and_then(Grants::role).map(|r| r.as_str());
        let permissions: Vec<&str> = subject
            .grants
            .map(|g| g.permissions().iter().map(|p| p.as_str()).collect())
            .unwrap_or_default();
        let (result, reason) = match outcome {
            KeyOutcome::Done => ("done", ""),
            KeyOutcome::Refused(reason) => ("refused", reason),
            KeyOutcome::Failed(reason) => ("failed", reason),
        };
        tracing::info!(
            event = event.as_str(),
            actor,
            key = subject.key,
            workspace = subject.workspace,
            role,
            permissions = permissions.join(","),
            outcome = result,
            reason,
            "key event"
        );
        match self.log {
            Some(log) => log.write_key_event(&KeyEvent {
                event,
                actor: &actor,
                key: subject.key,
                workspace: subject.workspace,
                role,
                permissions: &permissions,
                outcome,
            }),
            None => Ok(()),
        }
    }

    /// Records that `event` did not happen. A change that could not be recorded is not
    /// recorded again; the caller hears the first error whatever becomes of this line.
    async fn record_failure(
        &self,
        db: &DatabaseConnection,
        event: Action,
        id: Option<&str>,
        workspace: Option<&str>,
        grants: Option<&Grants>,
        error: &KeyError,
    ) {
        let reason = error.to_string();
        let outcome = match error {
            KeyError::NotRecorded(_) => return,
            KeyError::Store(_) => KeyOutcome::Failed(&reason),
            _ => KeyOutcome::Refused(&reason),
        };
        let known = match id {
            Some(id) => store::api_keys::find_key(db, id).await.ok().flatten(),
            None => None,
        };
        let subject = match &known {
            Some(key) => Subject::of(key),
            None => Subject {
                key: id,
                workspace,
                grants,
            },
        };
        // The request is refused either way; a line that cannot be queued is counted and
        // logged by the decision log itself.
        let _ = self.record(event, &subject, outcome);
    }
}

/// Creates a key in `workspace` and returns its secret, which is not stored.
pub async fn create_key(
    db: &DatabaseConnection,
    audit: Audit<'_>,
    workspace: &Workspace,
    new: NewKey,
    now: DateTime<Utc>,
) -> Result<(KeySecret, ApiKey), KeyError> {
    let created = create(db, audit, workspace, &new, now).await;
    if let Err(error) = &created {
        let event = Action::CreateApiKey;
        let ws = Some(workspace.id.as_str());
        audit
            .record_failure(db, event, None, ws, Some(&new.grants), error)
            .await;
    }
    created
}

async fn create(
    db: &DatabaseConnection,
    audit: Audit<'_>,
    workspace: &Workspace,
    new: &NewKey,
    now: DateTime<Utc>,
) -> Result<(KeySecret, ApiKey), KeyError> {
    let name = parse_name("the key name", &new.name).map_err(KeyError::Invalid)?;
    if new.expires_in.is_some_and(|d| d <= Duration::zero()) {
        return Err(KeyError::Invalid(
            "the expiry must be in the future".to_owned(),
        ));
    }
    let secret = KeySecret::generate(new.environment);
    let id = new_id("key");
    let txn = store::begin_write(db).await?;
    store::api_keys::insert_key(
        &txn,
        NewKeyRow {
            id: &id,
            workspace_id: &workspace.id,
            name: &name,
            digest: secret.digest(),
            start: secret.start(),
            grants: &new.grants,
            environment: new.environment,
            created_at: now,
            expires_at: new.expires_in.map(|d| now + d),
            metadata: &new.metadata,
            objects: new.objects.as_ref(),
            rate_limit: new.rate_limit,
            created_by: &audit.actor.name(),
        },
    )
    .await?;
    let key = store::api_keys::find_key(&txn, &id)
        .await?
        .ok_or_else(|| KeyError::NotFound(id.clone()))?;
    audit.record(Action::CreateApiKey, &Subject::of(&key), KeyOutcome::Done)?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok((secret, key))
}

pub async fn list_keys(
    db: &DatabaseConnection,
    workspace: &Workspace,
) -> Result<Vec<ApiKey>, KeyError> {
    Ok(store::api_keys::find_keys_in_workspace(db, &workspace.id).await?)
}

/// Revokes a key at once. Revoking a revoked key changes nothing (and is recorded too).
pub async fn revoke_key(
    db: &DatabaseConnection,
    audit: Audit<'_>,
    id: &str,
    now: DateTime<Utc>,
) -> Result<ApiKey, KeyError> {
    let revoked = revoke(db, audit, id, now).await;
    if let Err(error) = &revoked {
        let event = Action::RevokeApiKey;
        audit
            .record_failure(db, event, Some(id), None, None, error)
            .await;
    }
    revoked
}

async fn revoke(
    db: &DatabaseConnection,
    audit: Audit<'_>,
    id: &str,
    now: DateTime<Utc>,
) -> Result<ApiKey, KeyError> {
    // The revocation and its event commit together, so no server can miss it.
    let txn = store::begin_write(db).await?;
    let key = store::api_keys::find_key(&txn, id)
        .await?
        .ok_or_else(|| KeyError::NotFound(id.to_owned()))?;
    if key.revoked_at.is_none() {
        store::api_keys::update_key_revoked(&txn, id, now).await?;
        store::key_events::insert_key_event(&txn, id, KeyEventKind::Revoked, now).await?;
    }
    let key = store::api_keys::find_key(&txn, id)
        .await?
        .ok_or_else(|| KeyError::NotFound(id.to_owned()))?;
    audit.record(Action::RevokeApiKey, &Subject::of(&key), KeyOutcome::Done)?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(key)
}

/// Issues a new secret for the key, which keeps its id, grants and metadata, so policies
/// that name it keep applying. The secrets it had keep working for `grace`, then expire (at
/// once when `grace` is zero). Both changes land together or not at all.
pub async fn rotate_key(
    db: &DatabaseConnection,
    audit: Audit<'_>,
    id: &str,
    grace: Duration,
    now: DateTime<Utc>,
) -> Result<(KeySecret, ApiKey), KeyError> {
    let rotated = rotate(db, audit, id, grace, now).await;
    if let Err(error) = &rotated {
        let event = Action::RotateApiKey;
        audit
            .record_failure(db, event, Some(id), None, None, error)
            .await;
    }
    rotated
}

async fn rotate(
    db: &DatabaseConnection,
    audit: Audit<'_>,
    id: &str,
    grace: Duration,
    now: DateTime<Utc>,
) -> Result<(KeySecret, ApiKey), KeyError> {
    if grace < Duration::zero() {
        return Err(KeyError::Invalid(
            "the grace period cannot be negative".to_owned(),
        ));
    }
    let txn = store::begin_write(db).await?;
    let key = store::api_keys::find_key(&txn, id)
        .await?
        .ok_or_else(|| KeyError::NotFound(id.to_owned()))?;
    match key.status(now) {
        KeyStatus::Revoked => return Err(KeyError::Revoked(id.to_owned())),
        KeyStatus::Expired => return Err(KeyError::Expired(id.to_owned())),
        KeyStatus::Active => {}
    }
    let secret = KeySecret::generate(key.environment);
    store::api_keys::update_key_rotated(
        &txn,
        id,
        secret.digest(),
        secret.start(),
        now + grace,
        now,
    )
    .await?;
    store::key_events::insert_key_event(&txn, id, KeyEventKind::Rotated, now).await?;
    let rotated = store::api_keys::find_key(&txn, id)
        .await?
        .ok_or_else(|| KeyError::NotFound(id.to_owned()))?;
    audit.record(
        Action::RotateApiKey,
        &Subject::of(&rotated),
        KeyOutcome::Done,
    )?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok((secret, rotated))
}
