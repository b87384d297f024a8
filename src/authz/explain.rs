//! One decision explained: the determining policies located in their files and the
//! evaluation errors that Cedar otherwise skips silently (`andi policy explain`).

use std::fmt;

use cedar_policy::PolicyId;

use super::action::Action;
use super::bundle::PolicyBundle;
use super::evaluate::{evaluate, resource_uid};
use super::request::{RequestContext, Resource};
use super::source::PolicyLocation;
use crate::principal::{KeyPrincipal, Principal};

/// A decision with everything an auditor asks about it.
#[derive(Debug)]
pub struct Explanation {
    pub principal: KeyPrincipal,
    pub action: Action,
    pub resource: String,
    pub allowed: bool,
    pub policies: Vec<(String, Option<PolicyLocation>)>,
    pub errors: Vec<String>,
    pub policy_version: String,
    /// What of the resource the policies could read (a record's attribute values).
    pub resource_facts: Vec<String>,
    /// Facts outside the policies that change what a request would get.
    pub notes: Vec<String>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "decision: {}",
            if self.allowed { "allow" } else { "deny" }
        )?;
        writeln!(
            f,
            "request: {} {} on {}",
            self.principal.key_id,
            self.action.as_str(),
            self.resource
        )?;
        writeln!(f, "policy version: {}", self.policy_version)?;
        for fact in &self.resource_facts {
            writeln!(f, "resource: {fact}")?;
        }
        if self.policies.is_empty() {
            writeln!(
                f,
                "determining policies: none (no permit matched, so the default is deny)"
            )?;
        } else {
            writeln!(f, "determining policies:")?;
            for (id, location) in &self.policies {
                match location {
                    Some(at) => writeln!(f, "  {id}  {}:{}", at.file.display(), at.line)?,
                    None => writeln!(f, "  {id}")?,
                }
            }
        }
        if self.errors.is_empty() {
            writeln!(f, "evaluation errors: none")?;
        } else {
            writeln!(f, "evaluation errors (Cedar skipped these policies):")?;
            for error in &self.errors {
                writeln!(f, "  {error}")?;
            }
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

/// Evaluates `principal` doing `action` on `resource` (named `resource_name` in the output),
/// locating each determining policy in its file. `notes` are facts outside the policies
/// that the caller found (a revoked or expired key).
pub fn explain(
    bundle: &PolicyBundle,
    principal: KeyPrincipal,
    action: Action,
    resource: &Resource,
    context: &RequestContext,
    notes: Vec<String>,
) -> Result<Explanation, String> {
    let evaluation = evaluate(
        bundle,
        Principal::Key(&principal),
        action,
        resource,
        context,
    )?;
    let policies = evaluation
        .policies
        .iter()
        .map(|id| {
            (
                id.clone(),
                bundle.locations.get(&PolicyId::new(id)).cloned(),
            )
        })
        .collect();
    Ok(Explanation {
        principal,
        action,
        resource: resource_uid(bundle, resource).to_string(),
        allowed: evaluation.allowed,
        policies,
        errors: evaluation.errors,
        policy_version: evaluation.policy_version,
        resource_facts: resource_facts(bundle, resource),
        notes,
    })
}

/// The record attribute values a decision about `resource` gives the policies, one line
/// each, as the schema declares them.
fn resource_facts(bundle: &PolicyBundle, resource: &Resource) -> Vec<String> {
    let Resource::Record { data, .. } = resource else {
        return Vec::new();
    };
    let Some(data) = data else {
        return vec!["the record does not exist; it is decided without attributes".to_owned()];
    };
    let mut facts: Vec<String> = bundle
        .record_attributes
        .iter()
        .map(|(key, cedar_type)| match data.attributes.get(key) {
            Some(value) if !value.is_null() => {
                format!("attributes.{key} = {value} (read as {})", cedar_type.name())
            }
            _ => format!("attributes.{key}: absent"),
        })
        .collect();
    for (name, key) in [
        ("createdBy", &data.created_by),
        ("updatedBy", &data.updated_by),
    ] {
        facts.push(match key {
            Some(key) => format!("{name} = Andi::ApiKey::\"{key}\""),
            None => format!("{name}: absent"),
        });
    }
    facts
}
