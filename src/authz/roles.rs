//! The roles of `entities.json`: what each grants, and their Cedar entities.

use std::collections::HashMap;

use cedar_policy::{Entities, Entity, Schema};

use super::entities::EntityTypes;
use super::source::{PolicyError, SourceFile, diagnostic_message, entity_error};
use crate::keys::grant::{Permission, Role};

/// What each role grants, and the roles' Cedar entities.
pub(super) struct Roles {
    pub(super) permissions: HashMap<Role, Vec<Permission>>,
    pub(super) entities: Vec<Entity>,
}

/// Reads `entities.json`: the roles and the permissions they group.
pub(super) fn parse_roles(
    file: &SourceFile,
    schema: &Schema,
    types: &EntityTypes,
    errors: &mut Vec<PolicyError>,
) -> Option<Roles> {
    let value: serde_json::Value = match serde_json::from_str(&file.text) {
        Ok(value) => value,
        Err(e) => {
            errors.push(PolicyError {
                file: file.path.clone(),
                line: Some(e.line()),
                column: Some(e.column()),
                message: e.to_string(),
            });
            return None;
        }
    };
    let entities = match Entities::from_json_value(value, Some(schema)) {
        Ok(entities) => entities,
        Err(e) => {
            errors.push(PolicyError {
                file: file.path.clone(),
                line: None,
                column: None,
                message: diagnostic_message(&e),
            });
            return None;
        }
    };
    let mut roles = HashMap::new();
    let mut role_entities = Vec::new();
    let before = errors.len();
    for entity in entities.iter() {
        let uid = entity.uid();
        let id = uid.id().unescaped().to_owned();
        if uid.type_name().basename() == "Action" {
            // With a schema, Cedar adds the action entities itself.
            continue;
        } else if uid.type_name() == &types.permission {
            if id.parse::<Permission>().is_err() {
                errors.push(entity_error(file, &id, format!("unknown permission `{id}`: Andi knows objects.read, objects.write, workspaces.read")));
            }
        } else if uid.type_name() == &types.role {
            match id.parse::<Role>() {
                Ok(role) => {
                    let mut permissions = Vec::new();
                    for ancestor in entities.ancestors(&uid).into_iter().flatten() {
                        match ancestor.id().unescaped().parse::<Permission>() {
                            Ok(p) if ancestor.type_name() == &types.permission => permissions.push(p),
                            _ => errors.push(entity_error(file, &id, format!("role `{id}` has parent `{ancestor}`, which is not a known permission"))),
                        }
                    }
                    permissions.sort();
                    roles.insert(role, permissions);
                    role_entities.push(entity.clone());
                }
                Err(message) => errors.push(entity_error(file, &id, message)),
            }
        } else {
            errors.push(entity_error(file, &id, format!("entities.json may define only Andi::Role and Andi::Permission entities, not `{uid}`")));
        }
    }
    for role in Role::ALL {
        if !roles.contains_key(&role) {
            errors.push(PolicyError {
                file: file.path.clone(),
                line: None,
                column: None,
                message: format!("role `{role}` is not defined"),
            });
        }
    }
    (errors.len() == before).then_some(Roles {
        permissions: roles,
        entities: role_entities,
    })
}
