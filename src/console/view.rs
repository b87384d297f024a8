//! Rendering: the page templates (minijinja, auto-escaping every `.html` template), the
//! stylesheet and script compiled into the binary, and the error pages.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use minijinja::Environment;
use serde::Serialize;

use crate::http::error::ApiError;
use crate::keys::api_key::{ApiKey, KeyStatus};

/// A key whose expiry is this close is shown as "expiring".
const EXPIRING_WITHIN_DAYS: i64 = 7;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        ("base.html", include_str!("templates/base.html")),
        ("auth.html", include_str!("templates/auth.html")),
        ("workspaces.html", include_str!("templates/workspaces.html")),
        ("api_keys.html", include_str!("templates/api_keys.html")),
        (
            "workspace_tabs.html",
            include_str!("templates/workspace_tabs.html"),
        ),
        ("confirm.html", include_str!("templates/confirm.html")),
        ("members.html", include_str!("templates/members.html")),
        ("error.html", include_str!("templates/error.html")),
    ] {
        if let Err(error) = env.add_template(name, source) {
            tracing::error!(template = name, %error, "a console template does not parse");
        }
    }
    env
});

/// Headers every page carries: no caching (a page may hold a secret), no framing, and a
/// policy that lets the page load only this server's stylesheet and script.
fn page_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// Renders `template` with `context` as a page.
pub fn render(
    status: StatusCode,
    template: &str,
    context: impl Serialize,
) -> Result<Response, PageError> {
    let html = TEMPLATES
        .get_template(template)
        .and_then(|t| t.render(context))
        .map_err(|e| PageError::Internal(anyhow::anyhow!("template {template}: {e:#}")))?;
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    page_headers(&mut response);
    Ok(response)
}

/// Why a page could not be shown, as the person sees it.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in: go to the sign-in page.
    SignIn,
    Status(StatusCode, String),
    Internal(anyhow::Error),
}

impl PageError {
    pub fn forged() -> PageError {
        PageError::Status(
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from this site. Go back, reload the page and try again.".to_owned(),
        )
    }

    pub fn not_found() -> PageError {
        PageError::Status(
            StatusCode::NOT_FOUND,
            "There is no such workspace or key, or you are not a member of its workspace."
                .to_owned(),
        )
    }
}

/// A failure as the person sees it: the status and sentence of the one status table
/// (`http::error`); a server error keeps its cause for the log.
impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        let status = error.status();
        if status.is_server_error() {
            PageError::Internal(error.into())
        } else {
            PageError::Status(status, error.to_string())
        }
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(error: crate::store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<crate::account::AccountError> for PageError {
    fn from(error: crate::account::AccountError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<crate::workspace::create::WorkspaceError> for PageError {
    fn from(error: crate::workspace::create::WorkspaceError) -> Self {
        ApiError::from(error).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            PageError::SignIn => return Redirect::to("/sign-in").into_response(),
            PageError::Status(status, message) => (status, message),
            PageError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "console page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "Something went wrong on our side. Request id: {}",
                        crate::request_id::current().unwrap_or_default()
                    ),
                )
            }
        };
        let context = minijinja::context! {
            title => status.canonical_reason().unwrap_or("Error"),
            status => status.as_u16(),
            message => message,
        };
        render(status, "error.html", context).unwrap_or_else(|_| (status, message).into_response())
    }
}

/// `GET /console/assets/{file}`: the stylesheet and the copy button's script.
pub async fn asset(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "console.css" => (
            include_str!("assets/console.css"),
            "text/css; charset=utf-8",
        ),
        "console.js" => (
            include_str!("assets/console.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// One row of the keys table.
#[derive(Debug, Serialize)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub start: String,
    pub role: Option<&'static str>,
    pub permissions: Vec<&'static str>,
    /// Metadata pairs, `key=value`.
    pub metadata: Vec<String>,
    /// The object handles the key is limited to; empty for every object.
    pub objects: Vec<String>,
    /// `100/60s`, or empty for a key without a rate limit.
    pub rate_limit: String,
    pub environment: &'static str,
    pub created: String,
    /// The creator's user id or `cli:<os user>`; `—` for keys older than that record.
    pub created_by: String,
    pub last_used: String,
    pub expires: String,
    /// active, expiring, expired or revoked.
    pub status: &'static str,
    pub manageable: bool,
}

impl KeyRow {
    pub fn new(key: &ApiKey, now: DateTime<Utc>) -> KeyRow {
        let status = match key.status(now) {
            KeyStatus::Revoked => "revoked",
            KeyStatus::Expired => "expired",
            KeyStatus::Active
                if key
                    .expires_at
                    .is_some_and(|at| at - now <= chrono::Duration::days(EXPIRING_WITHIN_DAYS)) =>
            {
                "expiring"
            }
            KeyStatus::Active => "active",
        };
        KeyRow {
            id: key.id.clone(),
            name: key.name.clone(),
            start: key.start.clone(),
            role: key.grants.role().map(|r| r.as_str()),
            permissions: key
                .grants
                .permissions()
                .iter()
                .map(|p| p.as_str())
                .collect(),
            metadata: key
                .metadata
                .pairs()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            objects: key
                .objects
                .iter()
                .flat_map(|limit| limit.handles().map(|h| h.to_string()))
                .collect(),
            rate_limit: key.rate_limit.map(|l| l.to_string()).unwrap_or_default(),
            environment: key.environment.as_str(),
            created: when(Some(key.created_at), now, "—"),
            created_by: key.created_by.clone().unwrap_or_else(|| "—".to_owned()),
            last_used: when(key.last_used_at, now, "Never"),
            expires: when(key.expires_at, now, "Never"),
            status,
            manageable: matches!(status, "active" | "expiring"),
        }
    }
}

/// A time as people read it in a table: relative when near, a date otherwise.
pub fn when(time: Option<DateTime<Utc>>, now: DateTime<Utc>, none: &str) -> String {
    let Some(time) = time else {
        return none.to_owned();
    };
    let delta = time - now;
    let (amount, future) = if delta < chrono::Duration::zero() {
        (-delta, false)
    } else {
        (delta, true)
    };
    let phrase = if amount < chrono::Duration::minutes(1) {
        return "just now".to_owned();
    } else if amount < chrono::Duration::hours(1) {
        format!("{} min", amount.num_minutes())
    } else if amount < chrono::Duration::days(1) {
        format!("{} h", amount.num_hours())
    } else if amount < chrono::Duration::days(30) {
        format!("{} d", amount.num_days())
    } else {
        return time.format("%Y-%m-%d").to_string();
    };
    if future {
        format!("in {phrase}")
    } else {
        format!("{phrase} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_relative_when_near() {
        let now = Utc::now();
        assert_eq!(when(None, now, "Never"), "Never");
        assert_eq!(when(Some(now), now, "Never"), "just now");
        assert_eq!(
            when(Some(now - chrono::Duration::hours(3)), now, "-"),
            "3 h ago"
        );
        assert_eq!(
            when(Some(now + chrono::Duration::days(2)), now, "-"),
            "in 2 d"
        );
    }
}
