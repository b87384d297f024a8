//! People and their passwords: sign-up and sign-in with their rate limits, memberships.
//!
//! Security-sensitive: an unknown email and a wrong password take the same path (an argon2id
//! verification, against a dummy hash when there is no user) and get the same error, so
//! neither the message nor the timing tells which emails have accounts. Attempts count
//! against their limits before the password is checked, and every hash waits for one of a
//! few hashing threads, so neither concurrent guesses nor a flood of attempts buys more guesses or
//! more memory.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use rand::TryRngCore;
use sea_orm::DatabaseConnection;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::{ConsoleConfig, SignupMode};
use crate::auth::random_base62;
use crate::store::{self, StoreError};
use crate::workspace::{self, Workspace, WorkspaceError, WorkspaceHandle};

/// NIST SP 800-63B asks for at least 8; 12 keeps a console that holds every key's power
/// out of reach of common-password lists.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// argon2 hashes any length, but an unbounded one would let a request buy CPU.
const MAX_PASSWORD_BYTES: usize = 1024;

/// A console account (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

/// What a live session knows besides its user.
#[derive(Debug, Clone)]
pub struct Session {
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A person's role in one workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    /// Manages the workspace's keys and members.
    Admin,
    /// Sees the workspace, its members and its keys' metadata.
    Member,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Admin => "admin",
            MemberRole::Member => "member",
        }
    }
}

impl FromStr for MemberRole {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(MemberRole::Admin),
            "member" => Ok(MemberRole::Member),
            _ => Err(format!(
                "unknown member role `{s}`: expected admin or member"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("an account with this email already exists; sign in instead")]
    EmailTaken,
    #[error(
        "sign-up is closed on this server; ask its operator for an account (`andi user create`)"
    )]
    SignupClosed,
    #[error("incorrect email or password")]
    BadCredentials,
    #[error("{detail}")]
    RateLimited {
        detail: String,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// Trims and lower-cases an email address, and checks that it looks like one.
pub fn normalize_email(input: &str) -> Result<String, String> {
    let email = input.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err("enter an email address like name@example.com".to_owned())
    }
}

/// The password rules, with a message that says how to meet them.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password is too short: use at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the password is too long: use at most {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    Ok(())
}

type HashingJob = Box<dyn FnOnce() + Send>;

/// Password hashing runs on its own threads, one per core, fed from one short queue.
/// Each argon2id run takes 19 MiB; a fixed set of threads reuses that memory run after
/// run, so it stays near (threads x 19 MiB) however many sign-ins and sign-ups arrive at
/// once, and those that wait hold only their password. A semaphore in front of
/// `spawn_blocking` bounds the runs but not as well the memory: the blocking pool spreads
/// them over ever more threads and the allocator keeps freed blocks per thread (measured:
/// 0.4 GB peak for 64 simultaneous sign-ins, 0.5 GB for 200; with these threads 0.2 GB
/// for either).
static HASHING: LazyLock<Result<mpsc::Sender<HashingJob>, String>> =
    LazyLock::new(start_hashing_threads);

fn start_hashing_threads() -> Result<mpsc::Sender<HashingJob>, String> {
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let (queue, jobs) = mpsc::channel::<HashingJob>(threads);
    let jobs = Arc::new(Mutex::new(jobs));
    for n in 0..threads {
        let jobs = Arc::clone(&jobs);
        std::thread::Builder::new()
            .name(format!("andi-hashing-{n}"))
            .spawn(move || {
                loop {
                    // The lock is held while waiting, so idle threads queue for the next job.
                    let next = match jobs.lock() {
                        Ok(mut jobs) => jobs.blocking_recv(),
                        Err(_) => None,
                    };
                    let Some(job) = next else { return };
                    job();
                }
            })
            .map_err(|e| format!("cannot start a password hashing thread: {e}"))?;
    }
    Ok(queue)
}

/// Runs `job` on a hashing thread, waiting for a free one without blocking the runtime.
async fn run_hashing<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, AccountError> + Send + 'static,
) -> Result<T, AccountError> {
    let queue = HASHING
        .as_ref()
        .map_err(|e| AccountError::Hashing(e.clone()))?;
    let (done, result) = oneshot::channel();
    queue
        .send(Box::new(move || {
            // The request may have gone; its result then has nowhere to go.
            let _ = done.send(job());
        }))
        .await
        .map_err(|_| AccountError::Hashing("the password hashing threads stopped".to_owned()))?;
    result
        .await
        .map_err(|_| AccountError::Hashing("a password hashing thread stopped".to_owned()))?
}

