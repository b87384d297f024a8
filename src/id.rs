//! Public ids (`ws_…`, `key_…`, `obj_…`, `rec_…`, `usr_…`, `req_…`) and other random
//! strings from the thread's CSPRNG (seeded from the operating system). API key secrets are
//! minted in `keys::secret` straight from the operating system's generator.

use rand::Rng;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 22 base62 characters: 131 bits, so ids never collide in practice.
const ID_LEN: usize = 22;

/// A new id: `prefix`, an underscore and 22 random base62 characters (`key_3fK…`).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_base62(ID_LEN))
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
    fn ids_carry_their_prefix_and_22_base62_characters() {
        let id = new_id("key");
        let body = id.strip_prefix("key_").expect("the prefix comes first");
        assert_eq!(body.len(), 22);
        assert!(body.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(new_id("key"), id);
    }
}
