//! One error type for every HTTP answer that is not a success, rendered as RFC 9457
//! `application/problem+json`, and the conversions from every layer's own error into it.
//!
//! Security-sensitive: this is the only status table of the service (the console's pages
//! take their status from it too), and the one place that decides what a caller learns
//! from a failure. Bodies name what to fix; they never carry a
//! key secret, SQL, or an internal cause chain (a 500 says "internal error" and the request
//! id, and the cause goes to the log inside the request's span).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::account::AccountError;
use crate::account::access::AccessError;
use crate::auth::{AuthError, VerifyError};
use crate::authz::{AuthzError, Denial, UserAuthzError};
use crate::issue::Issue;
use crate::keys::lifecycle::KeyError;
use crate::objects::error::{DeniedRecord, ObjectsError};
use crate::request_id;
use crate::store::StoreError;
use crate::workspace::create::WorkspaceError;

/// Every way a request can fail, as the caller sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Denied(#[from] Denial),
    /// Policies deny some records of a batch (the detail and `deniedRecords` name them).
    #[error("{detail}")]
    RecordsDenied {
        detail: String,
        records: Vec<DeniedRecord>,
    },
    #[error("{0}")]
    NotFound(String),
    /// A well-formed request that cannot be processed as sent.
    #[error("{detail}")]
    Unprocessable { code: &'static str, detail: String },
    /// `If-Match` names another version than the current one.
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("the request body is invalid")]
    Validation(Vec<Issue>),
    /// Like [`ApiError::Validation`], for the parameters of the query string.
    #[error("the query string is invalid")]
    InvalidQuery(Vec<Issue>),
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("this route does not support that method")]
    MethodNotAllowed,
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    Unavailable(String),
    #[error("the request took longer than the server's limit of {}; retry, or split the work into smaller requests", humantime(*.after))]
    Timeout { after: std::time::Duration },
    /// A console sign-in with a wrong email or password (the two look alike).
    #[error("{0}")]
    BadCredentials(String),
    /// A console route was called without a signed-in session (or with an API key).
    #[error("{0}")]
    SessionRequired(String),
    /// A signed-in user may not do this (a console decision), or a form lacked its CSRF token.
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    #[error("{detail}")]
    TooManyRequests {
        detail: String,
        retry_after_secs: u64,
    },
    /// The key's own rate limit (`andi key create --rate-limit`) is used up for this window.
    #[error(
        "this key may make {limit} requests per window and has made them; retry in {reset_secs} s, or ask for a key with a higher limit"
    )]
    RateLimited { limit: u64, reset_secs: u64 },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::Auth(error) => ApiError::Auth(error),
            VerifyError::Store(error) => error.into(),
        }
    }
}

impl From<AuthzError> for ApiError {
    fn from(error: AuthzError) -> Self {
        match error {
            AuthzError::Denied(denial) => ApiError::Denied(denial),
            AuthzError::Internal(message) => ApiError::Internal(anyhow::anyhow!(message)),
        }
    }
}

impl From<UserAuthzError> for ApiError {
    fn from(error: UserAuthzError) -> Self {
        match error {
            error @ UserAuthzError::Denied(_) => ApiError::Forbidden {
                code: "forbidden",
                detail: error.to_string(),
            },
            UserAuthzError::Internal(message) => ApiError::Internal(anyhow::anyhow!(message)),
        }
    }
}

