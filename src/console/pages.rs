//! The console's pages: sign-up, sign-in, workspaces, API keys and members. Every page
//! works without JavaScript; forms post back and redirect (post/redirect/get), so reloading
//! a page never repeats an action.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use minijinja::context;

use super::access;
use super::form::FormFields;
use super::session::{
    self, FORM_COOKIE, PageUser, SignedIn, cookie, same_origin, set_cookie, set_cookie_at,
    tokens_match,
};
use super::view::{KeyRow, PageError, render};
use crate::account::access::{AccessError, WorkspaceAccess};
use crate::account::password::MIN_PASSWORD_CHARS;
use crate::account::user::MemberRole;
use crate::account::{AccountError, membership, sign_in};
use crate::authz::{Action, Resource};
use crate::duration::parse_duration;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::id::random_base62;
use crate::keys::api_key::{ApiKey, NewKey};
use crate::keys::grant::{Grants, Permission, Role};
use crate::keys::lifecycle;
use crate::keys::lifecycle::KeyError;
use crate::keys::secret::Environment;
use crate::store;
use crate::workspace::create::WorkspaceError;

/// Carries a new key's secret across the redirect after create or rotate, to the one page
/// that shows it; that page clears it, so a reload shows nothing. It lives a minute, only
/// in the browser that asked for the key, and only on that workspace's keys page.
const ISSUED_COOKIE: &str = "andi_issued";

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
        let ip = session::client_ip(&parts);
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

/// `GET /workspaces`
pub async fn workspaces_page(
    State(state): State<AppState>,
    PageUser(me): PageUser,
) -> Result<Response, PageError> {
    workspaces_view(&state, &me, StatusCode::OK, None, "", "").await
}

async fn workspaces_view(
    state: &AppState,
    me: &SignedIn,
    status: StatusCode,
    error: Option<String>,
    handle: &str,
    name: &str,
) -> Result<Response, PageError> {
    access::decide(
        state,
        me,
        &access::console_principal(me),
        Action::ListWorkspaces,
        &Resource::Console,
    )?;
    let mine = store::users::find_workspaces_of_user(&state.db, &me.user.id).await?;
    let items: Vec<minijinja::Value> = mine
        .iter()
        .map(|(w, role)| {
            context! { handle => w.handle.as_str(), name => w.name, role => role.as_str() }
        })
        .collect();
    render(
        status,
        "workspaces.html",
        context! { me => chrome(me), workspaces => items, error => error, handle => handle, name => name },
    )
}

/// `POST /workspaces`: creates a workspace with the user as its admin.
pub async fn workspace_create(
    State(state): State<AppState>,
    user: PageUser,
    form: SubmittedForm,
) -> Result<Response, PageError> {
    user.check_form(form.fields.get("csrf"))?;
    let me = &user.0;
    access::decide(
        &state,
        me,
        &access::console_principal(me),
        Action::CreateWorkspace,
        &Resource::Console,
    )?;
    let (handle, name) = (form.fields.get("handle"), form.fields.get("name"));
    match membership::create_workspace_for(&state.db, &me.user, handle, name, Utc::now()).await {
        Ok(created) => {
            Ok(Redirect::to(&format!("/workspaces/{}/api-keys", created.handle)).into_response())
        }
        Err(error @ (WorkspaceError::Invalid(_) | WorkspaceError::Exists(_))) => {
            let message = error.to_string();
            let status = ApiError::from(error).status();
            workspaces_view(&state, me, status, Some(capitalize(&message)), handle, name).await
        }
        Err(other) => Err(other.into()),
    }
}

