//! Loading `policies/`: the schema, every `*.cedar` file and `entities.json`, parsed and
//! strictly validated as one set. A set that has any error is never returned, so the
//! service cannot start on, or switch to, a half-valid set.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{
    Entity, EntityId, EntityTypeName, EntityUid, PolicyId, PolicySet, Schema, SchemaFragment,
    ValidationMode, Validator,
};
use sha2::{Digest, Sha256};

use super::action::Action;
use super::bundle::PolicyBundle;
use super::entities::{DecisionEntities, EntityTypes, NAMESPACE};
use super::entity_reads::HeldEntities;
use super::index::PolicyIndex;
use super::record_attributes::RecordAttributeTypes;
use super::roles::parse_roles;
use super::source::{
    PolicyError, PolicyErrors, PolicyLocation, SourceFile, first_line_containing, line_column,
    located, read_source,
};
use crate::keys::grant::Permission;

pub const SCHEMA_FILE: &str = "schema.cedarschema";
pub const ENTITIES_FILE: &str = "entities.json";
/// Loads and validates the policy directory.
pub fn load(dir: &Path) -> Result<PolicyBundle, PolicyErrors> {
    load_with(dir, &[])
}

/// Loads the policy directory as if the `extra` policy files were in it: how an example
/// policy is tested on top of the base set before an operator copies it in.
pub fn load_with(dir: &Path, extra: &[PathBuf]) -> Result<PolicyBundle, PolicyErrors> {
    let mut errors = Vec::new();
    let whole_dir = |message: String| {
        PolicyErrors(vec![PolicyError {
            file: dir.to_path_buf(),
            line: None,
            column: None,
            message,
        }])
    };

    let entries = std::fs::read_dir(dir)
        .map_err(|e| whole_dir(format!("cannot read the policy directory: {e}")))?;
    let mut cedar_paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "cedar"))
        .collect();
    cedar_paths.extend(extra.iter().cloned());
    cedar_paths.sort();

    let schema_file = read_source(&dir.join(SCHEMA_FILE)).map_err(|e| PolicyErrors(vec![e]))?;
    let entities_file = read_source(&dir.join(ENTITIES_FILE)).map_err(|e| PolicyErrors(vec![e]))?;
    let mut cedar_files = Vec::new();
    for path in &cedar_paths {
        match read_source(path) {
            Ok(file) => cedar_files.push(file),
            Err(e) => errors.push(e),
        }
    }
    if cedar_files.is_empty() && errors.is_empty() {
        return Err(whole_dir("no *.cedar policy files found".to_owned()));
    }

    let version = version_of(
        std::iter::once(&schema_file)
            .chain(&cedar_files)
            .chain(std::iter::once(&entities_file)),
    );

    let schema = match Schema::from_cedarschema_str(&schema_file.text) {
        Ok((schema, warnings)) => {
            for warning in warnings {
                errors.push(located(&schema_file, &warning));
            }
            Some(schema)
        }
        Err(e) => {
            errors.push(located(&schema_file, &e));
            None
        }
    };

    let types = EntityTypes::parse().map_err(&whole_dir)?;
    let (policies, locations, policy_ids) = parse_policies(&cedar_files, &mut errors);

    let Some(schema) = schema else {
        return Err(PolicyErrors(errors));
    };

    let action_uids: Vec<EntityUid> = Action::ALL
        .iter()
        .map(|a| action_uid(a.as_str()))
        .collect::<Result<_, _>>()
        .map_err(&whole_dir)?;
    let declared: HashSet<&EntityUid> = schema.actions().collect();
    let action_entities = schema
        .action_entities()
        .map_err(|e| whole_dir(format!("cannot build the action entities: {e}")))?;
    let mut action_permissions = Vec::with_capacity(Action::ALL.len());
    for (action, uid) in Action::ALL.iter().zip(&action_uids) {
        if !declared.contains(uid) {
            errors.push(PolicyError {
                file: schema_file.path.clone(),
                line: first_line_containing(&schema_file.text, "action "),
                column: None,
                message: format!(
                    "action `{}` is used by Andi but not declared in the schema",
                    action.as_str()
                ),
            });
            action_permissions.push(None);
            continue;
        }
        let groups: Vec<Permission> = action_entities
            .ancestors(uid)
            .into_iter()
            .flatten()
            .filter_map(|group| group.id().unescaped().parse::<Permission>().ok())
            .collect();
        if groups.len() > 1 {
            errors.push(PolicyError {
                file: schema_file.path.clone(),
                line: first_line_containing(&schema_file.text, action.as_str()),
                column: None,
                message: format!(
                    "action `{}` is in more than one permission group; it must need exactly one permission or none",
                    action.as_str()
                ),
            });
        }
        action_permissions.push(groups.first().copied());
    }

    if let Some(policies) = &policies {
        let validation = Validator::new(schema.clone()).validate(policies, ValidationMode::Strict);
        let file_of = |id: &PolicyId| {
            locations
                .get(id)
                .and_then(|loc| cedar_files.iter().find(|f| f.path == loc.file))
        };
        for error in validation.validation_errors() {
            match file_of(error.policy_id()) {
                Some(file) => errors.push(located(file, error)),
                None => errors.push(PolicyError {
                    file: dir.to_path_buf(),
                    line: None,
                    column: None,
                    message: error.to_string(),
                }),
            }
        }
        for warning in validation.validation_warnings() {
            match file_of(warning.policy_id()) {
                Some(file) => errors.push(located(file, warning)),
                None => errors.push(PolicyError {
                    file: dir.to_path_buf(),
                    line: None,
                    column: None,
                    message: warning.to_string(),
                }),
            }
        }
    }

    let held_literals = match &policies {
        Some(policies) => check_entity_reads(
            policies,
            &schema_file,
            &cedar_files,
            &locations,
            &mut errors,
        ),
        None => HashSet::new(),
    };

    let record_attributes = record_attribute_types(&schema_file, &mut errors);
    let roles = parse_roles(&entities_file, &schema, &types, &mut errors);
    let (Some(policies), Some(roles), true) = (policies, roles, errors.is_empty()) else {
        return Err(PolicyErrors(errors));
    };

    let base_entities: Vec<Entity> = action_entities
        .iter()
        .cloned()
        .chain(roles.entities)
        .collect();

    let index = PolicyIndex::build(&schema, &policies, &action_uids).map_err(whole_dir)?;

    let decision_entities =
        DecisionEntities::build(&base_entities, &action_uids, &held_literals, &types);

    Ok(PolicyBundle {
        index,
        decision_entities,
        version,
        schema,
        policies,
        policy_ids,
        locations,
        types,
        base_entities,
        action_uids,
        action_permissions,
        role_permissions: roles.permissions,
        record_attributes,
    })
}

