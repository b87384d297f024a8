//! Workspaces: the tenants. A key belongs to exactly one, and everything it reaches lives in it.

pub mod create;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A workspace handle: lower-case letters, digits and dashes, 1–63 characters, starting
/// with a letter or digit (`acme`, `acme-staging`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkspaceHandle(String);

impl WorkspaceHandle {
    pub fn parse(candidate: &str) -> Result<WorkspaceHandle, String> {
        let valid = (1..=63).contains(&candidate.len())
            && candidate
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && candidate.bytes().next().is_some_and(|b| b != b'-');
        if valid {
            Ok(WorkspaceHandle(candidate.to_owned()))
        } else {
            Err(format!(
                "`{candidate}` is not a valid workspace handle: use 1-63 lower-case letters, digits and dashes, starting with a letter or digit"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for WorkspaceHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: String,
    pub handle: WorkspaceHandle,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A workspace as the API and the CLI show it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceView {
    pub id: String,
    pub handle: String,
    pub name: String,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

impl From<&Workspace> for WorkspaceView {
    fn from(w: &Workspace) -> Self {
        WorkspaceView {
            id: w.id.clone(),
            handle: w.handle.to_string(),
            name: w.name.clone(),
            created_at: w.created_at,
        }
    }
}

/// Checks a display name: 1–200 characters, no control characters.
pub fn parse_name(what: &str, name: &str) -> Result<String, String> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 || trimmed.chars().any(char::is_control)
    {
        return Err(format!("{what} must be 1-200 printable characters"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_lower_case_slugs() {
        for ok in ["acme", "acme-2", "0day"] {
            assert!(WorkspaceHandle::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Acme", "-acme", "acme corp", "a_b", &"a".repeat(64)] {
            assert!(WorkspaceHandle::parse(bad).is_err(), "{bad}");
        }
    }
}
