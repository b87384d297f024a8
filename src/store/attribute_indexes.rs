//! The indexes of filterable attributes: one partial expression index per object and
//! attribute, over the live records of that object only, on the very expression that
//! [`super::record_query::expression`] filters and sorts by, then `created_at, id` (the
//! default page order), so an `eq` filter reads one page of the index in order. It leads
//! with the workspace (and on SQLite the object), as every query does: SQLite, without
//! statistics, ranks an index by the equalities it matches, and would otherwise prefer the
//! object's default-order index (two equalities) to this one (one).
//!
//! Why expression indexes rather than a typed value table or GIN: queries, cursors and the
//! SQL compiled from policies already speak in these expressions, so the index serves all of
//! them without a join, costs nothing for attributes that are not filterable, and a write
//! updates one more B-tree per filterable attribute instead of inserting one more row per
//! value (about what `record_unique_values` costs a unique attribute). GIN (`jsonb_path_ops`)
//! answers containment only, neither ranges nor sorts, and exists on PostgreSQL alone.
//!
//! Indexes are built and dropped outside the definition's transaction: on PostgreSQL with
//! `CREATE INDEX CONCURRENTLY`, so reads and writes of the records go on while it builds; on
//! SQLite readers go on (WAL) and writers wait for the build.

use sea_orm::sea_query::{Expr, ExprTrait, Query, SqliteQueryBuilder};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sha2::{Digest, Sha256};

use super::StoreError;
use super::record_query::expression;
use super::records::Records;
use crate::objects::attribute::Attribute;
use crate::objects::definition::ObjectDefinition;
use crate::objects::handle::AttributeKey;
use crate::objects::query::Field;

/// One filterable attribute's index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AttributeIndex {
    name: String,
    /// `CREATE INDEX` without its verb, name and `IF NOT EXISTS`: `ON records (…) WHERE …`.
    target: String,
}

/// The index of an attribute's values on one backend. Its name is derived from the object,
/// the key and the indexed expression, so a type change that changes the expression (text
/// to number) names a new index, and the old one is dropped.
fn attribute_index(
    backend: DbBackend,
    object_id: &str,
    key: &AttributeKey,
    attribute: &Attribute,
) -> AttributeIndex {
    let field = Field::Attribute {
        key: key.clone(),
        kind: attribute.kind.clone(),
    };
    let value = render(backend, expression(backend, &field));
    let live_of_object = render(
        backend,
        Expr::col(Records::ObjectId)
            .eq(object_id)
            .and(Expr::col(Records::DeletedAt).is_null()),
    );
    // The object is fixed by the predicate; SQLite needs it among the columns too (it ranks
    // indexes by the equalities they match), while PostgreSQL drops a condition its
    // predicate implies, and a column left without one would stop the value from being a
    // search key: it then read every entry of the workspace.
    let object_column = match backend {
        DbBackend::Postgres => "",
        _ => r#""object_id", "#,
    };
    let target = format!(
        r#"ON "records" ("workspace_id", {object_column}({value}), "created_at", "id") WHERE {live_of_object}"#
    );
    let digest = Sha256::digest(format!("{object_id}\n{}\n{target}", key.as_str()));
    AttributeIndex {
        name: format!("idx_records_attr_{}", &hex::encode(digest)[..20]),
        target,
    }
}

/// An expression as SQL text with its values inlined (escaped by sea-query), as index
/// definitions need: they cannot take bound parameters.
fn render(backend: DbBackend, expr: Expr) -> String {
    let select = Query::select().expr(expr).take();
    let sql = match backend {
        DbBackend::Postgres => select.to_string(sea_orm::sea_query::PostgresQueryBuilder),
        _ => select.to_string(SqliteQueryBuilder),
    };
    sql.strip_prefix("SELECT ").unwrap_or(&sql).to_owned()
}

/// The indexes a definition's filterable attributes need.
fn indexes_of(backend: DbBackend, definition: &ObjectDefinition) -> Vec<AttributeIndex> {
    definition
        .attributes
        .iter()
        .filter(|(_, attribute)| attribute.filterable)
        .map(|(key, attribute)| attribute_index(backend, &definition.id, key, attribute))
        .collect()
}

