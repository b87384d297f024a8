//! Refusing, at load, a policy that reads an entity a decision does not hold.
//!
//! A decision holds the principal, the resource (with its object), every action, role and
//! permission, and nothing else: not every key, object or record of the workspace. A
//! policy that reads the attributes, tags or ancestors of any other entity would meet an
//! entity that is not there, and Cedar would skip it with an error, or answer `in` with
//! `false`, where the same policy on the full entity graph decides otherwise. So such a
//! policy is refused when the policies load, with its file and line, and the set that
//! serves always decides as Cedar would on every entity Andi stores.
//!
//! What a decision holds is read from the schema: entity types that carry nothing (no
//! attributes, no tags, no parent types) read the same whether present or not, so their
//! literals are safe; roles, permissions and actions are always present. An attribute the
//! schema types as any other entity (a record's `createdBy`, say) names an entity that is
//! not held, so reading through it is refused too. Comparing such entities with `==`, or
//! testing whether the principal or resource is `in` them, needs nothing loaded and is
//! allowed.

use std::collections::HashSet;

use cedar_policy::{Policy, SchemaFragment};
use serde_json::Value;

use super::entities::NAMESPACE;

/// Entity types whose entities every decision holds: what `entities.json` defines.
const ALWAYS_HELD: [&str; 2] = ["Role", "Permission"];

/// What the schema says about which entities a policy may read through.
#[derive(Debug)]
pub(super) struct HeldEntities {
    /// Fully qualified types whose literals may be read (attributes, tags, `in`).
    readable_types: HashSet<String>,
    /// Attribute names the schema types, somewhere, as an entity that is not held.
    unheld_attributes: HashSet<String>,
}

/// What one policy reads through, beyond its principal and resource.
#[derive(Debug, Default, PartialEq)]
pub(super) struct PolicyReads {
    /// Reads a decision cannot answer as Cedar would: the policy is refused.
    pub(super) unheld: Vec<UnheldRead>,
    /// Literals of held types the policy reads through (`Andi::Role::"viewer" in …`): a
    /// decision must hold these entities.
    pub(super) literals: Vec<(String, String)>,
}

/// A read the loaded set cannot answer as Cedar would.
#[derive(Debug, PartialEq)]
pub(super) struct UnheldRead {
    /// Text to find the read by in the policy's source, for its line.
    pub(super) needle: String,
    pub(super) message: String,
}

impl HeldEntities {
    /// Reads the entity types and attribute types of the schema's text.
    pub(super) fn from_schema(schema_text: &str) -> Result<HeldEntities, String> {
        let (fragment, _) = SchemaFragment::from_cedarschema_str(schema_text)
            .map_err(|e| format!("schema: {e}"))?;
        let json = fragment
            .to_json_value()
            .map_err(|e| format!("schema: {e}"))?;
        let namespace = json.get(NAMESPACE).unwrap_or(&Value::Null);
        let entity_types = namespace
            .get("entityTypes")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let common_types = namespace
            .get("commonTypes")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();

        let mut readable_types = HashSet::new();
        for (name, declaration) in &entity_types {
            let carries_nothing = declaration
                .pointer("/shape/attributes")
                .and_then(Value::as_object)
                .is_none_or(|attributes| attributes.is_empty())
                && declaration.get("tags").is_none()
                && declaration
                    .get("memberOfTypes")
                    .and_then(Value::as_array)
                    .is_none_or(|parents| parents.is_empty());
            if carries_nothing || ALWAYS_HELD.contains(&name.as_str()) {
                readable_types.insert(format!("{NAMESPACE}::{name}"));
            }
        }

        let is_unheld_entity = |type_name: &str| {
            let short = type_name
                .strip_prefix(&format!("{NAMESPACE}::"))
                .unwrap_or(type_name);
            entity_types.contains_key(short) && !readable_types.contains(&qualified(short))
        };
        let mut unheld_attributes = HashSet::new();
        let shapes = entity_types
            .values()
            .filter_map(|declaration| declaration.get("shape"))
            .chain(common_types.values());
        for shape in shapes {
            collect_unheld_attributes(shape, &is_unheld_entity, &mut unheld_attributes);
        }
        Ok(HeldEntities {
            readable_types,
            unheld_attributes,
        })
    }