impl From<ObjectsError> for ApiError {
    fn from(error: ObjectsError) -> Self {
        match error {
            ObjectsError::Invalid(issues) => ApiError::Validation(issues),
            error @ ObjectsError::UniqueConflict => ApiError::Conflict {
                code: "unique_conflict",
                detail: error.to_string(),
            },
            error @ ObjectsError::RecordsBlockChange(_) => ApiError::Conflict {
                code: "records_block_change",
                detail: error.to_string(),
            },
            error @ ObjectsError::AttributeBeingRemoved(_) => ApiError::Conflict {
                code: "attribute_being_removed",
                detail: error.to_string(),
            },
            error @ ObjectsError::UniqueValuesBeingReleased(_) => ApiError::Conflict {
                code: "unique_values_being_released",
                detail: error.to_string(),
            },
            error @ ObjectsError::ChangeInProgress(_) => ApiError::Conflict {
                code: "definition_change_in_progress",
                detail: error.to_string(),
            },
            error @ ObjectsError::HandleTaken(_) => ApiError::Conflict {
                code: "handle_taken",
                detail: error.to_string(),
            },
            error @ ObjectsError::Referenced { .. } => ApiError::Conflict {
                code: "object_referenced",
                detail: error.to_string(),
            },
            error @ ObjectsError::HasRecords { .. } => ApiError::Conflict {
                code: "object_has_records",
                detail: error.to_string(),
            },
            ref error @ ObjectsError::RecordsDenied { ref records, .. } => {
                ApiError::RecordsDenied {
                    detail: error.to_string(),
                    records: records.clone(),
                }
            }
            ObjectsError::Authz(error) => error.into(),
            ObjectsError::Render(error) => ApiError::Internal(error.into()),
            ObjectsError::Store(error) => error.into(),
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::Invalid(detail) => ApiError::BadRequest {
                code: "invalid_key_request",
                detail,
            },
            error @ KeyError::NotFound(_) => ApiError::NotFound(error.to_string()),
            error @ (KeyError::Revoked(_) | KeyError::Expired(_)) => ApiError::Conflict {
                code: "key_not_active",
                detail: error.to_string(),
            },
            KeyError::NotRecorded(error) => ApiError::Internal(error.into()),
            KeyError::Store(error) => error.into(),
        }
    }
}

