//! Policy tests: decision cases in `policies/tests/*.json`, run by `andi policy test` and by
//! `cargo test`. Each case builds the same principal, resource and context entities that a
//! request would and asks [`evaluate`] for the decision, so a case passes exactly when a
//! request like it would be decided the same way.
//!
//! Example policies in `policies/examples/<name>.cedar` are tested on top of the base set,
//! with their cases in `policies/examples/tests/<name>.json`.
//!
//! A case file:
//!
//! ```json
//! { "cases": [ {
//!     "name": "a viewer key lists the objects of its workspace",
//!     "principal": { "key": "key_viewer", "workspace": "ws_acme", "role": "viewer",
//!                    "permissions": [], "environment": "live",
//!                    "metadata": { "region": "EU" }, "objects": ["invoices"] },
//!     "action": "listObjects",
//!     "resource": { "type": "Workspace", "id": "ws_acme" },
//!     "context": { "ip": "203.0.113.7", "time": "2026-01-05T12:00:00Z" },
//!     "decision": "allow",
//!     "policies": ["objects-read"]
//! } ] }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::action::Action;
use super::bundle::PolicyBundle;
use super::evaluate::evaluate;
use super::load::{load, load_with};
use super::request::{RecordData, RequestContext, Resource};
use super::source::PolicyErrors;
use crate::keys::grant::{Permission, Role};
use crate::keys::metadata::KeyMetadata;
use crate::keys::object_limit::ObjectLimit;
use crate::keys::secret::Environment;
use crate::objects::handle::ObjectHandle;
use crate::principal::{KeyPrincipal, Principal, WorkspaceRef};

/// Directory of the cases, inside the policy directory and inside `examples/`.
pub const TESTS_DIR: &str = "tests";
/// Directory of the example policies, inside the policy directory.
pub const EXAMPLES_DIR: &str = "examples";
/// The time a case is evaluated at unless it sets one: a Monday, noon UTC.
const DEFAULT_TIME: &str = "2026-01-05T12:00:00Z";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    /// What the file's cases are about; for the reader.
    #[serde(default)]
    #[expect(dead_code, reason = "documentation for the reader of the file")]
    description: Option<String>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    principal: CasePrincipal,
    action: String,
    resource: CaseResource,
    #[serde(default)]
    context: CaseContext,
    decision: ExpectedDecision,
    /// The determining policies, when the case pins them.
    policies: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CasePrincipal {
    key: String,
    workspace: String,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    permissions: Vec<Permission>,
    #[serde(default = "live")]
    environment: Environment,
    /// The key's metadata, which policies read as its tags: `{"region": "EU"}`.
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    /// The object handles the key is limited to; absent for every object.
    #[serde(default)]
    objects: Option<Vec<String>>,
}

fn live() -> Environment {
    Environment::Live
}

/// The resource, with the workspace it lives in and what Andi knows of it.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
enum CaseResource {
    Workspace {
        id: String,
    },
    /// A key asking about itself; `id` is the principal's key.
    ApiKey {
        id: String,
    },
    ObjectDefinition {
        id: String,
        workspace: String,
        handle: String,
        #[serde(default, rename = "attributeKeys")]
        attribute_keys: Option<Vec<String>>,
    },
    Record {
        id: String,
        workspace: String,
        /// The id of the record's object definition (its parent).
        object: String,
        #[serde(rename = "objectHandle")]
        object_handle: String,
        /// The record's attribute values, in their normal form.
        #[serde(default)]
        attributes: Map<String, Value>,
        #[serde(default, rename = "createdBy")]
        created_by: Option<String>,
        #[serde(default, rename = "updatedBy")]
        updated_by: Option<String>,
    },
}

/// Request facts; unset ones default to 127.0.0.1, [`DEFAULT_TIME`], GET and `/`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseContext {
    pub ip: Option<IpAddr>,
    pub time: Option<DateTime<Utc>>,
    pub method: Option<String>,
    pub path: Option<String>,
}