    /// What `policy` reads through: entities a decision does not hold, and literals it must.
    pub(super) fn reads(&self, policy: &Policy) -> Result<PolicyReads, String> {
        let json = policy
            .to_json()
            .map_err(|e| format!("policy to JSON: {e}"))?;
        let mut reads = PolicyReads::default();
        for condition in json
            .get("conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(body) = condition.get("body") {
                self.walk(body, &mut reads);
            }
        }
        Ok(reads)
    }

    /// Visits every expression under `expr`, checking what each read reads through.
    fn walk(&self, expr: &Value, reads: &mut PolicyReads) {
        let Some(node) = expr.as_object() else {
            return;
        };
        for (op, operands) in node {
            if op == "Value" {
                continue;
            }
            let read = match op.as_str() {
                "." | "has" => Some("reads an attribute of"),
                "getTag" | "hasTag" => Some("reads a tag of"),
                "in" => Some("tests the ancestors of"),
                "is" if operands.get("in").is_some() => Some("tests the ancestors of"),
                _ => None,
            };
            if let (Some(read), Some(left)) = (read, operands.get("left")) {
                self.check_operand(left, read, reads);
            }
            match operands {
                Value::Array(items) => items.iter().for_each(|item| self.walk(item, reads)),
                Value::Object(fields) => fields.values().for_each(|field| self.walk(field, reads)),
                _ => {}
            }
        }
    }

    /// Whether `operand`, which a policy reads through, is an entity the decision holds.
    fn check_operand(&self, operand: &Value, read: &str, reads: &mut PolicyReads) {
        if let Some(entity) = operand.pointer("/Value/__entity") {
            let type_name = entity.get("type").and_then(Value::as_str).unwrap_or("");
            let id = entity.get("id").and_then(Value::as_str).unwrap_or("");
            if self.readable_types.contains(type_name) || type_name.ends_with("::Action") {
                reads.literals.push((type_name.to_owned(), id.to_owned()));
            } else {
                let literal = format!("{type_name}::\"{id}\"");
                reads.unheld.push(UnheldRead {
                    needle: literal.clone(),
                    message: format!(
                        "this policy {read} {literal}, an entity named by literal; a decision \
                         holds only its principal and resource (and every role, permission and \
                         action), so Cedar would meet an entity that is not there. Compare with \
                         `principal == {literal}` or `resource == {literal}` instead"
                    ),
                });
            }
        } else if let Some(attribute) = operand.pointer("/./attr").and_then(Value::as_str) {
            if self.unheld_attributes.contains(attribute) {
                reads.unheld.push(UnheldRead {
                    needle: format!(".{attribute}"),
                    message: format!(
                        "this policy {read} the entity in `.{attribute}`; a decision holds only \
                         its principal and resource (and every role, permission and action), not \
                         the entity an attribute names. Compare it with `==` instead, e.g. \
                         `resource.{attribute} == principal`"
                    ),
                });
            }
        } else if let Some(branches) = operand.get("if-then-else") {
            for branch in ["then", "else"] {
                if let Some(branch) = branches.get(branch) {
                    self.check_operand(branch, read, reads);
                }
            }
        } else if let Some(fields) = operand.get("Record").and_then(Value::as_object) {
            for field in fields.values() {
                self.check_operand(field, read, reads);
            }
        }
    }
}

fn qualified(short: &str) -> String {
    format!("{NAMESPACE}::{short}")
}

