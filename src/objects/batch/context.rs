//! What a batch runs with: its bounds, its time, its author and the decision on its changes.

use chrono::{DateTime, Utc};

use crate::objects::error::ObjectsError;
use crate::objects::record::Record;

/// One record a validated batch would change, as the policies are asked about it: as it
/// is (none when the batch creates it) and as it would be (none when the batch deletes it).
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// Its position in the batch.
    pub index: usize,
    pub before: Option<&'a Record>,
    pub after: Option<&'a Record>,
}

/// Decides a validated batch's changes before anything is written; an error stops the batch.
pub type Decide<'a> = &'a (dyn Fn(&[Change<'_>]) -> Result<(), ObjectsError> + Sync);

/// Who runs a batch, when, and within what bounds.
#[derive(Clone, Copy)]
pub struct BatchContext<'a> {
    pub max_records: usize,
    pub now: DateTime<Utc>,
    /// The id of the key writing, recorded as the author of what it writes.
    pub author: &'a str,
    pub decide: Decide<'a>,
}