/// `GET /workspaces/{handle}`: a workspace opens on its API keys.
pub async fn workspace_open(
    State(state): State<AppState>,
    PageUser(me): PageUser,
    Path(handle): Path<String>,
) -> Result<Response, PageError> {
    let opened = access::open_workspace(&state.db, &me, &handle).await?;
    let resource = Resource::Workspace {
        id: opened.workspace.id.clone(),
    };
    access::decide(
        &state,
        &me,
        &opened.principal,
        Action::ViewWorkspace,
        &resource,
    )?;
    Ok(Redirect::to(&format!("/workspaces/{}/api-keys", opened.workspace.handle)).into_response())
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

fn keys_path(opened: &WorkspaceAccess) -> String {
    format!("/workspaces/{}/api-keys", opened.workspace.handle)
}

/// What the create form sent back, to fill it again after an error.
#[derive(Default, serde::Serialize)]
struct KeyDraft {
    name: String,
    permissions: Vec<String>,
    role: String,
    environment: String,
    expires_in: String,
}

/// `GET /workspaces/{handle}/api-keys`: the keys table, the create form, and a secret just
/// issued (once).
pub async fn api_keys_page(
    State(state): State<AppState>,
    PageUser(me): PageUser,
    Path(handle): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let opened = access::open_workspace(&state.db, &me, &handle).await?;
    let issued = cookie(&headers, ISSUED_COOKIE).and_then(|value| value.split_once(':'));
    let mut response = keys_view(
        &state,
        &me,
        &opened,
        StatusCode::OK,
        None,
        KeyDraft::default(),
        issued,
    )
    .await?;
    if issued.is_some() {
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie_at(&state.console, ISSUED_COOKIE, "", 0, &keys_path(&opened)),
        );
    }
    Ok(response)
}

async fn keys_view(
    state: &AppState,
    me: &SignedIn,
    opened: &WorkspaceAccess,
    status: StatusCode,
    error: Option<String>,
    draft: KeyDraft,
    issued: Option<(&str, &str)>,
) -> Result<Response, PageError> {
    let resource = Resource::Workspace {
        id: opened.workspace.id.clone(),
    };
    access::decide(state, me, &opened.principal, Action::ListApiKeys, &resource)?;
    let now = Utc::now();
    let keys = lifecycle::list_keys(&state.db, &opened.workspace)
        .await
        .map_err(ApiError::from)?;
    let issued = issued.and_then(|(id, secret)| {
        keys.iter()
            .find(|k| k.id == id)
            .map(|k| context! { name => k.name, id => k.id, secret => secret })
    });
    let rows: Vec<KeyRow> = keys.iter().map(|k| KeyRow::new(k, now)).collect();
    let draft = if draft.environment.is_empty() {
        KeyDraft {
            environment: "live".to_owned(),
            ..draft
        }
    } else {
        draft
    };
    render(
        status,
        "api_keys.html",
        context! {
            me => chrome(me),
            workspace => workspace_context(opened, "api-keys"),
            keys => rows,
            issued => issued,
            error => error,
            draft => draft,
            permissions => Permission::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            roles => Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        },
    )
}

/// Parses the create form into a new key, or says what to fix.
fn parse_new_key(form: &FormFields) -> Result<NewKey, String> {
    let permissions = form
        .all("permission")
        .into_iter()
        .map(str::parse::<Permission>)
        .collect::<Result<Vec<_>, _>>()?;
    let role = match form.get("role") {
        "" => None,
        role => Some(role.parse::<Role>()?),
    };
    let grants = Grants::new(role, permissions)?;
    let environment = match form.get("environment") {
        "" => Environment::Live,
        env => env.parse::<Environment>()?,
    };
    let expires_in = match form.get("expires_in") {
        "" | "never" => None,
        text => Some(parse_duration(text)?),
    };
    Ok(NewKey {
        name: form.get("name").to_owned(),
        grants,
        environment,
        expires_in,
    })
}

fn issued_cookie(
    state: &AppState,
    opened: &WorkspaceAccess,
    key: &ApiKey,
    secret: &str,
) -> HeaderValue {
    set_cookie_at(
        &state.console,
        ISSUED_COOKIE,
        &format!("{}:{secret}", key.id),
        60,
        &keys_path(opened),
    )
}

