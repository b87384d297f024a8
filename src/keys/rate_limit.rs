//! A key's rate limit: at most `requests` requests per fixed window of `window` seconds,
//! written `100/1m`, counted across every server that shares the database.

use std::fmt;

use serde::Serialize;

use crate::duration::parse_duration;

/// The most requests a window can allow (it fits the database's 32-bit integer).
const MAX_REQUESTS: u32 = 1_000_000_000;
/// The longest window: a day. Longer ones would keep counts no one reads for days.
const MAX_WINDOW_SECS: u32 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    requests: u32,
    window_secs: u32,
}

impl RateLimit {
    pub fn new(requests: u32, window_secs: u32) -> Result<RateLimit, String> {
        if !(1..=MAX_REQUESTS).contains(&requests) {
            return Err(format!(
                "a rate limit allows 1 to {MAX_REQUESTS} requests per window, got {requests}"
            ));
        }
        if !(1..=MAX_WINDOW_SECS).contains(&window_secs) {
            return Err(format!(
                "a rate limit's window is 1 s to 1 day, got {window_secs} s"
            ));
        }
        Ok(RateLimit {
            requests,
            window_secs,
        })
    }

    /// `100/1m`: requests, a slash, and the window as a duration (`30s`, `1m`, `1h`).
    pub fn parse(text: &str) -> Result<RateLimit, String> {
        let bad =
            || format!("rate limit `{text}` is not `<requests>/<window>`, for example `100/1m`");
        let (requests, window) = text.split_once('/').ok_or_else(bad)?;
        let requests: u32 = requests.trim().parse().map_err(|_| bad())?;
        let window = parse_duration(window.trim())?;
        let window_secs = u32::try_from(window.num_seconds()).map_err(|_| bad())?;
        RateLimit::new(requests, window_secs)
    }

    pub fn requests(self) -> u32 {
        self.requests
    }

    pub fn window_secs(self) -> u32 {
        self.window_secs
    }

    /// The start of the window holding `now` (seconds since the epoch) and the seconds
    /// left in it (at least 1).
    pub fn window_at(self, now_secs: i64) -> (i64, u64) {
        let window = i64::from(self.window_secs);
        let start = now_secs.div_euclid(window) * window;
        (
            start,
            u64::try_from(start + window - now_secs).unwrap_or(1).max(1),
        )
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.requests, self.window_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_and_bad_ones_say_what_to_write() {
        let limit = RateLimit::parse("100/1m").unwrap();
        assert_eq!((limit.requests(), limit.window_secs()), (100, 60));
        for bad in ["100", "x/1m", "0/1m", "10/2d", "10/0s"] {
            assert!(RateLimit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn windows_are_fixed_and_aligned() {
        let limit = RateLimit::parse("5/1m").unwrap();
        assert_eq!(limit.window_at(125), (120, 55));
        assert_eq!(limit.window_at(120), (120, 60));
    }
}
