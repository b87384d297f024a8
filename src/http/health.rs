//! Liveness and readiness, without a key.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::store;

#[derive(Serialize)]
pub struct Health {
    status: &'static str,
}

/// The process is up and serving.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    description = "The process is up. No key needed.",
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Object))
)]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    status: &'static str,
    database: &'static str,
    policy_version: String,
    policies: usize,
    /// Why the last policy reload was refused (the set above keeps serving); null once a
    /// good set loads.
    last_reload_error: Option<crate::authz::ReloadFailure>,
    /// Policy reloads tried since start, good or refused.
    policy_reloads: u64,
}

/// The database answers and a valid policy set is loaded.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    description = "The database answers and a valid policy set is loaded; reports the policy-set version. No key needed.",
    responses(
        (status = 200, description = "Ready", body = Object),
        (status = 503, description = "The database does not answer"),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    store::ping(&state.db)
        .await
        .map_err(|_| ApiError::Unavailable("the database does not answer".to_owned()))?;
    let bundle = state.authz.snapshot();
    Ok(Json(Readiness {
        status: "ready",
        database: "ok",
        policy_version: bundle.version.clone(),
        policies: bundle.policy_ids.len(),
        last_reload_error: state.authz.last_reload_failure().map(|f| (*f).clone()),
        policy_reloads: state.authz.reload_attempts(),
    }))
}