/// Adds the names of the attributes under `shape` (a record type, nested records included)
/// whose type is an entity that is not held.
fn collect_unheld_attributes(
    shape: &Value,
    is_unheld_entity: &dyn Fn(&str) -> bool,
    out: &mut HashSet<String>,
) {
    let Some(attributes) = shape.get("attributes").and_then(Value::as_object) else {
        return;
    };
    for (name, attribute) in attributes {
        let kind = attribute.get("type").and_then(Value::as_str).unwrap_or("");
        let type_name = attribute.get("name").and_then(Value::as_str).unwrap_or("");
        match kind {
            "Entity" | "EntityOrCommon" if is_unheld_entity(type_name) => {
                out.insert(name.clone());
            }
            "Record" => collect_unheld_attributes(attribute, is_unheld_entity, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    const SCHEMA: &str = r#"
        namespace Andi {
          entity Permission;
          entity Role in [Permission];
          entity Workspace;
          entity ApiKey in [Workspace, Role, Permission] = { workspace: Workspace, environment: String };
          entity Record = { workspace: Workspace, createdBy?: ApiKey, meta?: { owner?: ApiKey } };
          action read appliesTo { principal: ApiKey, resource: Record };
        }
    "#;

    fn policy_reads(policy: &str) -> PolicyReads {
        let held = HeldEntities::from_schema(SCHEMA).unwrap();
        held.reads(&Policy::from_str(policy).unwrap()).unwrap()
    }

    fn reads(policy: &str) -> Vec<String> {
        policy_reads(policy)
            .unheld
            .into_iter()
            .map(|read| read.needle)
            .collect()
    }

    #[test]
    fn reading_the_principal_and_resource_needs_nothing_more() {
        assert!(
            reads(
                r#"permit (principal, action, resource) when {
                    principal.environment == "live" && resource has createdBy
                    && resource.createdBy == principal && principal in Andi::Role::"admin"
                    && principal.workspace in Andi::Workspace::"ws" };"#
            )
            .is_empty()
        );
    }

    #[test]
    fn literals_of_held_types_may_be_read() {
        assert!(
            reads(
                r#"forbid (principal, action, resource) when {
                    Andi::Role::"viewer" in Andi::Permission::"objects.read"
                    && Andi::Workspace::"ws" in Andi::Workspace::"other"
                    && Andi::Action::"read" in Andi::Action::"group" };"#
            )
            .is_empty()
        );
    }

    #[test]
    fn held_literals_read_through_are_named_for_the_decision_to_hold() {
        let read = policy_reads(
            r#"forbid (principal, action, resource) when {
                Andi::Role::"viewer" in Andi::Permission::"objects.read"
                && principal in Andi::Role::"admin" };"#,
        );
        assert_eq!(
            read.literals,
            vec![("Andi::Role".to_owned(), "viewer".to_owned())]
        );
    }

    #[test]
    fn a_literal_key_read_through_is_refused() {
        assert_eq!(
            reads(
                r#"forbid (principal, action, resource) unless {
                    Andi::ApiKey::"key_b".environment == "test" };"#
            ),
            vec![r#"Andi::ApiKey::"key_b""#]
        );
        assert_eq!(
            reads(
                r#"forbid (principal, action, resource) when { Andi::ApiKey::"k" in Andi::Role::"admin" };"#
            ),
            vec![r#"Andi::ApiKey::"k""#]
        );
    }

    #[test]
    fn comparing_a_literal_key_needs_nothing_loaded() {
        assert!(
            reads(
                r#"forbid (principal, action, resource) when {
                    principal == Andi::ApiKey::"k" || principal in Andi::ApiKey::"k" };"#
            )
            .is_empty()
        );
    }

    #[test]
    fn reading_through_an_entity_attribute_is_refused() {
        assert_eq!(
            reads(
                r#"forbid (principal, action, resource) when {
                    resource has createdBy && resource.createdBy.environment == "test" };"#
            ),
            vec![".createdBy"]
        );
        assert_eq!(
            reads(
                r#"forbid (principal, action, resource) when {
                    resource has meta.owner && resource.meta.owner in Andi::Role::"admin" };"#
            ),
            vec![".owner"]
        );
    }

    #[test]
    fn a_branch_that_may_be_an_unheld_literal_is_refused() {
        assert_eq!(
            reads(
                r#"forbid (principal, action, resource) when {
                    (if context has x then principal else Andi::ApiKey::"k").environment == "test" };"#
            ),
            vec![r#"Andi::ApiKey::"k""#]
        );
    }
}
