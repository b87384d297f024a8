//! A record's entity, built and added to a principal's remembered entities at the cost of
//! the record alone.
//!
//! Through Cedar's public API a record decision spent half its time around the policies:
//! `Entity::new` interprets each attribute given as an expression, and
//! `Entities::add_entities` repairs the transitive closure of every entity in the set,
//! hashing every ancestor of each. Neither is needed here. A record's attribute values are
//! already values (strings, numbers, sets), so they are built as such; and a record is a
//! leaf that names its whole ancestry (object and workspace) as parents, so the set with it
//! added is closed already, which cedar-policy-core can be told
//! (`TCComputation::AssumeAlreadyComputed`). This module is the one place Andi reaches
//! cedar-policy-core, through cedar-policy's conversions into its types (the two are pinned
//! to one version in Cargo.toml), and it checks the claim it makes about the closure.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use cedar_policy::{Entities, EntityUid};
use cedar_policy_core::ast::{self, Name, PartialValue, Value};
use cedar_policy_core::entities::{
    Dereference, Entities as CoreEntities, NoEntitiesSchema, TCComputation,
};
use cedar_policy_core::extensions::Extensions;

use super::record_attributes::{ATTRIBUTES, CedarValue};

/// What a record's entity holds.
pub(super) struct RecordEntity<'a> {
    pub uid: EntityUid,
    pub workspace: EntityUid,
    pub object: EntityUid,
    pub object_handle: &'a str,
    /// The declared attributes the record holds, as policies read them.
    pub attributes: Vec<(&'a str, CedarValue<'a>)>,
    pub created_by: Option<EntityUid>,
    pub updated_by: Option<EntityUid>,
}

/// `entities` with `record` added. No entity of `entities` has a record as an ancestor (Andi
/// builds none whose parent is a record); should the object in `entities` have an ancestor
/// besides the workspace, the closure is computed.
pub(super) fn with_record(
    entities: &Entities,
    record: RecordEntity<'_>,
) -> Result<Entities, String> {
    let core: &CoreEntities = entities.as_ref();
    let record = entity(record)?;
    debug_assert!(
        !core.iter().any(|e| e.is_descendant_of(record.uid())),
        "{} is an ancestor in the set it is added to",
        record.uid()
    );
    let closure = if names_its_ancestry(core, &record) {
        TCComputation::AssumeAlreadyComputed
    } else {
        TCComputation::ComputeNow
    };
    core.clone()
        .add_entities(
            [Arc::new(record)],
            None::<&NoEntitiesSchema>,
            closure,
            Extensions::all_available(),
        )
        .map(Entities::from)
        .map_err(|e| format!("entities: {e}"))
}

