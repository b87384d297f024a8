//! The policies' answer to a query: which records of one object a key may read, as a
//! [`RecordFilter`] that storage ANDs into the query, instead of a decision per record.
//!
//! `getRecord` is evaluated with the record unknown and everything else known (the key with
//! its tags, the object, the context): Cedar's type-aware partial evaluation (`tpe`) leaves
//! each policy whose outcome depends on the record as a residual expression over `resource`.
//! TPE is chosen over the older `partial-eval` because it works from the schema's types, so
//! a residual's `resource.attributes.region` is known to be a String and no unknown has to
//! be placed by hand in an entity; and because its residuals come back as policies of the
//! public policy structure tree (`pst`), which is what this module reads. It is the one
//! module that uses Cedar's experimental surface.
//!
//! Each residual is read with what every row of the query shares folded away (the record's
//! workspace, its object handle, its ancestry, its type), and what is left is translated to
//! field tests as a lower and an upper bound of the policy's truth. A part with no SQL form
//! widens the bounds (false below, true above), so the combined filter over-approximates:
//! every record the policies allow passes it. When every part had a form the bounds meet
//! and the filter is exact; otherwise each row it passes is still decided one by one.
//!
//! Why the translation can be two-valued: the policies are validated strictly, so a policy
//! reads an optional attribute only where a `has` test guards it, and the translated tests
//! raise no errors (arithmetic, extension calls on record values and error nodes have no
//! SQL form and fall back to rows).

use cedar_policy::pst::{self, BinaryOp, Expr, Literal, PatternElem, UnaryOp, Var};
use cedar_policy::{Decision, Entities, PartialEntities, PartialEntityUid, PartialRequest, Policy};
use chrono::{DateTime, NaiveDate, Utc};

use super::action::Action;
use super::bundle::PolicyBundle;
use super::entities::ObjectFacts;
use super::evaluate::{cedar_context, object_entity};
use super::record_attributes::CedarType;
use super::request::{RequestContext, attribute_keys};
use crate::objects::attribute::AttributeKind;
use crate::objects::attribute_value::format_datetime;
use crate::objects::definition::ObjectDefinition;
use crate::objects::query::{CompareOp, Condition, Field, Filter, LikePart, RecordFilter, Scalar};
use crate::principal::{KeyPrincipal, Principal};

/// Which records of an object a key may read, as the policies say.
#[derive(Debug, Clone)]
pub struct QueryFilter {
    /// Every record the policies allow passes it.
    pub condition: RecordFilter,
    /// Whether `condition` is exactly the policies' answer. When it is not, each row it
    /// passes must still be decided.
    pub exact: bool,
    /// The policies the filter came from: those that hold for every record (permits) and
    /// those whose outcome depends on the record.
    pub policies: Vec<String>,
    /// Each policy's residual, as `permit|forbid <id>: <Cedar expression>`.
    pub residuals: Vec<String>,
    /// Why the policies could not be partially evaluated, when they could not.
    pub errors: Vec<String>,
}

impl QueryFilter {
    /// The filter when partial evaluation failed: every row passes and each is decided.
    pub(super) fn each_row(error: String) -> QueryFilter {
        QueryFilter {
            condition: RecordFilter::True,
            exact: false,
            policies: Vec::new(),
            residuals: Vec::new(),
            errors: vec![error],
        }
    }
}

/// Partially evaluates `getRecord` by `principal` on an unknown record of `definition`.
pub fn query_filter(
    bundle: &PolicyBundle,
    principal: &KeyPrincipal,
    definition: &ObjectDefinition,
    context: &RequestContext,
) -> Result<QueryFilter, String> {
    let t = &bundle.types;
    let action = Action::GetRecord;
    let key = Principal::Key(principal);
    let shared = bundle
        .decision_entities
        .for_principal(t, bundle.index.guards(), key, action)?;
    let attribute_keys = attribute_keys(&definition.attributes);
    let object = ObjectFacts {
        id: &definition.id,
        handle: definition.handle.as_str(),
        workspace_id: &definition.workspace_id,
        attribute_keys: Some(&attribute_keys),
    };
    let entities: Entities = shared
        .with_object(&object, || object_entity(t, &object))?
        .entities
        .clone();
    let entities = PartialEntities::from_concrete(entities, &bundle.schema)
        .map_err(|e| format!("partial entities: {e}"))?;
    let principal_uid = t.uid(&t.api_key, &principal.key_id);
    let request = PartialRequest::new(
        PartialEntityUid::from_concrete(principal_uid.clone()),
        bundle.action_uid(action).clone(),
        PartialEntityUid::new(t.record.clone(), None),
        Some(cedar_context(context)?),
        &bundle.schema,
    )
    .map_err(|e| format!("partial request: {e}"))?;
    let response = bundle
        .policies
        .tpe(&request, &entities, &bundle.schema)
        .map_err(|e| format!("partial evaluation: {e}"))?;

    let holds: Vec<String> = response.true_permits().map(ToString::to_string).collect();
    match response.decision() {
        Some(Decision::Allow) => {
            return Ok(QueryFilter {
                condition: RecordFilter::True,
                exact: true,
                policies: sorted(holds),
                residuals: Vec::new(),
                errors: Vec::new(),
            });
        }
        Some(Decision::Deny) => {
            return Ok(QueryFilter {
                condition: RecordFilter::False,
                exact: true,
                policies: sorted(response.true_forbids().map(ToString::to_string).collect()),
                residuals: Vec::new(),
                errors: Vec::new(),
            });
        }
        None => {}
    }

    let scope = Scope {
        definition,
        declared: &bundle.record_attributes,
        record_type: t.record.to_string(),
        object_uid: (t.object_definition.to_string(), definition.id.clone()),
        workspace_uid: (t.workspace.to_string(), definition.workspace_id.clone()),
        principal_uid: (t.api_key.to_string(), principal.key_id.clone()),
        action_uid: (
            bundle.action_uid(action).type_name().to_string(),
            bundle.action_uid(action).id().unescaped().to_owned(),
        ),
        api_key_type: t.api_key.to_string(),
    };
    let mut permits = vec![Bounds::exact(RecordFilter::constant(!holds.is_empty()))];
    let mut forbids = Vec::new();
    let mut policies = holds;
    let mut residuals = Vec::new();
    for policy in response.residual_policies() {
        let (effect, bounds) = residual_bounds(&policy, &scope);
        if bounds.upper == RecordFilter::False {
            // Holds of no record of this object (another workspace's isolation, say).
            continue;
        }
        policies.push(policy.id().to_string());
        residuals.push(format!(
            "{effect} {}: {}",
            policy.id(),
            residual_text(&policy)
        ));
        match effect {
            pst::Effect::Permit => permits.push(bounds),
            pst::Effect::Forbid => forbids.push(bounds),
        }
    }
    // Cedar allows when some permit holds and no forbid does.
    let allowed = Bounds::all([Bounds::any(permits), Bounds::any(forbids).negate()]);
    Ok(QueryFilter {
        condition: allowed.upper,
        exact: allowed.exact,
        policies: sorted(policies),
        residuals,
        errors: Vec::new(),
    })
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids.dedup();
    ids
}

