//! Sessions and request forgery: the session cookie, the extractors that turn it into a
//! signed-in user, and the CSRF checks every state-changing request passes.
//!
//! Security-sensitive: the cookie value is a 256-bit random token of which only the SHA-256
//! is stored; a new one is issued at every sign-in (so a token planted before sign-in is
//! worthless) and its row is deleted at sign-out. A state-changing request needs the
//! session's CSRF token (a form field, or the `X-CSRF-Token` header for the JSON API) and,
//! when the browser sends one, an `Origin` of this server.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::settings::ConsoleConfig;
use super::view::PageError;
use crate::account::membership;
use crate::account::user::User;
use crate::authz::RequestContext;
use crate::http::error::ApiError;
use crate::http::request_context;
use crate::http::state::AppState;
use crate::id::random_base62;
use crate::store::{self, StoreError};

pub const SESSION_COOKIE: &str = "andi_session";
/// The double-submit token of the sign-in and sign-up forms, which come before a session.
pub const FORM_COOKIE: &str = "andi_form";

/// A request's signed-in user, with what the checks of its request need.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub csrf_token: String,
    pub context: RequestContext,
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value: HttpOnly and SameSite=Lax always, Secure over https.
pub fn set_cookie(
    config: &ConsoleConfig,
    name: &str,
    value: &str,
    max_age_secs: i64,
) -> HeaderValue {
    set_cookie_at(config, name, value, max_age_secs, "/")
}

/// [`set_cookie`] for one path only.
pub fn set_cookie_at(
    config: &ConsoleConfig,
    name: &str,
    value: &str,
    max_age_secs: i64,
    path: &str,
) -> HeaderValue {
    let secure = if config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    let line = format!(
        "{name}={value}; Path={path}; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}"
    );
    HeaderValue::from_str(&line).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Starts a session for `user`, ending the one the request came with, and returns its
/// `Set-Cookie`.
pub async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    now: DateTime<Utc>,
) -> Result<HeaderValue, StoreError> {
    if let Some(old) = cookie(headers, SESSION_COOKIE) {
        store::users::delete_session(&state.db, &digest(old)).await?;
    }
    let token = random_base62(43);
    let ttl = chrono::Duration::from_std(state.console.session_ttl)
        .unwrap_or_else(|_| chrono::Duration::days(7));
    store::users::insert_session(
        &state.db,
        &digest(&token),
        &user.id,
        &random_base62(32),
        now,
        now + ttl,
    )
    .await?;
    Ok(set_cookie(
        &state.console,
        SESSION_COOKIE,
        &token,
        ttl.num_seconds(),
    ))
}

/// Deletes the request's session, and returns the `Set-Cookie` that clears the cookie.
pub async fn end_session(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, StoreError> {
    if let Some(token) = cookie(headers, SESSION_COOKIE) {
        store::users::delete_session(&state.db, &digest(token)).await?;
    }
    Ok(set_cookie(&state.console, SESSION_COOKIE, "", 0))
}

/// What policies may know about the request.
pub fn request_context(parts: &Parts, state: &AppState) -> RequestContext {
    request_context::request_context(parts, &state.trusted_proxies, Utc::now())
}

/// Whether a request comes from a page of this server. Browsers send `Origin` on every
/// POST and DELETE; a request without one (curl, a script) is no forgery, since a forger
/// needs a victim's browser.
pub fn same_origin(headers: &HeaderMap, config: &ConsoleConfig) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_none_or(|site| site != "cross-site");
    };
    if let Some(public) = &config.public_url {
        return origin.eq_ignore_ascii_case(public.trim_end_matches('/'));
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// Compares two tokens in time that does not depend on where they differ.
pub fn tokens_match(expected: &str, presented: &str) -> bool {
    expected.len() == presented.len()
        && !expected.is_empty()
        && expected
            .bytes()
            .zip(presented.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

async fn load(parts: &Parts, state: &AppState) -> Result<Option<SignedIn>, StoreError> {
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let context = request_context(parts, state);
    let Some((session, user)) =
        store::users::find_session(&state.db, &digest(token), context.time).await?
    else {
        return Ok(None);
    };
    membership::accept_invitations(&state.db, &user, context.time).await?;
    Ok(Some(SignedIn {
        user,
        csrf_token: session.csrf_token,
        context,
    }))
}

/// Extractor for pages: the signed-in user, or a redirect to the sign-in page. Form
/// handlers still check the form's token with [`PageUser::check_form`].
pub struct PageUser(pub SignedIn);

impl PageUser {
    pub fn check_form(&self, presented: &str) -> Result<(), PageError> {
        if tokens_match(&self.0.csrf_token, presented) {
            Ok(())
        } else {
            Err(PageError::forged())
        }
    }
}

impl FromRequestParts<AppState> for PageUser {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if !is_safe(&parts.method) && !same_origin(&parts.headers, &state.console) {
            return Err(PageError::forged());
        }
        match load(parts, state).await {
            Ok(Some(signed_in)) => Ok(PageUser(signed_in)),
            Ok(None) => Err(PageError::SignIn),
            Err(e) => Err(PageError::Internal(e.into())),
        }
    }
}

/// Extractor for the JSON API: a signed-in session, never an API key; state-changing
/// requests also need the session's token in `X-CSRF-Token`.
pub struct ApiUser(pub SignedIn);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION)
            || parts.headers.contains_key("x-api-key")
        {
            return Err(ApiError::SessionRequired(
                "this endpoint needs a signed-in console session, and API keys are refused here: a key cannot manage workspaces or keys. Sign in at /sign-in, or use `andi key …` from a script".to_owned(),
            ));
        }
        let Some(signed_in) = load(parts, state).await? else {
            return Err(ApiError::SessionRequired(
                "this endpoint needs a signed-in console session: sign in at /sign-in and send its cookie".to_owned(),
            ));
        };
        if !is_safe(&parts.method) {
            let presented = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !same_origin(&parts.headers, &state.console)
                || !tokens_match(&signed_in.csrf_token, presented)
            {
                return Err(ApiError::Forbidden {
                    code: "csrf_failed",
                    detail: "send the session's CSRF token in the X-CSRF-Token header (console pages carry it in <meta name=\"csrf-token\">), from a page of this server".to_owned(),
                });
            }
        }
        Ok(ApiUser(signed_in))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; andi_session=tok; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn a_foreign_origin_is_not_the_same_origin() {
        let config = ConsoleConfig::default();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&headers, &config), "no Origin: not a browser");
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&headers, &config));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&headers, &config));
    }

    #[test]
    fn cookies_are_secure_only_behind_https() {
        let mut config = ConsoleConfig::default();
        assert!(
            !set_cookie(&config, "a", "b", 1)
                .to_str()
                .unwrap_or_default()
                .contains("Secure")
        );
        config.public_url = Some("https://andi.example.com".to_owned());
        let line = set_cookie(&config, "a", "b", 1);
        let line = line.to_str().unwrap_or_default();
        assert!(
            line.contains("; Secure") && line.contains("HttpOnly") && line.contains("SameSite=Lax")
        );
    }
}