impl CaseContext {
    /// The request context, with `now` for an unset time.
    pub fn to_request_context(&self, now: DateTime<Utc>) -> RequestContext {
        RequestContext {
            ip: self.ip.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            time: self.time.unwrap_or(now),
            method: self.method.clone().unwrap_or_else(|| "GET".to_owned()),
            path: self.path.clone().unwrap_or_else(|| "/".to_owned()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ExpectedDecision {
    Allow,
    Deny,
}

impl fmt::Display for ExpectedDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExpectedDecision::Allow => "allow",
            ExpectedDecision::Deny => "deny",
        })
    }
}

/// One case that did not decide as expected, or a file that could not be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFailure {
    pub file: PathBuf,
    pub case: String,
    pub message: String,
}

impl fmt::Display for CaseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FAIL {}: {}: {}",
            self.file.display(),
            self.case,
            self.message
        )
    }
}

/// What a run found.
#[derive(Debug, Default)]
pub struct CaseReport {
    pub passed: usize,
    pub failures: Vec<CaseFailure>,
}

impl CaseReport {
    fn fail(&mut self, file: &Path, case: &str, message: impl Into<String>) {
        self.failures.push(CaseFailure {
            file: file.to_path_buf(),
            case: case.to_owned(),
            message: message.into(),
        });
    }
}

/// Runs `dir/tests/*.json` against `dir`, then each `dir/examples/<name>.cedar` with its
/// `dir/examples/tests/<name>.json` against `dir` plus that example. Fails (with every
/// error) only if the base policy set itself does not load.
pub fn run_cases(dir: &Path) -> Result<CaseReport, PolicyErrors> {
    let bundle = load(dir)?;
    let mut report = CaseReport::default();
    let tests = dir.join(TESTS_DIR);
    let files = json_files(&tests);
    if files.is_empty() {
        report.fail(
            &tests,
            "(no cases)",
            "no *.json case files: every policy needs decision cases",
        );
    }
    for file in files {
        run_file(&bundle, &file, &mut report);
    }

    let examples = dir.join(EXAMPLES_DIR);
    for example in files_with_extension(&examples, "cedar") {
        let name = example
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cases = examples.join(TESTS_DIR).join(format!("{name}.json"));
        let bundle = match load_with(dir, std::slice::from_ref(&example)) {
            Ok(bundle) => bundle,
            Err(errors) => {
                report.fail(
                    &example,
                    "(load)",
                    format!(
                        "the example does not load on top of {}:\n{errors}",
                        dir.display()
                    ),
                );
                continue;
            }
        };
        if !cases.is_file() {
            report.fail(
                &cases,
                "(no cases)",
                format!("example `{name}` has no cases; write them in this file"),
            );
            continue;
        }
        run_file(&bundle, &cases, &mut report);
    }
    Ok(report)
}

fn run_file(bundle: &PolicyBundle, path: &Path, report: &mut CaseReport) {
    let parsed = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|text| {
            serde_json::from_str::<CaseFile>(&text).map_err(|e| {
                format!(
                    "line {}, column {}: {e}; the format is in docs/policies.md, \"Writing and testing a policy\"",
                    e.line(),
                    e.column()
                )
            })
        });
    let file = match parsed {
        Ok(file) => file,
        Err(message) => return report.fail(path, "(file)", message),
    };
    if file.cases.is_empty() {
        return report.fail(path, "(file)", "the file has no cases");
    }
    let now = DEFAULT_TIME
        .parse::<DateTime<Utc>>()
        .unwrap_or_else(|_| Utc::now());
    for case in &file.cases {
        match run_case(bundle, case, now) {
            Ok(()) => report.passed += 1,
            Err(message) => report.fail(path, &case.name, message),
        }
    }
}