/// A residual policy's effect and the bounds of its condition. A residual policy has an
/// unconstrained scope and one `when` clause; anything else is read as having no SQL form.
fn residual_bounds(policy: &Policy, scope: &Scope<'_>) -> (pst::Effect, Bounds) {
    let effect = match policy.effect() {
        cedar_policy::Effect::Permit => pst::Effect::Permit,
        cedar_policy::Effect::Forbid => pst::Effect::Forbid,
    };
    let Ok(pst) = policy.to_pst() else {
        return (effect, Bounds::unknown());
    };
    let body = pst.body();
    let unconstrained = matches!(body.principal, pst::PrincipalConstraint::Any)
        && matches!(body.action, pst::ActionConstraint::Any)
        && matches!(body.resource, pst::ResourceConstraint::Any);
    if !unconstrained {
        return (effect, Bounds::unknown());
    }
    let clauses = body.clauses().iter().map(|clause| match clause {
        pst::Clause::When(expr) => scope.boolean(expr),
        pst::Clause::Unless(expr) => scope.boolean(expr).negate(),
    });
    let mut bounds = Bounds::all(clauses);
    if !bounds.exact {
        // A part with no SQL form may raise an error for some row (an overflow, say), and
        // Cedar skips a policy that errors, whatever its other parts say: so no row is
        // known to be one the policy applies to.
        bounds.lower = RecordFilter::False;
    }
    (effect, bounds)
}

fn residual_text(policy: &Policy) -> String {
    match policy.to_pst() {
        Ok(pst) => pst
            .body()
            .clauses()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        Err(_) => policy.to_string(),
    }
}

/// What a residual's truth is known to lie between: every record passing `lower` makes it
/// true, every record it is true of passes `upper`; `exact` when the two are the same.
#[derive(Debug, Clone, PartialEq)]
struct Bounds {
    lower: RecordFilter,
    upper: RecordFilter,
    exact: bool,
}

impl Bounds {
    fn exact(filter: RecordFilter) -> Bounds {
        Bounds {
            lower: filter.clone(),
            upper: filter,
            exact: true,
        }
    }

    /// A part with no SQL form: true of some records, false of others, none known.
    fn unknown() -> Bounds {
        Bounds {
            lower: RecordFilter::False,
            upper: RecordFilter::True,
            exact: false,
        }
    }

    fn negate(self) -> Bounds {
        Bounds {
            lower: self.upper.negate(),
            upper: self.lower.negate(),
            exact: self.exact,
        }
    }

    fn all(parts: impl IntoIterator<Item = Bounds>) -> Bounds {
        let (lower, upper, exact) = split(parts);
        Bounds {
            lower: RecordFilter::all(lower),
            upper: RecordFilter::all(upper),
            exact,
        }
    }

    fn any(parts: impl IntoIterator<Item = Bounds>) -> Bounds {
        let (lower, upper, exact) = split(parts);
        Bounds {
            lower: RecordFilter::any(lower),
            upper: RecordFilter::any(upper),
            exact,
        }
    }
}

fn split(parts: impl IntoIterator<Item = Bounds>) -> (Vec<RecordFilter>, Vec<RecordFilter>, bool) {
    let mut lower = Vec::new();
    let mut upper = Vec::new();
    let mut exact = true;
    for part in parts {
        lower.push(part.lower);
        upper.push(part.upper);
        exact &= part.exact;
    }
    (lower, upper, exact)
}

/// What every row of the query shares, by which a residual is read.
struct Scope<'a> {
    definition: &'a ObjectDefinition,
    declared: &'a super::record_attributes::RecordAttributeTypes,
    record_type: String,
    object_uid: (String, String),
    workspace_uid: (String, String),
    principal_uid: (String, String),
    action_uid: (String, String),
    api_key_type: String,
}

