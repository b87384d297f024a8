//! Object definitions and their records: the model (handles and attribute keys, attributes
//! and their values, definitions, records, queries, views) and the operations on it
//! (batches of records, definition changes, the listing cache).

pub mod attribute;
pub mod attribute_value;
pub mod batch;
pub mod cache;
pub mod change;
pub mod define;
pub mod definition;
pub mod error;
pub mod evolve;
pub mod handle;
pub mod query;
pub mod record;
pub mod sweep;
#[cfg(test)]
mod testing;
pub mod view;
pub mod worker;
