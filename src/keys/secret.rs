//! The API key format: `andi_<env>_<random><checksum>`.
//!
//! Security-sensitive: this is the only place a key secret is minted or parsed. A key that
//! fails the prefix, length, alphabet or checksum check is rejected here, before any
//! database read, so look-alike strings never cost a lookup. Only the SHA-256 digest of a
//! key is ever stored; [`KeySecret`] redacts itself in `Debug` so it cannot reach a log.

use std::fmt;

use rand::{Rng, TryRngCore};
use sha2::{Digest, Sha256};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 30 base62 characters carry 178 bits of entropy (the design asks for at least 160).
const RANDOM_LEN: usize = 30;
/// A CRC32 (at most 4,294,967,295) fits in 6 base62 digits (62^6 ≈ 5.7 × 10^10).
const CHECKSUM_LEN: usize = 6;
const PREFIX_LEN: usize = "andi_live_".len();
/// Total length of every key: prefix, random body, checksum.
pub const KEY_LEN: usize = PREFIX_LEN + RANDOM_LEN + CHECKSUM_LEN;
/// How many leading characters of a key are kept for display (`start`).
pub const START_LEN: usize = 14;

/// Which kind of environment a key is meant for; it is part of the key's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Live,
    Test,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Environment::Live => "andi_live_",
            Environment::Test => "andi_test_",
        }
    }
}

impl std::str::FromStr for Environment {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "live" => Ok(Environment::Live),
            "test" => Ok(Environment::Test),
            other => Err(format!(
                "unknown environment `{other}`: expected `live` or `test`"
            )),
        }
    }
}

/// Why a string is not a well-formed Andi key. The messages never repeat the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("the key is empty")]
    Empty,
    #[error("the key must start with `andi_live_` or `andi_test_`")]
    Prefix,
    #[error("the key must be {KEY_LEN} characters long")]
    Length,
    #[error("the key may contain only letters and digits after its prefix")]
    Alphabet,
    #[error("the key's checksum does not match; it was probably mistyped or truncated")]
    Checksum,
}

/// A key secret whose format and checksum have been verified.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySecret(String);

impl fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeySecret({}…)", self.start())
    }
}

/// The SHA-256 of a whole key: the only form in which a key is stored and looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// Reads a digest as stored (`to_hex`); `None` for anything else.
    pub fn from_hex(stored: &str) -> Option<KeyDigest> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(stored, &mut bytes).ok()?;
        Some(KeyDigest(bytes))
    }
}

impl KeySecret {
    /// Mints a new key from the operating system's CSPRNG.
    pub fn generate(environment: Environment) -> KeySecret {
        let mut rng = rand::rngs::OsRng.unwrap_err();
        let mut key = String::with_capacity(KEY_LEN);
        key.push_str(environment.prefix());
        for _ in 0..RANDOM_LEN {
            key.push(BASE62[rng.random_range(0..BASE62.len())] as char);
        }
        let checksum = checksum(&key);
        key.push_str(&checksum);
        KeySecret(key)
    }

    /// Parses a presented key, checking everything that can be checked without a lookup.
    pub fn parse(candidate: &str) -> Result<KeySecret, KeyFormatError> {
        if candidate.is_empty() {
            return Err(KeyFormatError::Empty);
        }
        if !candidate.starts_with("andi_live_") && !candidate.starts_with("andi_test_") {
            return Err(KeyFormatError::Prefix);
        }
        if candidate.len() != KEY_LEN {
            return Err(KeyFormatError::Length);
        }
        let body = &candidate[PREFIX_LEN..];
        if !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(KeyFormatError::Alphabet);
        }
        let (payload, given) = candidate.split_at(KEY_LEN - CHECKSUM_LEN);
        if checksum(payload) != given {
            return Err(KeyFormatError::Checksum);
        }
        Ok(KeySecret(candidate.to_owned()))
    }

    pub fn environment(&self) -> Environment {
        if self.0.starts_with("andi_test_") {
            Environment::Test
        } else {
            Environment::Live
        }
    }

    /// The display prefix kept in the database (`andi_live_AbCd`).
    pub fn start(&self) -> &str {
        &self.0[..START_LEN]
    }

    pub fn digest(&self) -> KeyDigest {
        KeyDigest(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The secret itself, for the one response that hands it to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn checksum(payload: &str) -> String {
    base62_fixed(u64::from(crc32fast::hash(payload.as_bytes())), CHECKSUM_LEN)
}

fn base62_fixed(mut value: u64, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_keep_their_environment() {
        for env in [Environment::Live, Environment::Test] {
            let key = KeySecret::generate(env);
            assert_eq!(key.expose().len(), KEY_LEN);
            let parsed = KeySecret::parse(key.expose()).expect("a fresh key parses");
            assert_eq!(parsed.environment(), env);
            assert_eq!(parsed.digest(), key.digest());
        }
    }

    #[test]
    fn a_single_changed_character_fails_the_checksum() {
        let key = KeySecret::generate(Environment::Live);
        let mut chars: Vec<char> = key.expose().chars().collect();
        chars[PREFIX_LEN + 3] = if chars[PREFIX_LEN + 3] == 'a' {
            'b'
        } else {
            'a'
        };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(KeySecret::parse(&tampered), Err(KeyFormatError::Checksum));
    }

    #[test]
    fn malformed_keys_are_rejected_with_the_reason() {
        let key = KeySecret::generate(Environment::Live);
        let cases = [
            ("", KeyFormatError::Empty),
            ("sk_live_abc", KeyFormatError::Prefix),
            ("andi_prod_abc", KeyFormatError::Prefix),
            ("andi_live_abc", KeyFormatError::Length),
            (&key.expose()[..KEY_LEN - 1], KeyFormatError::Length),
        ];
        for (input, expected) in cases {
            assert_eq!(KeySecret::parse(input), Err(expected), "input {input:?}");
        }
        let with_dash = format!("andi_live_{}", "-".repeat(KEY_LEN - PREFIX_LEN));
        assert_eq!(KeySecret::parse(&with_dash), Err(KeyFormatError::Alphabet));
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        let key = KeySecret::generate(Environment::Live);
        let debug = format!("{key:?}");
        assert!(!debug.contains(key.expose()));
        assert!(debug.contains(key.start()));
    }

    #[test]
    fn checksum_is_padded_to_six_digits() {
        assert_eq!(base62_fixed(0, 6), "000000");
        assert_eq!(base62_fixed(61, 6), "00000z");
        assert_eq!(base62_fixed(u64::from(u32::MAX), 6).len(), 6);
    }
}