/// A constant of a residual.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Bool(bool),
    Long(i64),
    String(String),
    Entity(String, String),
    Set(Vec<Value>),
    /// Ten-thousandths, as Cedar's `decimal` holds them.
    Decimal(i64),
    /// Milliseconds since the epoch, as Cedar's `datetime` holds them.
    Datetime(i64),
    /// Milliseconds, as Cedar's `duration` holds them.
    Duration(i64),
}

/// Cedar's equality: sets compare as sets.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Set(a), Value::Set(b)) => {
            a.iter().all(|x| b.iter().any(|y| same(x, y)))
                && b.iter().all(|y| a.iter().any(|x| same(x, y)))
        }
        _ => a == b,
    }
}

/// A record's value a residual reads.
#[derive(Debug, Clone)]
struct RecordValue {
    field: Field,
    read_as: ReadAs,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ReadAs {
    Attribute(CedarType),
    /// `createdBy` or `updatedBy`: an `ApiKey` entity, stored as the key id.
    Author,
}

/// A subexpression of a residual, read against the scope.
#[derive(Debug, Clone)]
enum Term {
    Boolean(Bounds),
    Value(Value),
    /// The record itself.
    Record,
    /// `resource.attributes`.
    Attributes,
    Field(RecordValue),
    /// An attribute this object's records never hold (policies reach it only behind a
    /// `has` test, which is false).
    Absent,
    /// No SQL form.
    Opaque,
}

impl Scope<'_> {
    fn boolean(&self, expr: &Expr) -> Bounds {
        match self.term(expr) {
            Term::Boolean(bounds) => bounds,
            Term::Value(Value::Bool(b)) => Bounds::exact(RecordFilter::constant(b)),
            // A Bool attribute read as a condition of its own: `… && resource.attributes.vip`.
            Term::Field(value) if value.read_as == ReadAs::Attribute(CedarType::Bool) => {
                Bounds::exact(RecordFilter::Test(Filter {
                    field: value.field,
                    condition: Condition::Compare(CompareOp::Eq, Scalar::Bool(true)),
                }))
            }
            Term::Absent => Bounds::exact(RecordFilter::False),
            _ => Bounds::unknown(),
        }
    }

