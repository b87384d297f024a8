//! The record routes of an object: upsert-many, patch-many, get, delete, delete-many and
//! query. Batches and single-record routes ask Cedar about the object or the record
//! before revealing whether either exists.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::{SubsecRound, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::{Authenticated, JsonBody};
use super::object_access::{authorized_object, object_not_found, placeholder_id, relock};
use super::state::AppState;
use crate::authz::{Action, Resource};
use crate::objects::attribute_value::is_record_id;
use crate::objects::batch;
use crate::objects::definition::ObjectDefinition;
use crate::objects::handle::ObjectHandle;
use crate::objects::query::RecordQuery;
use crate::objects::query::parse::{parse_query_body, parse_query_params};
use crate::objects::record::RecordView;
use crate::store::{self, StoreError};

/// Record times are kept to the microsecond, the precision both databases store, so a
/// cursor made from a returned record matches the stored row exactly.
fn now() -> chrono::DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[derive(Serialize, ToSchema)]
pub struct UpsertResult {
    created: usize,
    updated: usize,
    /// The written records, in input order.
    records: Vec<RecordView>,
}

#[derive(Serialize, ToSchema)]
pub struct PatchResult {
    updated: usize,
    records: Vec<RecordView>,
}

#[derive(Serialize, ToSchema)]
pub struct DeleteResult {
    deleted: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueryPage {
    items: Vec<RecordView>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/objects/{handle}/data/upsert-many",
    tag = "records",
    description = "Creates the records that match no live record and replaces `name` and `attributes` of those that do, matching on `id` (default) or on a unique attribute (`matchOn`). Atomic: one invalid record is a 400 listing every problem, and nothing is written. Needs `objects.write` (action `upsertRecords`).",
    params(("handle" = String, Path, description = "The object's handle")),
    request_body(content = Object, example = json!({
        "matchOn": "number",
        "records": [
            {"name": "INV-1", "attributes": {"number": "INV-1", "amount": 120.5, "status": "open"}},
            {"id": "inv_2", "attributes": {"number": "INV-2", "amount": 80, "status": "paid"}}
        ]
    })),
    responses(
        (status = 200, body = UpsertResult),
        (status = 400, description = "Invalid batch; `issues` lists every bad record and field by JSON path"),
        (status = 403, description = "The key lacks `objects.write`"),
        (status = 404, description = "No such object"),
        (status = 409, description = "A concurrent writer took a unique value; retry"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn records_upsert_many(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(handle): Path<String>,
    body: JsonBody,
) -> Result<Json<UpsertResult>, ApiError> {
    let definition = authorized_object(&state, &auth, &handle, Action::UpsertRecords).await?;
    let body = body.parse()?;
    let txn = store::begin_write(&state.db).await?;
    let definition = relock(&txn, &definition).await?;
    let upserted = batch::upsert_many(
        &txn,
        &definition,
        &body,
        state.limits.max_batch_records,
        now(),
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(Json(UpsertResult {
        created: upserted.created,
        updated: upserted.updated,
        records: upserted.records.iter().map(RecordView::from).collect(),
    }))
}

#[utoipa::path(
    patch,
    path = "/api/objects/{handle}/data/patch-many",
    tag = "records",
    description = "Merges changes into existing records: given attributes are set, `null` removes an optional one, others are kept. Every id must exist. Atomic. Needs `objects.write` (action `patchRecords`).",
    params(("handle" = String, Path, description = "The object's handle")),
    request_body(content = Object, example = json!({
        "records": [{"id": "inv_2", "attributes": {"status": "open", "note": null}}]
    })),
    responses(
        (status = 200, body = PatchResult),
        (status = 400, description = "Invalid batch; `issues` lists every problem"),
        (status = 403, description = "The key lacks `objects.write`"),
        (status = 404, description = "No such object"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn records_patch_many(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(handle): Path<String>,
    body: JsonBody,
) -> Result<Json<PatchResult>, ApiError> {
    let definition = authorized_object(&state, &auth, &handle, Action::PatchRecords).await?;
    let body = body.parse()?;
    let txn = store::begin_write(&state.db).await?;
    let definition = relock(&txn, &definition).await?;
    let records = batch::patch_many(
        &txn,
        &definition,
        &body,
        state.limits.max_batch_records,
        now(),
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(Json(PatchResult {
        updated: records.len(),
        records: records.iter().map(RecordView::from).collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/api/objects/{handle}/data/delete-many",
    tag = "records",
    description = "Soft-deletes the listed records: they are kept with a deletion time and hidden from every read. Every id must exist; atomic. Needs `objects.write` (action `deleteRecords` on the object).",
    params(("handle" = String, Path, description = "The object's handle")),
    request_body(content = Object, example = json!({"ids": ["inv_1", "inv_2"]})),
    responses(
        (status = 200, body = DeleteResult),
        (status = 400, description = "Invalid ids; `issues` lists each"),
        (status = 403, description = "The key lacks `objects.write`, or a policy forbids it"),
        (status = 404, description = "No such object"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn records_delete_many(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(handle): Path<String>,
    body: JsonBody,
) -> Result<Json<DeleteResult>, ApiError> {
    let definition = authorized_object(&state, &auth, &handle, Action::DeleteRecords).await?;
    let body = body.parse()?;
    let txn = store::begin_write(&state.db).await?;
    let definition = relock(&txn, &definition).await?;
    let deleted = batch::delete_many(
        &txn,
        &definition,
        &body,
        state.limits.max_batch_records,
        now(),
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(Json(DeleteResult { deleted }))
}

/// Finds the object and record a single-record route names and asks Cedar about the
/// record; like [`authorized_object`], a missing one is asked about as a placeholder first.
async fn authorized_record(
    state: &AppState,
    auth: &Authenticated,
    handle: &str,
    id: &str,
    action: Action,
) -> Result<(ObjectDefinition, Option<crate::objects::record::Record>), ApiError> {
    let workspace_id = &auth.principal.workspace.id;
    let definition = match ObjectHandle::parse(handle) {
        Ok(h) => store::objects::find_definition_by_handle(&state.db, workspace_id, &h).await?,
        Err(_) => None,
    };
    let record = match &definition {
        Some(d) if is_record_id(id) => {
            store::records::find_live(&state.db, workspace_id, &d.id, id).await?
        }
        _ => None,
    };
    let resource = Resource::Record {
        id: id.to_owned(),
        object_id: definition
            .as_ref()
            .map_or_else(|| placeholder_id(handle), |d| d.id.clone()),
        object_handle: handle.to_owned(),
        workspace_id: workspace_id.clone(),
    };
    state
        .authz
        .authorize(&auth.principal, action, &resource, &auth.context)?;
    let definition = definition.ok_or_else(|| object_not_found(handle))?;
    Ok((definition, record))
}

fn record_not_found(handle: &str, id: &str) -> ApiError {
    ApiError::NotFound(format!("there is no `{handle}` record `{id}`"))
}

#[utoipa::path(
    get,
    path = "/api/objects/{handle}/data/{id}",
    tag = "records",
    description = "One live record. Needs `objects.read` (action `getRecord`).",
    params(
        ("handle" = String, Path, description = "The object's handle"),
        ("id" = String, Path, description = "The record's id"),
    ),
    responses(
        (status = 200, body = RecordView),
        (status = 403, description = "The key lacks `objects.read`"),
        (status = 404, description = "No such object or record"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn record_get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((handle, id)): Path<(String, String)>,
) -> Result<Json<RecordView>, ApiError> {
    let (_, record) = authorized_record(&state, &auth, &handle, &id, Action::GetRecord).await?;
    let record = record.ok_or_else(|| record_not_found(&handle, &id))?;
    Ok(Json(RecordView::from(&record)))
}

#[utoipa::path(
    delete,
    path = "/api/objects/{handle}/data/{id}",
    tag = "records",
    description = "Soft-deletes one record. Needs `objects.write` (action `deleteRecords` on the record).",
    params(
        ("handle" = String, Path, description = "The object's handle"),
        ("id" = String, Path, description = "The record's id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "The key lacks `objects.write`, or a policy forbids it"),
        (status = 404, description = "No such object or record"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn record_delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((handle, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (definition, record) =
        authorized_record(&state, &auth, &handle, &id, Action::DeleteRecords).await?;
    if record.is_none() {
        return Err(record_not_found(&handle, &id));
    }
    let txn = store::begin_write(&state.db).await?;
    let definition = relock(&txn, &definition).await?;
    let deleted = store::records::soft_delete(
        &txn,
        &definition.workspace_id,
        &definition.id,
        std::slice::from_ref(&id),
        now(),
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    if deleted == 0 {
        return Err(record_not_found(&handle, &id));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn run_query(
    state: &AppState,
    definition: &ObjectDefinition,
    query: &RecordQuery,
) -> Result<Json<QueryPage>, ApiError> {
    let mut records =
        store::record_query::query(&state.db, &definition.workspace_id, &definition.id, query)
            .await?;
    let next_cursor = if records.len() > query.limit {
        records.truncate(query.limit);
        records.last().map(|last| query.cursor_after(last))
    } else {
        None
    };
    Ok(Json(QueryPage {
        items: records.iter().map(RecordView::from).collect(),
        next_cursor,
    }))
}

#[utoipa::path(
    get,
    path = "/api/objects/{handle}/query",
    tag = "records",
    description = "Live records that match every filter, sorted, one page at a time (keyset: stable while records are inserted). Fields: any attribute key, `id`, `name`, `createdAt`, `updatedAt`. Operators: eq, ne, gt, gte, lt, lte, contains (case-insensitive substring; for a multiselect, holds the option), in (comma-separated), exists (true/false). Needs `objects.read` (action `queryRecords`).",
    params(
        ("handle" = String, Path, description = "The object's handle"),
        ("filter" = Option<Vec<String>>, Query, description = "`<field>:<op>:<value>`, repeatable; all must hold. E.g. `status:eq:open`, `amount:gte:100`"),
        ("sort" = Option<String>, Query, description = "Comma-separated fields, `-` for descending; default `createdAt`, then `id`"),
        ("limit" = Option<usize>, Query, description = "Page size, 1-1000 (configurable); default 50"),
        ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page"),
    ),
    responses(
        (status = 200, body = QueryPage),
        (status = 400, description = "Unknown field, operator, or a value of the wrong type"),
        (status = 403, description = "The key lacks `objects.read`"),
        (status = 404, description = "No such object"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn records_query_get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(handle): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<QueryPage>, ApiError> {
    let definition = authorized_object(&state, &auth, &handle, Action::QueryRecords).await?;
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let query = parse_query_params(&params, &definition, state.limits.query())
        .map_err(ApiError::InvalidQuery)?;
    run_query(&state, &definition, &query).await
}

#[utoipa::path(
    post,
    path = "/api/objects/{handle}/query",
    tag = "records",
    description = "The same query as GET, as a JSON body: `{ where: { <field>: { <op>: value } }, sort: [\"-amount\"], limit, cursor }`. Values must have the field's JSON type; `in` takes a list. Needs `objects.read` (action `queryRecords`).",
    params(("handle" = String, Path, description = "The object's handle")),
    request_body(content = Object, example = json!({
        "where": {"status": {"eq": "open"}, "amount": {"gte": 100, "lt": 500}},
        "sort": ["-amount"],
        "limit": 100
    })),
    responses(
        (status = 200, body = QueryPage),
        (status = 400, description = "Unknown field, operator, or a value of the wrong type"),
        (status = 403, description = "The key lacks `objects.read`"),
        (status = 404, description = "No such object"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn records_query_post(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(handle): Path<String>,
    body: JsonBody,
) -> Result<Json<QueryPage>, ApiError> {
    let definition = authorized_object(&state, &auth, &handle, Action::QueryRecords).await?;
    let query = parse_query_body(&body.parse()?, &definition, state.limits.query())
        .map_err(ApiError::Validation)?;
    run_query(&state, &definition, &query).await
}
