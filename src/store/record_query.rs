//! A typed [`RecordQuery`] as one SELECT over an object's live records: filters, sort and
//! a keyset page, evaluated in SQL on the attributes JSON (`->>` on PostgreSQL,
//! `json_extract` on SQLite), so no query loads rows to filter them in Rust.

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use super::StoreError;
use super::records::to_record;
use crate::objects::query::{Condition, Field, RecordQuery, Scalar, ValueClass};
use crate::objects::record::Record;

const COLUMNS: &str = "id, name, attributes, created_at, updated_at";

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
