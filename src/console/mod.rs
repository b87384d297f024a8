//! The console: people sign up and in, create workspaces, add members and manage a
//! workspace's API keys in a browser, through server-rendered pages and a session-only JSON
//! API (`/api/v1/…`).
//!
//! Security-sensitive: this is where passwords are checked and sessions start. Passwords
//! are argon2id-hashed off the async runtime; sessions live in the database and travel in
//! an HttpOnly, SameSite=Lax cookie; every state-changing request needs the session's CSRF
//! token and a same-origin `Origin`; every console action is a Cedar decision with a `User`
//! principal.

mod access;
mod account;
pub mod api;
mod form;
mod pages;
mod session;
mod view;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use clap::{Args, ValueEnum};

pub use account::{
    AccountError, MIN_PASSWORD_CHARS, MemberRole, Session, User, create_user, normalize_email,
};
pub use api::{
    ApiKeyList, CreateApiKey, CreateWorkspace, MemberWorkspace, RotateApiKey, WorkspaceList,
};

use crate::app::AppState;
use crate::config::parse_std_duration;

/// Whether strangers may create accounts from the sign-up page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignupMode {
    Open,
    /// Only the first account of a fresh install; later ones with `andi user create`.
    Closed,
}

/// Settings of the console.
#[derive(Debug, Clone, Args)]
pub struct ConsoleConfig {
    /// `open`: anyone may sign up; `closed`: only the first account (then `andi user create`).
    #[arg(long, env = "ANDI_SIGNUP", value_enum, default_value = "open")]
    pub signup: SignupMode,

    /// The URL people open, e.g. https://andi.example.com; when https, cookies are `Secure`,
    /// and state-changing requests must come from this origin.
    #[arg(long, env = "ANDI_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// How long a console session lasts after sign-in.
    #[arg(long, env = "ANDI_SESSION_TTL", default_value = "7d", value_parser = parse_std_duration)]
    pub session_ttl: Duration,

    /// Failed sign-ins per account within the window before it is locked for the window.
    #[arg(long, env = "ANDI_LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u64,

    /// Failed sign-ins per client IP within the window before it is refused for the window.
    #[arg(long, env = "ANDI_LOGIN_MAX_FAILURES_PER_IP", default_value_t = 20)]
    pub login_max_failures_per_ip: u64,

    /// Sign-ups per client IP within the window before it is refused for the window.
    #[arg(long, env = "ANDI_SIGNUP_MAX_PER_IP", default_value_t = 10)]
    pub signup_max_per_ip: u64,

    /// The window of the sign-in and sign-up rate limits.
    #[arg(long, env = "ANDI_LOGIN_WINDOW", default_value = "15m", value_parser = parse_std_duration)]
    pub login_window: Duration,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            signup: SignupMode::Open,
            public_url: None,
            session_ttl: Duration::from_secs(7 * 86_400),
            login_max_failures: 5,
            login_max_failures_per_ip: 20,
            signup_max_per_ip: 10,
            login_window: Duration::from_secs(15 * 60),
        }
    }
}

impl ConsoleConfig {
    /// Cookies are `Secure` when people reach the console over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }
}

/// The console's pages, assets and JSON API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/sign-in", get(pages::sign_in_page).post(pages::sign_in))
        .route("/sign-up", get(pages::sign_up_page).post(pages::sign_up))
        .route("/sign-out", post(pages::sign_out))
        .route(
            "/workspaces",
            get(pages::workspaces_page).post(pages::workspace_create),
        )
        .route("/workspaces/{handle}", get(pages::workspace_open))
        .route(
            "/workspaces/{handle}/api-keys",
            get(pages::api_keys_page).post(pages::api_key_create),
        )
        .route(
            "/workspaces/{handle}/api-keys/{id}/revoke",
            get(pages::revoke_confirm).post(pages::api_key_revoke),
        )
        .route(
            "/workspaces/{handle}/api-keys/{id}/rotate",
            get(pages::rotate_form).post(pages::api_key_rotate),
        )
        .route(
            "/workspaces/{handle}/members",
            get(pages::members_page).post(pages::member_add),
        )
        .route("/console/assets/{file}", get(view::asset))
}
