//! The console's pages: sign-up, sign-in, workspaces, API keys and members. Every page
//! works without JavaScript; forms post back and redirect (post/redirect/get), so reloading
//! a page never repeats an action. This file holds what every page shares.

pub mod api_keys;
pub mod members;
pub mod sign_in;
pub mod workspaces;

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

use super::form::FormFields;
use super::session::SignedIn;
use super::view::PageError;
use crate::account::access::{AccessError, WorkspaceAccess};
use crate::account::user::MemberRole;
use crate::http::error::ApiError;
use crate::http::request_context::client_ip;
use crate::http::state::AppState;

/// A posted form with what its checks need.
pub struct SubmittedForm {
    headers: HeaderMap,
    ip: IpAddr,
    fields: FormFields,
}

impl FromRequest<AppState> for SubmittedForm {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let ip = client_ip(&parts, &state.trusted_proxies);
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|rejection| PageError::Status(rejection.status(), rejection.body_text()))?;
        Ok(SubmittedForm {
            headers: parts.headers,
            ip,
            fields: FormFields::parse(&bytes),
        })
    }
}

impl From<AccessError> for PageError {
    fn from(error: AccessError) -> Self {
        ApiError::from(error).into()
    }
}

fn see_other(location: &str, cookies: &[HeaderValue]) -> Response {
    let mut response = Redirect::to(location).into_response();
    for value in cookies {
        response
            .headers_mut()
            .append(header::SET_COOKIE, value.clone());
    }
    response
}

fn capitalize(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// What every signed-in page's layout shows.
fn chrome(signed_in: &SignedIn) -> minijinja::Value {
    context! {
        email => signed_in.user.email,
        csrf => signed_in.csrf_token,
    }
}

fn workspace_context(opened: &WorkspaceAccess, tab: &str) -> minijinja::Value {
    context! {
        handle => opened.workspace.handle.as_str(),
        name => opened.workspace.name,
        role => opened.role.as_str(),
        is_admin => opened.role == MemberRole::Admin,
        tab => tab,
    }
}
