//! How every time in an answer is written: RFC 3339 in UTC with exactly six fractional
//! digits (`2026-01-02T03:04:05.678901Z`), the precision both databases store, so one
//! client parser fits every field and a time read back compares equal to the one sent.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// A time as every answer writes it.
pub fn format(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `#[serde(serialize_with = "crate::timestamp::serialize")]` for a `DateTime<Utc>` field.
pub fn serialize<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(time))
}

/// The same for an `Option<DateTime<Utc>>` field (`null` when absent).
pub fn serialize_option<S: Serializer>(
    time: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serialize(time, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn every_time_has_six_fractional_digits() {
        let whole = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(format(&whole), "2026-01-02T03:04:05.000000Z");
        let nanos = whole + chrono::Duration::nanoseconds(678_901_234);
        assert_eq!(format(&nanos), "2026-01-02T03:04:05.678901Z");
    }
}
