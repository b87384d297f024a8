//! A typed [`RecordQuery`] as one SELECT over an object's live records: filters, sort and
//! a keyset page, evaluated in SQL on the attributes JSON (`->>` on PostgreSQL,
//! `json_extract` on SQLite), so no query loads rows to filter them in Rust. Every value is
//! bound, but in a field's expression its attribute key (or JSON path) is an SQL literal, a
//! validated identifier: a database uses an expression index only for the very expression
//! it was built on, and [`expression`] is that expression for the indexes of filterable
//! attributes (`super::attribute_indexes`).

use sea_orm::sea_query::extension::postgres::PgExpr;
use sea_orm::sea_query::{
    BinOper, Cond, Expr, ExprTrait, Func, FunctionCall, IntoCondition, LikeExpr, NullOrdering,
    Order, PostgresQueryBuilder, Query, SelectStatement, SqliteQueryBuilder, Values,
};
use sea_orm::{ConnectionTrait, DbBackend, Value};

use super::StoreError;
use super::records::{Records, json_path, select_live, to_record};
use crate::objects::definition::ObjectDefinition;
use crate::objects::handle::AttributeKey;
use crate::objects::query::{
    CompareOp, Condition, Field, LikePart, RecordFilter, RecordQuery, Scalar, ValueClass,
};
use crate::objects::record::Record;

/// One page of a query among the records that pass `visible` (the policies' filter): up to
/// `limit + 1` records, so the caller knows if more follow.
pub async fn query(
    db: &impl ConnectionTrait,
    definition: &ObjectDefinition,
    query: &RecordQuery,
    visible: &RecordFilter,
) -> Result<Vec<Record>, StoreError> {
    if *visible == RecordFilter::False {
        return Ok(Vec::new());
    }
    let select = select(
        db.get_database_backend(),
        &definition.workspace_id,
        &definition.id,
        query,
        visible,
    );
    db.query_all(&select)
        .await?
        .iter()
        .map(|row| to_record(row, definition))
        .collect()
}

/// The statement [`query`] runs, as SQL text with its values inlined, for `andi policy
/// explain`.
pub fn query_sql(
    backend: DbBackend,
    workspace_id: &str,
    object_id: &str,
    query: &RecordQuery,
    visible: &RecordFilter,
) -> String {
    let select = select(backend, workspace_id, object_id, query, visible);
    match backend {
        DbBackend::Postgres => select.to_string(PostgresQueryBuilder),
        _ => select.to_string(SqliteQueryBuilder),
    }
}

/// The SQL text and bound values of a query, for plans (`EXPLAIN`) in benchmarks and tests.
pub fn sql(
    backend: DbBackend,
    workspace_id: &str,
    object_id: &str,
    query: &RecordQuery,
    visible: &RecordFilter,
) -> (String, Values) {
    let select = select(backend, workspace_id, object_id, query, visible);
    match backend {
        DbBackend::Postgres => select.build(PostgresQueryBuilder),
        _ => select.build(SqliteQueryBuilder),
    }
}

fn select(
    backend: DbBackend,
    workspace_id: &str,
    object_id: &str,
    query: &RecordQuery,
    visible: &RecordFilter,
) -> SelectStatement {
    let mut select = select_live(workspace_id, object_id);
    for filter in &query.filters {
        select.and_where(condition(backend, &filter.field, &filter.condition));
    }
    if *visible != RecordFilter::True {
        select.and_where(policy_condition(backend, visible, false));
    }
    if let Some(after) = &query.after {
        select.cond_where(keyset(backend, query, after));
    }
    for key in &query.sort {
        let expr = expression(backend, &key.field);
        let order = if key.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        if key.field.nullable() {
            select.order_by_expr_with_nulls(expr, order, NullOrdering::Last);
        } else {
            select.order_by_expr(expr, order);
        }
    }
    // One more than a page tells the caller whether another follows; the drivers bind a
    // limit as a signed 64-bit integer.
    let limit = i64::try_from(query.limit).map_or(i64::MAX, |n| n.saturating_add(1));
    select.limit(limit.unsigned_abs());
    select
}