/// `POST /workspaces/{handle}/api-keys`
pub async fn api_key_create(
    State(state): State<AppState>,
    user: PageUser,
    Path(handle): Path<String>,
    form: SubmittedForm,
) -> Result<Response, PageError> {
    user.check_form(form.fields.get("csrf"))?;
    let me = &user.0;
    let opened = access::open_workspace(&state.db, me, &handle).await?;
    let resource = Resource::Workspace {
        id: opened.workspace.id.clone(),
    };
    access::decide(
        &state,
        me,
        &opened.principal,
        Action::CreateApiKey,
        &resource,
    )?;
    let fields = &form.fields;
    let draft = KeyDraft {
        name: fields.get("name").to_owned(),
        permissions: fields
            .all("permission")
            .into_iter()
            .map(str::to_owned)
            .collect(),
        role: fields.get("role").to_owned(),
        environment: fields.get("environment").to_owned(),
        expires_in: fields.get("expires_in").to_owned(),
    };
    let created = match parse_new_key(fields) {
        Ok(new) => lifecycle::create_key(&state.db, &opened.workspace, new, Utc::now()).await,
        Err(message) => Err(KeyError::Invalid(message)),
    };
    match created {
        Ok((secret, key)) => {
            let cookie = issued_cookie(&state, &opened, &key, secret.expose());
            Ok(see_other(&keys_path(&opened), &[cookie]))
        }
        Err(KeyError::Invalid(message)) => {
            keys_view(
                &state,
                me,
                &opened,
                StatusCode::BAD_REQUEST,
                Some(capitalize(&message)),
                draft,
                None,
            )
            .await
        }
        Err(other) => Err(ApiError::from(other).into()),
    }
}

/// A key of the opened workspace; another workspace's key is not found.
async fn key_in(state: &AppState, opened: &WorkspaceAccess, id: &str) -> Result<ApiKey, PageError> {
    match store::api_keys::find_key(&state.db, id).await? {
        Some(key) if key.workspace_id == opened.workspace.id => Ok(key),
        _ => Err(PageError::not_found()),
    }
}

fn key_resource(key: &ApiKey) -> Resource {
    Resource::ApiKey {
        id: key.id.clone(),
        workspace_id: key.workspace_id.clone(),
        environment: key.environment,
    }
}

