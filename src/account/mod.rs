//! People and their passwords: sign-up and sign-in with their rate limits, memberships and access to workspaces.
//!
//! Security-sensitive: an unknown email and a wrong password take the same path (an argon2id
//! verification, against a dummy hash when there is no user) and get the same error, so
//! neither the message nor the timing tells which emails have accounts. Attempts count
//! against their limits before the password is checked, and every hash waits for one of a
//! few hashing threads, so neither concurrent guesses nor a flood of attempts buys more guesses or
//! more memory.

pub mod access;
pub mod membership;
pub mod password;
pub mod settings;
pub mod sign_in;
pub mod user;

use crate::store::StoreError;

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
