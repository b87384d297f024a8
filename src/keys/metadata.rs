//! A key's metadata: string pairs set at creation (`region=EU`), shown in listings and given
//! to Cedar as the key entity's tags, so a policy can read `principal.getTag("region")`.

use std::collections::BTreeMap;

use serde::Serialize;

/// Most pairs one key carries.
pub const MAX_PAIRS: usize = 16;
/// Longest metadata key, in bytes.
pub const MAX_KEY_LEN: usize = 64;
/// Longest metadata value, in characters.
pub const MAX_VALUE_LEN: usize = 256;

/// Metadata of a key: at most [`MAX_PAIRS`] pairs; each key a letter followed by letters,
/// digits, `_`, `.` or `-` (at most [`MAX_KEY_LEN`]); each value 1 to [`MAX_VALUE_LEN`]
/// characters without control characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct KeyMetadata(BTreeMap<String, String>);

impl KeyMetadata {
    /// Checks every pair; the error names the first bad one and says what is allowed.
    pub fn new(pairs: BTreeMap<String, String>) -> Result<KeyMetadata, String> {
        if pairs.len() > MAX_PAIRS {
            return Err(format!(
                "a key carries at most {MAX_PAIRS} metadata pairs, got {}",
                pairs.len()
            ));
        }
        for (key, value) in &pairs {
            check_key(key)?;
            check_value(key, value)?;
        }
        Ok(KeyMetadata(pairs))
    }

    /// Pairs written `key=value`, as the CLI and the console form take them. A key given
    /// twice is refused rather than silently overwritten.
    pub fn parse_pairs<'a>(
        pairs: impl IntoIterator<Item = &'a str>,
    ) -> Result<KeyMetadata, String> {
        let mut map = BTreeMap::new();
        for pair in pairs {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                format!("metadata `{pair}` is not `key=value` (for example `region=EU`)")
            })?;
            let key = key.trim();
            if map
                .insert(key.to_owned(), value.trim().to_owned())
                .is_some()
            {
                return Err(format!("metadata key `{key}` is given twice"));
            }
        }
        KeyMetadata::new(map)
    }

    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn check_key(key: &str) -> Result<(), String> {
    let mut bytes = key.bytes();
    let valid = key.len() <= MAX_KEY_LEN
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "metadata key `{}` is not valid: use a letter, then up to {} letters, digits, `_`, `.` or `-`",
            key.chars().take(MAX_KEY_LEN + 1).collect::<String>(),
            MAX_KEY_LEN - 1
        ))
    }
}

fn check_value(key: &str, value: &str) -> Result<(), String> {
    let len = value.chars().count();
    if len == 0 || len > MAX_VALUE_LEN {
        return Err(format!(
            "metadata `{key}` must have a value of 1 to {MAX_VALUE_LEN} characters, got {len}"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "metadata `{key}` contains a control character; use printable text"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_parse_and_keep_their_order_by_key() {
        let metadata = KeyMetadata::parse_pairs(["region=EU", "team = billing"]).unwrap();
        let pairs: Vec<(&str, &str)> = metadata
            .pairs()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(pairs, [("region", "EU"), ("team", "billing")]);
    }

    #[test]
    fn bad_pairs_are_refused_with_what_to_fix() {
        let long_value = format!("region={}", "x".repeat(MAX_VALUE_LEN + 1));
        let too_many: Vec<String> = (0..=MAX_PAIRS).map(|i| format!("k{i}=v")).collect();
        let cases: [(&str, Vec<&str>, &str); 7] = [
            ("no equals sign", vec!["region"], "is not `key=value`"),
            ("an empty key", vec!["=EU"], "is not valid"),
            ("a key with a space", vec!["my region=EU"], "is not valid"),
            ("an empty value", vec!["region="], "1 to 256 characters"),
            ("a value too long", vec![&long_value], "1 to 256 characters"),
            ("a key twice", vec!["a=1", "a=2"], "given twice"),
            (
                "too many pairs",
                too_many.iter().map(String::as_str).collect(),
                "at most 16",
            ),
        ];
        for (description, pairs, expected) in cases {
            let error = KeyMetadata::parse_pairs(pairs).unwrap_err();
            assert!(error.contains(expected), "{description}: {error}");
        }
        assert!(
            KeyMetadata::parse_pairs(["note=a\u{7}b"])
                .unwrap_err()
                .contains("control character")
        );
    }
}
