//! Keys limited to named objects, like Stripe's restricted keys: a key created with
//! `--objects invoices,customers` may act only on those object definitions and their
//! records. The limit is given to Cedar as the key's `objects` attribute and enforced by
//! one shipped policy (`policies/key-object-limits.cedar`), not by code here.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::objects::handle::ObjectHandle;

/// Most objects one key can be limited to.
pub const MAX_OBJECTS: usize = 100;

/// The objects a limited key may act on: at least one, at most [`MAX_OBJECTS`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ObjectLimit(BTreeSet<ObjectHandle>);

impl ObjectLimit {
    pub fn new(handles: impl IntoIterator<Item = ObjectHandle>) -> Result<ObjectLimit, String> {
        let handles: BTreeSet<ObjectHandle> = handles.into_iter().collect();
        if handles.is_empty() {
            return Err(
                "a key limited to objects needs at least one object handle; omit the limit for a key that may use every object"
                    .to_owned(),
            );
        }
        if handles.len() > MAX_OBJECTS {
            return Err(format!(
                "a key can be limited to at most {MAX_OBJECTS} objects, got {}",
                handles.len()
            ));
        }
        Ok(ObjectLimit(handles))
    }

    /// Handles separated by commas, as the CLI and the console form take them.
    pub fn parse_list(list: &str) -> Result<ObjectLimit, String> {
        let handles = list
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(ObjectHandle::parse)
            .collect::<Result<Vec<_>, _>>()?;
        ObjectLimit::new(handles)
    }

    pub fn handles(&self) -> impl Iterator<Item = &ObjectHandle> {
        self.0.iter()
    }

    pub fn allows(&self, handle: &str) -> bool {
        self.0.iter().any(|h| h.as_str() == handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_parses_into_distinct_handles() {
        let limit = ObjectLimit::parse_list("invoices, customers,invoices").unwrap();
        let handles: Vec<&str> = limit.handles().map(ObjectHandle::as_str).collect();
        assert_eq!(handles, ["customers", "invoices"]);
        assert!(limit.allows("invoices") && !limit.allows("orders"));
    }

    #[test]
    fn an_empty_or_bad_list_is_refused() {
        assert!(
            ObjectLimit::parse_list(" , ")
                .unwrap_err()
                .contains("at least one")
        );
        assert!(
            ObjectLimit::parse_list("Invoices")
                .unwrap_err()
                .contains("not a valid handle")
        );
    }
}
