//! Passwords: the rules, argon2id hashing and verification on a fixed set of threads, and
//! the dummy hash that makes an unknown email cost what a wrong password costs.

use std::num::NonZeroUsize;
use std::sync::{Arc, LazyLock, Mutex};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::TryRngCore;
use tokio::sync::{mpsc, oneshot};

use super::AccountError;
use crate::id::random_base62;

/// NIST SP 800-63B asks for at least 8; 12 keeps a console that holds every key's power
/// out of reach of common-password lists.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// argon2 hashes any length, but an unbounded one would let a request buy CPU.
const MAX_PASSWORD_BYTES: usize = 1024;

/// Trims and lower-cases an email address, and checks that it looks like one.
pub fn normalize_email(input: &str) -> Result<String, String> {
    let email = input.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err("enter an email address like name@example.com".to_owned())
    }
}

/// The password rules, with a message that says how to meet them.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password is too short: use at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the password is too long: use at most {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    Ok(())
}

type HashingJob = Box<dyn FnOnce() + Send>;

/// Password hashing runs on its own threads, one per core, fed from one short queue.
/// Each argon2id run takes 19 MiB; a fixed set of threads reuses that memory run after
/// run, so it stays near (threads x 19 MiB) however many sign-ins and sign-ups arrive at
/// once, and those that wait hold only their password. A semaphore in front of
/// `spawn_blocking` bounds the runs but not as well the memory: the blocking pool spreads
/// them over ever more threads and the allocator keeps freed blocks per thread (measured:
/// 0.4 GB peak for 64 simultaneous sign-ins, 0.5 GB for 200; with these threads 0.2 GB
/// for either).
static HASHING: LazyLock<Result<mpsc::Sender<HashingJob>, String>> =
    LazyLock::new(start_hashing_threads);

fn start_hashing_threads() -> Result<mpsc::Sender<HashingJob>, String> {
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let (queue, jobs) = mpsc::channel::<HashingJob>(threads);
    let jobs = Arc::new(Mutex::new(jobs));
    for n in 0..threads {
        let jobs = Arc::clone(&jobs);
        std::thread::Builder::new()
            .name(format!("andi-hashing-{n}"))
            .spawn(move || {
                loop {
                    // The lock is held while waiting, so idle threads queue for the next job.
                    let next = match jobs.lock() {
                        Ok(mut jobs) => jobs.blocking_recv(),
                        Err(_) => None,
                    };
                    let Some(job) = next else { return };
                    job();
                }
            })
            .map_err(|e| format!("cannot start a password hashing thread: {e}"))?;
    }
    Ok(queue)
}

/// Runs `job` on a hashing thread, waiting for a free one without blocking the runtime.
async fn run_hashing<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, AccountError> + Send + 'static,
) -> Result<T, AccountError> {
    let queue = HASHING
        .as_ref()
        .map_err(|e| AccountError::Hashing(e.clone()))?;
    let (done, result) = oneshot::channel();
    queue
        .send(Box::new(move || {
            // The request may have gone; its result then has nowhere to go.
            let _ = done.send(job());
        }))
        .await
        .map_err(|_| AccountError::Hashing("the password hashing threads stopped".to_owned()))?;
    result
        .await
        .map_err(|_| AccountError::Hashing("a password hashing thread stopped".to_owned()))?
}

/// Hashes with argon2id (the crate's defaults: OWASP's 19 MiB, 2 passes).
pub async fn hash_password(password: String) -> Result<String, AccountError> {
    run_hashing(move || hash_now(&password)).await
}

fn hash_now(password: &str) -> Result<String, AccountError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|e| AccountError::Hashing(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AccountError::Hashing(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| AccountError::Hashing(e.to_string()))
}

/// A hash of a random password with the same parameters as real ones: verifying against it
/// costs what verifying a real account costs, and never succeeds.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| hash_now(&random_base62(32)).ok());

/// Verifies a password; `None` (no such user) is checked against the dummy hash.
pub async fn verify_password(
    stored: Option<String>,
    password: String,
) -> Result<bool, AccountError> {
    run_hashing(move || {
        let real = stored.is_some();
        let hash = match stored {
            Some(hash) => hash,
            None => DUMMY_HASH
                .clone()
                .ok_or_else(|| AccountError::Hashing("no dummy hash".to_owned()))?,
        };
        let parsed = PasswordHash::new(&hash).map_err(|e| AccountError::Hashing(e.to_string()))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(real && matches)
    })
    .await
}