    fn term(&self, expr: &Expr) -> Term {
        match expr {
            Expr::Literal(literal) => Term::Value(match literal {
                Literal::Bool(b) => Value::Bool(*b),
                Literal::Long(n) => Value::Long(*n),
                Literal::String(s) => Value::String(s.to_string()),
                Literal::EntityUID(uid) => entity(uid),
                _ => return Term::Opaque,
            }),
            Expr::Var(Var::Resource) => Term::Record,
            Expr::Var(Var::Principal) => Term::Value(uid_value(&self.principal_uid)),
            Expr::Var(Var::Action) => Term::Value(uid_value(&self.action_uid)),
            Expr::Set(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    match self.term(item) {
                        Term::Value(value) => values.push(value),
                        _ => return Term::Opaque,
                    }
                }
                Term::Value(Value::Set(values))
            }
            Expr::GetAttr { expr, attr } => self.get_attr(self.term(expr), attr),
            Expr::HasAttr { expr, attrs } => {
                if attrs.len() != 1 {
                    return Term::Opaque;
                }
                self.has_attr(self.term(expr), &attrs.head)
            }
            Expr::UnaryOp { op, expr } => self.unary(*op, expr),
            Expr::BinaryOp { op, left, right } => self.binary(*op, left, right),
            Expr::Like { expr, pattern } => match self.term(expr) {
                Term::Field(value) if value.read_as == ReadAs::Attribute(CedarType::String) => {
                    test(value.field, Condition::Like(like_parts(pattern)))
                }
                Term::Value(Value::String(s)) => {
                    Term::Value(Value::Bool(matches_pattern(&s, pattern)))
                }
                Term::Absent => exact(RecordFilter::False),
                _ => Term::Opaque,
            },
            Expr::Is {
                expr,
                entity_type,
                in_expr,
            } => {
                let is = match self.term(expr) {
                    Term::Record => entity_type.to_string() == self.record_type,
                    Term::Value(Value::Entity(t, _)) => entity_type.to_string() == t,
                    _ => return Term::Opaque,
                };
                let is = Bounds::exact(RecordFilter::constant(is));
                match in_expr {
                    None => Term::Boolean(is),
                    Some(in_expr) => {
                        let within = self.within(self.term(expr), self.term(in_expr));
                        Term::Boolean(Bounds::all([is, within]))
                    }
                }
            }
            Expr::IfThenElse {
                cond,
                then_expr,
                else_expr,
            } => {
                let cond = self.boolean(cond);
                Term::Boolean(Bounds::any([
                    Bounds::all([cond.clone(), self.boolean(then_expr)]),
                    Bounds::all([cond.negate(), self.boolean(else_expr)]),
                ]))
            }
            _ => Term::Opaque,
        }
    }

    fn get_attr(&self, of: Term, attr: &str) -> Term {
        match of {
            Term::Record => match attr {
                "workspace" => Term::Value(uid_value(&self.workspace_uid)),
                "objectHandle" => Term::Value(Value::String(self.definition.handle.to_string())),
                super::record_attributes::ATTRIBUTES => Term::Attributes,
                "createdBy" => Term::Field(RecordValue {
                    field: Field::CreatedBy,
                    read_as: ReadAs::Author,
                }),
                "updatedBy" => Term::Field(RecordValue {
                    field: Field::UpdatedBy,
                    read_as: ReadAs::Author,
                }),
                _ => Term::Opaque,
            },
            Term::Attributes => {
                let declared = self.declared.iter().find(|(key, _)| *key == attr);
                let defined = self
                    .definition
                    .attributes
                    .iter()
                    .find(|(key, _)| key.as_str() == attr);
                match (declared, defined) {
                    (Some((_, cedar_type)), Some((key, attribute))) => Term::Field(RecordValue {
                        field: Field::Attribute {
                            key: key.clone(),
                            kind: attribute.kind.clone(),
                        },
                        read_as: ReadAs::Attribute(cedar_type),
                    }),
                    (Some(_), None) => Term::Absent,
                    (None, _) => Term::Opaque,
                }
            }
            _ => Term::Opaque,
        }
    }

    fn has_attr(&self, of: Term, attr: &str) -> Term {
        match of {
            Term::Record => match attr {
                "workspace" | "objectHandle" | super::record_attributes::ATTRIBUTES => {
                    exact(RecordFilter::True)
                }
                "createdBy" => test(Field::CreatedBy, Condition::Exists(true)),
                "updatedBy" => test(Field::UpdatedBy, Condition::Exists(true)),
                _ => exact(RecordFilter::False),
            },
            Term::Attributes => match self.get_attr(Term::Attributes, attr) {
                Term::Field(value) => test(value.field, Condition::Exists(true)),
                Term::Absent => exact(RecordFilter::False),
                // Not declared: the record type is closed, so it has no such attribute.
                _ => exact(RecordFilter::False),
            },
            _ => Term::Opaque,
        }
    }

    fn unary(&self, op: UnaryOp, expr: &Expr) -> Term {
        match op {
            UnaryOp::Not => Term::Boolean(self.boolean(expr).negate()),
            UnaryOp::Decimal => match self.term(expr) {
                Term::Value(Value::String(s)) => {
                    parse_decimal(&s).map_or(Term::Opaque, |d| Term::Value(Value::Decimal(d)))
                }
                _ => Term::Opaque,
            },
            UnaryOp::Duration => match self.term(expr) {
                Term::Value(Value::String(s)) => {
                    parse_duration(&s).map_or(Term::Opaque, |ms| Term::Value(Value::Duration(ms)))
                }
                _ => Term::Opaque,
            },
            UnaryOp::Datetime => match self.term(expr) {
                Term::Value(Value::String(s)) => {
                    parse_datetime(&s).map_or(Term::Opaque, |ms| Term::Value(Value::Datetime(ms)))
                }
                _ => Term::Opaque,
            },
            _ => Term::Opaque,
        }
    }

    fn binary(&self, op: BinaryOp, left: &Expr, right: &Expr) -> Term {
        match op {
            BinaryOp::And => Term::Boolean(Bounds::all([self.boolean(left), self.boolean(right)])),
            BinaryOp::Or => Term::Boolean(Bounds::any([self.boolean(left), self.boolean(right)])),
            BinaryOp::Eq => self.equal(self.term(left), self.term(right)),
            BinaryOp::NotEq => match self.equal(self.term(left), self.term(right)) {
                Term::Boolean(bounds) => Term::Boolean(bounds.negate()),
                Term::Value(Value::Bool(b)) => Term::Value(Value::Bool(!b)),
                other => other,
            },
            BinaryOp::Less | BinaryOp::DecimalLessThan => {
                self.compare(CompareOp::Lt, self.term(left), self.term(right))
            }
            BinaryOp::LessEq | BinaryOp::DecimalLessEq => {
                self.compare(CompareOp::Lte, self.term(left), self.term(right))
            }
            BinaryOp::Greater | BinaryOp::DecimalGreater => {
                self.compare(CompareOp::Gt, self.term(left), self.term(right))
            }
            BinaryOp::GreaterEq | BinaryOp::DecimalGreaterEq => {
                self.compare(CompareOp::Gte, self.term(left), self.term(right))
            }
            BinaryOp::In => Term::Boolean(self.within(self.term(left), self.term(right))),
            BinaryOp::Contains => contains(self.term(left), self.term(right)),
            BinaryOp::ContainsAny => contains_any(self.term(left), self.term(right)),
            BinaryOp::ContainsAll => contains_all(self.term(left), self.term(right)),
            // Partial evaluation writes a datetime it computed as the epoch plus an offset.
            BinaryOp::Offset => match (self.term(left), self.term(right)) {
                (Term::Value(Value::Datetime(ms)), Term::Value(Value::Duration(offset))) => ms
                    .checked_add(offset)
                    .map_or(Term::Opaque, |ms| Term::Value(Value::Datetime(ms))),
                _ => Term::Opaque,
            },
            _ => Term::Opaque,
        }
    }

    fn equal(&self, left: Term, right: Term) -> Term {
        match (left, right) {
            (Term::Value(a), Term::Value(b)) => Term::Value(Value::Bool(same(&a, &b))),
            (Term::Record, Term::Record) => exact(RecordFilter::True),
            (Term::Record, Term::Value(v)) | (Term::Value(v), Term::Record) => {
                Term::Boolean(Bounds::exact(self.is_record(&v)))
            }
            (Term::Field(field), Term::Value(v)) | (Term::Value(v), Term::Field(field)) => {
                match self.scalar(&field, &v) {
                    Some(Some(scalar)) => {
                        test(field.field, Condition::Compare(CompareOp::Eq, scalar))
                    }
                    // A value of another type or entity type is never equal.
                    Some(None) => exact(RecordFilter::False),
                    None => Term::Opaque,
                }
            }
            (Term::Absent, _) | (_, Term::Absent) => exact(RecordFilter::False),
            _ => Term::Opaque,
        }
    }

    fn compare(&self, op: CompareOp, left: Term, right: Term) -> Term {
        let (field, value, op) = match (left, right) {
            (Term::Value(a), Term::Value(b)) => {
                return order(&a, &b).map_or(Term::Opaque, |ordering| {
                    Term::Value(Value::Bool(op_holds(op, ordering)))
                });
            }
            (Term::Field(field), Term::Value(v)) => (field, v, op),
            (Term::Value(v), Term::Field(field)) => (field, v, flip(op)),
            (Term::Absent, _) | (_, Term::Absent) => return exact(RecordFilter::False),
            _ => return Term::Opaque,
        };
        let ordered = matches!(
            field.read_as,
            ReadAs::Attribute(CedarType::Long | CedarType::Decimal | CedarType::Datetime)
        );
        match self.scalar(&field, &value) {
            Some(Some(scalar)) if ordered => test(field.field, Condition::Compare(op, scalar)),
            _ => Term::Opaque,
        }
    }

    /// `value` as the scalar a test of `field` compares with: `None` when it has no SQL
    /// form, `Some(None)` when no value of the field can equal it.
    fn scalar(&self, field: &RecordValue, value: &Value) -> Option<Option<Scalar>> {
        let scalar = match (field.read_as, value) {
            (ReadAs::Author, Value::Entity(t, id)) => {
                (*t == self.api_key_type).then(|| Scalar::Text(id.clone()))
            }
            (ReadAs::Attribute(CedarType::String), Value::String(s)) => {
                Some(Scalar::Text(s.clone()))
            }
            (ReadAs::Attribute(CedarType::Bool), Value::Bool(b)) => Some(Scalar::Bool(*b)),
            (ReadAs::Attribute(CedarType::Long), Value::Long(n)) => {
                Some(Scalar::Number(exact_f64(*n)?))
            }
            (ReadAs::Attribute(CedarType::Decimal), Value::Decimal(d)) => {
                Some(Scalar::Number(exact_f64(*d)? / 10_000.0))
            }
            // Date-times are stored in one fixed-width form, so their text orders as they do.
            (ReadAs::Attribute(CedarType::Datetime), Value::Datetime(ms)) => {
                let Field::Attribute {
                    kind: AttributeKind::Datetime,
                    ..
                } = field.field
                else {
                    return None;
                };
                let time = DateTime::<Utc>::from_timestamp_millis(*ms)?;
                let text = format_datetime(time);
                // Years past 9999 or before 0 break the fixed width.
                if text.len() != "2026-01-01T00:00:00.000Z".len() {
                    return None;
                }
                Some(Scalar::Text(text))
            }
            (ReadAs::Attribute(CedarType::StringSet), _) => return None,
            _ => None,
        };
        Some(scalar)
    }

    /// `of in target`, for the record or a constant.
    fn within(&self, of: Term, target: Term) -> Bounds {
        let targets = match target {
            Term::Value(Value::Set(items)) => items,
            Term::Value(one) => vec![one],
            _ => return Bounds::unknown(),
        };
        match of {
            Term::Record => Bounds::exact(RecordFilter::any(targets.iter().map(|target| {
                if *target == uid_value(&self.object_uid)
                    || *target == uid_value(&self.workspace_uid)
                {
                    RecordFilter::True
                } else {
                    self.is_record(target)
                }
            }))),
            _ => Bounds::unknown(),
        }
    }

    /// Whether the record is the entity `value`.
    fn is_record(&self, value: &Value) -> RecordFilter {
        let Value::Entity(t, id) = value else {
            return RecordFilter::False;
        };
        let prefix = format!("{}/", self.object_uid.1);
        match id.strip_prefix(&prefix) {
            Some(record_id) if *t == self.record_type => RecordFilter::Test(Filter {
                field: Field::Id,
                condition: Condition::Compare(CompareOp::Eq, Scalar::Text(record_id.to_owned())),
            }),
            _ => RecordFilter::False,
        }
    }
}

