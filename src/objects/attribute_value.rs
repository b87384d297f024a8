//! Attribute values of records: each type's validation and its normal form, which is what
//! is stored, compared, sorted and made unique. Normal forms are chosen so that SQL sorts
//! them correctly as stored: datetimes are UTC with millisecond precision in one fixed
//! width, dates are `YYYY-MM-DD`, integers are JSON integers.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::Value;

use super::attribute::{AttributeKind, SelectOption};

/// Longest `string`, `email` and `url` value, in characters.
pub const MAX_STRING_CHARS: usize = 1_000;
/// Longest `text` value, in characters.
pub const MAX_TEXT_CHARS: usize = 100_000;

/// Checks `value` against `kind` and returns its normal form, or what to fix.
pub fn normalize(kind: &AttributeKind, value: &Value) -> Result<Value, String> {
    match kind {
        AttributeKind::String => {
            bounded_string(value, MAX_STRING_CHARS, "a string").map(Value::from)
        }
        AttributeKind::Text => bounded_string(value, MAX_TEXT_CHARS, "a text").map(Value::from),
        AttributeKind::Number => match value {
            Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => Ok(value.clone()),
            _ => Err("must be a number".to_owned()),
        },
        AttributeKind::Integer => integer(value)
            .map(Value::from)
            .ok_or_else(|| "must be a whole number between -2^63 and 2^63-1".to_owned()),
        AttributeKind::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            _ => Err("must be true or false".to_owned()),
        },
        AttributeKind::Datetime => value
            .as_str()
            .and_then(parse_datetime)
            .map(|t| Value::from(format_datetime(t)))
            .ok_or_else(|| {
                "must be an RFC 3339 date-time such as \"2026-11-26T09:30:00Z\"".to_owned()
            }),
        AttributeKind::Date => value
            .as_str()
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .map(|d| Value::from(d.format("%Y-%m-%d").to_string()))
            .ok_or_else(|| "must be a date such as \"2026-11-26\"".to_owned()),
        AttributeKind::Email => {
            let email = bounded_string(value, 254, "an email address")?;
            if is_email(&email) {
                Ok(Value::from(email))
            } else {
                Err(format!(
                    "`{email}` is not an email address such as name@example.com"
                ))
            }
        }
        AttributeKind::Url => {
            let text = bounded_string(value, MAX_STRING_CHARS, "a URL")?;
            match url::Url::parse(&text) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
                    Ok(Value::from(text))
                }
                _ => Err(format!("`{text}` is not an absolute http or https URL")),
            }
        }
        AttributeKind::Select { options } => match value.as_str() {
            Some(v) if has_option(options, v) => Ok(value.clone()),
            _ => Err(format!("must be one of {}", option_list(options))),
        },
        AttributeKind::Multiselect { options } => {
            let Some(items) = value.as_array() else {
                return Err(format!(
                    "must be a list of values from {}",
                    option_list(options)
                ));
            };
            let mut seen: Vec<&str> = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(v) if !has_option(options, v) => {
                        return Err(format!("`{v}` is not one of {}", option_list(options)));
                    }
                    Some(v) if seen.contains(&v) => return Err(format!("`{v}` is listed twice")),
                    Some(v) => seen.push(v),
                    None => {
                        return Err(format!(
                            "must be a list of values from {}",
                            option_list(options)
                        ));
                    }
                }
            }
            Ok(value.clone())
        }
        AttributeKind::Relationship { object } => match value.as_str() {
            Some(id) if is_record_id(id) => Ok(value.clone()),
            _ => Err(format!("must be the id (a string) of a `{object}` record")),
        },
        AttributeKind::Json => Ok(value.clone()),
    }
}

/// The text the unique index holds for a normalized value: equal values have equal keys
/// (`1` and `1.0` are the same number; email addresses compare without case).
pub fn unique_key(kind: &AttributeKind, normalized: &Value) -> String {
    match (kind, normalized) {
        (AttributeKind::Email, Value::String(s)) => s.to_lowercase(),
        (_, Value::String(s)) => s.clone(),
        (_, Value::Number(n)) => canonical_number(n),
        (_, other) => other.to_string(),
    }
}

fn canonical_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", f as i64),
        Some(f) => format!("{f}"),
        None => n.to_string(),
    }
}

