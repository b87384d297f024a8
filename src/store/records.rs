//! Record rows and unique attribute values, always filtered by workspace and object.
//!
//! Attributes are a JSON column (JSONB on PostgreSQL, JSON text on SQLite); filters, sorts
//! and unique checks run in SQL on it (`->>` on PostgreSQL, `json_extract` on SQLite),
//! so no query loads rows to filter them in Rust. The SQL is built here with bound values
//! for everything a client sends; attribute keys, which are inlined, are validated
//! identifiers (`[a-z][a-zA-Z0-9_]*`).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};
use serde_json::{Map, Value as Json};

use super::StoreError;
use crate::objects::query::{Condition, Field, RecordQuery, Scalar, ValueClass};
use crate::objects::record::Record;

/// Rows written per INSERT: well under both backends' bound-parameter limits.
const INSERT_CHUNK: usize = 200;
/// Values per `IN (…)` list.
const IN_CHUNK: usize = 500;

/// SQL text with its bound values, in the placeholder style of the backend.
struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DbBackend, text: &str) -> Sql {
        Sql {
            backend,
            text: text.to_owned(),
            values: Vec::new(),
        }
    }

    fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: impl Into<Value>) -> &mut Sql {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => {
                let n = self.values.len();
                self.text.push_str(&format!("${n}"));
            }
            _ => self.text.push('?'),
        }
        self
    }

    fn bind_list<T: Into<Value> + Clone>(&mut self, items: &[T]) -> &mut Sql {
        self.push("(");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(item.clone());
        }
        self.push(")")
    }

    fn scope(&mut self, workspace_id: &str, object_id: &str) -> &mut Sql {
        self.push("workspace_id = ")
            .bind(workspace_id)
            .push(" AND object_id = ")
            .bind(object_id)
    }

    fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

const COLUMNS: &str = "id, name, attributes, created_at, updated_at";

fn to_record(row: &QueryResult) -> Result<Record, StoreError> {
    let attributes: Json = row.try_get("", "attributes")?;
    let attributes: Map<String, Json> = match attributes {
        Json::Object(map) => map,
        // SQLite may hand JSON back as its text.
        Json::String(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("record attributes: {e}")))?,
        other => {
            return Err(StoreError::Corrupt(format!(
                "record attributes are not an object: {other}"
            )));
        }
    };
    Ok(Record {
        id: row.try_get("", "id")?,
        name: row.try_get("", "name")?,
        attributes,
        created_at: row.try_get("", "created_at")?,
        updated_at: row.try_get("", "updated_at")?,
    })
}

/// The live records among `ids`.
pub async fn find_live_by_ids(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    ids: &[String],
) -> Result<Vec<Record>, StoreError> {
    let mut records = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut sql = Sql::new(
            db.get_database_backend(),
            &format!("SELECT {COLUMNS} FROM records WHERE "),
        );
        sql.scope(workspace_id, object_id)
            .push(" AND deleted_at IS NULL AND id IN ")
            .bind_list(chunk);
        for row in db.query_all_raw(sql.build()).await? {
            records.push(to_record(&row)?);
        }
    }
    Ok(records)
}

pub async fn find_live(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    id: &str,
) -> Result<Option<Record>, StoreError> {
    Ok(
        find_live_by_ids(db, workspace_id, object_id, &[id.to_owned()])
            .await?
            .pop(),
    )
}

pub async fn count_live(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
) -> Result<u64, StoreError> {
    let mut sql = Sql::new(
        db.get_database_backend(),
        "SELECT COUNT(*) AS n FROM records WHERE ",
    );
    sql.scope(workspace_id, object_id)
        .push(" AND deleted_at IS NULL");
    let row = db.query_one_raw(sql.build()).await?;
    let n: i64 = match row {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or_default())
}

