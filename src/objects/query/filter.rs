//! [`RecordFilter`]: a condition on one object's records as a tree of field tests, the form
//! in which the policies' answer to a query reaches storage (see `authz::query_filter`).
//!
//! It is two-valued: a test of a value a record lacks is false, never unknown, so `Not`
//! means what Cedar's `!` means. The constructors fold constants, so a filter the policies
//! make trivially true or false reaches storage as [`RecordFilter::True`] or
//! [`RecordFilter::False`].

use super::Filter;

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
    use crate::objects::query::{CompareOp, Condition, Field, Scalar};

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
