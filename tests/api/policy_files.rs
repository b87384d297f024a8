//! Bad policy input: every mistake a security team can make in `policies/` is refused as a
//! whole set, with the file and line to fix.

use std::path::Path;

use andi::authz::load;
use serde_json::{Value, json};

use crate::helpers::policy_dir;

/// A temporary copy of the shipped policy set (its top-level files only).
pub fn copy_of_shipped_policies() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(policy_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

fn load_errors(dir: &Path) -> String {
    match load(dir) {
        Ok(bundle) => panic!(
            "the set loaded (version {}), but it must be refused",
            bundle.version
        ),
        Err(errors) => errors.to_string(),
    }
}

fn with_policy_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = copy_of_shipped_policies();
    std::fs::write(dir.path().join("bad.cedar"), text).unwrap();
    let errors = load_errors(dir.path());
    (dir, errors)
}

fn with_entities(edit: impl FnOnce(&mut Vec<Value>)) -> String {
    let dir = copy_of_shipped_policies();
    let path = dir.path().join("entities.json");
    let mut entities: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut entities);
    std::fs::write(&path, serde_json::to_string_pretty(&entities).unwrap()).unwrap();
    load_errors(dir.path())
}

#[test]
fn a_syntax_error_is_refused_with_its_file_line_and_column() {
    let (dir, errors) = with_policy_file(
        "// broken\n@id(\"broken\")\npermit (principal, action, resource) when { principal. };\n",
    );
    let expected = format!(
        "{}:3:56: unexpected token",
        dir.path().join("bad.cedar").display()
    );
    assert!(
        errors.contains(&expected),
        "want `{expected}` in:\n{errors}"
    );
}

#[test]
fn a_type_error_under_the_schema_is_refused_with_a_hint() {
    let (dir, errors) = with_policy_file(
        "// typo\n@id(\"typo\")\npermit (principal is Andi::ApiKey, action == Andi::Action::\"getObject\", resource is Andi::ObjectDefinition)\nwhen { resource.handel == \"invoices\" };\n",
    );
    let expected = format!("{}:4:8:", dir.path().join("bad.cedar").display());
    assert!(
        errors.contains(&expected),
        "want `{expected}` in:\n{errors}"
    );
    assert!(errors.contains("did you mean `handle`"), "{errors}");
}

#[test]
fn a_duplicate_id_is_refused_naming_both_places() {
    let (dir, errors) =
        with_policy_file("@id(\"objects-read\")\npermit (principal, action, resource);\n");
    assert!(
        errors.contains("duplicate policy id `objects-read`"),
        "{errors}"
    );
    assert!(
        errors.contains(&format!("{}:1", dir.path().join("bad.cedar").display())),
        "{errors}"
    );
    assert!(
        errors.contains(&format!("{}:5", dir.path().join("base.cedar").display())),
        "{errors}"
    );
}

#[test]
fn a_policy_without_an_id_is_refused_with_its_line() {
    let (dir, errors) = with_policy_file("// no id\npermit (principal, action, resource);\n");
    let expected = format!(
        "{}:2: policy has no @id",
        dir.path().join("bad.cedar").display()
    );
    assert!(
        errors.contains(&expected),
        "want `{expected}` in:\n{errors}"
    );
}

#[test]
fn an_unknown_action_is_refused_with_its_position() {
    let (dir, errors) = with_policy_file(
        "// unknown action\n@id(\"destroy\")\npermit (principal, action == Andi::Action::\"destroyEverything\", resource);\n",
    );
    let expected = format!("{}:3:30:", dir.path().join("bad.cedar").display());
    assert!(
        errors.contains(&expected),
        "want `{expected}` in:\n{errors}"
    );
    assert!(
        errors.contains("unrecognized action `Andi::Action::\"destroyEverything\"`"),
        "{errors}"
    );
}

#[test]
fn an_entities_file_with_a_cycle_is_refused() {
    let errors = with_entities(|entities| {
        for entity in entities.iter_mut() {
            match entity["uid"]["id"].as_str() {
                Some("objects.read") => {
                    entity["parents"] =
                        json!([{ "type": "Andi::Permission", "id": "objects.write" }])
                }
                Some("objects.write") => {
                    entity["parents"] =
                        json!([{ "type": "Andi::Permission", "id": "objects.read" }])
                }
                _ => {}
            }
        }
    });
    assert!(errors.contains("entities.json"), "{errors}");
    assert!(errors.contains("Andi::Permission"), "{errors}");
}

#[test]
fn an_entities_file_with_an_unknown_type_is_refused() {
    let errors = with_entities(|entities| {
        entities.push(
            json!({ "uid": { "type": "Andi::Team", "id": "ops" }, "attrs": {}, "parents": [] }),
        );
    });
    assert!(errors.contains("entities.json"), "{errors}");
    assert!(
        errors.contains("`Andi::Team` which is not declared in the schema"),
        "{errors}"
    );
}

#[test]
fn a_missing_policy_directory_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("policies");
    let errors = load_errors(&missing);
    assert!(
        errors.contains(&format!(
            "{}: cannot read the policy directory",
            missing.display()
        )),
        "{errors}"
    );
}

#[test]
fn the_same_files_give_the_same_version_and_an_edit_changes_it() {
    let a = copy_of_shipped_policies();
    let b = copy_of_shipped_policies();
    let version_a = load(a.path()).unwrap().version;
    assert_eq!(
        version_a,
        load(b.path()).unwrap().version,
        "a copy elsewhere has the same version"
    );
    std::fs::write(
        b.path().join("isolation.cedar"),
        format!(
            "{}\n",
            std::fs::read_to_string(b.path().join("isolation.cedar")).unwrap()
        ),
    )
    .unwrap();
    assert_ne!(
        version_a,
        load(b.path()).unwrap().version,
        "an edit changes the version"
    );
}