pub async fn insert_records(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    records: &[&Record],
) -> Result<(), StoreError> {
    for chunk in records.chunks(INSERT_CHUNK) {
        let mut sql = Sql::new(
            db.get_database_backend(),
            "INSERT INTO records (workspace_id, object_id, id, name, attributes, created_at, updated_at) VALUES ",
        );
        for (i, record) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(workspace_id)
                .push(", ")
                .bind(object_id)
                .push(", ")
                .bind(record.id.as_str())
                .push(", ")
                .bind(record.name.clone())
                .push(", ")
                .bind(Json::Object(record.attributes.clone()))
                .push(", ")
                .bind(record.created_at)
                .push(", ")
                .bind(record.updated_at)
                .push(")");
        }
        db.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// Replaces the name, attributes and update time of a live record.
pub async fn update_record(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    record: &Record,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(db.get_database_backend(), "UPDATE records SET name = ");
    sql.bind(record.name.clone())
        .push(", attributes = ")
        .bind(Json::Object(record.attributes.clone()))
        .push(", updated_at = ")
        .bind(record.updated_at)
        .push(" WHERE ")
        .scope(workspace_id, object_id)
        .push(" AND deleted_at IS NULL AND id = ")
        .bind(record.id.as_str());
    db.execute_raw(sql.build()).await?;
    Ok(())
}

/// Soft-deletes live records: they stay, with a deletion time, hidden from every read.
pub async fn soft_delete(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    ids: &[String],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut deleted = 0;
    for chunk in ids.chunks(IN_CHUNK) {
        let mut sql = Sql::new(
            db.get_database_backend(),
            "UPDATE records SET deleted_at = ",
        );
        sql.bind(now)
            .push(" WHERE ")
            .scope(workspace_id, object_id)
            .push(" AND deleted_at IS NULL AND id IN ")
            .bind_list(chunk);
        deleted += db.execute_raw(sql.build()).await?.rows_affected();
    }
    delete_unique_values(db, workspace_id, object_id, ids).await?;
    Ok(deleted)
}

/// Removes an attribute from every record of an object.
pub async fn remove_attribute(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    key: &str,
) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    let set = match backend {
        DbBackend::Postgres => {
            format!("UPDATE records SET attributes = attributes - '{key}' WHERE ")
        }
        _ => format!("UPDATE records SET attributes = json_remove(attributes, '$.{key}') WHERE "),
    };
    let mut sql = Sql::new(backend, &set);
    sql.scope(workspace_id, object_id);
    db.execute_raw(sql.build()).await?;
    delete_unique_values_for_key(db, workspace_id, object_id, key).await
}

/// Live records in storage order after `after_pk`, for scans over a whole object.
pub async fn scan_live(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    after_pk: i64,
    limit: u64,
) -> Result<Vec<(i64, Record)>, StoreError> {
    let mut sql = Sql::new(
        db.get_database_backend(),
        &format!("SELECT pk, {COLUMNS} FROM records WHERE "),
    );
    sql.scope(workspace_id, object_id)
        .push(" AND deleted_at IS NULL AND pk > ")
        .bind(after_pk)
        .push(&format!(" ORDER BY pk LIMIT {limit}"));
    db.query_all_raw(sql.build())
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", "pk")?, to_record(row)?)))
        .collect()
}

/// Which live records of another object (or this one) exist among `ids`.
pub async fn find_existing_ids(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    ids: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut found = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut sql = Sql::new(db.get_database_backend(), "SELECT id FROM records WHERE ");
        sql.scope(workspace_id, object_id)
            .push(" AND deleted_at IS NULL AND id IN ")
            .bind_list(chunk);
        for row in db.query_all_raw(sql.build()).await? {
            found.push(row.try_get("", "id")?);
        }
    }
    Ok(found)
}

/// Which records hold the given unique keys of an attribute: `(key, record id)`.
pub async fn find_unique_owners(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    attribute: &str,
    values: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut owners = Vec::new();
    for chunk in values.chunks(IN_CHUNK) {
        let mut sql = Sql::new(
            db.get_database_backend(),
            "SELECT value, record_id FROM record_unique_values WHERE ",
        );
        sql.scope(workspace_id, object_id)
            .push(" AND attribute_key = ")
            .bind(attribute)
            .push(" AND value IN ")
            .bind_list(chunk);
        for row in db.query_all_raw(sql.build()).await? {
            owners.push((row.try_get("", "value")?, row.try_get("", "record_id")?));
        }
    }
    Ok(owners)
}

/// A unique attribute value held by a record.
pub struct UniqueValue<'a> {
    pub attribute: &'a str,
    pub value: String,
    pub record_id: &'a str,
}