fn bounded_string(value: &Value, max: usize, what: &str) -> Result<String, String> {
    match value {
        Value::String(s) if s.chars().count() <= max => Ok(s.clone()),
        Value::String(_) => Err(format!("must be at most {max} characters")),
        _ => Err(format!("must be {what} (a JSON string)")),
    }
}

fn integer(value: &Value) -> Option<i64> {
    let n = value.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    (f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(f as i64)
}

pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The stored form of a datetime: fixed width, so text order is time order.
pub fn format_datetime(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn has_option(options: &[SelectOption], value: &str) -> bool {
    options.iter().any(|o| o.value == value)
}

fn option_list(options: &[SelectOption]) -> String {
    options
        .iter()
        .map(|o| format!("`{}`", o.value))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A record id a client may choose: 1-128 of `A-Z a-z 0-9 _ . : -`.
pub fn is_record_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::handle::ObjectHandle;
    use serde_json::json;

    fn options() -> Vec<SelectOption> {
        ["open", "paid"]
            .into_iter()
            .map(|v| SelectOption {
                value: v.to_owned(),
                label: None,
                color: None,
            })
            .collect()
    }

    #[test]
    fn each_type_accepts_its_values_in_normal_form() {
        let cases = [
            (AttributeKind::String, json!("hi"), json!("hi")),
            (AttributeKind::Text, json!("long"), json!("long")),
            (AttributeKind::Number, json!(1.5), json!(1.5)),
            (AttributeKind::Integer, json!(3.0), json!(3)),
            (AttributeKind::Boolean, json!(false), json!(false)),
            (
                AttributeKind::Datetime,
                json!("2026-11-26T10:30:00+01:00"),
                json!("2026-11-26T09:30:00.000Z"),
            ),
            (
                AttributeKind::Date,
                json!("2026-02-28"),
                json!("2026-02-28"),
            ),
            (AttributeKind::Email, json!("a@b.io"), json!("a@b.io")),
            (
                AttributeKind::Url,
                json!("https://x.io/a"),
                json!("https://x.io/a"),
            ),
            (
                AttributeKind::Select { options: options() },
                json!("paid"),
                json!("paid"),
            ),
            (
                AttributeKind::Multiselect { options: options() },
                json!(["paid", "open"]),
                json!(["paid", "open"]),
            ),
            (
                AttributeKind::Relationship {
                    object: ObjectHandle::parse("customers").unwrap(),
                },
                json!("cus_1"),
                json!("cus_1"),
            ),
            (AttributeKind::Json, json!({"a": [1]}), json!({"a": [1]})),
        ];
        for (kind, input, expected) in cases {
            assert_eq!(normalize(&kind, &input), Ok(expected), "{kind:?}");
        }
    }

    #[test]
    fn each_type_refuses_what_it_cannot_hold() {
        let cases = [
            (AttributeKind::String, json!(1)),
            (
                AttributeKind::String,
                json!("x".repeat(MAX_STRING_CHARS + 1)),
            ),
            (AttributeKind::Number, json!("1")),
            (AttributeKind::Integer, json!(1.5)),
            (AttributeKind::Boolean, json!("true")),
            (AttributeKind::Datetime, json!("2026-11-26")),
            (AttributeKind::Date, json!("2026-02-30")),
            (AttributeKind::Email, json!("not-an-email")),
            (AttributeKind::Url, json!("ftp://x.io")),
            (AttributeKind::Url, json!("no url")),
            (AttributeKind::Select { options: options() }, json!("lost")),
            (
                AttributeKind::Multiselect { options: options() },
                json!(["open", "open"]),
            ),
            (
                AttributeKind::Multiselect { options: options() },
                json!("open"),
            ),
            (
                AttributeKind::Relationship {
                    object: ObjectHandle::parse("customers").unwrap(),
                },
                json!("has space"),
            ),
        ];
        for (kind, input) in cases {
            assert!(
                normalize(&kind, &input).is_err(),
                "{kind:?} accepted {input}"
            );
        }
    }

    #[test]
    fn equal_values_have_equal_unique_keys() {
        assert_eq!(
            unique_key(&AttributeKind::Number, &json!(1.0)),
            unique_key(&AttributeKind::Number, &json!(1))
        );
        assert_eq!(
            unique_key(&AttributeKind::Email, &json!("A@B.io")),
            unique_key(&AttributeKind::Email, &json!("a@b.io"))
        );
    }
}