fn entity(record: RecordEntity<'_>) -> Result<ast::Entity, String> {
    let attributes = record
        .attributes
        .into_iter()
        .map(|(key, value)| Ok((key, value_of(value)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let authors = [
        ("createdBy", record.created_by),
        ("updatedBy", record.updated_by),
    ]
    .into_iter()
    .filter_map(|(name, author)| Some((name, uid_value(author?))));
    let attrs = [
        ("workspace", uid_value(record.workspace.clone())),
        ("objectHandle", Value::from(record.object_handle)),
        (ATTRIBUTES, Value::record(attributes, None)),
    ]
    .into_iter()
    .chain(authors)
    .map(|(name, value)| (name.into(), PartialValue::from(value)));
    let parents: HashSet<ast::EntityUID> = [record.object, record.workspace]
        .into_iter()
        .map(ast::EntityUID::from)
        .collect();
    Ok(ast::Entity::new_with_attr_partial_value(
        record.uid.into(),
        attrs,
        HashSet::new(),
        parents,
        [],
    ))
}

fn uid_value(uid: EntityUid) -> Value {
    Value::from(ast::EntityUID::from(uid))
}

/// The constructors of the extension types record attributes may be read as.
static DECIMAL: LazyLock<Option<Name>> =
    LazyLock::new(|| Name::parse_unqualified_name("decimal").ok());
static DATETIME: LazyLock<Option<Name>> =
    LazyLock::new(|| Name::parse_unqualified_name("datetime").ok());

fn value_of(value: CedarValue<'_>) -> Result<Value, String> {
    Ok(match value {
        CedarValue::String(s) => Value::from(s),
        CedarValue::Long(n) => Value::from(n),
        CedarValue::Bool(b) => Value::from(b),
        CedarValue::StringSet(items) => Value::set(items.into_iter().map(Value::from), None),
        CedarValue::Decimal(literal) => extension_value(&DECIMAL, &literal)?,
        CedarValue::Datetime(literal) => extension_value(&DATETIME, literal)?,
    })
}

/// `constructor(argument)`, as Cedar's extension function makes it.
fn extension_value(constructor: &Option<Name>, argument: &str) -> Result<Value, String> {
    let name = constructor
        .as_ref()
        .ok_or("an extension constructor's name does not parse")?;
    let function = Extensions::all_available()
        .func(name)
        .map_err(|e| e.to_string())?;
    match function.call(&[Value::from(argument)]) {
        Ok(PartialValue::Value(value)) => Ok(value),
        Ok(PartialValue::Residual(_)) => Err(format!("{name}(\"{argument}\") is not a value")),
        Err(e) => Err(format!("{name}(\"{argument}\"): {e}")),
    }
}

/// Whether `leaf` names among its parents every ancestor its parents have in `entities`.
fn names_its_ancestry(entities: &CoreEntities, leaf: &ast::Entity) -> bool {
    leaf.parents().all(|parent| match entities.entity(parent) {
        Dereference::Data(parent) => parent.ancestors().all(|a| leaf.is_descendant_of(a)),
        Dereference::NoSuchEntity | Dereference::Residual(_) => true,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::str::FromStr;

    use cedar_policy::{Entity, RestrictedExpression};

    use super::*;

    fn uid(text: &str) -> EntityUid {
        EntityUid::from_str(text).unwrap()
    }

    /// The same record through Cedar's public API, attributes as expressions it evaluates.
    fn through_public_api() -> Entity {
        let attributes = RestrictedExpression::new_record([
            (
                "region".to_owned(),
                RestrictedExpression::new_string("EU".into()),
            ),
            ("tier".to_owned(), RestrictedExpression::new_long(3)),
            (
                "amount".to_owned(),
                RestrictedExpression::new_decimal("120.5000"),
            ),
            ("open".to_owned(), RestrictedExpression::new_bool(true)),
            (
                "due".to_owned(),
                RestrictedExpression::new_datetime("2026-12-01"),
            ),
            (
                "tags".to_owned(),
                RestrictedExpression::new_set([
                    RestrictedExpression::new_string("a".into()),
                    RestrictedExpression::new_string("b".into()),
                ]),
            ),
        ])
        .unwrap();
        Entity::new(
            uid(r#"Andi::Record::"obj_1/rec_1""#),
            HashMap::from([
                (
                    "workspace".to_owned(),
                    RestrictedExpression::new_entity_uid(uid(r#"Andi::Workspace::"ws_1""#)),
                ),
                (
                    "objectHandle".to_owned(),
                    RestrictedExpression::new_string("invoices".into()),
                ),
                (ATTRIBUTES.to_owned(), attributes),
                (
                    "createdBy".to_owned(),
                    RestrictedExpression::new_entity_uid(uid(r#"Andi::ApiKey::"key_1""#)),
                ),
            ]),
            HashSet::from([
                uid(r#"Andi::ObjectDefinition::"obj_1""#),
                uid(r#"Andi::Workspace::"ws_1""#),
            ]),
        )
        .unwrap()
    }

    fn record() -> RecordEntity<'static> {
        RecordEntity {
            uid: uid(r#"Andi::Record::"obj_1/rec_1""#),
            workspace: uid(r#"Andi::Workspace::"ws_1""#),
            object: uid(r#"Andi::ObjectDefinition::"obj_1""#),
            object_handle: "invoices",
            attributes: vec![
                ("region", CedarValue::String("EU")),
                ("tier", CedarValue::Long(3)),
                ("amount", CedarValue::Decimal("120.5000".into())),
                ("open", CedarValue::Bool(true)),
                ("due", CedarValue::Datetime("2026-12-01")),
                ("tags", CedarValue::StringSet(vec!["a", "b"])),
            ],
            created_by: Some(uid(r#"Andi::ApiKey::"key_1""#)),
            updated_by: None,
        }
    }

    #[test]
    fn a_record_built_from_values_equals_the_one_cedar_evaluates() {
        let expected = through_public_api();
        assert_eq!(
            &entity(record()).unwrap(),
            AsRef::<ast::Entity>::as_ref(&expected)
        );
    }

    #[test]
    fn an_added_record_has_the_ancestry_cedar_computes() {
        let workspace = Entity::new_no_attrs(uid(r#"Andi::Workspace::"ws_1""#), HashSet::new());
        let object = Entity::new_no_attrs(
            uid(r#"Andi::ObjectDefinition::"obj_1""#),
            HashSet::from([workspace.uid()]),
        );
        let set = Entities::from_entities([workspace, object], None).unwrap();
        let ours = with_record(&set, record()).unwrap();
        let cedars = set.add_entities([through_public_api()], None).unwrap();
        assert_eq!(ours, cedars);
    }

    #[test]
    fn a_record_whose_object_has_an_ancestor_it_does_not_name_gets_the_closure_computed() {
        let workspace = Entity::new_no_attrs(
            uid(r#"Andi::Workspace::"ws_1""#),
            HashSet::from([uid(r#"Andi::Console::"console""#)]),
        );
        let console = Entity::new_no_attrs(uid(r#"Andi::Console::"console""#), HashSet::new());
        let object = Entity::new_no_attrs(
            uid(r#"Andi::ObjectDefinition::"obj_1""#),
            HashSet::from([workspace.uid()]),
        );
        let set = Entities::from_entities([console, workspace, object], None).unwrap();
        let ours = with_record(&set, record()).unwrap();
        let cedars = set.add_entities([through_public_api()], None).unwrap();
        assert_eq!(ours, cedars);
    }

    #[test]
    fn a_value_the_extension_refuses_is_an_error() {
        let mut bad = record();
        bad.attributes = vec![("amount", CedarValue::Decimal("1.234567".into()))];
        assert!(entity(bad).unwrap_err().contains("decimal"));
    }
}