/// Claims unique values; the unique index refuses a value another live record holds.
pub async fn insert_unique_values(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    values: &[UniqueValue<'_>],
) -> Result<(), StoreError> {
    for chunk in values.chunks(INSERT_CHUNK) {
        let mut sql = Sql::new(
            db.get_database_backend(),
            "INSERT INTO record_unique_values (workspace_id, object_id, attribute_key, value, record_id) VALUES ",
        );
        for (i, v) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(workspace_id)
                .push(", ")
                .bind(object_id)
                .push(", ")
                .bind(v.attribute)
                .push(", ")
                .bind(v.value.as_str())
                .push(", ")
                .bind(v.record_id)
                .push(")");
        }
        db.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// Releases every unique value the given records hold.
pub async fn delete_unique_values(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    record_ids: &[String],
) -> Result<(), StoreError> {
    for chunk in record_ids.chunks(IN_CHUNK) {
        let mut sql = Sql::new(
            db.get_database_backend(),
            "DELETE FROM record_unique_values WHERE ",
        );
        sql.scope(workspace_id, object_id)
            .push(" AND record_id IN ")
            .bind_list(chunk);
        db.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// Releases every value of one attribute (it is no longer unique, or is gone).
pub async fn delete_unique_values_for_key(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    attribute: &str,
) -> Result<(), StoreError> {
    let mut sql = Sql::new(
        db.get_database_backend(),
        "DELETE FROM record_unique_values WHERE ",
    );
    sql.scope(workspace_id, object_id)
        .push(" AND attribute_key = ")
        .bind(attribute);
    db.execute_raw(sql.build()).await?;
    Ok(())
}

/// One page of a query: up to `limit + 1` records, so the caller knows if more follow.
pub async fn query(
    db: &impl ConnectionTrait,
    workspace_id: &str,
    object_id: &str,
    query: &RecordQuery,
) -> Result<Vec<Record>, StoreError> {
    let backend = db.get_database_backend();
    let mut sql = Sql::new(backend, &format!("SELECT {COLUMNS} FROM records WHERE "));
    sql.scope(workspace_id, object_id)
        .push(" AND deleted_at IS NULL");
    for filter in &query.filters {
        sql.push(" AND ");
        push_condition(&mut sql, &filter.field, &filter.condition);
    }
    if let Some(after) = &query.after {
        sql.push(" AND ");
        push_keyset(&mut sql, query, after);
    }
    sql.push(" ORDER BY ");
    for (i, key) in query.sort.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        let expr = expression(backend, &key.field);
        sql.push(&expr)
            .push(if key.descending { " DESC" } else { " ASC" });
        if key.field.nullable() {
            sql.push(" NULLS LAST");
        }
    }
    sql.push(&format!(" LIMIT {}", query.limit + 1));
    db.query_all_raw(sql.build())
        .await?
        .iter()
        .map(to_record)
        .collect()
}

/// The SQL expression of a field's value.
fn expression(backend: DbBackend, field: &Field) -> String {
    match field {
        Field::Id => "id".to_owned(),
        Field::Name => "name".to_owned(),
        Field::CreatedAt => "created_at".to_owned(),
        Field::UpdatedAt => "updated_at".to_owned(),
        Field::Attribute { key, .. } => {
            let key = key.as_str();
            match (backend, field.class()) {
                (DbBackend::Postgres, ValueClass::Number) => {
                    format!("((attributes->>'{key}')::double precision)")
                }
                (DbBackend::Postgres, ValueClass::Multi | ValueClass::Json) => {
                    format!("(attributes->'{key}')")
                }
                (DbBackend::Postgres, _) => format!("(attributes->>'{key}')"),
                _ => format!("json_extract(attributes, '$.{key}')"),
            }
        }
    }
}

/// A scalar as a bound value. Booleans are text on PostgreSQL (`->>` yields `true`) and
/// integers on SQLite (`json_extract` yields 1 or 0).
fn bound(backend: DbBackend, scalar: &Scalar) -> Value {
    match scalar {
        Scalar::Text(s) => Value::from(s.clone()),
        Scalar::Number(n) => Value::from(*n),
        Scalar::Bool(b) if backend == DbBackend::Postgres => Value::from(b.to_string()),
        Scalar::Bool(b) => Value::from(i64::from(*b)),
        Scalar::Time(t) => Value::from(*t),
    }
}

fn push_condition(sql: &mut Sql, field: &Field, condition: &Condition) {
    let backend = sql.backend;
    let expr = expression(backend, field);
    match condition {
        Condition::Compare(op, value) => {
            let nullable = field.nullable();
            if *op == crate::objects::query::CompareOp::Ne && nullable {
                sql.push(&format!("({expr} IS NULL OR {expr} <> "))
                    .bind(bound(backend, value))
                    .push(")");
            } else {
                sql.push(&format!("{expr} {} ", op.sql()))
                    .bind(bound(backend, value));
            }
        }
        Condition::Contains(text) => {
            let pattern = format!(
                "%{}%",
                text.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            match backend {
                DbBackend::Postgres => sql.push(&format!("{expr} ILIKE ")),
                // SQLite's LIKE ignores ASCII case; lower() extends that to what it folds.
                _ => sql.push(&format!("lower({expr}) LIKE lower(")),
            };
            sql.bind(pattern);
            if backend != DbBackend::Postgres {
                sql.push(")");
            }
            sql.push(" ESCAPE '\\'");
        }
        Condition::In(values) => {
            let bound_values: Vec<Value> = values.iter().map(|v| bound(backend, v)).collect();
            sql.push(&format!("{expr} IN ")).bind_list(&bound_values);
        }
        Condition::HasOption(option) => push_has_any(sql, field, std::slice::from_ref(option)),
        Condition::HasAnyOption(options) => push_has_any(sql, field, options),
        Condition::Exists(exists) => {
            let expr = match (backend, field) {
                (DbBackend::Postgres, Field::Attribute { key, .. }) => {
                    format!("(attributes->'{}')", key.as_str())
                }
                _ => expr,
            };
            sql.push(&format!(
                "{expr} IS {}NULL",
                if *exists { "NOT " } else { "" }
            ));
        }
    }
}

/// A multiselect holds at least one of `options`.
fn push_has_any(sql: &mut Sql, field: &Field, options: &[String]) {
    let Field::Attribute { key, .. } = field else {
        sql.push("FALSE");
        return;
    };
    let key = key.as_str();
    match sql.backend {
        DbBackend::Postgres => {
            sql.push(&format!(
                "EXISTS (SELECT 1 FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(attributes->'{key}') = 'array' THEN attributes->'{key}' ELSE '[]'::jsonb END) AS o(v) WHERE o.v IN "
            ));
        }
        _ => {
            sql.push(&format!(
                "EXISTS (SELECT 1 FROM json_each(attributes, '$.{key}') AS o WHERE o.value IN "
            ));
        }
    }
    sql.bind_list(options).push(")");
}

/// Rows strictly after the cursor in the query's order (nulls last in both directions).
fn push_keyset(sql: &mut Sql, query: &RecordQuery, after: &[Option<Scalar>]) {
    let backend = sql.backend;
    let mut disjuncts = 0;
    sql.push("(");
    for (i, key) in query.sort.iter().enumerate() {
        let Some(Some(value)) = after.get(i) else {
            // Nothing sorts after a null on this key: only ties on it, settled by later keys.
            continue;
        };
        if disjuncts > 0 {
            sql.push(" OR ");
        }
        disjuncts += 1;
        sql.push("(");
        for (j, earlier) in query.sort.iter().enumerate().take(i) {
            let expr = expression(backend, &earlier.field);
            match after.get(j) {
                Some(Some(v)) => {
                    sql.push(&format!("{expr} = ")).bind(bound(backend, v));
                }
                _ => {
                    sql.push(&format!("{expr} IS NULL"));
                }
            }
            sql.push(" AND ");
        }
        let expr = expression(backend, &key.field);
        let op = if key.descending { "<" } else { ">" };
        if key.field.nullable() {
            sql.push(&format!("({expr} {op} "))
                .bind(bound(backend, value))
                .push(&format!(" OR {expr} IS NULL)"));
        } else {
            sql.push(&format!("{expr} {op} "))
                .bind(bound(backend, value));
        }
        sql.push(")");
    }
    if disjuncts == 0 {
        sql.push("1 = 0");
    }
    sql.push(")");
}