fn run_case(bundle: &PolicyBundle, case: &Case, now: DateTime<Utc>) -> Result<(), String> {
    let action: Action = case.action.parse()?;
    let p = &case.principal;
    let principal = KeyPrincipal {
        key_id: p.key.clone(),
        workspace: WorkspaceRef {
            id: p.workspace.clone(),
            handle: p.workspace.clone(),
        },
        role: p.role,
        permissions: p.permissions.clone(),
        environment: p.environment,
        metadata: KeyMetadata::new(p.metadata.clone())?,
        objects: p
            .objects
            .as_ref()
            .map(|handles| {
                handles
                    .iter()
                    .map(|h| ObjectHandle::parse(h))
                    .collect::<Result<Vec<_>, _>>()
                    .and_then(ObjectLimit::new)
            })
            .transpose()?,
    };
    let resource = match &case.resource {
        CaseResource::Workspace { id } => Resource::Workspace { id: id.clone() },
        CaseResource::ApiKey { id } => Resource::ApiKey {
            id: id.clone(),
            workspace_id: p.workspace.clone(),
            role: p.role,
            permissions: p.permissions.clone(),
            environment: p.environment,
            metadata: principal.metadata.clone(),
            objects: principal.objects.clone(),
        },
        CaseResource::ObjectDefinition {
            id,
            workspace,
            handle,
            attribute_keys,
        } => Resource::ObjectDefinition {
            id: id.clone(),
            handle: handle.clone(),
            workspace_id: workspace.clone(),
            attribute_keys: attribute_keys.clone(),
        },
        CaseResource::Record {
            id,
            workspace,
            object,
            object_handle,
            attributes,
            created_by,
            updated_by,
        } => Resource::Record {
            id: id.clone(),
            object_id: object.clone(),
            object_handle: object_handle.clone(),
            workspace_id: workspace.clone(),
            data: Some(RecordData {
                attributes: attributes.clone(),
                created_by: created_by.clone(),
                updated_by: updated_by.clone(),
            }),
        },
    };
    let context = case.context.to_request_context(now);
    let evaluation = evaluate(
        bundle,
        Principal::Key(&principal),
        action,
        &resource,
        &context,
    )
    .map_err(|e| format!("cannot be evaluated: {e}"))?;
    let got = if evaluation.allowed {
        ExpectedDecision::Allow
    } else {
        ExpectedDecision::Deny
    };
    let determining = if evaluation.policies.is_empty() {
        "none".to_owned()
    } else {
        evaluation.policies.join(", ")
    };
    if !evaluation.errors.is_empty() {
        return Err(format!(
            "evaluation errors (Cedar skips the erroring policies): {}",
            evaluation.errors.join("; ")
        ));
    }
    if got != case.decision {
        return Err(format!(
            "expected {}, got {got} (determining policies: {determining})",
            case.decision
        ));
    }
    if let Some(expected) = &case.policies {
        let expected: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
        let actual: BTreeSet<&str> = evaluation.policies.iter().map(String::as_str).collect();
        if expected != actual {
            let expected: Vec<&str> = expected.into_iter().collect();
            return Err(format!(
                "{got} as expected, but the determining policies are [{determining}], not [{}]",
                expected.join(", ")
            ));
        }
    }
    Ok(())
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    files_with_extension(dir, "json")
}

fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == extension))
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies")
    }

    #[test]
    fn every_shipped_case_and_example_case_passes() {
        let report = run_cases(&shipped()).unwrap_or_else(|e| panic!("policies load:\n{e}"));
        let failures: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(report.passed > 0);
    }

    #[test]
    fn every_shipped_example_has_cases() {
        let examples = shipped().join(EXAMPLES_DIR);
        let names = files_with_extension(&examples, "cedar");
        assert!(names.len() >= 4, "the four documented examples ship");
        for example in names {
            let stem = example.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                examples
                    .join(TESTS_DIR)
                    .join(format!("{stem}.json"))
                    .is_file(),
                "{stem} has cases"
            );
        }
    }
}
