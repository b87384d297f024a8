//! Public ids (`ws_…`, `key_…`, `obj_…`, `rec_…`, `usr_…`, `req_…`) and other random
//! strings from the thread's CSPRNG (seeded from the operating system). API key secrets are
//! minted in `keys::secret` straight from the operating system's generator.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

/// In ASCII order, so base62 strings of one length sort as the numbers they write.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// The milliseconds since 1970 in base62: 9 characters last until the year 428,000.
const TIME_LEN: usize = 9;
/// Random characters after the time: 77 bits, so ids made in one millisecond never collide
/// in practice.
const RANDOM_LEN: usize = 13;

/// A new id: `prefix`, an underscore, the time of its making in milliseconds and random
/// characters, 22 base62 characters in all (`rec_0Hk3x9QbZ…`). Ids made later sort later,
/// so a table's index of ids grows at its end: with wholly random ids, every insert into a
/// large object wrote to a random page of the index, and a batch of a thousand records
/// rewrote hundreds of pages (SQLite loaded them at half the rate).
pub fn new_id(prefix: &str) -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    new_id_at(prefix, since_epoch.as_millis())
}

fn new_id_at(prefix: &str, millis: u128) -> String {
    let mut time = [b'0'; TIME_LEN];
    let mut rest = millis;
    for digit in time.iter_mut().rev() {
        *digit = BASE62[(rest % 62) as usize];
        rest /= 62;
    }
    let time: String = time.iter().map(|&b| b as char).collect();
    format!("{prefix}_{time}{}", random_base62(RANDOM_LEN))
}

/// A random base62 string of `len` characters, for public ids such as `key_…` and request
/// ids. Ids are not secrets, so they come from the thread's CSPRNG (seeded from the operating
/// system) instead of a system call per character, which cost a request more than its
/// authorization did.
pub fn random_base62(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_later_sort_later() {
        let ids: Vec<String> = [0, 61, 62, 1_765_000_000_000, 1_765_000_000_001]
            .into_iter()
            .map(|millis| new_id_at("rec", millis))
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids);
        assert!(ids[0].starts_with("rec_000000000"));
    }

    #[test]
    fn ids_carry_their_prefix_and_22_base62_characters() {
        let id = new_id("key");
        let body = id.strip_prefix("key_").expect("the prefix comes first");
        assert_eq!(body.len(), 22);
        assert!(body.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(new_id("key"), id);
    }
}
