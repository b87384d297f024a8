//! Passwords: the rules, argon2id hashing and verification off the async runtime, and the
//! dummy hash that makes an unknown email cost what a wrong password costs.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::TryRngCore;

use super::AccountError;
use crate::id::random_base62;

/// NIST SP 800-63B asks for at least 8; 12 keeps a console that holds every key's power
/// out of reach of common-password lists.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// argon2 hashes any length, but an unbounded one would let a request buy CPU.
const MAX_PASSWORD_BYTES: usize = 1024;

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

/// Hashes with argon2id (the crate's defaults: OWASP's 19 MiB, 2 passes) on a blocking
/// thread, so a sign-up never stalls the runtime's workers.
pub async fn hash_password(password: String) -> Result<String, AccountError> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| AccountError::Hashing(e.to_string()))?
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

/// Verifies on a blocking thread; `None` (no such user) is checked against the dummy hash.
pub async fn verify_password(
    stored: Option<String>,
    password: String,
) -> Result<bool, AccountError> {
    tokio::task::spawn_blocking(move || {
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
    .map_err(|e| AccountError::Hashing(e.to_string()))?
}
