//! Human durations: `--expires-in 30d`, `--grace 24h`, and settings such as `250ms`.

use chrono::Duration;

/// Parses `<number><unit>` with unit `s`, `m`, `h`, `d` or `w` (`90m`, `24h`, `30d`).
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let input = input.trim();
    let split = input
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(input.len());
    let (digits, unit) = input.split_at(split);
    let amount: i64 = digits.parse().map_err(|_| {
        format!("`{input}` is not a duration: write a number and a unit, e.g. 30d, 24h, 90m")
    })?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "`{input}` has an unknown unit: use s, m, h, d or w"
            ));
        }
    };
    amount
        .checked_mul(seconds_per_unit)
        .filter(|s| *s <= 100 * 365 * 86_400)
        .map(Duration::seconds)
        .ok_or_else(|| format!("`{input}` is too long a duration (at most 100 years)"))
}

/// `250ms`, `5s`, `1m`, `24h`, `30d`.
pub fn parse_std_duration(input: &str) -> Result<std::time::Duration, String> {
    if let Some(ms) = input.strip_suffix("ms") {
        return ms
            .parse()
            .map(std::time::Duration::from_millis)
            .map_err(|_| format!("`{input}` is not a duration"));
    }
    let duration = parse_duration(input)?;
    duration
        .to_std()
        .map_err(|_| format!("`{input}` must not be negative"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(parse_duration("30d"), Ok(Duration::days(30)));
        assert_eq!(parse_duration("24h"), Ok(Duration::hours(24)));
        assert_eq!(parse_duration("90m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("0s"), Ok(Duration::zero()));
        assert_eq!(parse_duration("2w"), Ok(Duration::weeks(2)));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in ["", "d", "30", "30 days", "-1d", "1y", "99999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