/// The SQL expression of a field's value: the single source of attribute expressions, for
/// filters, sorts, cursors and the indexes of filterable attributes alike.
pub fn expression(backend: DbBackend, field: &Field) -> Expr {
    match field {
        Field::Id => Expr::col(Records::Id),
        Field::Name => Expr::col(Records::Name),
        Field::CreatedAt => Expr::col(Records::CreatedAt),
        Field::UpdatedAt => Expr::col(Records::UpdatedAt),
        Field::CreatedBy => Expr::col(Records::CreatedBy),
        Field::UpdatedBy => Expr::col(Records::UpdatedBy),
        Field::Attribute { key, .. } => {
            let attributes = Expr::col(Records::Attributes);
            let member = Expr::Constant(key.as_str().into());
            match (backend, field.class()) {
                (DbBackend::Postgres, ValueClass::Number) => attributes
                    .cast_json_field(member)
                    .cast_as("double precision"),
                (DbBackend::Postgres, ValueClass::Multi | ValueClass::Json) => {
                    attributes.get_json_field(member)
                }
                (DbBackend::Postgres, _) => attributes.cast_json_field(member),
                _ => Func::cust("json_extract")
                    .arg(attributes)
                    .arg(Expr::Constant(json_path(key).into()))
                    .into(),
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

fn condition(backend: DbBackend, field: &Field, condition: &Condition) -> Expr {
    let expr = expression(backend, field);
    match condition {
        Condition::Compare(op, value) => {
            let value = bound(backend, value);
            let compared = match op {
                CompareOp::Eq => expr.clone().eq(value),
                CompareOp::Ne => expr.clone().ne(value),
                CompareOp::Gt => expr.clone().gt(value),
                CompareOp::Gte => expr.clone().gte(value),
                CompareOp::Lt => expr.clone().lt(value),
                CompareOp::Lte => expr.clone().lte(value),
            };
            if *op == CompareOp::Ne && field.nullable() {
                Cond::any().add(expr.is_null()).add(compared).into()
            } else {
                compared
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
                // Backslash is PostgreSQL's default LIKE escape. sea-query 1.0 writes an
                // explicit ESCAPE after ILIKE in parentheses, which PostgreSQL rejects.
                DbBackend::Postgres => expr.ilike(LikeExpr::new(pattern)),
                // SQLite's LIKE ignores ASCII case; lower() on both sides extends that to
                // what it folds. `LikeExpr` holds a plain pattern, not lower(…), so LIKE … ESCAPE
                // is assembled from its parts.
                _ => Func::lower(expr).binary(
                    BinOper::Like,
                    Func::lower(Expr::val(pattern))
                        .binary(BinOper::Escape, Expr::Constant('\\'.into())),
                ),
            }
        }
        Condition::In(values) => expr.is_in(values.iter().map(|v| bound(backend, v))),
        Condition::HasOption(option) => has_any(backend, field, std::slice::from_ref(option)),
        Condition::HasAnyOption(options) => has_any(backend, field, options),
        Condition::Like(parts) => like(backend, expr, parts),
        // Stored values are never JSON null (null removes an attribute), so the field's own
        // expression is null exactly when the record has no value, and its index answers.
        Condition::Exists(exists) => {
            if *exists {
                expr.is_not_null()
            } else {
                expr.is_null()
            }
        }
    }
}

/// The policies' filter as a condition. The filter is two-valued (a test of a value the
/// record lacks is false) and SQL's tests are not (they are NULL): under a `NOT`, where that
/// differs, a test is wrapped in COALESCE(…, FALSE); elsewhere NULL and false both drop the
/// row, so the test stays bare and an index on its expression serves it.
fn policy_condition(backend: DbBackend, filter: &RecordFilter, negated: bool) -> Expr {
    match filter {
        RecordFilter::True => Expr::Constant(true.into()),
        RecordFilter::False => Expr::Constant(false.into()),
        RecordFilter::Test(test) => {
            let tested = condition(backend, &test.field, &test.condition);
            if negated {
                Func::coalesce([tested, Expr::Constant(false.into())]).into()
            } else {
                tested
            }
        }
        RecordFilter::Not(inner) => policy_condition(backend, inner, !negated).not(),
        RecordFilter::All(parts) => parts
            .iter()
            .fold(Cond::all(), |all, part| {
                all.add(policy_condition(backend, part, negated))
            })
            .into(),
        RecordFilter::Any(parts) => parts
            .iter()
            .fold(Cond::any(), |any, part| {
                any.add(policy_condition(backend, part, negated))
            })
            .into(),
    }
}

/// Cedar's `like`, case-sensitive on both backends: PostgreSQL's LIKE is; SQLite's is not,
/// so there it is GLOB, whose special characters are escaped as one-character classes.
fn like(backend: DbBackend, expr: Expr, parts: &[LikePart]) -> Expr {
    match backend {
        DbBackend::Postgres => {
            let pattern: String = parts
                .iter()
                .map(|part| match part {
                    LikePart::Text(text) => text
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_"),
                    LikePart::Any => "%".to_owned(),
                })
                .collect();
            expr.like(LikeExpr::new(pattern))
        }
        _ => {
            let pattern: String = parts
                .iter()
                .map(|part| match part {
                    LikePart::Text(text) => text
                        .chars()
                        .map(|c| match c {
                            '*' | '?' | '[' => format!("[{c}]"),
                            c => c.to_string(),
                        })
                        .collect(),
                    LikePart::Any => "*".to_owned(),
                })
                .collect();
            expr.binary(BinOper::Custom("GLOB"), Expr::val(pattern))
        }
    }
}

/// A multiselect holds at least one of `options`.
fn has_any(backend: DbBackend, field: &Field, options: &[String]) -> Expr {
    let Field::Attribute { key, .. } = field else {
        // Only a multiselect attribute holds options.
        return Expr::Constant(false.into());
    };
    let elements = Query::select()
        .column(("o", "value"))
        .from_function(elements(backend, key), "o")
        .and_where(Expr::col(("o", "value")).is_in(options))
        .take();
    Expr::exists(elements)
}

/// The elements of a multiselect's list, as rows of a column `value`.
fn elements(backend: DbBackend, key: &AttributeKey) -> FunctionCall {
    match backend {
        DbBackend::Postgres => {
            // jsonb_array_elements_text fails on anything but a list, so a stored value
            // that is not one yields no elements instead.
            let value = Expr::col(Records::Attributes).get_json_field(key.as_str());
            let list = Expr::case(
                Func::cust("jsonb_typeof").arg(value.clone()).eq("array"),
                value,
            )
            .finally(Expr::val("[]").cast_as("jsonb"));
            Func::cust("jsonb_array_elements_text").arg(list).to_owned()
        }
        _ => Func::cust("json_each")
            .arg(Expr::col(Records::Attributes))
            .arg(json_path(key))
            .to_owned(),
    }
}

/// Rows strictly after the cursor in the query's order (nulls last in both directions).
fn keyset(backend: DbBackend, query: &RecordQuery, after: &[Option<Scalar>]) -> Cond {
    if let Some(row) = row_after(backend, query, after) {
        return row.into_condition();
    }
    // With no disjunct, nothing follows the cursor: an empty OR is false.
    let mut after_cursor = Cond::any();
    for (i, key) in query.sort.iter().enumerate() {
        let Some(Some(value)) = after.get(i) else {
            // Nothing sorts after a null on this key: only ties on it, settled by later keys.
            continue;
        };
        let mut tied_then_after = Cond::all();
        for (j, earlier) in query.sort.iter().enumerate().take(i) {
            let expr = expression(backend, &earlier.field);
            tied_then_after = tied_then_after.add(match after.get(j) {
                Some(Some(v)) => expr.eq(bound(backend, v)),
                _ => expr.is_null(),
            });
        }
        let expr = expression(backend, &key.field);
        let value = bound(backend, value);
        let beyond = if key.descending {
            expr.clone().lt(value)
        } else {
            expr.clone().gt(value)
        };
        tied_then_after = tied_then_after.add(if key.field.nullable() {
            Cond::any().add(beyond).add(expr.is_null())
        } else {
            beyond.into_condition()
        });
        after_cursor = after_cursor.add(tied_then_after);
    }
    after_cursor
}

/// The cursor's condition as one row comparison, `(created_at, id) > (…, …)`, when every
/// sort key has a value, sorts one way and is never null: both databases then seek the
/// sort's index to the cursor, where the equivalent `a > x OR (a = x AND b > y)` is only a
/// filter on the rows an index returns (PostgreSQL read the whole object for each page).
fn row_after(backend: DbBackend, query: &RecordQuery, after: &[Option<Scalar>]) -> Option<Expr> {
    let descending = query.sort.first()?.descending;
    if query
        .sort
        .iter()
        .any(|key| key.descending != descending || key.field.nullable())
    {
        return None;
    }
    let values = query
        .sort
        .iter()
        .enumerate()
        .map(|(i, _)| match after.get(i) {
            Some(Some(value)) => Some(Expr::val(bound(backend, value))),
            _ => None,
        })
        .collect::<Option<Vec<Expr>>>()?;
    let fields = Expr::tuple(query.sort.iter().map(|key| expression(backend, &key.field)));
    let values = Expr::tuple(values);
    Some(if descending {
        fields.lt(values)
    } else {
        fields.gt(values)
    })
}

#[cfg(test)]
mod tests {
    //! The SQL each backend receives for typed queries: text and bound values.

    use chrono::{DateTime, TimeZone, Utc};
    use sea_orm::sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
    use sea_orm::{DbBackend, Value};

    use super::{query_sql, select};
    use crate::objects::attribute::AttributeKind;
    use crate::objects::handle::AttributeKey;
    use crate::objects::query::{
        CompareOp, Condition, Field, Filter, RecordQuery, Scalar, SortKey,
    };
    use crate::objects::query::{LikePart, RecordFilter};

    const SQLITE_LIVE: &str = r#"SELECT "id", "name", "attributes", "created_at", "updated_at", "created_by", "updated_by" FROM "records" WHERE "workspace_id" = ? AND "object_id" = ? AND "deleted_at" IS NULL"#;
    const POSTGRES_LIVE: &str = r#"SELECT "id", "name", "attributes", "created_at", "updated_at", "created_by", "updated_by" FROM "records" WHERE "workspace_id" = $1 AND "object_id" = $2 AND "deleted_at" IS NULL"#;
    const DEFAULT_ORDER: &str = r#"ORDER BY "created_at" ASC, "id" ASC"#;

    fn attribute(key: &str, kind: AttributeKind) -> Field {
        Field::Attribute {
            key: AttributeKey::parse(key).unwrap(),
            kind,
        }
    }

    fn multiselect(key: &str) -> Field {
        attribute(key, AttributeKind::Multiselect { options: vec![] })
    }

    fn sort(field: Field, descending: bool) -> SortKey {
        SortKey { field, descending }
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 9, 30, 0).unwrap()
    }

    /// A first page of 50 in the default order.
    fn filtered(filters: Vec<(Field, Condition)>) -> RecordQuery {
        RecordQuery {
            filters: filters
                .into_iter()
                .map(|(field, condition)| Filter { field, condition })
                .collect(),
            sort: vec![sort(Field::CreatedAt, false), sort(Field::Id, false)],
            limit: 50,
            after: None,
        }
    }

    /// A page of 10 after `after` in the order of `sort`.
    fn after(sort: Vec<SortKey>, after: Vec<Option<Scalar>>) -> RecordQuery {
        RecordQuery {
            filters: vec![],
            sort,
            limit: 10,
            after: Some(after),
        }
    }

    fn text(s: &str) -> Value {
        Value::from(s)
    }

    /// The bound values: the workspace and object, then `rest`.
    fn scoped(rest: Vec<Value>) -> Vec<Value> {
        [vec![text("ws1"), text("ob1")], rest].concat()
    }

    fn assert_built(
        backend: DbBackend,
        query: &RecordQuery,
        expected_sql: &str,
        expected_values: Vec<Value>,
    ) {
        let select = select(backend, "ws1", "ob1", query, &RecordFilter::True);
        let (sql, values) = match backend {
            DbBackend::Postgres => select.build(PostgresQueryBuilder),
            _ => select.build(SqliteQueryBuilder),
        };
        assert_eq!(sql, expected_sql, "{backend:?} SQL");
        assert_eq!(values.0, expected_values, "{backend:?} values");
    }

    #[test]
    fn a_policy_filter_is_anded_in_and_its_negated_tests_are_two_valued() {
        let region = attribute("region", AttributeKind::Text);
        let visible = RecordFilter::all([
            RecordFilter::Test(Filter {
                field: Field::CreatedBy,
                condition: Condition::Compare(CompareOp::Eq, Scalar::Text("key_1".into())),
            }),
            RecordFilter::Test(Filter {
                field: region.clone(),
                condition: Condition::Compare(CompareOp::Eq, Scalar::Text("EU".into())),
            })
            .negate(),
        ]);
        let query = filtered(vec![]);
        let sqlite = query_sql(DbBackend::Sqlite, "ws1", "ob1", &query, &visible);
        assert!(
            sqlite.contains(r#"AND ("created_by" = 'key_1' AND (NOT COALESCE(json_extract("attributes", '$.region') = 'EU', FALSE))"#),
            "{sqlite}"
        );
        let postgres = query_sql(DbBackend::Postgres, "ws1", "ob1", &query, &visible);
        assert!(
            postgres.contains(r#"(NOT COALESCE(("attributes" ->> 'region') = 'EU', FALSE))"#),
            "{postgres}"
        );
    }

    #[test]
    fn like_is_case_sensitive_on_both_backends_and_escapes_what_it_must() {
        let region = attribute("region", AttributeKind::Text);
        let visible = RecordFilter::Test(Filter {
            field: region,
            condition: Condition::Like(vec![LikePart::Text("E*_%[".into()), LikePart::Any]),
        });
        let query = filtered(vec![]);
        let sqlite = query_sql(DbBackend::Sqlite, "ws1", "ob1", &query, &visible);
        assert!(sqlite.contains(r#"GLOB 'E[*]_%[[]*'"#), "{sqlite}");
        let postgres = query_sql(DbBackend::Postgres, "ws1", "ob1", &query, &visible);
        assert!(postgres.contains(r#"LIKE E'E*\\_\\%[%'"#), "{postgres}");
    }

    #[test]
    fn a_filter_that_passes_nothing_reads_nothing_and_one_that_passes_all_adds_nothing() {
        let query = filtered(vec![]);
        let all = query_sql(DbBackend::Sqlite, "ws1", "ob1", &query, &RecordFilter::True);
        assert!(!all.contains("COALESCE"), "{all}");
    }

    #[test]
    fn eq_on_a_string_attribute_names_the_key_and_binds_the_value() {
        let query = filtered(vec![(
            attribute("code", AttributeKind::String),
            Condition::Compare(CompareOp::Eq, Scalar::Text("E1".into())),
        )]);
        assert_built(
            DbBackend::Sqlite,
            &query,
            &format!(
                r#"{SQLITE_LIVE} AND json_extract("attributes", '$.code') = ? {DEFAULT_ORDER} LIMIT ?"#
            ),
            scoped(vec![text("E1"), Value::from(51u64)]),
        );
        assert_built(
            DbBackend::Postgres,
            &query,
            &format!(
                r#"{POSTGRES_LIVE} AND ("attributes" ->> 'code') = $3 {DEFAULT_ORDER} LIMIT $4"#
            ),
            scoped(vec![text("E1"), Value::from(51u64)]),
        );
    }

    #[test]
    fn a_numeric_range_compares_numbers_not_text() {
        let amount = || attribute("amount", AttributeKind::Number);
        let query = filtered(vec![
            (
                amount(),
                Condition::Compare(CompareOp::Gte, Scalar::Number(100.0)),
            ),
            (
                amount(),
                Condition::Compare(CompareOp::Lt, Scalar::Number(200.0)),
            ),
        ]);
        let values = scoped(vec![
            Value::from(100.0),
            Value::from(200.0),
            Value::from(51u64),
        ]);
        assert_built(
            DbBackend::Sqlite,
            &query,
            &format!(
                r#"{SQLITE_LIVE} AND json_extract("attributes", '$.amount') >= ? AND json_extract("attributes", '$.amount') < ? {DEFAULT_ORDER} LIMIT ?"#
            ),
            values.clone(),
        );
        assert_built(
            DbBackend::Postgres,
            &query,
            &format!(
                r#"{POSTGRES_LIVE} AND CAST(("attributes" ->> 'amount') AS double precision) >= $3 AND CAST(("attributes" ->> 'amount') AS double precision) < $4 {DEFAULT_ORDER} LIMIT $5"#
            ),
            values,
        );
    }

    #[test]
    fn ne_on_a_nullable_field_also_matches_records_without_a_value() {
        let query = filtered(vec![(
            Field::Name,
            Condition::Compare(CompareOp::Ne, Scalar::Text("Ann".into())),
        )]);
        assert_built(
            DbBackend::Sqlite,
            &query,
            &format!(
                r#"{SQLITE_LIVE} AND ("name" IS NULL OR "name" <> ?) {DEFAULT_ORDER} LIMIT ?"#
            ),
            scoped(vec![text("Ann"), Value::from(51u64)]),
        );
        assert_built(
            DbBackend::Postgres,
            &query,
            &format!(
                r#"{POSTGRES_LIVE} AND ("name" IS NULL OR "name" <> $3) {DEFAULT_ORDER} LIMIT $4"#
            ),
            scoped(vec![text("Ann"), Value::from(51u64)]),
        );
    }

    #[test]
    fn in_binds_each_value_and_booleans_take_each_backends_form() {
        let query = filtered(vec![
            (
                attribute("kind", AttributeKind::String),
                Condition::In(vec![Scalar::Text("a".into()), Scalar::Text("b".into())]),
            ),
            (
                attribute("done", AttributeKind::Boolean),
                Condition::In(vec![Scalar::Bool(true)]),
            ),
        ]);
        assert_built(
            DbBackend::Sqlite,
            &query,
            &format!(
                r#"{SQLITE_LIVE} AND json_extract("attributes", '$.kind') IN (?, ?) AND json_extract("attributes", '$.done') IN (?) {DEFAULT_ORDER} LIMIT ?"#
            ),
            scoped(vec![
                text("a"),
                text("b"),
                Value::from(1i64),
                Value::from(51u64),
            ]),
        );
        assert_built(
            DbBackend::Postgres,
            &query,
            &format!(
                r#"{POSTGRES_LIVE} AND ("attributes" ->> 'kind') IN ($3, $4) AND ("attributes" ->> 'done') IN ($5) {DEFAULT_ORDER} LIMIT $6"#
            ),
            scoped(vec![text("a"), text("b"), text("true"), Value::from(51u64)]),
        );
    }

    #[test]
    fn contains_escapes_percent_underscore_and_backslash() {
        let query = filtered(vec![(Field::Name, Condition::Contains(r"50%_off\".into()))]);
        let pattern = text(r"%50\%\_off\\%");
        assert_built(
            DbBackend::Sqlite,
            &query,
            &format!(
                r#"{SQLITE_LIVE} AND LOWER("name") LIKE LOWER(?) ESCAPE '\' {DEFAULT_ORDER} LIMIT ?"#
            ),
            scoped(vec![pattern.clone(), Value::from(51u64)]),
        );
        assert_built(
            DbBackend::Postgres,
            &query,
            &format!(r#"{POSTGRES_LIVE} AND ("name" ILIKE $3) {DEFAULT_ORDER} LIMIT $4"#),
            scoped(vec![pattern, Value::from(51u64)]),
        );
    }

    #[test]
    fn has_any_option_looks_for_an_element_of_the_list() {
        let query = filtered(vec![(
            multiselect("tags"),
            Condition::HasAnyOption(vec!["red".into(), "blue".into()]),
        )]);
        assert_built(
            DbBackend::Sqlite,
            &query,
            &format!(
                r#"{SQLITE_LIVE} AND EXISTS(SELECT "o"."value" FROM json_each("attributes", ?) AS "o" WHERE "o"."value" IN (?, ?)) {DEFAULT_ORDER} LIMIT ?"#
            ),
            scoped(vec![
                text("$.tags"),
                text("red"),
                text("blue"),
                Value::from(51u64),
            ]),
        );
        assert_built(
            DbBackend::Postgres,
            &query,
            &format!(
                r#"{POSTGRES_LIVE} AND EXISTS(SELECT "o"."value" FROM jsonb_array_elements_text((CASE WHEN (jsonb_typeof("attributes" -> $3) = $4) THEN "attributes" -> $5 ELSE CAST($6 AS jsonb) END)) AS "o" WHERE "o"."value" IN ($7, $8)) {DEFAULT_ORDER} LIMIT $9"#
            ),
            scoped(vec![
                text("tags"),
                text("array"),
                text("tags"),
                text("[]"),
                text("red"),
                text("blue"),
                Value::from(51u64),
            ]),
        );
    }

    #[test]
    fn exists_asks_whether_a_value_is_there() {
        let query = filtered(vec![
            (multiselect("tags"), Condition::Exists(true)),
            (
                attribute("code", AttributeKind::String),
                Condition::Exists(false),
            ),
        ]);
        assert_built(
            DbBackend::Sqlite,
            &query,
            &format!(
                r#"{SQLITE_LIVE} AND json_extract("attributes", '$.tags') IS NOT NULL AND json_extract("attributes", '$.code') IS NULL {DEFAULT_ORDER} LIMIT ?"#
            ),
            scoped(vec![Value::from(51u64)]),
        );
        assert_built(
            DbBackend::Postgres,
            &query,
            &format!(
                r#"{POSTGRES_LIVE} AND ("attributes" -> 'tags') IS NOT NULL AND ("attributes" ->> 'code') IS NULL {DEFAULT_ORDER} LIMIT $3"#
            ),
            scoped(vec![Value::from(51u64)]),
        );
    }

    #[test]
    fn a_sort_on_a_nullable_field_puts_nulls_last() {
        let query = RecordQuery {
            filters: vec![],
            sort: vec![sort(Field::Name, true), sort(Field::Id, false)],
            limit: 10,
            after: None,
        };
        assert_built(
            DbBackend::Sqlite,
            &query,
            &format!(r#"{SQLITE_LIVE} ORDER BY "name" DESC NULLS LAST, "id" ASC LIMIT ?"#),
            scoped(vec![Value::from(11u64)]),
        );
        assert_built(
            DbBackend::Postgres,
            &query,
            &format!(r#"{POSTGRES_LIVE} ORDER BY "name" DESC NULLS LAST, "id" ASC LIMIT $3"#),
            scoped(vec![Value::from(11u64)]),
        );
    }

    #[test]
    fn a_cursor_continues_strictly_after_the_last_sort_values() {
        let query = after(
            vec![
                sort(attribute("amount", AttributeKind::Number), false),
                sort(Field::CreatedAt, true),
                sort(Field::Id, false),
            ],
            vec![
                Some(Scalar::Number(5.0)),
                Some(Scalar::Time(at())),
                Some(Scalar::Text("r1".into())),
            ],
        );
        let values = scoped(vec![
            Value::from(5.0),
            Value::from(5.0),
            Value::from(at()),
            Value::from(5.0),
            Value::from(at()),
            text("r1"),
            Value::from(11u64),
        ]);
        let amount = r#"json_extract("attributes", '$.amount')"#;
        assert_built(
            DbBackend::Sqlite,
            &query,
            &format!(
                r#"{SQLITE_LIVE} AND ({amount} > ? OR {amount} IS NULL OR ({amount} = ? AND "created_at" < ?) OR ({amount} = ? AND "created_at" = ? AND "id" > ?)) ORDER BY {amount} ASC NULLS LAST, "created_at" DESC, "id" ASC LIMIT ?"#
            ),
            values.clone(),
        );
        let amount = r#"CAST(("attributes" ->> 'amount') AS double precision)"#;
        assert_built(
            DbBackend::Postgres,
            &query,
            &format!(
                r#"{POSTGRES_LIVE} AND ({amount} > $3 OR {amount} IS NULL OR ({amount} = $4 AND "created_at" < $5) OR ({amount} = $6 AND "created_at" = $7 AND "id" > $8)) ORDER BY {amount} ASC NULLS LAST, "created_at" DESC, "id" ASC LIMIT $9"#
            ),
            values,
        );
    }

    #[test]
    fn a_cursor_over_keys_that_sort_one_way_and_are_never_null_is_one_row_comparison() {
        let values = scoped(vec![Value::from(at()), text("r1"), Value::from(11u64)]);
        let ascending = after(
            vec![sort(Field::CreatedAt, false), sort(Field::Id, false)],
            vec![Some(Scalar::Time(at())), Some(Scalar::Text("r1".into()))],
        );
        assert_built(
            DbBackend::Sqlite,
            &ascending,
            &format!(r#"{SQLITE_LIVE} AND ("created_at", "id") > (?, ?) {DEFAULT_ORDER} LIMIT ?"#),
            values.clone(),
        );
        let descending = after(
            vec![sort(Field::CreatedAt, true), sort(Field::Id, true)],
            vec![Some(Scalar::Time(at())), Some(Scalar::Text("r1".into()))],
        );
        assert_built(
            DbBackend::Postgres,
            &descending,
            &format!(
                r#"{POSTGRES_LIVE} AND ("created_at", "id") < ($3, $4) ORDER BY "created_at" DESC, "id" DESC LIMIT $5"#
            ),
            values,
        );
    }

    #[test]
    fn a_cursor_on_a_nullable_later_key_keeps_its_nulls_after_its_values() {
        let query = after(
            vec![
                sort(Field::CreatedAt, false),
                sort(Field::Name, true),
                sort(Field::Id, false),
            ],
            vec![
                Some(Scalar::Time(at())),
                Some(Scalar::Text("Ann".into())),
                Some(Scalar::Text("r1".into())),
            ],
        );
        assert_built(
            DbBackend::Sqlite,
            &query,
            &format!(
                r#"{SQLITE_LIVE} AND ("created_at" > ? OR ("created_at" = ? AND ("name" < ? OR "name" IS NULL)) OR ("created_at" = ? AND "name" = ? AND "id" > ?)) ORDER BY "created_at" ASC, "name" DESC NULLS LAST, "id" ASC LIMIT ?"#
            ),
            scoped(vec![
                Value::from(at()),
                Value::from(at()),
                text("Ann"),
                Value::from(at()),
                text("Ann"),
                text("r1"),
                Value::from(11u64),
            ]),
        );
    }

    #[test]
    fn after_a_null_only_ties_on_it_follow() {
        let query = after(
            vec![sort(Field::Name, false), sort(Field::Id, false)],
            vec![None, Some(Scalar::Text("r1".into()))],
        );
        assert_built(
            DbBackend::Postgres,
            &query,
            &format!(
                r#"{POSTGRES_LIVE} AND ("name" IS NULL AND "id" > $3) ORDER BY "name" ASC NULLS LAST, "id" ASC LIMIT $4"#
            ),
            scoped(vec![text("r1"), Value::from(11u64)]),
        );
    }

    #[test]
    fn nothing_follows_a_cursor_of_nulls_only() {
        let query = after(vec![sort(Field::Name, false)], vec![None]);
        assert_built(
            DbBackend::Sqlite,
            &query,
            &format!(r#"{SQLITE_LIVE} AND FALSE ORDER BY "name" ASC NULLS LAST LIMIT ?"#),
            scoped(vec![Value::from(11u64)]),
        );
    }
}
