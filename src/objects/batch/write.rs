//! What a checked batch writes: its records ([`Outgoing`]) and the unique values they claim.

use sea_orm::DatabaseTransaction;

use crate::objects::attribute_value::unique_key;
use crate::objects::definition::ObjectDefinition;
use crate::objects::record::Record;
use crate::store::StoreError;
use crate::store::unique_values::{self, UniqueValue};

/// A record about to be written, and whether it replaces a live one.
pub(super) struct Outgoing {
    pub index: usize,
    pub record: Record,
    pub existing: bool,
}

/// Claims the unique values of the written records, after releasing those they held.
pub(super) async fn write_unique_values(
    txn: &DatabaseTransaction,
    definition: &ObjectDefinition,
    outgoing: &[Outgoing],
) -> Result<(), StoreError> {
    let rewritten: Vec<String> = outgoing
        .iter()
        .filter(|o| o.existing)
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