/// Hashes with argon2id (the crate's defaults: OWASP's 19 MiB, 2 passes).
async fn hash_password(password: String) -> Result<String, AccountError> {
    run_hashing(move || hash_now(&password)).await
}

fn hash_now(password: &str) -> Result<String, AccountError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|e| AccountError::Hashing(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AccountError::Hashing(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AccountError::Hashing(e.to_string()))
}

/// A hash of a random password with the same parameters as real ones: verifying against it
/// costs what verifying a real account costs, and never succeeds.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| hash_now(&random_base62(32)).ok());

/// Verifies a password; `None` (no such user) is checked against the dummy hash.
async fn verify_password(stored: Option<String>, password: String) -> Result<bool, AccountError> {
    run_hashing(move || {
        let real = stored.is_some();
        let hash = match stored {
            Some(hash) => hash,
            None => DUMMY_HASH
                .clone()
                .ok_or_else(|| AccountError::Hashing("no dummy hash".to_owned()))?,
        };
        let parsed = PasswordHash::new(&hash).map_err(|e| AccountError::Hashing(e.to_string()))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(real && matches)
    })
    .await
}

/// One rate limit an attempt counts against.
struct Limit<'a> {
    subject: &'a str,
    max: u64,
    /// What the refusal says, e.g. "too many failed sign-in attempts for this account".
    refusal: &'a str,
}