/// Brings the indexes of one object from what `before` needed to what `after` needs (none
/// for a created or deleted object), after the change committed. Every index `after` needs
/// is (re)built if missing, so running it again finishes a build that was cut short.
pub async fn sync_attribute_indexes(
    db: &DatabaseConnection,
    before: Option<&ObjectDefinition>,
    after: Option<&ObjectDefinition>,
) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    let wanted = after.map(|d| indexes_of(backend, d)).unwrap_or_default();
    let had = before.map(|d| indexes_of(backend, d)).unwrap_or_default();
    for index in had.iter().filter(|i| !wanted.contains(i)) {
        drop_index(db, &index.name).await?;
    }
    for index in &wanted {
        create_index(db, index).await?;
    }
    Ok(())
}

async fn create_index(db: &DatabaseConnection, index: &AttributeIndex) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            // A concurrent build that failed leaves an invalid index behind, which
            // `IF NOT EXISTS` would take for the finished one.
            if is_invalid_postgres_index(db, &index.name).await? {
                drop_index(db, &index.name).await?;
            }
            format!(
                r#"CREATE INDEX CONCURRENTLY IF NOT EXISTS "{}" {}"#,
                index.name, index.target
            )
        }
        _ => format!(
            r#"CREATE INDEX IF NOT EXISTS "{}" {}"#,
            index.name, index.target
        ),
    };
    db.execute_unprepared(&sql).await?;
    Ok(())
}

async fn drop_index(db: &DatabaseConnection, name: &str) -> Result<(), StoreError> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => format!(r#"DROP INDEX CONCURRENTLY IF EXISTS "{name}""#),
        _ => format!(r#"DROP INDEX IF EXISTS "{name}""#),
    };
    db.execute_unprepared(&sql).await?;
    Ok(())
}

async fn is_invalid_postgres_index(
    db: &DatabaseConnection,
    name: &str,
) -> Result<bool, StoreError> {
    let found = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS invalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid \
             WHERE c.relname = $1 AND NOT i.indisvalid",
            [name.into()],
        ))
        .await?;
    Ok(found.is_some())
}

#[cfg(test)]
mod tests {
    use sea_orm::DbBackend;
    use serde_json::json;

    use chrono::{DateTime, Utc};
    use serde_json::Value;

    use super::indexes_of;
    use crate::objects::attribute::attributes_from_json;
    use crate::objects::definition::ObjectDefinition;
    use crate::objects::handle::ObjectHandle;

    fn definition(attributes: Value) -> ObjectDefinition {
        ObjectDefinition {
            id: "obj_1".to_owned(),
            workspace_id: "ws_1".to_owned(),
            handle: ObjectHandle::parse("events").unwrap(),
            name: "Events".to_owned(),
            description: None,
            attributes: attributes_from_json(&attributes).unwrap(),
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_filterable_attribute_is_indexed_on_the_expression_queries_use() {
        let definition = definition(json!({
            "amount": {"type": "number", "filterable": true},
            "status": {"type": "string", "filterable": true},
            "note": {"type": "string"}
        }));
        let targets = |backend| {
            indexes_of(backend, &definition)
                .into_iter()
                .map(|i| i.target.replace(&definition.id, "OBJ"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            targets(DbBackend::Sqlite),
            [
                r#"ON "records" ("workspace_id", "object_id", (json_extract("attributes", '$.amount')), "created_at", "id") WHERE "object_id" = 'OBJ' AND "deleted_at" IS NULL"#,
                r#"ON "records" ("workspace_id", "object_id", (json_extract("attributes", '$.status')), "created_at", "id") WHERE "object_id" = 'OBJ' AND "deleted_at" IS NULL"#,
            ]
        );
        assert_eq!(
            targets(DbBackend::Postgres),
            [
                r#"ON "records" ("workspace_id", (CAST(("attributes" ->> 'amount') AS double precision)), "created_at", "id") WHERE "object_id" = 'OBJ' AND "deleted_at" IS NULL"#,
                r#"ON "records" ("workspace_id", ("attributes" ->> 'status'), "created_at", "id") WHERE "object_id" = 'OBJ' AND "deleted_at" IS NULL"#,
            ]
        );
    }

    #[test]
    fn a_type_change_that_changes_the_expression_names_another_index() {
        let number = definition(json!({"code": {"type": "number", "filterable": true}}));
        let text = definition(json!({"code": {"type": "string", "filterable": true}}));
        let select = definition(json!({"code": {"type": "email", "filterable": true}}));
        let name = |d| indexes_of(DbBackend::Postgres, d)[0].name.clone();
        assert_ne!(name(&number), name(&text));
        assert_eq!(name(&text), name(&select), "both are text");
    }
}
