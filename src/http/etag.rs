//! Entity tags for definitions and records (RFC 9110 §8.8.3, §13).
//!
//! A representation's `ETag` is a digest of its JSON, so any change to it (name,
//! attributes, description, update time) changes the tag. `If-Match` on a change is
//! compared with the tag of the state the change's transaction holds locked, so of two
//! clients that read the same version, only the first to write wins and the other gets
//! `412`: no lost update. `If-None-Match` on a read answers `304` when nothing changed.

use axum::http::{HeaderMap, HeaderValue, header};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// A strong entity tag, quoted as it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ETag(String);

impl ETag {
    /// The tag of `representation` as the API shows it.
    pub fn of(representation: &impl Serialize) -> Result<ETag, ApiError> {
        let json = serde_json::to_vec(representation)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("render for an ETag: {e}")))?;
        let digest = Sha256::digest(&json);
        Ok(ETag(format!("\"{}\"", hex::encode(&digest[..16]))))
    }

    pub fn header(&self) -> (header::HeaderName, HeaderValue) {
        // Quotes and hex digits only, always a valid header value.
        let value = HeaderValue::from_str(&self.0).unwrap_or(HeaderValue::from_static("\"\""));
        (header::ETAG, value)
    }

    /// Refuses a change unless `If-Match` (when sent) names this tag or is `*`.
    pub fn check_if_match(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(wanted) = headers.get(header::IF_MATCH) else {
            return Ok(());
        };
        let Some(list) = Preconditions::parse(wanted) else {
            // A malformed precondition is the client's mistake, not a stale version: a 412
            // would send it to read and retry for ever.
            return Err(ApiError::BadRequest {
                code: "invalid_if_match",
                detail: "If-Match must be `*` or a comma-separated list of quoted ETags (`\"…\"`), as the ETag header gives them".to_owned(),
            });
        };
        if list.names(self, false) {
            Ok(())
        } else {
            Err(ApiError::PreconditionFailed(format!(
                "If-Match does not name the current version (ETag {}); it changed since it was read: read it again, then retry the change",
                self.0
            )))
        }
    }

    /// Whether `If-None-Match` names this tag (or is `*`), so a read can answer 304.
    pub fn not_modified(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::IF_NONE_MATCH)
            .and_then(Preconditions::parse)
            .is_some_and(|list| list.names(self, true))
    }
}

/// An `If-Match` or `If-None-Match` value: `*`, or entity tags (RFC 9110 §8.8.3).
enum Preconditions<'a> {
    Any,
    /// Each tag as it was sent, quotes included, and whether it was weak (`W/`).
    Tags(Vec<(bool, &'a str)>),
}

impl<'a> Preconditions<'a> {
    /// Reads the list tag by tag: a tag's characters run to its closing quote and may
    /// include commas, so the list cannot be split on them.
    fn parse(value: &'a HeaderValue) -> Option<Preconditions<'a>> {
        let value = value.to_str().ok()?.trim();
        if value == "*" {
            return Some(Preconditions::Any);
        }
        let mut tags = Vec::new();
        let mut rest = value;
        loop {
            let (weak, quoted) = match rest.strip_prefix("W/") {
                Some(quoted) => (true, quoted),
                None => (false, rest),
            };
            let opaque = quoted.strip_prefix('"')?;
            let close = opaque.find(|c: char| !is_etag_char(c))?;
            if !opaque[close..].starts_with('"') {
                return None;
            }
            tags.push((weak, &quoted[..close + 2]));
            rest = quoted[close + 2..].trim_start();
            if rest.is_empty() {
                return Some(Preconditions::Tags(tags));
            }
            rest = rest.strip_prefix(',')?.trim_start();
        }
    }

    /// Whether the list names `tag`. `If-Match` compares strongly (a weak tag never
    /// matches); `If-None-Match` weakly.
    fn names(&self, tag: &ETag, weak_matches: bool) -> bool {
        match self {
            Preconditions::Any => true,
            Preconditions::Tags(tags) => tags
                .iter()
                .any(|&(weak, listed)| listed == tag.0 && (weak_matches || !weak)),
        }
    }
}

/// `etagc`: printable ASCII other than `"` (the server's tags never use the obsolete
/// non-ASCII octets).
fn is_etag_char(c: char) -> bool {
    c == '\x21' || ('\x23'..='\x7e').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn if_match_compares_strongly_and_if_none_match_weakly() {
        let tag = ETag::of(&serde_json::json!({"a": 1})).unwrap();
        let quoted = tag.0.clone();
        assert!(tag.check_if_match(&HeaderMap::new()).is_ok());
        assert!(tag.check_if_match(&headers(header::IF_MATCH, "*")).is_ok());
        let listed = format!("\"other\", {quoted}");
        assert!(
            tag.check_if_match(&headers(header::IF_MATCH, &listed))
                .is_ok()
        );
        let weak = format!("W/{quoted}");
        assert!(
            tag.check_if_match(&headers(header::IF_MATCH, &weak))
                .is_err()
        );
        let with_commas = format!("\"U?,N\\-)_|\", {quoted}");
        assert!(
            tag.check_if_match(&headers(header::IF_MATCH, &with_commas))
                .is_ok(),
            "a comma inside a quoted tag is part of the tag"
        );
        assert!(matches!(
            tag.check_if_match(&headers(header::IF_MATCH, "\"U?,N\\-)_|\"")),
            Err(ApiError::PreconditionFailed(_))
        ));
        for malformed in [
            "0",
            "null",
            "\"a\" \"b\"",
            "\"unclosed",
            "*, \"a\"",
            "\"a\",",
            "W/ \"a\"",
        ] {
            assert!(
                matches!(
                    tag.check_if_match(&headers(header::IF_MATCH, malformed)),
                    Err(ApiError::BadRequest { .. })
                ),
                "If-Match: {malformed} is malformed"
            );
        }
        assert!(tag.not_modified(&headers(header::IF_NONE_MATCH, &weak)));
        assert!(!tag.not_modified(&headers(header::IF_NONE_MATCH, "\"other\"")));
        assert_ne!(tag, ETag::of(&serde_json::json!({"a": 2})).unwrap());
    }
}
