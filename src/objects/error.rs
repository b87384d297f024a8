//! Why an operation on definitions or records did not happen, in the objects' own terms;
//! `http::error` decides what each answers.

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

fn quoted(handles: &[String]) -> String {
    handles
        .iter()
        .map(|h| format!("`{h}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