/// The record attributes the schema lets policies read (see [`super::record_attributes`]);
/// each problem is an error at the line of `entity Record`.
fn record_attribute_types(
    schema_file: &SourceFile,
    errors: &mut Vec<PolicyError>,
) -> RecordAttributeTypes {
    let namespace = SchemaFragment::from_cedarschema_str(&schema_file.text)
        .map_err(|e| e.to_string())
        .and_then(|(fragment, _)| fragment.to_json_value().map_err(|e| e.to_string()))
        .map(|json| json.get(NAMESPACE).cloned().unwrap_or_default());
    let problems = match namespace.map(|ns| RecordAttributeTypes::from_schema_json(&ns)) {
        Ok(Ok(types)) => return types,
        Ok(Err(problems)) => problems,
        // The schema's own parse error is reported where it is parsed.
        Err(_) => return RecordAttributeTypes::default(),
    };
    let line = first_line_containing(&schema_file.text, "entity Record");
    errors.extend(problems.into_iter().map(|message| PolicyError {
        file: schema_file.path.clone(),
        line,
        column: None,
        message,
    }));
    RecordAttributeTypes::default()
}

/// Adds an error, at its line, for every read of an entity a decision does not hold (see
/// [`super::entity_reads`]); returns the literals of held types the policies read through.
fn check_entity_reads(
    policies: &PolicySet,
    schema_file: &SourceFile,
    cedar_files: &[SourceFile],
    locations: &HashMap<PolicyId, PolicyLocation>,
    errors: &mut Vec<PolicyError>,
) -> HashSet<EntityUid> {
    let held = match HeldEntities::from_schema(&schema_file.text) {
        Ok(held) => held,
        Err(message) => {
            errors.push(PolicyError {
                file: schema_file.path.clone(),
                line: None,
                column: None,
                message,
            });
            return HashSet::new();
        }
    };
    let mut literals = HashSet::new();
    for policy in policies.policies() {
        let location = locations.get(policy.id());
        let file = location.and_then(|loc| cedar_files.iter().find(|f| f.path == loc.file));
        let reads = match held.reads(policy) {
            Ok(reads) => reads,
            Err(message) => super::entity_reads::PolicyReads {
                unheld: vec![super::entity_reads::UnheldRead {
                    needle: String::new(),
                    message,
                }],
                literals: Vec::new(),
            },
        };
        literals.extend(reads.literals.iter().filter_map(|(type_name, id)| {
            Some(EntityUid::from_type_name_and_id(
                EntityTypeName::from_str(type_name).ok()?,
                EntityId::new(id),
            ))
        }));
        for read in reads.unheld {
            let start = location.map_or(1, |loc| loc.line);
            let line = file.and_then(|file| {
                file.text
                    .lines()
                    .skip(start - 1)
                    .position(|line| line.contains(&read.needle))
                    .map(|i| start + i)
            });
            errors.push(PolicyError {
                file: location.map_or_else(|| schema_file.path.clone(), |loc| loc.file.clone()),
                line: line.or(Some(start)),
                column: None,
                message: format!("policy `{}`: {}", policy.id(), read.message),
            });
        }
    }
    literals
}

