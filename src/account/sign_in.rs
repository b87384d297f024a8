//! Creating accounts and signing in. Attempts count against their limits before the
//! password is checked, so concurrent guesses cannot pass them.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::AccountError;
use super::password::{check_password, hash_password, normalize_email, verify_password};
use super::settings::{AccountSettings, SignupMode};
use super::user::User;
use crate::id::new_id;
use crate::store;

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

fn limit_window(settings: &AccountSettings) -> chrono::Duration {
    chrono::Duration::from_std(settings.login_window)
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
    // Hashed before the email is looked up, so a taken email is answered in the time a new
    // one takes: the answer's timing does not tell which emails have accounts.
    let hash = hash_password(password.to_owned()).await?;
    if store::users::find_user_credentials(db, &email)
        .await?
        .is_some()
    {
        return Err(AccountError::EmailTaken);
    }
    let id = new_id("usr");
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
    settings: &AccountSettings,
    email: &str,
    password: &str,
    ip: IpAddr,
    now: DateTime<Utc>,
) -> Result<User, AccountError> {
    if settings.signup == SignupMode::Closed && store::users::count_users(db).await? > 0 {
        return Err(AccountError::SignupClosed);
    }
    let ip_subject = format!("signup-ip:{ip}");
    let limits = [Limit {
        subject: &ip_subject,
        max: settings.signup_max_per_ip,
        refusal: "too many sign-ups from your network address",
    }];
    count_attempt(db, &limits, limit_window(settings), now).await?;
    create_user(db, email, password, now).await
}

/// Whether the sign-up page should offer to create an account.
pub async fn signup_allowed(
    db: &DatabaseConnection,
    settings: &AccountSettings,
) -> Result<bool, AccountError> {
    Ok(settings.signup == SignupMode::Open || store::users::count_users(db).await? == 0)
}

/// Checks an email and password. Every attempt counts against the account and the client
/// IP before the password is checked; a right password takes its attempts back. Past either
/// limit, every attempt (even a right one) is refused until the window passes.
pub async fn sign_in(
    db: &DatabaseConnection,
    settings: &AccountSettings,
    email: &str,
    password: &str,
    ip: IpAddr,
    now: DateTime<Utc>,
) -> Result<User, AccountError> {
    let email = email.trim().to_lowercase();
    let account_subject = format!("email:{email}");
    let ip_subject = format!("ip:{ip}");
    let window = limit_window(settings);
    let limits = [
        Limit {
            subject: &account_subject,
            max: settings.login_max_failures,
            refusal: "too many failed sign-in attempts for this account",
        },
        Limit {
            subject: &ip_subject,
            max: settings.login_max_failures_per_ip,
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