/// `GET …/api-keys/{id}/revoke`: the confirmation step.
pub async fn revoke_confirm(
    State(state): State<AppState>,
    PageUser(me): PageUser,
    Path((handle, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    confirm_page(&state, &me, &handle, &id, Action::RevokeApiKey).await
}

/// `GET …/api-keys/{id}/rotate`: the rotation form, with its grace period.
pub async fn rotate_form(
    State(state): State<AppState>,
    PageUser(me): PageUser,
    Path((handle, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    confirm_page(&state, &me, &handle, &id, Action::RotateApiKey).await
}

async fn confirm_page(
    state: &AppState,
    me: &SignedIn,
    handle: &str,
    id: &str,
    action: Action,
) -> Result<Response, PageError> {
    let opened = access::open_workspace(&state.db, me, handle).await?;
    let key = key_in(state, &opened, id).await?;
    access::decide(state, me, &opened.principal, action, &key_resource(&key))?;
    render(
        StatusCode::OK,
        "confirm.html",
        context! {
            me => chrome(me),
            workspace => workspace_context(&opened, "api-keys"),
            key => KeyRow::new(&key, Utc::now()),
            rotate => action == Action::RotateApiKey,
        },
    )
}

/// `POST …/api-keys/{id}/revoke`
pub async fn api_key_revoke(
    State(state): State<AppState>,
    user: PageUser,
    Path((handle, id)): Path<(String, String)>,
    form: SubmittedForm,
) -> Result<Response, PageError> {
    user.check_form(form.fields.get("csrf"))?;
    let opened = access::open_workspace(&state.db, &user.0, &handle).await?;
    let key = key_in(&state, &opened, &id).await?;
    access::decide(
        &state,
        &user.0,
        &opened.principal,
        Action::RevokeApiKey,
        &key_resource(&key),
    )?;
    state
        .revoke_key(&key.id, Utc::now())
        .await
        .map_err(ApiError::from)?;
    Ok(Redirect::to(&keys_path(&opened)).into_response())
}

/// `POST …/api-keys/{id}/rotate`
pub async fn api_key_rotate(
    State(state): State<AppState>,
    user: PageUser,
    Path((handle, id)): Path<(String, String)>,
    form: SubmittedForm,
) -> Result<Response, PageError> {
    user.check_form(form.fields.get("csrf"))?;
    let opened = access::open_workspace(&state.db, &user.0, &handle).await?;
    let key = key_in(&state, &opened, &id).await?;
    access::decide(
        &state,
        &user.0,
        &opened.principal,
        Action::RotateApiKey,
        &key_resource(&key),
    )?;
    let grace = match form.fields.get("grace") {
        "" => chrono::Duration::zero(),
        text => parse_duration(text).map_err(|m| PageError::Status(StatusCode::BAD_REQUEST, m))?,
    };
    let (secret, new) = state
        .rotate_key(&key.id, grace, Utc::now())
        .await
        .map_err(ApiError::from)?;
    let cookie = issued_cookie(&state, &opened, &new, secret.expose());
    Ok(see_other(&keys_path(&opened), &[cookie]))
}

/// `GET /workspaces/{handle}/members`
pub async fn members_page(
    State(state): State<AppState>,
    PageUser(me): PageUser,
    Path(handle): Path<String>,
) -> Result<Response, PageError> {
    let opened = access::open_workspace(&state.db, &me, &handle).await?;
    members_view(&state, &me, &opened, StatusCode::OK, None).await
}

async fn members_view(
    state: &AppState,
    me: &SignedIn,
    opened: &WorkspaceAccess,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, PageError> {
    let resource = Resource::Workspace {
        id: opened.workspace.id.clone(),
    };
    access::decide(state, me, &opened.principal, Action::ListMembers, &resource)?;
    let now = Utc::now();
    let members: Vec<minijinja::Value> =
        store::users::find_members(&state.db, &opened.workspace.id)
            .await?
            .iter()
            .map(|(u, role)| {
                context! {
                    email => u.email,
                    role => role.as_str(),
                    you => u.id == me.user.id,
                    joined => super::view::when(Some(u.created_at), now, "—"),
                }
            })
            .collect();
    let invited: Vec<minijinja::Value> =
        store::users::find_invitations(&state.db, &opened.workspace.id)
            .await?
            .iter()
            .map(|(email, role, at)| {
                context! {
                    email => email,
                    role => role.as_str(),
                    invited => super::view::when(Some(*at), now, "—"),
                }
            })
            .collect();
    render(
        status,
        "members.html",
        context! {
            me => chrome(me),
            workspace => workspace_context(opened, "members"),
            members => members,
            invited => invited,
            error => error,
        },
    )
}

/// `POST /workspaces/{handle}/members`: invites an email as admin or member.
pub async fn member_add(
    State(state): State<AppState>,
    user: PageUser,
    Path(handle): Path<String>,
    form: SubmittedForm,
) -> Result<Response, PageError> {
    user.check_form(form.fields.get("csrf"))?;
    let me = &user.0;
    let opened = access::open_workspace(&state.db, me, &handle).await?;
    let resource = Resource::Workspace {
        id: opened.workspace.id.clone(),
    };
    access::decide(&state, me, &opened.principal, Action::AddMember, &resource)?;
    let role = form.fields.get("role").parse::<MemberRole>();
    let added = match role {
        Ok(role) => {
            membership::add_member(
                &state.db,
                &opened.workspace,
                &me.user,
                form.fields.get("email"),
                role,
                Utc::now(),
            )
            .await
        }
        Err(message) => Err(AccountError::Invalid(message)),
    };
    match added {
        Ok(_) => Ok(
            Redirect::to(&format!("/workspaces/{}/members", opened.workspace.handle))
                .into_response(),
        ),
        Err(AccountError::Invalid(message)) => {
            members_view(
                &state,
                me,
                &opened,
                StatusCode::BAD_REQUEST,
                Some(capitalize(&message)),
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}
