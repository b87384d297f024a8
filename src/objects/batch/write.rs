//! What a checked batch writes: its records ([`Outgoing`]) and the unique values they claim.

use sea_orm::DatabaseTransaction;

use super::context::{Change, Decide};
use crate::objects::attribute_value::unique_key;
use crate::objects::definition::ObjectDefinition;
use crate::objects::error::ObjectsError;
use crate::objects::record::Record;
use crate::store::StoreError;
use crate::store::unique_values::{self, UniqueValue};

/// A record about to be written, and the live one it replaces.
pub(super) struct Outgoing {
    pub index: usize,
    pub record: Record,
    pub before: Option<Record>,
}

impl Outgoing {
    pub fn replaces(&self) -> bool {
        self.before.is_some()
    }
}

/// Asks `decide` about every record `outgoing` writes, before and after.
pub(super) fn decide_writes(decide: Decide<'_>, outgoing: &[Outgoing]) -> Result<(), ObjectsError> {
    let changes: Vec<Change<'_>> = outgoing
        .iter()
        .map(|o| Change {
            index: o.index,
            before: o.before.as_ref(),
            after: Some(&o.record),
        })
        .collect();
    decide(&changes)
}

/// Claims the unique values of the written records, after releasing those they held.
pub(super) async fn write_unique_values(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    outgoing: &[Outgoing],
) -> Result<(), StoreError> {
    let rewritten: Vec<String> = outgoing
        .iter()
        .filter(|o| o.replaces())
        .map(|o| o.record.id.clone())
        .collect();
    unique_values::delete_unique_values(txn, &definition.workspace_id, &definition.id, &rewritten)
        .await?;
    let mut values = Vec::new();
    for (key, attribute) in &definition.attributes {
        if !attribute.unique {
            continue;
        }
        for o in outgoing {
            if let Some(value) = o.record.attributes.get(key.as_str()) {
                values.push(UniqueValue {
                    attribute: key.as_str(),
                    value: unique_key(&attribute.kind, value),
                    record_id: &o.record.id,
                });
            }
        }
    }
    unique_values::insert_unique_values(txn, &definition.workspace_id, &definition.id, &values)
        .await
}