fn exact(filter: RecordFilter) -> Term {
    Term::Boolean(Bounds::exact(filter))
}

fn test(field: Field, condition: Condition) -> Term {
    exact(RecordFilter::Test(Filter { field, condition }))
}

fn entity(uid: &pst::EntityUID) -> Value {
    Value::Entity(uid.ty.to_string(), uid.eid.to_string())
}

fn uid_value((t, id): &(String, String)) -> Value {
    Value::Entity(t.clone(), id.clone())
}

/// `n` as an `f64`, when that is exact (the databases compare numbers as doubles).
fn exact_f64(n: i64) -> Option<f64> {
    const EXACT: i64 = 1 << 53;
    (-EXACT..=EXACT).contains(&n).then_some(n as f64)
}

fn strings(values: &[Value]) -> Option<Vec<String>> {
    values
        .iter()
        .map(|value| match value {
            Value::String(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn is_string_set(value: &RecordValue) -> bool {
    value.read_as == ReadAs::Attribute(CedarType::StringSet)
}

/// `left.contains(right)`.
fn contains(left: Term, right: Term) -> Term {
    match (left, right) {
        (Term::Value(Value::Set(items)), Term::Value(item)) => {
            Term::Value(Value::Bool(items.iter().any(|i| same(i, &item))))
        }
        (Term::Value(Value::Set(items)), Term::Field(value))
            if value.read_as == ReadAs::Attribute(CedarType::String) =>
        {
            match strings(&items) {
                Some(options) if options.is_empty() => exact(RecordFilter::False),
                Some(options) => test(
                    value.field,
                    Condition::In(options.into_iter().map(Scalar::Text).collect()),
                ),
                None => Term::Opaque,
            }
        }
        (Term::Field(value), Term::Value(Value::String(option))) if is_string_set(&value) => {
            test(value.field, Condition::HasOption(option))
        }
        (Term::Absent, _) | (_, Term::Absent) => exact(RecordFilter::False),
        _ => Term::Opaque,
    }
}

/// `left.containsAny(right)`: symmetric.
fn contains_any(left: Term, right: Term) -> Term {
    match (left, right) {
        (Term::Value(Value::Set(a)), Term::Value(Value::Set(b))) => {
            Term::Value(Value::Bool(a.iter().any(|x| b.iter().any(|y| same(x, y)))))
        }
        (Term::Field(value), Term::Value(Value::Set(items)))
        | (Term::Value(Value::Set(items)), Term::Field(value))
            if is_string_set(&value) =>
        {
            match strings(&items) {
                Some(options) if options.is_empty() => exact(RecordFilter::False),
                Some(options) => test(value.field, Condition::HasAnyOption(options)),
                None => Term::Opaque,
            }
        }
        (Term::Absent, _) | (_, Term::Absent) => exact(RecordFilter::False),
        _ => Term::Opaque,
    }
}

/// `left.containsAll(right)`.
fn contains_all(left: Term, right: Term) -> Term {
    match (left, right) {
        (Term::Value(Value::Set(a)), Term::Value(Value::Set(b))) => {
            Term::Value(Value::Bool(b.iter().all(|y| a.iter().any(|x| same(x, y)))))
        }
        (Term::Field(value), Term::Value(Value::Set(items))) if is_string_set(&value) => {
            match strings(&items) {
                Some(options) => exact(RecordFilter::all(options.into_iter().map(|option| {
                    RecordFilter::Test(Filter {
                        field: value.field.clone(),
                        condition: Condition::HasOption(option),
                    })
                }))),
                None => Term::Opaque,
            }
        }
        (Term::Absent, _) | (_, Term::Absent) => exact(RecordFilter::False),
        _ => Term::Opaque,
    }
}

fn flip(op: CompareOp) -> CompareOp {
    match op {
        CompareOp::Lt => CompareOp::Gt,
        CompareOp::Lte => CompareOp::Gte,
        CompareOp::Gt => CompareOp::Lt,
        CompareOp::Gte => CompareOp::Lte,
        other => other,
    }
}

fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Long(a), Value::Long(b))
        | (Value::Decimal(a), Value::Decimal(b))
        | (Value::Datetime(a), Value::Datetime(b))
        | (Value::Duration(a), Value::Duration(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn op_holds(op: CompareOp, ordering: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match op {
        CompareOp::Eq => ordering == Equal,
        CompareOp::Ne => ordering != Equal,
        CompareOp::Lt => ordering == Less,
        CompareOp::Lte => ordering != Greater,
        CompareOp::Gt => ordering == Greater,
        CompareOp::Gte => ordering != Less,
    }
}

fn like_parts(pattern: &[PatternElem]) -> Vec<LikePart> {
    let mut parts: Vec<LikePart> = Vec::new();
    for elem in pattern {
        match elem {
            PatternElem::Wildcard => {
                if parts.last() != Some(&LikePart::Any) {
                    parts.push(LikePart::Any);
                }
            }
            PatternElem::Char(c) => match parts.last_mut() {
                Some(LikePart::Text(text)) => text.push(*c),
                _ => parts.push(LikePart::Text(c.to_string())),
            },
        }
    }
    parts
}

/// Cedar's `like` on a constant: `*` matches any run of characters.
fn matches_pattern(text: &str, pattern: &[PatternElem]) -> bool {
    let chars: Vec<char> = text.chars().collect();
    // Classic two-pointer wildcard matching with backtracking to the last `*`.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < chars.len() {
        match pattern.get(p) {
            Some(PatternElem::Char(c)) if *c == chars[t] => {
                t += 1;
                p += 1;
            }
            Some(PatternElem::Wildcard) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..]
        .iter()
        .all(|elem| *elem == PatternElem::Wildcard)
}

/// Cedar's `decimal("…")`: up to four fractional digits, in ten-thousandths.
fn parse_decimal(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.')?;
    if fraction.is_empty() || fraction.len() > 4 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let negative = whole.starts_with('-');
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = digits.parse().ok()?;
    let fraction: i64 = format!("{fraction:0<4}").parse().ok()?;
    let magnitude = whole.checked_mul(10_000)?.checked_add(fraction)?;
    Some(if negative { -magnitude } else { magnitude })
}

/// Cedar's `duration("…")`: an optional `-`, then units largest first (`1d2h3m4s5ms`).
fn parse_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut last_unit = usize::MAX;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let amount: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, ms, rank) = [
            ("ms", 1, 0),
            ("d", 86_400_000, 4),
            ("h", 3_600_000, 3),
            ("m", 60_000, 2),
            ("s", 1_000, 1),
        ]
        .into_iter()
        .find(|(unit, _, _)| rest.starts_with(unit))?;
        if rank >= last_unit {
            return None;
        }
        last_unit = rank;
        rest = &rest[unit.len()..];
        total = total.checked_add(amount.checked_mul(ms)?)?;
    }
    Some(if negative { -total } else { total })
}

/// Cedar's `datetime("…")`: a date, or a date and time in UTC or with an offset, to the
/// millisecond.
fn parse_datetime(text: &str) -> Option<i64> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && text.len() == 10
    {
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    let formats = [
        "%Y-%m-%dT%H:%M:%SZ",
        "%Y-%m-%dT%H:%M:%S%.3fZ",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%dT%H:%M:%S%.3f%z",
    ];
    formats.iter().find_map(|format| {
        let parsed = if format.ends_with('Z') {
            chrono::NaiveDateTime::parse_from_str(text, format)
                .ok()
                .map(|t| t.and_utc())
        } else {
            DateTime::parse_from_str(text, format)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        };
        parsed.map(|t| t.timestamp_millis())
    })
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::authz::load::load;
    use crate::keys::grant::{Permission, Role};
    use crate::keys::metadata::KeyMetadata;
    use crate::keys::secret::Environment;
    use crate::objects::attribute::attributes_from_json;
    use crate::objects::handle::ObjectHandle;
    use crate::principal::WorkspaceRef;

    /// The shipped policies with `RecordAttributes` replaced by `attributes` and `extra`
    /// added as a policy file.
    fn bundle(attributes: &str, extra: &str) -> PolicyBundle {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(&shipped).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
            }
        }
        let schema_path = dir.path().join("schema.cedarschema");
        let schema = std::fs::read_to_string(&schema_path).unwrap();
        let start = schema.find("type RecordAttributes = {").unwrap();
        let end = start + schema[start..].find("};").unwrap() + 2;
        let schema = format!(
            "{}type RecordAttributes = {{ {attributes} }};{}",
            &schema[..start],
            &schema[end..]
        );
        std::fs::write(&schema_path, schema).unwrap();
        std::fs::write(dir.path().join("extra.cedar"), extra).unwrap();
        load(dir.path()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    const ATTRIBUTES: &str = "region?: String, confidential?: Bool, amount?: Long, \
        price?: decimal, due?: datetime, tags?: Set<String>";

    fn definition() -> ObjectDefinition {
        ObjectDefinition {
            id: "obj_1".into(),
            workspace_id: "ws_a".into(),
            handle: ObjectHandle::parse("customers").unwrap(),
            name: "Customers".into(),
            description: None,
            attributes: attributes_from_json(&json!({
                "region": {"type": "text"},
                "confidential": {"type": "boolean"},
                "amount": {"type": "integer"},
                "price": {"type": "number"},
                "due": {"type": "datetime"},
                "tags": {"type": "multiselect", "options": [{"value": "vip"}, {"value": "new"}]},
            }))
            .unwrap(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn key(role: Role, tags: &[(&str, &str)]) -> KeyPrincipal {
        KeyPrincipal {
            key_id: "key_1".into(),
            workspace: WorkspaceRef {
                id: "ws_a".into(),
                handle: "a".into(),
            },
            role: Some(role),
            permissions: Vec::<Permission>::new(),
            environment: Environment::Live,
            metadata: KeyMetadata::new(
                tags.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
            .unwrap(),
            objects: None,
        }
    }

    fn context() -> RequestContext {
        RequestContext {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            time: Utc::now(),
            method: "GET".into(),
            path: "/api/objects/customers/query".into(),
        }
    }

    fn filter_of(extra: &str, principal: &KeyPrincipal) -> QueryFilter {
        query_filter(
            &bundle(ATTRIBUTES, extra),
            principal,
            &definition(),
            &context(),
        )
        .unwrap()
    }

    #[test]
    fn the_shipped_policies_let_a_reader_see_every_record_of_its_workspace() {
        let filter = filter_of("", &key(Role::Viewer, &[]));
        assert_eq!(filter.condition, RecordFilter::True);
        assert!(filter.exact);
        assert_eq!(filter.policies, vec!["objects-read"]);
    }

    #[test]
    fn a_key_of_another_workspace_sees_nothing() {
        let mut principal = key(Role::Viewer, &[]);
        principal.workspace.id = "ws_b".into();
        let filter = filter_of("", &principal);
        assert_eq!(filter.condition, RecordFilter::False);
        assert!(filter.exact);
    }

    #[test]
    fn region_isolation_becomes_an_equality_on_the_keys_tag() {
        let region = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/examples/region-isolation.cedar"),
        )
        .unwrap();
        let filter = filter_of(&region, &key(Role::Viewer, &[("region", "EU")]));
        assert!(filter.exact, "{filter:?}");
        assert_eq!(
            filter.condition.to_string(),
            r#"region exists and region eq "EU""#
        );
        assert_eq!(
            filter.policies,
            vec!["example-region-isolation", "objects-read"]
        );
        let untagged = filter_of(&region, &key(Role::Viewer, &[]));
        assert_eq!(untagged.condition, RecordFilter::True);
    }

    #[test]
    fn a_forbid_subtracts_and_an_admin_it_exempts_sees_everything() {
        let confidential = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("policies/examples/confidential-records.cedar"),
        )
        .unwrap();
        let viewer = filter_of(&confidential, &key(Role::Viewer, &[]));
        assert!(viewer.exact);
        assert_eq!(
            viewer.condition.to_string(),
            "not (confidential exists and confidential eq true)"
        );
        let admin = filter_of(&confidential, &key(Role::Admin, &[]));
        assert_eq!(admin.condition, RecordFilter::True);
    }

    #[test]
    fn a_permit_adds_records_a_key_could_not_otherwise_read() {
        // A key without objects.read that may read the records it created.
        let own = r#"@id("own") permit (principal is Andi::ApiKey, action == Andi::Action::"getRecord", resource is Andi::Record)
            when { resource has createdBy && resource.createdBy == principal };"#;
        let mut principal = key(Role::Viewer, &[]);
        principal.role = None;
        let filter = filter_of(own, &principal);
        assert!(filter.exact);
        assert_eq!(
            filter.condition.to_string(),
            r#"createdBy exists and createdBy eq "key_1""#
        );
    }

    #[test]
    fn comparisons_sets_patterns_and_conditionals_have_sql_forms() {
        let policies = r#"
            @id("numbers") forbid (principal, action, resource is Andi::Record)
            when { resource.attributes has amount && resource.attributes.amount > 100 &&
                   resource.attributes has price && resource.attributes.price.lessThan(decimal("9.5")) };
            @id("sets") forbid (principal, action, resource is Andi::Record)
            when { resource.attributes has tags && resource.attributes.tags.containsAny(["vip", "new"]) };
            @id("pattern") forbid (principal, action, resource is Andi::Record)
            when { resource.attributes has region && resource.attributes.region like "E*" };
            @id("dates") forbid (principal, action, resource is Andi::Record)
            when { if resource.attributes has due then resource.attributes.due < datetime("2026-01-01") else false };
            @id("in-list") forbid (principal, action, resource is Andi::Record)
            when { resource.attributes has region && ["US", "CA"].contains(resource.attributes.region) };
        "#;
        let filter = filter_of(policies, &key(Role::Viewer, &[]));
        assert!(filter.exact, "{filter:?}");
        let text = filter.condition.to_string();
        for part in [
            // Cedar's partial evaluation writes `a > b` as `!(a <= b)`.
            "not (amount lte 100)",
            "price lt 9.5",
            r#"tags has any of ["new", "vip"]"#,
            r#"region like "E*""#,
            r#"due lt "2026-01-01T00:00:00.000Z""#,
            r#"region in ["CA", "US"]"#,
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
    }

    #[test]
    fn a_part_with_no_sql_form_widens_the_filter_and_rows_are_decided() {
        // Arithmetic on a record's value has no SQL form here.
        let policies = r#"@id("doubled") forbid (principal, action, resource is Andi::Record)
            when { resource.attributes has amount && resource.attributes.amount * 2 > 100 &&
                   resource.attributes has region && resource.attributes.region == "EU" };"#;
        let filter = filter_of(policies, &key(Role::Viewer, &[]));
        assert!(!filter.exact);
        // The forbid may hold only where both known parts do, so nothing is excluded in SQL.
        assert_eq!(filter.condition, RecordFilter::True);

        let permit_only = r#"@id("doubled") permit (principal, action == Andi::Action::"getRecord", resource is Andi::Record)
            when { resource.attributes has amount && resource.attributes.amount * 2 > 100 &&
                   resource.attributes has region && resource.attributes.region == "EU" };"#;
        let mut principal = key(Role::Viewer, &[]);
        principal.role = None;
        let filter = filter_of(permit_only, &principal);
        assert!(!filter.exact);
        // Only records the known parts allow can be allowed.
        assert_eq!(
            filter.condition.to_string(),
            r#"amount exists and region exists and region eq "EU""#
        );
    }

    #[test]
    fn cedar_literals_parse_as_cedar_reads_them() {
        assert_eq!(parse_decimal("9.5"), Some(95_000));
        assert_eq!(parse_decimal("-0.0001"), Some(-1));
        assert_eq!(parse_decimal("1"), None);
        assert_eq!(parse_decimal("1.23456"), None);
        assert_eq!(parse_datetime("2026-01-01"), Some(1_767_225_600_000));
        assert_eq!(
            parse_datetime("2026-01-01T01:00:00+0100"),
            Some(1_767_225_600_000)
        );
        assert_eq!(
            parse_datetime("2026-01-01T00:00:00.250Z"),
            Some(1_767_225_600_250)
        );
        assert_eq!(parse_duration("1767225600000ms"), Some(1_767_225_600_000));
        assert_eq!(parse_duration("-1d2h3m4s5ms"), Some(-93_784_005));
        assert_eq!(parse_duration("1h1d"), None);
        assert_eq!(parse_duration("5"), None);
        let star = |s: &str| -> Vec<PatternElem> {
            s.chars()
                .map(|c| {
                    if c == '*' {
                        PatternElem::Wildcard
                    } else {
                        PatternElem::Char(c)
                    }
                })
                .collect()
        };
        assert!(matches_pattern("Europe", &star("E*e")));
        assert!(matches_pattern("", &star("*")));
        assert!(!matches_pattern("europe", &star("E*")));
        assert!(matches_pattern("aXbXc", &star("a*b*c")));
        assert!(!matches_pattern("abc", &star("a*d")));
    }
}
