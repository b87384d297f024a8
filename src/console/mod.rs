//! The console: people sign up and in, create workspaces, add members and manage a
//! workspace's API keys in a browser, through server-rendered pages and a session-only JSON
//! API (`/api/v1/…`).
//!
//! Security-sensitive: this is where passwords are checked and sessions start. Passwords
//! are argon2id-hashed off the async runtime; sessions live in the database and travel in
//! an HttpOnly, SameSite=Lax cookie; every state-changing request needs the session's CSRF
//! token and a same-origin `Origin`; every console action is a Cedar decision with a `User`
//! principal.

pub mod access;
pub mod api;
pub mod form;
pub mod pages;
pub mod session;
pub mod settings;
pub mod view;

use axum::Router;
use axum::routing::{get, post};

use crate::http::state::AppState;

/// The console's pages, assets and JSON API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::sign_in::home))
        .route(
            "/sign-in",
            get(pages::sign_in::sign_in_page).post(pages::sign_in::sign_in),
        )
        .route(
            "/sign-up",
            get(pages::sign_in::sign_up_page).post(pages::sign_in::sign_up),
        )
        .route("/sign-out", post(pages::sign_in::sign_out))
        .route(
            "/workspaces",
            get(pages::workspaces::workspaces_page).post(pages::workspaces::workspace_create),
        )
        .route(
            "/workspaces/{handle}",
            get(pages::workspaces::workspace_open),
        )
        .route(
            "/workspaces/{handle}/api-keys",
            get(pages::api_keys::api_keys_page).post(pages::api_keys::api_key_create),
        )
        .route(
            "/workspaces/{handle}/api-keys/{id}/revoke",
            get(pages::api_keys::revoke_confirm).post(pages::api_keys::api_key_revoke),
        )
        .route(
            "/workspaces/{handle}/api-keys/{id}/rotate",
            get(pages::api_keys::rotate_form).post(pages::api_keys::api_key_rotate),
        )
        .route(
            "/workspaces/{handle}/members",
            get(pages::members::members_page).post(pages::members::member_add),
        )
        .route("/console/assets/{file}", get(view::asset))
}
