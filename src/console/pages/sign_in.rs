//! Signing up, in and out, and the home page that sends people to the right one.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use minijinja::context;

use crate::account::password::MIN_PASSWORD_CHARS;
use crate::account::{AccountError, sign_in};
use crate::console::session::{
    self, FORM_COOKIE, PageUser, cookie, same_origin, set_cookie, tokens_match,
};
use crate::console::view::{PageError, render};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::id::random_base62;
use crate::store;

use super::{SubmittedForm, capitalize, see_other};

/// `GET /`: the workspaces, or where to sign in or up.
pub async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if cookie(&headers, session::SESSION_COOKIE).is_some() {
        return Ok(Redirect::to("/workspaces").into_response());
    }
    let fresh = store::users::count_users(&state.db).await? == 0;
    Ok(Redirect::to(if fresh { "/sign-up" } else { "/sign-in" }).into_response())
}

/// The pre-session form token: the browser's cookie, or a new one to set.
fn form_token(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, FORM_COOKIE) {
        Some(token) if token.len() == 32 => (token.to_owned(), false),
        _ => (random_base62(32), true),
    }
}

struct AuthPage<'a> {
    mode: &'a str,
    email: &'a str,
    error: Option<String>,
}

async fn auth_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    page: AuthPage<'_>,
) -> Result<Response, PageError> {
    let (token, new) = form_token(headers);
    let signup_allowed = sign_in::signup_allowed(&state.db, &state.console.account).await?;
    let mut response = render(
        status,
        "auth.html",
        context! {
            mode => page.mode,
            email => page.email,
            error => page.error,
            csrf => token,
            signup_allowed => signup_allowed,
            min_password => MIN_PASSWORD_CHARS,
        },
    )?;
    if new {
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&state.console, FORM_COOKIE, &token, 86_400),
        );
    }
    Ok(response)
}

/// Checks a pre-session form: same origin, and the form's token equals the cookie's.
fn check_pre_session_form(state: &AppState, form: &SubmittedForm) -> Result<(), PageError> {
    let expected = cookie(&form.headers, FORM_COOKIE).unwrap_or_default();
    if same_origin(&form.headers, &state.console) && tokens_match(expected, form.fields.get("csrf"))
    {
        Ok(())
    } else {
        Err(PageError::forged())
    }
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let page = AuthPage {
        mode: "sign-in",
        email: "",
        error: None,
    };
    auth_page(&state, &headers, StatusCode::OK, page).await
}

/// `POST /sign-in`: a new session, or the same message for every wrong email or password.
pub async fn sign_in(
    State(state): State<AppState>,
    form: SubmittedForm,
) -> Result<Response, PageError> {
    check_pre_session_form(&state, &form)?;
    let email = form.fields.get("email");
    let now = Utc::now();
    match sign_in::sign_in(
        &state.db,
        &state.console.account,
        email,
        form.fields.get("password"),
        form.ip,
        now,
    )
    .await
    {
        Ok(user) => {
            let cookie = session::start_session(&state, &form.headers, &user, now).await?;
            Ok(see_other("/workspaces", &[cookie]))
        }
        Err(AccountError::BadCredentials) => {
            let page = AuthPage {
                mode: "sign-in",
                email,
                error: Some("Incorrect email or password.".to_owned()),
            };
            auth_page(&state, &form.headers, StatusCode::UNAUTHORIZED, page).await
        }
        Err(AccountError::RateLimited {
            detail,
            retry_after_secs,
        }) => rate_limited(&state, &form, "sign-in", &detail, retry_after_secs).await,
        Err(other) => Err(other.into()),
    }
}

/// The form again with a 429 that says when to retry, in its text and in `Retry-After`.
async fn rate_limited(
    state: &AppState,
    form: &SubmittedForm,
    mode: &str,
    detail: &str,
    retry_after_secs: u64,
) -> Result<Response, PageError> {
    let page = AuthPage {
        mode,
        email: form.fields.get("email"),
        error: Some(capitalize(detail)),
    };
    let mut response = auth_page(state, &form.headers, StatusCode::TOO_MANY_REQUESTS, page).await?;
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    Ok(response)
}

pub async fn sign_up_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let page = AuthPage {
        mode: "sign-up",
        email: "",
        error: None,
    };
    auth_page(&state, &headers, StatusCode::OK, page).await
}

/// `POST /sign-up`: creates the account and signs it in.
pub async fn sign_up(
    State(state): State<AppState>,
    form: SubmittedForm,
) -> Result<Response, PageError> {
    check_pre_session_form(&state, &form)?;
    let email = form.fields.get("email");
    let now = Utc::now();
    match sign_in::sign_up(
        &state.db,
        &state.console.account,
        email,
        form.fields.get("password"),
        form.ip,
        now,
    )
    .await
    {
        Ok(user) => {
            let cookie = session::start_session(&state, &form.headers, &user, now).await?;
            Ok(see_other("/workspaces", &[cookie]))
        }
        Err(AccountError::RateLimited {
            detail,
            retry_after_secs,
        }) => rate_limited(&state, &form, "sign-up", &detail, retry_after_secs).await,
        Err(
            error @ (AccountError::Invalid(_)
            | AccountError::EmailTaken
            | AccountError::SignupClosed),
        ) => {
            let message = error.to_string();
            let status = ApiError::from(error).status();
            let page = AuthPage {
                mode: "sign-up",
                email,
                error: Some(capitalize(&message)),
            };
            auth_page(&state, &form.headers, status, page).await
        }
        Err(other) => Err(other.into()),
    }
}

/// `POST /sign-out`: deletes the session.
pub async fn sign_out(
    State(state): State<AppState>,
    user: PageUser,
    form: SubmittedForm,
) -> Result<Response, PageError> {
    user.check_form(form.fields.get("csrf"))?;
    let cleared = session::end_session(&state, &form.headers).await?;
    Ok(see_other("/sign-in", &[cleared]))
}
