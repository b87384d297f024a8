//! What a decision answers: its outcome as recorded, and the errors callers see.

use super::action::Action;
use crate::keys::grant::Permission;

/// A denied request: which action, and the missing permission when that is the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", denial_detail(self))]
pub struct Denial {
    pub action: Action,
    pub missing_permission: Option<Permission>,
}

fn denial_detail(denial: &Denial) -> String {
    match denial.missing_permission {
        Some(permission) => format!(
            "this key lacks the `{permission}` permission that `{}` needs; create a key with it or add it to the key's role",
            denial.action.as_str()
        ),
        None => format!("a policy denies `{}` to this key", denial.action.as_str()),
    }
}

/// A key's request that could not be allowed.
#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    #[error(transparent)]
    Denied(#[from] Denial),
    #[error("authorization could not be evaluated: {0}")]
    Internal(String),
}

/// One of several resources asked about at once that was denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeniedResource {
    /// Its position among the resources asked about.
    pub position: usize,
    /// The forbids that denied it; none when nothing permitted it.
    pub policies: Vec<String>,
    /// Evaluation errors (a value the policies could not read, a policy Cedar skipped).
    pub errors: Vec<String>,
}

/// A console user's request that could not be allowed.
#[derive(Debug, thiserror::Error)]
pub enum UserAuthzError {
    #[error("a policy denies `{}` to this user", .0.as_str())]
    Denied(Action),
    #[error("authorization could not be evaluated: {0}")]
    Internal(String),
}

/// The outcome of one evaluation, as recorded for auditors.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub allowed: bool,
    pub policies: Vec<String>,
    pub errors: Vec<String>,
    pub policy_version: String,
}
