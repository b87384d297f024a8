//! Why an operation on definitions or records did not happen, in the objects' own terms;
//! `http::error` decides what each answers.

use crate::authz::AuthzError;
use crate::issue::Issue;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    /// The input is invalid; every problem is listed by JSON path.
    #[error("the request body is invalid")]
    Invalid(Vec<Issue>),
    /// A concurrent write took the same record id or unique value first.
    #[error(
        "another request wrote a record with the same id or unique value at the same time; retry the batch"
    )]
    UniqueConflict,
    /// Live records do not satisfy a changed definition.
    #[error(
        "{0}: they lack a required value, hold a value the new type refuses, or share a value that must be unique; fix or delete them first"
    )]
    RecordsBlockChange(String),
    /// The attribute was removed and its old values are still being removed from the
    /// records; adding it now could bring them back.
    #[error(
        "attribute `{0}` was removed and its values are still being removed from the records; add it again once that is done (retry in a minute)"
    )]
    AttributeBeingRemoved(String),
    /// The attribute's unique values (it was made not unique, or a change that made it
    /// unique was refused) are still being released from the records.
    #[error(
        "the unique values of `{0}` are still being released from the records after an earlier change; make it unique again or remove it once that is done (retry in a minute)"
    )]
    UniqueValuesBeingReleased(String),
    /// Another change of the definition is still being checked against its records.
    #[error(
        "a change of `{0}` is still being checked against its records; GET /api/objects/{0}/change shows its progress, retry once it is finished"
    )]
    ChangeInProgress(String),
    #[error("an object with handle `{0}` already exists in this workspace")]
    HandleTaken(String),
    #[error(
        "relationship attributes of {} point to `{handle}`; remove them first",
        quoted(referrers)
    )]
    Referenced {
        handle: String,
        referrers: Vec<String>,
    },
    #[error(
        "`{handle}` has {live} live record(s); delete them first, or send `?cascade=true` to delete them with the object"
    )]
    HasRecords { handle: String, live: u64 },
    /// Policies deny the change of some records of a batch; nothing was written.
    #[error("{}", records_denied_detail(.action, .records))]
    RecordsDenied {
        action: &'static str,
        records: Vec<DeniedRecord>,
    },
    #[error(transparent)]
    Authz(#[from] AuthzError),
    #[error("a response could not be rendered: {0}")]
    Render(#[from] serde_json::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ObjectsError {
    /// A failed record write: a unique index refusal is a conflict the client can act on.
    pub fn from_write(error: StoreError) -> ObjectsError {
        if error.is_unique_violation() {
            ObjectsError::UniqueConflict
        } else {
            ObjectsError::Store(error)
        }
    }
}

/// A record of a batch that policies do not let the key change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeniedRecord {
    /// Its position in the batch.
    pub index: usize,
    pub id: String,
    /// Which state of the record was denied: `before` (as it is) or `after` (as the batch
    /// would leave it).
    pub state: &'static str,
    /// The forbids that denied it; empty when no permit applied.
    pub policies: Vec<String>,
    /// Why a policy could not be evaluated on it, if one could not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

fn records_denied_detail(action: &str, records: &[DeniedRecord]) -> String {
    let first: Vec<String> = records
        .iter()
        .take(3)
        .map(|r| format!("#{} `{}` ({})", r.index, r.id, r.state))
        .collect();
    let more = records.len().saturating_sub(first.len());
    format!(
        "policies deny `{action}` on {} record(s) of this batch: {}{}; nothing was written (`deniedRecords` lists each with the policies that denied it)",
        records.len(),
        first.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        },
    )
}

fn quoted(handles: &[String]) -> String {
    handles
        .iter()
        .map(|h| format!("`{h}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
