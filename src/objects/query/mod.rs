//! Record queries: the typed [`RecordQuery`] (filters, sort and page) that storage turns
//! into SQL. [`parse`] builds one from GET parameters or a POST body, typed against the
//! object's definition; [`cursor`] encodes and checks the keyset cursors that page through
//! it.

use chrono::{DateTime, Utc};

use super::attribute::AttributeKind;
use super::handle::AttributeKey;

pub mod cursor;
mod filter;
pub mod parse;

pub use filter::RecordFilter;

/// Page size when the query does not name one.
pub const DEFAULT_LIMIT: usize = 50;

/// What a query can filter and sort on.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Id,
    Name,
    CreatedAt,
    UpdatedAt,
    /// The key that created the record (absent for records written before Andi kept it).
    CreatedBy,
    /// The key that last changed the record.
    UpdatedBy,
    Attribute {
        key: AttributeKey,
        kind: AttributeKind,
    },
}

/// How a field's values compare in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueClass {
    Text,
    Number,
    Bool,
    Time,
    Multi,
    Json,
}

impl Field {
    pub fn class(&self) -> ValueClass {
        match self {
            Field::Id | Field::Name | Field::CreatedBy | Field::UpdatedBy => ValueClass::Text,
            Field::CreatedAt | Field::UpdatedAt => ValueClass::Time,
            Field::Attribute { kind, .. } => match kind {
                AttributeKind::Number | AttributeKind::Integer => ValueClass::Number,
                AttributeKind::Boolean => ValueClass::Bool,
                AttributeKind::Multiselect { .. } => ValueClass::Multi,
                AttributeKind::Json => ValueClass::Json,
                _ => ValueClass::Text,
            },
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Field::Id => "id",
            Field::Name => "name",
            Field::CreatedAt => "createdAt",
            Field::UpdatedAt => "updatedAt",
            Field::CreatedBy => "createdBy",
            Field::UpdatedBy => "updatedBy",
            Field::Attribute { key, .. } => key.as_str(),
        }
    }

    /// Whether rows may lack a value (sorts put those last).
    pub fn nullable(&self) -> bool {
        matches!(
            self,
            Field::Name | Field::CreatedBy | Field::UpdatedBy | Field::Attribute { .. }
        )
    }
}

/// A value compared in SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Number(f64),
    Bool(bool),
    Time(DateTime<Utc>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
}

/// What a filter asks of its field.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `ne` also matches records without a value.
    Compare(CompareOp, Scalar),
    /// Case-insensitive substring.
    Contains(String),
    In(Vec<Scalar>),
    /// A multiselect holds this option.
    HasOption(String),
    /// A multiselect holds any of these options.
    HasAnyOption(Vec<String>),
    Exists(bool),
    /// Matches a pattern exactly, case included (Cedar's `like`).
    Like(Vec<LikePart>),
}

/// A piece of a [`Condition::Like`] pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LikePart {
    Text(String),
    /// Any run of characters, the empty one included.
    Any,
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Text(s) => write!(f, "{s:?}"),
            Scalar::Number(n) => write!(f, "{n}"),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Time(t) => write!(f, "{:?}", crate::timestamp::format(t)),
        }
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let field = self.field.name();
        let list = |values: &mut dyn Iterator<Item = String>| values.collect::<Vec<_>>().join(", ");
        match &self.condition {
            Condition::Compare(op, value) => {
                let op = match op {
                    CompareOp::Eq => "eq",
                    CompareOp::Ne => "ne",
                    CompareOp::Gt => "gt",
                    CompareOp::Gte => "gte",
                    CompareOp::Lt => "lt",
                    CompareOp::Lte => "lte",
                };
                write!(f, "{field} {op} {value}")
            }
            Condition::Contains(text) => write!(f, "{field} contains {text:?}"),
            Condition::In(values) => write!(
                f,
                "{field} in [{}]",
                list(&mut values.iter().map(ToString::to_string))
            ),
            Condition::HasOption(option) => write!(f, "{field} has option {option:?}"),
            Condition::HasAnyOption(options) => write!(
                f,
                "{field} has any of [{}]",
                list(&mut options.iter().map(|o| format!("{o:?}")))
            ),
            Condition::Exists(true) => write!(f, "{field} exists"),
            Condition::Exists(false) => write!(f, "{field} is absent"),
            Condition::Like(parts) => {
                let pattern: String = parts
                    .iter()
                    .map(|part| match part {
                        LikePart::Text(text) => text.replace('*', "\\*"),
                        LikePart::Any => "*".to_owned(),
                    })
                    .collect();
                write!(f, "{field} like {pattern:?}")
            }
        }
    }
}

/// How large a query may be, so no query shape can exceed what the databases accept (an
/// expression tree, a statement's bound values) or cost more than a page's worth of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// The largest `limit`.
    pub max_page_size: usize,
    /// Filters a query may hold.
    pub max_filters: usize,
    /// Sort keys a query may name.
    pub max_sort_keys: usize,
    /// Values of every `in` list of a query together.
    pub max_in_values: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub field: Field,
    pub condition: Condition,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub field: Field,
    pub descending: bool,
}

/// A validated query: every filter must hold; `sort` always ends with `id`, so the order
/// is total and a keyset cursor is exact.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordQuery {
    pub filters: Vec<Filter>,
    pub sort: Vec<SortKey>,
    pub limit: usize,
    /// The sort values of the last record of the previous page.
    pub after: Option<Vec<Option<Scalar>>>,
}
