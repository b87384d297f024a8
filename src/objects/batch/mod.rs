//! Record batches: upsert-many, patch-many and delete-many. Each runs in one transaction
//! that holds its object's lock, validates the whole batch first (types, required, unique,
//! relationships) and collects every issue by JSON path; only a batch without issues is
//! written, so a rejected batch changes nothing.
//!
//! Each operation reads its body into typed records (`parse`), checks them against the
//! definition and the database (`checks`) and writes them (`write`); `upsert` also finds
//! the live record each of its records replaces (`matchOn`).

mod checks;
mod context;
mod delete;
mod parse;
mod patch;
mod upsert;
mod write;

pub use self::context::{BatchContext, Change, Decide};
pub use self::delete::delete_many;
pub use self::parse::attribute_path;
pub use self::patch::patch_many;
pub use self::upsert::{Upserted, upsert_many};
