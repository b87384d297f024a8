//! Creating accounts and signing in, with the sign-in rate limit.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::AccountError;
use super::password::{check_password, hash_password, normalize_email, verify_password};
use super::settings::{AccountSettings, SignupMode};
use super::user::User;
use crate::id::new_id;
use crate::store;

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

/// Sign-up from the page: open, or closed except for the very first account.
pub async fn sign_up(
    db: &DatabaseConnection,
    settings: &AccountSettings,
    email: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<User, AccountError> {
    if settings.signup == SignupMode::Closed && store::users::count_users(db).await? > 0 {
        return Err(AccountError::SignupClosed);
    }
    create_user(db, email, password, now).await
}

/// Whether the sign-up page should offer to create an account.
pub async fn signup_allowed(
    db: &DatabaseConnection,
    settings: &AccountSettings,
) -> Result<bool, AccountError> {
    Ok(settings.signup == SignupMode::Open || store::users::count_users(db).await? == 0)
}

/// Checks an email and password. Failures count against the account and the client IP;
/// past either limit, every attempt (even a right one) is refused until the window passes.
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
    let window = chrono::Duration::from_std(settings.login_window)
        .unwrap_or_else(|_| chrono::Duration::minutes(15));
    let since = now - window;
    for (subject, limit, whom) in [
        (
            &account_subject,
            settings.login_max_failures,
            "this account",
        ),
        (
            &ip_subject,
            settings.login_max_failures_per_ip,
            "your network address",
        ),
    ] {
        let (failures, oldest) = store::users::find_login_attempts(db, subject, since).await?;
        if failures >= limit {
            let retry_after_secs = oldest
                .map_or(window, |oldest| oldest + window - now)
                .num_seconds()
                .max(1) as u64;
            return Err(AccountError::RateLimited {
                detail: format!(
                    "too many failed sign-in attempts for {whom}; try again in {} minute(s)",
                    retry_after_secs.div_ceil(60)
                ),
                retry_after_secs,
            });
        }
    }

    let found = store::users::find_user_credentials(db, &email).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let password_ok = verify_password(hash, password.to_owned()).await?;
    match user {
        Some(user) if password_ok => {
            store::users::delete_login_attempts(db, &account_subject, since).await?;
            Ok(user)
        }
        _ => {
            store::users::insert_login_attempt(db, &account_subject, now).await?;
            store::users::insert_login_attempt(db, &ip_subject, now).await?;
            Err(AccountError::BadCredentials)
        }
    }
}