/// Counts an attempt against every limit before the work it guards, and refuses it past
/// any of them: it inserts a row for each subject (each its own committed statement), then
/// counts the subject's rows in the window, its own included. Of k attempts that pass, the
/// last to count saw all k rows, so however many run at once no more than the limit pass,
/// with no lock. Returns the inserted rows' ids, in the order of `limits`.
async fn count_attempt(
    db: &DatabaseConnection,
    limits: &[Limit<'_>],
    window: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, AccountError> {
    let since = now - window;
    let mut ids = Vec::with_capacity(limits.len());
    for limit in limits {
        ids.push(store::users::insert_login_attempt(db, limit.subject, now).await?);
    }
    for limit in limits {
        let (attempts, oldest) =
            store::users::find_login_attempts(db, limit.subject, since).await?;
        if attempts > limit.max {
            take_back_surplus(db, limits, &ids, since).await?;
            let retry_after_secs = oldest
                .map_or(window, |oldest| oldest + window - now)
                .num_seconds()
                .max(1) as u64;
            return Err(AccountError::RateLimited {
                detail: format!(
                    "{}; try again in {} minute(s)",
                    limit.refusal,
                    retry_after_secs.div_ceil(60)
                ),
                retry_after_secs,
            });
        }
    }
    Ok(ids)
}

/// Deletes a refused attempt's rows, except where a row is among the first `max` of its
/// subject's window. Taking refused rows back keeps a flood from filling the table and
/// lets a lockout end one window after the attempts that caused it. Keeping the first
/// `max` matters when many attempts arrive at once: each may count all the others and be
/// refused, and if every one took its row back the burst would leave the account open;
/// with them kept, a burst of more than `max` attempts locks it like `max` failures do.
async fn take_back_surplus(
    db: &DatabaseConnection,
    limits: &[Limit<'_>],
    ids: &[i64],
    since: DateTime<Utc>,
) -> Result<(), AccountError> {
    let mut surplus = Vec::with_capacity(ids.len());
    for (limit, &id) in limits.iter().zip(ids) {
        let rank = store::users::count_login_attempts_through(db, limit.subject, since, id).await?;
        if rank > limit.max {
            surplus.push(id);
        }
    }
    store::users::delete_login_attempts_with_ids(db, &surplus).await?;
    Ok(())
}

fn limit_window(config: &ConsoleConfig) -> chrono::Duration {
    chrono::Duration::from_std(config.login_window)
        .unwrap_or_else(|_| chrono::Duration::minutes(15))
}

/// Creates an account. Used by sign-up and by `andi user create`.
pub async fn create_user(
    db: &DatabaseConnection,
    email: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<User, AccountError> {
    let email = normalize_email(email).map_err(AccountError::Invalid)?;
    check_password(password).map_err(AccountError::Invalid)?;
    if store::users::find_user_credentials(db, &email)
        .await?
        .is_some()
    {
        return Err(AccountError::EmailTaken);
    }
    let hash = hash_password(password.to_owned()).await?;
    let id = format!("usr_{}", random_base62(22));
    store::users::insert_user(db, &id, &email, &hash, now)
        .await
        .map_err(|e| {
            if e.is_unique_violation() {
                AccountError::EmailTaken
            } else {
                e.into()
            }
        })
}

/// Sign-up from the page: open, or closed except for the very first account. Every
/// attempt counts against the client IP's sign-up limit, before the email is looked up or
/// the password hashed.
pub async fn sign_up(
    db: &DatabaseConnection,
    config: &ConsoleConfig,
    email: &str,
    password: &str,
    ip: IpAddr,
    now: DateTime<Utc>,
) -> Result<User, AccountError> {
    if config.signup == SignupMode::Closed && store::users::count_users(db).await? > 0 {
        return Err(AccountError::SignupClosed);
    }
    let ip_subject = format!("signup-ip:{ip}");
    let limits = [Limit {
        subject: &ip_subject,
        max: config.signup_max_per_ip,
        refusal: "too many sign-ups from your network address",
    }];
    count_attempt(db, &limits, limit_window(config), now).await?;
    create_user(db, email, password, now).await
}

/// Whether the sign-up page should offer to create an account.
pub async fn signup_allowed(
    db: &DatabaseConnection,
    config: &ConsoleConfig,
) -> Result<bool, AccountError> {
    Ok(config.signup == SignupMode::Open || store::users::count_users(db).await? == 0)
}

/// Checks an email and password. Every attempt counts against the account and the client
/// IP before the password is checked; a right password takes its attempts back. Past either
/// limit, every attempt (even a right one) is refused until the window passes.
pub async fn sign_in(
    db: &DatabaseConnection,
    config: &ConsoleConfig,
    email: &str,
    password: &str,
    ip: IpAddr,
    now: DateTime<Utc>,
) -> Result<User, AccountError> {
    let email = email.trim().to_lowercase();
    let account_subject = format!("email:{email}");
    let ip_subject = format!("ip:{ip}");
    let window = limit_window(config);
    let limits = [
        Limit {
            subject: &account_subject,
            max: config.login_max_failures,
            refusal: "too many failed sign-in attempts for this account",
        },
        Limit {
            subject: &ip_subject,
            max: config.login_max_failures_per_ip,
            refusal: "too many failed sign-in attempts for your network address",
        },
    ];
    let attempt = count_attempt(db, &limits, window, now).await?;

    let found = store::users::find_user_credentials(db, &email).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let password_ok = verify_password(hash, password.to_owned()).await?;
    match user {
        Some(user) if password_ok => {
            store::users::delete_login_attempts_with_ids(db, &attempt).await?;
            store::users::delete_login_attempts(db, &account_subject, now - window).await?;
            Ok(user)
        }
        _ => Err(AccountError::BadCredentials),
    }
}

/// Creates a workspace with `creator` as its admin.
pub async fn create_workspace_for(
    db: &DatabaseConnection,
    creator: &User,
    handle: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Workspace, WorkspaceError> {
    let handle = WorkspaceHandle::parse(handle.trim()).map_err(WorkspaceError::Invalid)?;
    let created = workspace::create_workspace(db, handle, name, now).await?;
    store::users::insert_membership(db, &created.id, &creator.id, MemberRole::Admin, now).await?;
    Ok(created)
}

/// Adds an existing account to a workspace.
pub async fn add_member(
    db: &DatabaseConnection,
    workspace: &Workspace,
    email: &str,
    role: MemberRole,
    now: DateTime<Utc>,
) -> Result<User, AccountError> {
    let email = normalize_email(email).map_err(AccountError::Invalid)?;
    let Some((user, _)) = store::users::find_user_credentials(db, &email).await? else {
        return Err(AccountError::Invalid(format!(
            "no account uses {email}; ask them to sign up first, then add them"
        )));
    };
    if store::users::find_membership(db, &workspace.id, &user.id)
        .await?
        .is_some()
    {
        return Err(AccountError::Invalid(format!(
            "{email} is already a member of {}",
            workspace.handle
        )));
    }
    store::users::insert_membership(db, &workspace.id, &user.id, role, now).await?;
    Ok(user)
}
