//! Reading a key from `Authorization: Bearer …` or `x-api-key: …` (RFC 6750 rules, applied
//! to both), and checking optional workspace headers against the key's workspace.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use super::AuthError;
use crate::keys::secret::KeyFormatError;
use crate::principal::WorkspaceRef;

pub const API_KEY_HEADER: &str = "x-api-key";

/// The key the client presented, not yet checked for format.
pub fn presented_key(headers: &HeaderMap) -> Result<&str, AuthError> {
    let bearer = headers.get(AUTHORIZATION).map(bearer_token).transpose()?;
    let api_key = headers
        .get(API_KEY_HEADER)
        .map(|v| {
            v.to_str()
                .map(str::trim)
                .map_err(|_| AuthError::MalformedKey(KeyFormatError::Alphabet))
        })
        .transpose()?;
    match (bearer, api_key) {
        (Some(a), Some(b)) if a != b => Err(AuthError::ConflictingCredentials),
        (Some(key), _) | (None, Some(key)) => Ok(key),
        (None, None) => Err(AuthError::MissingCredentials),
    }
}

/// The token of a `Bearer` credential; the scheme is case-insensitive (RFC 7235).
fn bearer_token(value: &axum::http::HeaderValue) -> Result<&str, AuthError> {
    let value = value
        .to_str()
        .map_err(|_| AuthError::MalformedKey(KeyFormatError::Alphabet))?
        .trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::UnsupportedScheme);
    }
    Ok(token.trim())
}

/// A workspace header that names the key's own workspace is accepted and ignored; one that
/// names another is refused, so a misconfigured client learns of it.
pub fn check_workspace_headers(
    headers: &HeaderMap,
    workspace: &WorkspaceRef,
) -> Result<(), AuthError> {
    let mismatch = |name: &'static str, expected: &str| {
        headers
            .get(name)
            .is_some_and(|v| v.to_str().ok().map(str::trim) != Some(expected))
            .then_some(AuthError::WorkspaceMismatch { header: name })
    };
    match mismatch("x-workspace-handle", &workspace.handle)
        .or_else(|| mismatch("x-workspace-id", &workspace.id))
    {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("valid header"));
        }
        map
    }

    #[test]
    fn reads_the_key_from_either_header() {
        assert_eq!(
            presented_key(&headers(&[("authorization", "Bearer k1")])),
            Ok("k1")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "bearer k1")])),
            Ok("k1")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "BEARER   k1 ")])),
            Ok("k1")
        );
        assert_eq!(presented_key(&headers(&[("x-api-key", "k2")])), Ok("k2"));
        assert_eq!(
            presented_key(&headers(&[
                ("authorization", "Bearer k1"),
                ("x-api-key", "k1")
            ])),
            Ok("k1")
        );
    }

    #[test]
    fn rejects_what_is_not_a_single_bearer_key() {
        let cases: [(&[(&'static str, &str)], AuthError); 4] = [
            (&[], AuthError::MissingCredentials),
            (
                &[("authorization", "Basic dXNlcjpwYXNz")],
                AuthError::UnsupportedScheme,
            ),
            (
                &[("authorization", "Bearer k1"), ("x-api-key", "k2")],
                AuthError::ConflictingCredentials,
            ),
            (
                &[("authorization", "Token k1")],
                AuthError::UnsupportedScheme,
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(
                presented_key(&headers(pairs)),
                Err(expected.clone()),
                "{pairs:?}"
            );
        }
        assert_eq!(
            presented_key(&headers(&[("authorization", "Bearer")])),
            Ok("")
        );
    }

    #[test]
    fn workspace_headers_must_match_the_key() {
        let ws = WorkspaceRef {
            id: "ws_1".into(),
            handle: "acme".into(),
        };
        assert!(check_workspace_headers(&headers(&[("x-workspace-handle", "acme")]), &ws).is_ok());
        assert!(check_workspace_headers(&headers(&[("x-workspace-id", "ws_1")]), &ws).is_ok());
        assert_eq!(
            check_workspace_headers(&headers(&[("x-workspace-handle", "other")]), &ws),
            Err(AuthError::WorkspaceMismatch {
                header: "x-workspace-handle"
            })
        );
    }
}
