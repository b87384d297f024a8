//! The names of object definitions and their attributes: handles (`expense-report`) and
//! attribute keys (`amount_due`), each a type that only holds a valid name.

use serde::Serialize;

/// An object handle: 1–63 lower-case letters, digits and dashes (`expense-report`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ObjectHandle(String);

impl ObjectHandle {
    pub fn parse(candidate: &str) -> Result<ObjectHandle, String> {
        let valid = (1..=63).contains(&candidate.len())
            && candidate
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !candidate.starts_with('-')
            && !candidate.ends_with('-');
        if valid {
            Ok(ObjectHandle(candidate.to_owned()))
        } else {
            Err(format!(
                "`{candidate}` is not a valid handle: use 1-63 lower-case letters, digits and dashes, not starting or ending with a dash"
            ))
        }
    }

    /// The handle derived from a name, in kebab case: `"Expense Report"` → `expense-report`.
    pub fn from_name(name: &str) -> Option<ObjectHandle> {
        let mut kebab = String::new();
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                kebab.push(c.to_ascii_lowercase());
            } else if !kebab.ends_with('-') && !kebab.is_empty() {
                kebab.push('-');
            }
        }
        let kebab: String = kebab.chars().take(63).collect();
        ObjectHandle::parse(kebab.trim_end_matches('-')).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ObjectHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An attribute key: a letter, then up to 63 letters, digits or underscores.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct AttributeKey(String);

impl AttributeKey {
    pub fn parse(candidate: &str) -> Result<AttributeKey, String> {
        let mut bytes = candidate.bytes();
        let valid = candidate.len() <= 64
            && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(AttributeKey(candidate.to_owned()))
        } else {
            Err(format!(
                "`{candidate}` is not a valid attribute key: start with a lower-case letter, then up to 63 letters, digits or underscores"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Keys compare as their text, so a definition's attributes can be looked up by a stored
/// record's keys.
impl std::borrow::Borrow<str> for AttributeKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_derived_from_names_in_kebab_case() {
        let cases = [
            ("Expense Report", "expense-report"),
            ("Budget", "budget"),
            ("  A -- B  ", "a-b"),
            ("Q3 2026!", "q3-2026"),
        ];
        for (name, handle) in cases {
            assert_eq!(
                ObjectHandle::from_name(name).map(|h| h.0),
                Some(handle.to_owned()),
                "{name}"
            );
        }
        assert_eq!(ObjectHandle::from_name("!!!"), None);
    }
}
