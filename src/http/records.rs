//! The record routes of an object: upsert-many, patch-many, get, delete, delete-many and
//! query. Batches and single-record routes ask Cedar about the object or the record
//! before revealing whether either exists.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{SubsecRound, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::etag::ETag;
use super::extract::{Authenticated, JsonBody};
use super::object_access::{authorized_object, object_not_found, placeholder_id, relock};
use super::state::AppState;
use crate::authz::{Action, AuthzError, Resource};
use crate::issue::Issues;
use crate::objects::attribute_value::is_record_id;
use crate::objects::batch::{self, BatchContext, Change, Decide};
use crate::objects::change;
use crate::objects::definition::ObjectDefinition;
use crate::objects::error::{DeniedRecord, ObjectsError};
use crate::objects::handle::ObjectHandle;
use crate::objects::query::RecordQuery;
use crate::objects::query::parse::{parse_query_body, parse_query_params};
use crate::objects::record::{Record, RecordView};
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
    operation_id = "upsertRecords",
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
        (status = 403, description = "The key lacks `objects.write`, or policies deny some records (`records_denied`: `deniedRecords` names each; nothing is written)"),
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
    let decide = record_decisions(&state, &auth, &definition, Action::UpsertRecords);
    let mut upserted = batch::upsert_many(
        &txn,
        &definition,
        &body,
        batch_context(&state, &auth, &decide),
    )
    .await?;
    change::hold_writes(&txn, &definition, &mut upserted.records).await?;
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
    operation_id = "patchRecords",
    tag = "records",
    description = "Merges changes into existing records: given attributes are set, `null` removes an optional one, others are kept. Every id must exist. Atomic. Needs `objects.write` (action `patchRecords`).",
    params(("handle" = String, Path, description = "The object's handle")),
    request_body(content = Object, example = json!({
        "records": [{"id": "inv_2", "attributes": {"status": "open", "dueOn": null}}]
    })),
    responses(
        (status = 200, body = PatchResult),
        (status = 400, description = "Invalid batch; `issues` lists every problem"),
        (status = 403, description = "The key lacks `objects.write`, or policies deny some records (`records_denied`: `deniedRecords` names each; nothing is written)"),
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
    let decide = record_decisions(&state, &auth, &definition, Action::PatchRecords);
    let mut records = batch::patch_many(
        &txn,
        &definition,
        &body,
        batch_context(&state, &auth, &decide),
    )
    .await?;
    change::hold_writes(&txn, &definition, &mut records).await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(Json(PatchResult {
        updated: records.len(),
        records: records.iter().map(RecordView::from).collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/api/objects/{handle}/data/delete-many",
    operation_id = "deleteRecords",
    tag = "records",
    description = "Soft-deletes the listed records: they are kept with a deletion time and hidden from every read. Every id must exist; atomic. Needs `objects.write` (action `deleteRecords` on the object).",
    params(("handle" = String, Path, description = "The object's handle")),
    request_body(content = Object, example = json!({"ids": ["inv_2"]})),
    responses(
        (status = 200, body = DeleteResult),
        (status = 400, description = "Invalid ids; `issues` lists each"),
        (status = 403, description = "The key lacks `objects.write`, or policies deny the object or some records (`records_denied`: `deniedRecords` names each; nothing is deleted)"),
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
    let decide = record_decisions(&state, &auth, &definition, Action::DeleteRecords);
    let deleted = batch::delete_many(
        &txn,
        &definition,
        &body,
        batch_context(&state, &auth, &decide),
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(Json(DeleteResult { deleted }))
}

fn batch_context<'a>(
    state: &AppState,
    auth: &'a Authenticated,
    decide: Decide<'a>,
) -> BatchContext<'a> {
    BatchContext {
        max_records: state.limits.max_batch_records,
        now: now(),
        author: &auth.principal.key_id,
        decide,
    }
}

/// Decides each record a batch changes with `action`: as it is, when it exists, and as
/// the batch would leave it, so a key can neither change a record it may not write nor
/// produce one it could not write. Values the policies could not read as the schema
/// declares are refused first, by JSON path.
fn record_decisions<'a>(
    state: &'a AppState,
    auth: &'a Authenticated,
    definition: &'a ObjectDefinition,
    action: Action,
) -> impl Fn(&[Change<'_>]) -> Result<(), ObjectsError> + Sync + 'a {
    move |changes| {
        let bundle = state.authz.snapshot();
        let mut issues = Issues::new();
        for change in changes {
            let Some(after) = change.after else { continue };
            for (key, message) in bundle.record_attributes.check_values(&after.attributes) {
                issues.push(
                    &[
                        "records".into(),
                        change.index.into(),
                        "attributes".into(),
                        key.as_str().into(),
                    ],
                    message,
                );
            }
        }
        if !issues.is_empty() {
            return Err(ObjectsError::Invalid(issues.into_vec()));
        }
        let mut asked = Vec::new();
        let mut resources = Vec::new();
        for change in changes {
            for (state, record) in [("before", change.before), ("after", change.after)] {
                if let Some(record) = record {
                    asked.push((change.index, record.id.as_str(), state));
                    resources.push(Resource::record(definition, &record.id, Some(record)));
                }
            }
        }
        let denied =
            state
                .authz
                .authorize_each(&auth.principal, action, &resources, &auth.context)?;
        if denied.is_empty() {
            return Ok(());
        }
        Err(ObjectsError::RecordsDenied {
            action: action.as_str(),
            records: denied
                .into_iter()
                .map(|d| {
                    let (index, id, state) = asked[d.position];
                    DeniedRecord {
                        index,
                        id: id.to_owned(),
                        state,
                        policies: d.policies,
                        errors: d.errors,
                    }
                })
                .collect(),
        })
    }
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
        Some(d) if is_record_id(id) => store::records::find_live(&state.db, d, id).await?,
        _ => None,
    };
    let resource = match &definition {
        Some(definition) => Resource::record(definition, id, record.as_ref()),
        None => Resource::Record {
            id: id.to_owned(),
            object_id: placeholder_id(handle),
            object_handle: handle.to_owned(),
            workspace_id: workspace_id.clone(),
            data: None,
        },
    };
    match state
        .authz
        .authorize(&auth.principal, action, &resource, &auth.context)
    {
        // A record the key may not read is answered as a missing one would be, so a
        // denial never tells that it exists (and queries leave it out alike).
        Err(AuthzError::Denied(_))
            if action == Action::GetRecord
                && let (Some(definition), Some(_)) = (&definition, &record) =>
        {
            let missing = Resource::record(definition, id, None);
            state
                .authz
                .authorize(&auth.principal, action, &missing, &auth.context)?;
            return Err(record_not_found(handle, id));
        }
        denied_or_allowed => denied_or_allowed?,
    }
    let definition = definition.ok_or_else(|| object_not_found(handle))?;
    Ok((definition, record))
}

fn record_not_found(handle: &str, id: &str) -> ApiError {
    ApiError::NotFound(format!("there is no `{handle}` record `{id}`"))
}

#[utoipa::path(
    get,
    path = "/api/objects/{handle}/data/{id}",
    operation_id = "getRecord",
    tag = "records",
    description = "One live record. Needs `objects.read` (action `getRecord`, decided on the record with its attributes). A record the policies hide from this key is answered 404, as a missing one would be (403 when a missing one would be denied too).",
    params(
        ("handle" = String, Path, description = "The object's handle"),
        ("id" = String, Path, description = "The record's id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag read before; 304 when the version is still the same"),
    ),
    responses(
        (status = 200, body = RecordView, headers(("ETag" = String, description = "The version read; send it as If-Match to change exactly this version"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 403, description = "The key lacks `objects.read`, or a policy denies this record"),
        (status = 404, description = "No such object or record"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn record_get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((handle, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, record) = authorized_record(&state, &auth, &handle, &id, Action::GetRecord).await?;
    let record = record.ok_or_else(|| record_not_found(&handle, &id))?;
    let view = RecordView::from(&record);
    let etag = ETag::of(&view)?;
    if etag.not_modified(&headers) {
        return Ok((StatusCode::NOT_MODIFIED, [etag.header()]).into_response());
    }
    Ok(([etag.header()], Json(view)).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/objects/{handle}/data/{id}",
    operation_id = "deleteRecord",
    tag = "records",
    description = "Soft-deletes one record. Needs `objects.write` (action `deleteRecords` on the record).",
    params(
        ("handle" = String, Path, description = "The object's handle"),
        ("id" = String, Path, description = "The record's id"),
        ("If-Match" = Option<String>, Header, description = "Apply only if the current version has this ETag (or `*`); 412 otherwise"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 412, description = "If-Match names another version: it changed since it was read (`precondition_failed`)"),
        (status = 403, description = "The key lacks `objects.write`, or a policy forbids it"),
        (status = 404, description = "No such object or record"),
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn record_delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((handle, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (definition, record) =
        authorized_record(&state, &auth, &handle, &id, Action::DeleteRecords).await?;
    if record.is_none() {
        return Err(record_not_found(&handle, &id));
    }
    let txn = store::begin_write(&state.db).await?;
    let definition = relock(&txn, &definition).await?;
    if headers.contains_key(header::IF_MATCH) {
        // The version the client read is compared with the one this transaction deletes.
        let current = store::records::find_live(&txn, &definition, &id)
            .await?
            .ok_or_else(|| record_not_found(&handle, &id))?;
        ETag::of(&RecordView::from(&current))?.check_if_match(&headers)?;
    }
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

/// How many pages' worth of rows one query request examines at most when the policies
/// hide some: past it, the page is returned short, with a cursor after the last row
/// examined, so a query over records a key mostly may not see stays bounded.
const EXAMINED_PAGES: usize = 10;

/// One page of the records `query` matches that the key may read. The policies' filter
/// (partial evaluation of `getRecord` with the record unknown) is part of the SQL, so when
/// it is exact the database returns only readable rows and a page fills in one read. When
/// some part of it has no SQL form, rows are read in the query's order a page at a time
/// and each is decided as `getRecord` would decide it, until the page is full, the object
/// ends, or [`EXAMINED_PAGES`] pages were examined. The cursor resumes strictly after the
/// last row examined, so no row is skipped or returned twice.
async fn run_query(
    state: &AppState,
    auth: &Authenticated,
    definition: &ObjectDefinition,
    query: &RecordQuery,
) -> Result<Json<QueryPage>, ApiError> {
    let filter = state
        .authz
        .query_filter(&auth.principal, definition, &auth.context)?;
    let budget = query.limit.saturating_mul(EXAMINED_PAGES);
    let mut items: Vec<Record> = Vec::new();
    let mut examined = 0;
    let mut chunk = query.clone();
    let next_cursor = loop {
        let mut rows =
            store::record_query::query(&state.db, definition, &chunk, &filter.condition).await?;
        let more_after_chunk = rows.len() > chunk.limit;
        rows.truncate(chunk.limit);
        let resources: Vec<Resource> = rows
            .iter()
            .map(|row| Resource::record(definition, &row.id, Some(row)))
            .collect();
        let allowed = if filter.exact {
            state
                .authz
                .readable(&auth.principal, Action::GetRecord, &resources)?
        } else {
            let visible = state.authz.visible(
                &auth.principal,
                Action::GetRecord,
                &resources,
                &auth.context,
            )?;
            if visible.shared == Some(false) {
                // No row of this object is visible to this key.
                break None;
            }
            visible.each
        };
        let row_count = rows.len();
        let mut last_examined = None;
        let mut unexamined_in_chunk = false;
        for (position, (row, allowed)) in rows.into_iter().zip(allowed).enumerate() {
            examined += 1;
            if allowed {
                items.push(row.clone());
            }
            last_examined = Some(row);
            if items.len() == query.limit {
                unexamined_in_chunk = position + 1 < row_count;
                break;
            }
        }
        let Some(last) = last_examined else {
            break None;
        };
        if items.len() == query.limit {
            break (unexamined_in_chunk || more_after_chunk).then(|| query.cursor_after(&last));
        }
        if !more_after_chunk {
            break None;
        }
        if examined >= budget {
            break Some(query.cursor_after(&last));
        }
        chunk = query.continuing_after(&last);
    };
    Ok(Json(QueryPage {
        items: items.iter().map(RecordView::from).collect(),
        next_cursor,
    }))
}

#[utoipa::path(
    get,
    path = "/api/objects/{handle}/query",
    operation_id = "queryRecords",
    tag = "records",
    description = "Live records that match every filter, sorted, one page at a time (keyset: stable while records are inserted). Fields: any attribute key, `id`, `name`, `createdAt`, `updatedAt`, `createdBy`, `updatedBy`. Operators: eq, ne, gt, gte, lt, lte, contains (case-insensitive substring; for a multiselect, holds the option), in (comma-separated), exists (true/false). Needs `objects.read` (action `queryRecords`); returns exactly the records `getRecord` would let this key read: the record-level policies become part of the query's SQL. When a policy has a part with no SQL form (arithmetic on a record value, say), rows are decided one by one and a page may come back short with a `nextCursor` (at most ten pages of rows are examined per request); follow it to the end. Filter and sort fields include `createdBy` and `updatedBy` (key ids).",
    params(
        ("handle" = String, Path, description = "The object's handle"),
        ("filter" = Option<Vec<String>>, Query, description = "`<field>:<op>:<value>`, repeatable; all must hold. E.g. `status:eq:open`, `amount:gte:100`"),
        ("sort" = Option<String>, Query, description = "Comma-separated fields, `-` for descending; default `createdAt`, then `id`"),
        ("limit" = Option<usize>, Query, minimum = 1, maximum = 1000, description = "Page size, 1 to 1000 (the server's ANDI_MAX_PAGE_SIZE, 1000 by default); default 50"),
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
    run_query(&state, &auth, &definition, &query).await
}

#[utoipa::path(
    post,
    path = "/api/objects/{handle}/query",
    operation_id = "queryRecordsWithBody",
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
    run_query(&state, &auth, &definition, &query).await
}
