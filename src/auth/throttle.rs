//! Failed authentications counted per client address, so one address that sends unknown or
//! malformed keys is refused before its attempts reach the database, and leaves the
//! database (and every other client's throughput) to everyone else.
//!
//! Security-sensitive: the count is per server and in memory, a fixed window per address.
//! A flood from many addresses is bounded by the table's size: past it, expired windows are
//! dropped, and if none has expired the oldest half goes (those addresses start afresh).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Addresses tracked at once.
const ADDRESSES_HELD: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u64,
}

#[derive(Debug)]
pub struct FailureLimiter {
    max_failures: u64,
    window: Duration,
    /// Read on every authenticated request, written only on a failure.
    windows: RwLock<HashMap<IpAddr, Window>>,
}

impl FailureLimiter {
    /// At most `max_failures` failed authentications per address per `window`; zero turns
    /// the limit off.
    pub fn new(max_failures: u64, window: Duration) -> FailureLimiter {
        FailureLimiter {
            max_failures,
            window,
            windows: RwLock::new(HashMap::new()),
        }
    }

    /// `Some(wait)` when `ip` has used up its failures for the current window.
    pub fn refused(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        if self.max_failures == 0 {
            return None;
        }
        let windows = self.windows.read().unwrap_or_else(|e| e.into_inner());
        let window = windows.get(&ip)?;
        let ends = window.started + self.window;
        (window.failures >= self.max_failures && now < ends).then(|| ends - now)
    }

    /// Counts one failed authentication from `ip`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        if self.max_failures == 0 {
            return;
        }
        let mut windows = self.windows.write().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= ADDRESSES_HELD && !windows.contains_key(&ip) {
            let window = self.window;
            windows.retain(|_, w| now.duration_since(w.started) < window);
            if windows.len() >= ADDRESSES_HELD {
                let mut starts: Vec<Instant> = windows.values().map(|w| w.started).collect();
                starts.sort_unstable();
                let median = starts[starts.len() / 2];
                windows.retain(|_, w| w.started > median);
            }
        }
        let window = windows.entry(ip).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.duration_since(window.started) >= self.window {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 1));

    #[test]
    fn an_address_is_refused_past_its_failures_until_the_window_ends() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(60));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.refused(IP, start), None);
            limiter.failed(IP, start);
        }
        let wait = limiter.refused(IP, start + Duration::from_secs(10));
        assert_eq!(wait, Some(Duration::from_secs(50)));
        assert_eq!(
            limiter.refused(OTHER, start),
            None,
            "other addresses are not affected"
        );
        assert_eq!(limiter.refused(IP, start + Duration::from_secs(60)), None);
        limiter.failed(IP, start + Duration::from_secs(60));
        assert_eq!(
            limiter.refused(IP, start + Duration::from_secs(61)),
            None,
            "a new window starts its count afresh"
        );
    }

    #[test]
    fn a_zero_limit_never_refuses() {
        let limiter = FailureLimiter::new(0, Duration::from_secs(60));
        let now = Instant::now();
        for _ in 0..10 {
            limiter.failed(IP, now);
        }
        assert_eq!(limiter.refused(IP, now), None);
    }
}
