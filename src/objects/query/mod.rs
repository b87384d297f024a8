//! Record queries: the typed [`RecordQuery`] (filters, sort and page) that storage turns
//! into SQL. [`parse`] builds one from GET parameters or a POST body, typed against the
//! object's definition; [`cursor`] encodes and checks the keyset cursors that page through
//! it.

use chrono::{DateTime, Utc};

use super::attribute::AttributeKind;
use super::handle::AttributeKey;

pub mod cursor;
pub mod parse;

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

/// A condition on one object's records as a tree of field tests: the form in which the
/// policies' answer to a query reaches storage (see `authz::query_filter`). It is
/// two-valued: a test of a value a record lacks is false, never unknown, so `Not` means
/// what Cedar's `!` means. The constructors fold constants, so a filter the policies make
/// trivially true or false reaches storage as [`RecordFilter::True`] or
/// [`RecordFilter::False`].
#[derive(Debug, Clone, PartialEq)]
pub enum RecordFilter {
    True,
    False,
    Test(Filter),
    Not(Box<RecordFilter>),
    All(Vec<RecordFilter>),
    Any(Vec<RecordFilter>),
}

impl RecordFilter {
    pub fn constant(value: bool) -> RecordFilter {
        if value {
            RecordFilter::True
        } else {
            RecordFilter::False
        }
    }

    pub fn negate(self) -> RecordFilter {
        match self {
            RecordFilter::True => RecordFilter::False,
            RecordFilter::False => RecordFilter::True,
            RecordFilter::Not(inner) => *inner,
            other => RecordFilter::Not(Box::new(other)),
        }
    }

    pub fn all(parts: impl IntoIterator<Item = RecordFilter>) -> RecordFilter {
        let mut kept = Vec::new();
        for part in parts {
            match part {
                RecordFilter::True => {}
                RecordFilter::False => return RecordFilter::False,
                RecordFilter::All(inner) => kept.extend(inner),
                other => kept.push(other),
            }
        }
        match kept.len() {
            0 => RecordFilter::True,
            1 => kept.pop().unwrap_or(RecordFilter::True),
            _ => RecordFilter::All(kept),
        }
    }

    pub fn any(parts: impl IntoIterator<Item = RecordFilter>) -> RecordFilter {
        let mut kept = Vec::new();
        for part in parts {
            match part {
                RecordFilter::False => {}
                RecordFilter::True => return RecordFilter::True,
                RecordFilter::Any(inner) => kept.extend(inner),
                other => kept.push(other),
            }
        }
        match kept.len() {
            0 => RecordFilter::False,
            1 => kept.pop().unwrap_or(RecordFilter::False),
            _ => RecordFilter::Any(kept),
        }
    }
}

impl std::fmt::Display for RecordFilter {
    /// A readable form for `andi policy explain` and the decision log, e.g.
    /// `region eq "EU" and not (confidential eq true)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let joined = |f: &mut std::fmt::Formatter<'_>, parts: &[RecordFilter], word: &str| {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    write!(f, " {word} ")?;
                }
                match part {
                    RecordFilter::All(_) | RecordFilter::Any(_) => write!(f, "({part})")?,
                    _ => write!(f, "{part}")?,
                }
            }
            Ok(())
        };
        match self {
            RecordFilter::True => write!(f, "true"),
            RecordFilter::False => write!(f, "false"),
            RecordFilter::Test(test) => write!(f, "{test}"),
            RecordFilter::Not(inner) => write!(f, "not ({inner})"),
            RecordFilter::All(parts) => joined(f, parts, "and"),
            RecordFilter::Any(parts) => joined(f, parts, "or"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(id: &str) -> RecordFilter {
        RecordFilter::Test(Filter {
            field: Field::Id,
            condition: Condition::Compare(CompareOp::Eq, Scalar::Text(id.to_owned())),
        })
    }

    #[test]
    fn constants_fold_away() {
        assert_eq!(
            RecordFilter::all([RecordFilter::True, test("a")]),
            test("a")
        );
        assert_eq!(
            RecordFilter::all([test("a"), RecordFilter::False]),
            RecordFilter::False
        );
        assert_eq!(
            RecordFilter::any([RecordFilter::False, test("a")]),
            test("a")
        );
        assert_eq!(
            RecordFilter::any([test("a"), RecordFilter::True]),
            RecordFilter::True
        );
        assert_eq!(RecordFilter::all([]), RecordFilter::True);
        assert_eq!(RecordFilter::any([]), RecordFilter::False);
        assert_eq!(test("a").negate().negate(), test("a"));
    }

    #[test]
    fn nested_groups_are_parenthesized() {
        let filter = RecordFilter::all([
            RecordFilter::any([test("a"), test("b")]),
            test("c").negate(),
        ]);
        assert_eq!(
            filter.to_string(),
            r#"(id eq "a" or id eq "b") and not (id eq "c")"#
        );
    }
}