impl From<WorkspaceError> for ApiError {
    fn from(error: WorkspaceError) -> Self {
        match error {
            WorkspaceError::Invalid(detail) => ApiError::BadRequest {
                code: "invalid_workspace",
                detail,
            },
            error @ WorkspaceError::Exists(_) => ApiError::Conflict {
                code: "workspace_exists",
                detail: error.to_string(),
            },
            WorkspaceError::Store(error) => error.into(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::Invalid(detail) => ApiError::BadRequest {
                code: "invalid_account",
                detail,
            },
            error @ AccountError::EmailTaken => ApiError::Conflict {
                code: "email_taken",
                detail: error.to_string(),
            },
            error @ AccountError::SignupClosed => ApiError::Forbidden {
                code: "signup_closed",
                detail: error.to_string(),
            },
            error @ AccountError::BadCredentials => ApiError::BadCredentials(error.to_string()),
            AccountError::RateLimited {
                detail,
                retry_after_secs,
            } => ApiError::TooManyRequests {
                detail,
                retry_after_secs,
            },
            AccountError::Store(error) => error.into(),
            error @ AccountError::Hashing(_) => ApiError::Internal(error.into()),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::NotFound => ApiError::NotFound(
                "no such workspace or key among the workspaces you are a member of".to_owned(),
            ),
            AccessError::Denied(detail) => ApiError::Forbidden {
                code: "forbidden",
                detail,
            },
            AccessError::Store(error) => error.into(),
            AccessError::Internal(message) => ApiError::Internal(anyhow::anyhow!(message)),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::Internal(error.into())
    }
}

/// The stable code of an error response, kept on the response for the layers outside it.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Problem<'a> {
    r#type: &'static str,
    title: &'static str,
    status: u16,
    detail: String,
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    issues: Vec<Issue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing_permission: Option<&'static str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    denied_records: &'a [DeniedRecord],
}

fn humantime(duration: std::time::Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

const REALM: &str = "Bearer realm=\"andi\"";

/// The stable code of each authentication failure.
fn auth_code(error: &AuthError) -> &'static str {
    match error {
        AuthError::MissingCredentials => "missing_credentials",
        AuthError::UnsupportedScheme => "unsupported_auth_scheme",
        AuthError::MalformedKey(_) => "malformed_key",
        AuthError::UnknownKey => "unknown_key",
        AuthError::RevokedKey => "revoked_key",
        AuthError::ExpiredKey => "expired_key",
        AuthError::ConflictingCredentials => "conflicting_credentials",
        AuthError::WorkspaceMismatch { .. } => "workspace_mismatch",
    }
}

impl ApiError {
    /// The status table: what each failure answers.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Auth(AuthError::ConflictingCredentials) => StatusCode::BAD_REQUEST,
            ApiError::Auth(AuthError::WorkspaceMismatch { .. }) => StatusCode::FORBIDDEN,
            ApiError::Auth(_) => StatusCode::UNAUTHORIZED,
            ApiError::Denied(_) | ApiError::RecordsDenied { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Validation(_) | ApiError::InvalidQuery(_) | ApiError::BadRequest { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::SessionRequired(_) | ApiError::BadCredentials(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests { .. } | ApiError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code clients branch on.
    fn code(&self) -> &'static str {
        match self {
            ApiError::Auth(error) => auth_code(error),
            ApiError::Denied(_) => "insufficient_scope",
            ApiError::RecordsDenied { .. } => "records_denied",
            ApiError::NotFound(_) => "not_found",
            ApiError::PreconditionFailed(_) => "precondition_failed",
            ApiError::Unprocessable { code, .. } => code,
            ApiError::Conflict { code, .. } | ApiError::BadRequest { code, .. } => code,
            ApiError::Validation(_) | ApiError::InvalidQuery(_) => "validation_failed",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Timeout { .. } => "request_timeout",
            ApiError::SessionRequired(_) => "session_required",
            ApiError::BadCredentials(_) => "bad_credentials",
            ApiError::Forbidden { code, .. } => code,
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The `WWW-Authenticate` challenge of RFC 6750, for 401s and scope denials.
    fn challenge(&self) -> Option<String> {
        match self {
            ApiError::Auth(AuthError::MissingCredentials | AuthError::UnsupportedScheme) => {
                Some(REALM.to_owned())
            }
            ApiError::Auth(AuthError::ConflictingCredentials) => Some(format!(
                "{REALM}, error=\"invalid_request\", error_description=\"{}\"",
                AuthError::ConflictingCredentials
            )),
            ApiError::Auth(AuthError::WorkspaceMismatch { .. }) => None,
            ApiError::Auth(error) => Some(format!(
                "{REALM}, error=\"invalid_token\", error_description=\"{error}\""
            )),
            ApiError::Denied(denial) => Some(format!(
                "{REALM}, error=\"insufficient_scope\", scope=\"{}\"",
                denial.missing_permission.map_or("", |p| p.as_str())
            )),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let (issues, action, missing_permission) = match &self {
            ApiError::Validation(issues) | ApiError::InvalidQuery(issues) => {
                (issues.clone(), None, None)
            }
            ApiError::Denied(denial) => (
                Vec::new(),
                Some(denial.action.as_str()),
                denial.missing_permission.map(|p| p.as_str()),
            ),
            _ => (Vec::new(), None, None),
        };
        let problem = Problem {
            r#type: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.to_string(),
            code: self.code(),
            request_id: request_id::current(),
            issues,
            action,
            missing_permission,
            denied_records: match &self {
                ApiError::RecordsDenied { records, .. } => records,
                _ => &[],
            },
        };
        let mut response = (status, Json(problem)).into_response();
        // For the request span (`error.type`), which sees the response, not this error.
        response.extensions_mut().insert(ErrorCode(self.code()));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(challenge) = self
            .challenge()
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let ApiError::TooManyRequests {
            retry_after_secs, ..
        } = &self
        {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if let ApiError::RateLimited { limit, reset_secs } = &self {
            // IETF draft-ietf-httpapi-ratelimit-headers: the limit, what is left of it, and
            // the seconds until the window resets.
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*reset_secs));
            headers.insert("ratelimit-limit", HeaderValue::from(*limit));
            headers.insert("ratelimit-remaining", HeaderValue::from(0));
            headers.insert("ratelimit-reset", HeaderValue::from(*reset_secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::Action;
    use crate::keys::grant::Permission;
    use crate::keys::secret::KeyFormatError;
    use crate::workspace::WorkspaceHandle;

    /// The name of each variant. The match is exhaustive, so a new variant does not compile
    /// until it is named here, and the table test below then asks for a case of it.
    fn variant(error: &ApiError) -> &'static str {
        match error {
            ApiError::Auth(_) => "Auth",
            ApiError::Denied(_) => "Denied",
            ApiError::RecordsDenied { .. } => "RecordsDenied",
            ApiError::NotFound(_) => "NotFound",
            ApiError::PreconditionFailed(_) => "PreconditionFailed",
            ApiError::Unprocessable { .. } => "Unprocessable",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Validation(_) => "Validation",
            ApiError::InvalidQuery(_) => "InvalidQuery",
            ApiError::BadRequest { .. } => "BadRequest",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::PayloadTooLarge { .. } => "PayloadTooLarge",
            ApiError::Unavailable(_) => "Unavailable",
            ApiError::Timeout { .. } => "Timeout",
            ApiError::BadCredentials(_) => "BadCredentials",
            ApiError::SessionRequired(_) => "SessionRequired",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::TooManyRequests { .. } => "TooManyRequests",
            ApiError::RateLimited { .. } => "RateLimited",
            ApiError::Internal(_) => "Internal",
        }
    }
    const VARIANTS: usize = 21;

    fn auth_variant(error: &AuthError) -> &'static str {
        match error {
            AuthError::MissingCredentials => "MissingCredentials",
            AuthError::UnsupportedScheme => "UnsupportedScheme",
            AuthError::MalformedKey(_) => "MalformedKey",
            AuthError::UnknownKey => "UnknownKey",
            AuthError::RevokedKey => "RevokedKey",
            AuthError::ExpiredKey => "ExpiredKey",
            AuthError::ConflictingCredentials => "ConflictingCredentials",
            AuthError::WorkspaceMismatch { .. } => "WorkspaceMismatch",
        }
    }
    const AUTH_VARIANTS: usize = 8;

    fn store_error() -> StoreError {
        StoreError::Corrupt("a row".to_owned())
    }

    /// Every variant of `ApiError` and of every layer's error, with what the caller sees.
    fn table() -> Vec<(ApiError, StatusCode, &'static str)> {
        let denial = Denial {
            action: Action::CreateObject,
            missing_permission: Some(Permission::ObjectsWrite),
        };
        let handle = WorkspaceHandle::parse("acme").expect("a handle");
        let secs = std::time::Duration::from_secs(30);
        use StatusCode as S;
        vec![
            (
                AuthError::MissingCredentials.into(),
                S::UNAUTHORIZED,
                "missing_credentials",
            ),
            (
                AuthError::UnsupportedScheme.into(),
                S::UNAUTHORIZED,
                "unsupported_auth_scheme",
            ),
            (
                AuthError::MalformedKey(KeyFormatError::Checksum).into(),
                S::UNAUTHORIZED,
                "malformed_key",
            ),
            (AuthError::UnknownKey.into(), S::UNAUTHORIZED, "unknown_key"),
            (AuthError::RevokedKey.into(), S::UNAUTHORIZED, "revoked_key"),
            (AuthError::ExpiredKey.into(), S::UNAUTHORIZED, "expired_key"),
            (
                AuthError::ConflictingCredentials.into(),
                S::BAD_REQUEST,
                "conflicting_credentials",
            ),
            (
                AuthError::WorkspaceMismatch {
                    header: "x-workspace-handle",
                }
                .into(),
                S::FORBIDDEN,
                "workspace_mismatch",
            ),
            (
                VerifyError::Auth(AuthError::UnknownKey).into(),
                S::UNAUTHORIZED,
                "unknown_key",
            ),
            (
                VerifyError::Store(store_error()).into(),
                S::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
            (denial.clone().into(), S::FORBIDDEN, "insufficient_scope"),
            (
                AuthzError::Denied(denial).into(),
                S::FORBIDDEN,
                "insufficient_scope",
            ),
            (
                AuthzError::Internal("entities".to_owned()).into(),
                S::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
            (
                UserAuthzError::Denied(Action::CreateApiKey).into(),
                S::FORBIDDEN,
                "forbidden",
            ),
            (
                UserAuthzError::Internal("request".to_owned()).into(),
                S::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
            (
                ObjectsError::Invalid(vec![]).into(),
                S::BAD_REQUEST,
                "validation_failed",
            ),
            (
                ObjectsError::UniqueConflict.into(),
                S::CONFLICT,
                "unique_conflict",
            ),
            (
                ObjectsError::RecordsBlockChange("2 record(s)".to_owned()).into(),
                S::CONFLICT,
                "records_block_change",
            ),
            (
                ObjectsError::AttributeBeingRemoved("region".to_owned()).into(),
                S::CONFLICT,
                "attribute_being_removed",
            ),
            (
                ObjectsError::RecordsDenied {
                    action: "upsertRecords",
                    records: vec![],
                }
                .into(),
                S::FORBIDDEN,
                "records_denied",
            ),
            (
                ObjectsError::Authz(AuthzError::Internal("entities".to_owned())).into(),
                S::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
            (
                ObjectsError::Store(store_error()).into(),
                S::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
            (
                KeyError::Invalid("a name".to_owned()).into(),
                S::BAD_REQUEST,
                "invalid_key_request",
            ),
            (
                KeyError::NotFound("key_1".to_owned()).into(),
                S::NOT_FOUND,
                "not_found",
            ),
            (
                KeyError::Revoked("key_1".to_owned()).into(),
                S::CONFLICT,
                "key_not_active",
            ),
            (
                KeyError::Expired("key_1".to_owned()).into(),
                S::CONFLICT,
                "key_not_active",
            ),
            (
                KeyError::Store(store_error()).into(),
                S::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
            (
                WorkspaceError::Invalid("a name".to_owned()).into(),
                S::BAD_REQUEST,
                "invalid_workspace",
            ),
            (
                WorkspaceError::Exists(handle).into(),
                S::CONFLICT,
                "workspace_exists",
            ),
            (
                WorkspaceError::Store(store_error()).into(),
                S::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
            (
                AccountError::Invalid("an email".to_owned()).into(),
                S::BAD_REQUEST,
                "invalid_account",
            ),
            (AccountError::EmailTaken.into(), S::CONFLICT, "email_taken"),
            (
                AccountError::SignupClosed.into(),
                S::FORBIDDEN,
                "signup_closed",
            ),
            (
                AccountError::BadCredentials.into(),
                S::UNAUTHORIZED,
                "bad_credentials",
            ),
            (
                AccountError::RateLimited {
                    detail: "wait".to_owned(),
                    retry_after_secs: 60,
                }
                .into(),
                S::TOO_MANY_REQUESTS,
                "too_many_requests",
            ),
            (
                AccountError::Store(store_error()).into(),
                S::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
            (
                AccountError::Hashing("salt".to_owned()).into(),
                S::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
            (AccessError::NotFound.into(), S::NOT_FOUND, "not_found"),
            (
                AccessError::Denied("admins only".to_owned()).into(),
                S::FORBIDDEN,
                "forbidden",
            ),
            (
                AccessError::Store(store_error()).into(),
                S::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
            (
                AccessError::Internal("entities".to_owned()).into(),
                S::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
            (
                store_error().into(),
                S::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
            (
                ApiError::NotFound("no route".to_owned()),
                S::NOT_FOUND,
                "not_found",
            ),
            (
                ApiError::PreconditionFailed("stale".to_owned()),
                S::PRECONDITION_FAILED,
                "precondition_failed",
            ),
            (
                ApiError::Unprocessable {
                    code: "idempotency_key_reused",
                    detail: "another body".to_owned(),
                },
                S::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
            ),
            (
                ApiError::Conflict {
                    code: "object_has_records",
                    detail: "3".to_owned(),
                },
                S::CONFLICT,
                "object_has_records",
            ),
            (
                ApiError::Validation(vec![]),
                S::BAD_REQUEST,
                "validation_failed",
            ),
            (
                ApiError::InvalidQuery(vec![]),
                S::BAD_REQUEST,
                "validation_failed",
            ),
            (
                ApiError::BadRequest {
                    code: "invalid_json",
                    detail: "x".to_owned(),
                },
                S::BAD_REQUEST,
                "invalid_json",
            ),
            (
                ApiError::UnsupportedMediaType("text/plain".to_owned()),
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                ApiError::MethodNotAllowed,
                S::METHOD_NOT_ALLOWED,
                "method_not_allowed",
            ),
            (
                ApiError::PayloadTooLarge { limit: 10 },
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
            (
                ApiError::Unavailable("db".to_owned()),
                S::SERVICE_UNAVAILABLE,
                "unavailable",
            ),
            (
                ApiError::Timeout { after: secs },
                S::REQUEST_TIMEOUT,
                "request_timeout",
            ),
            (
                ApiError::BadCredentials("no".to_owned()),
                S::UNAUTHORIZED,
                "bad_credentials",
            ),
            (
                ApiError::SessionRequired("sign in".to_owned()),
                S::UNAUTHORIZED,
                "session_required",
            ),
            (
                ApiError::Forbidden {
                    code: "csrf",
                    detail: "x".to_owned(),
                },
                S::FORBIDDEN,
                "csrf",
            ),
            (
                ApiError::TooManyRequests {
                    detail: "x".to_owned(),
                    retry_after_secs: 1,
                },
                S::TOO_MANY_REQUESTS,
                "too_many_requests",
            ),
            (
                ApiError::RateLimited {
                    limit: 5,
                    reset_secs: 1,
                },
                S::TOO_MANY_REQUESTS,
                "rate_limited",
            ),
            (
                ApiError::Internal(anyhow::anyhow!("boom")),
                S::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
        ]
    }

    #[test]
    fn each_failure_maps_to_its_status_and_code() {
        for (error, status, code) in table() {
            assert_eq!(error.status(), status, "{error:?}");
            assert_eq!(error.code(), code, "{error:?}");
        }
    }

    #[test]
    fn the_table_covers_every_variant() {
        let table = table();
        let covered: std::collections::BTreeSet<&str> =
            table.iter().map(|(error, _, _)| variant(error)).collect();
        assert_eq!(covered.len(), VARIANTS, "variants with a case: {covered:?}");
        let auth: std::collections::BTreeSet<&str> = table
            .iter()
            .filter_map(|(error, _, _)| match error {
                ApiError::Auth(auth) => Some(auth_variant(auth)),
                _ => None,
            })
            .collect();
        assert_eq!(
            auth.len(),
            AUTH_VARIANTS,
            "authentication failures with a case: {auth:?}"
        );
    }

    #[test]
    fn every_failure_is_problem_json_with_its_code() {
        for (error, status, code) in table() {
            let response = error.into_response();
            assert_eq!(response.status(), status);
            assert_eq!(
                response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .map(|v| v.as_bytes()),
                Some(&b"application/problem+json"[..]),
                "{code}"
            );
        }
    }

    #[test]
    fn an_internal_error_never_shows_its_cause() {
        let error = ApiError::Internal(anyhow::anyhow!("SELECT * FROM api_keys failed"));
        assert_eq!(error.to_string(), "internal error");
    }

    #[test]
    fn scope_denials_carry_an_insufficient_scope_challenge() {
        let error: ApiError = Denial {
            action: Action::CreateObject,
            missing_permission: Some(Permission::ObjectsWrite),
        }
        .into();
        assert_eq!(
            error.challenge().as_deref(),
            Some("Bearer realm=\"andi\", error=\"insufficient_scope\", scope=\"objects.write\"")
        );
    }
}