/// A stable content hash of the policy files: the same files give the same version on
/// every server, so a decision can be tied to a commit.
fn version_of<'a>(files: impl Iterator<Item = &'a SourceFile>) -> String {
    let mut named: BTreeMap<String, &str> = BTreeMap::new();
    for file in files {
        let name = file
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        named.insert(name, &file.text);
    }
    let mut hasher = Sha256::new();
    for (name, text) in named {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(text.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..8])
}

fn action_uid(id: &str) -> Result<EntityUid, String> {
    let type_name = EntityTypeName::from_str(&format!("{NAMESPACE}::Action"))
        .map_err(|e| format!("bad action type: {e}"))?;
    Ok(EntityUid::from_type_name_and_id(
        type_name,
        EntityId::new(id),
    ))
}

/// Parses each file and renames its policies after their `@id` annotation.
fn parse_policies(
    files: &[SourceFile],
    errors: &mut Vec<PolicyError>,
) -> (
    Option<PolicySet>,
    HashMap<PolicyId, PolicyLocation>,
    Vec<String>,
) {
    let mut set = PolicySet::new();
    let mut locations: HashMap<PolicyId, PolicyLocation> = HashMap::new();
    let mut ids = Vec::new();
    let mut failed = false;
    for file in files {
        let parsed = match PolicySet::from_str(&file.text) {
            Ok(parsed) => parsed,
            Err(e) => {
                for error in e.iter() {
                    errors.push(located(file, error));
                }
                failed = true;
                continue;
            }
        };
        if parsed.num_of_templates() > 0 {
            errors.push(PolicyError {
                file: file.path.clone(),
                line: None,
                column: None,
                message: "templates are not supported; write static policies".to_owned(),
            });
            failed = true;
        }
        // Policies come back in an arbitrary order; sort by where their text starts so that
        // line numbers are found in one pass and duplicate reports name the later one.
        let mut in_file: Vec<(usize, &cedar_policy::Policy)> = parsed
            .policies()
            .map(|p| {
                (
                    p.to_cedar().and_then(|t| file.text.find(&t)).unwrap_or(0),
                    p,
                )
            })
            .collect();
        in_file.sort_by_key(|(offset, _)| *offset);
        for (offset, policy) in in_file {
            let (line, _) = line_column(&file.text, offset);
            let Some(id) = policy.annotation("id").filter(|id| !id.trim().is_empty()) else {
                errors.push(PolicyError {
                    file: file.path.clone(),
                    line: Some(line),
                    column: None,
                    message: "policy has no @id(\"…\") annotation; every policy needs a unique id"
                        .to_owned(),
                });
                failed = true;
                continue;
            };
            let policy_id = PolicyId::new(id);
            if let Some(first) = locations.get(&policy_id) {
                errors.push(PolicyError {
                    file: file.path.clone(),
                    line: Some(line),
                    column: None,
                    message: format!(
                        "duplicate policy id `{id}`: already used at {}:{}",
                        first.file.display(),
                        first.line
                    ),
                });
                failed = true;
                continue;
            }
            if let Err(e) = set.add(policy.new_id(policy_id.clone())) {
                errors.push(PolicyError {
                    file: file.path.clone(),
                    line: Some(line),
                    column: None,
                    message: e.to_string(),
                });
                failed = true;
                continue;
            }
            locations.insert(
                policy_id,
                PolicyLocation {
                    file: file.path.clone(),
                    line,
                },
            );
            ids.push(id.to_owned());
        }
    }
    ((!failed).then_some(set), locations, ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::grant::Role;

    fn shipped() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies")
    }

    #[test]
    fn the_shipped_policies_load() {
        let bundle =
            load(&shipped()).unwrap_or_else(|e| panic!("shipped policies must load:\n{e}"));
        assert!(!bundle.policy_ids.is_empty());
        assert_eq!(bundle.version.len(), 16);
    }

    #[test]
    fn every_rust_action_exists_in_the_shipped_schema() {
        let text =
            std::fs::read_to_string(shipped().join(SCHEMA_FILE)).expect("schema is readable");
        let (schema, _) = Schema::from_cedarschema_str(&text).expect("schema parses");
        let declared: HashSet<EntityUid> = schema.actions().cloned().collect();
        for action in Action::ALL {
            let uid = action_uid(action.as_str()).expect("valid uid");
            assert!(
                declared.contains(&uid),
                "action {} is missing from the schema",
                action.as_str()
            );
        }
    }

    #[test]
    fn every_role_is_defined_in_entities_json() {
        let bundle = load(&shipped()).expect("shipped policies load");
        for role in Role::ALL {
            assert!(bundle.role_permissions.contains_key(&role), "role {role}");
        }
        assert_eq!(
            bundle.role_permissions[&Role::Viewer],
            vec![Permission::ObjectsRead]
        );
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
    }
}
