//! `andi policy explain`: one decision against the live database and the policies on disk,
//! with the determining policies located in their files and the evaluation errors that Cedar
//! otherwise skips silently.

use std::fmt;
use std::str::FromStr;

use anyhow::{Context as _, anyhow, bail};
use cedar_policy::{EntityUid, PolicyId};
use sea_orm::ConnectionTrait;

use super::{Action, PolicyBundle, PolicyLocation, RequestContext, Resource, evaluate};
use crate::auth::{Principal, WorkspaceRef};
use crate::store;

/// A decision with everything an auditor asks about it.
#[derive(Debug)]
pub struct Explanation {
    pub principal: Principal,
    pub action: Action,
    pub resource: String,
    pub allowed: bool,
    pub policies: Vec<(String, Option<PolicyLocation>)>,
    pub errors: Vec<String>,
    pub policy_version: String,
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

/// Evaluates `key_id` doing `action` on `resource` (`Type::"id"`, with or without the
/// `Andi::` namespace), with the key and the resource as the database has them.
pub async fn explain(
    db: &impl ConnectionTrait,
    bundle: &PolicyBundle,
    key_id: &str,
    action: Action,
    resource: &str,
    context: &RequestContext,
) -> anyhow::Result<Explanation> {
    let key = store::api_keys::find_key(db, key_id)
        .await?
        .ok_or_else(|| {
            anyhow!("no key `{key_id}`; list keys with `andi key list --workspace <handle>`")
        })?;
    let principal = Principal {
        key_id: key.id.clone(),
        workspace: WorkspaceRef {
            id: key.workspace_id.clone(),
            handle: key.workspace_handle.to_string(),
        },
        role: key.grants.role(),
        permissions: key.grants.permissions().to_vec(),
        environment: key.environment,
    };
    let mut notes = Vec::new();
    if let Some(revoked) = key.revoked_at {
        notes.push(format!(
            "the key was revoked at {revoked}; its requests are refused before authorization"
        ));
    }
    if let Some(expires) = key.expires_at
        && expires <= context.time
    {
        notes.push(format!(
            "the key expired at {expires}; its requests are refused before authorization"
        ));
    }

    let uid = parse_resource(resource)?;
    let resource = find_resource(db, &principal, &uid).await?;
    let evaluation = evaluate(bundle, &principal, action, &resource, context)
        .map_err(|e| anyhow!("the request cannot be evaluated: {e}"))?;
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
        resource: uid.to_string(),
        allowed: evaluation.allowed,
        policies,
        errors: evaluation.errors,
        policy_version: evaluation.policy_version,
        notes,
    })
}

fn parse_resource(text: &str) -> anyhow::Result<EntityUid> {
    let qualified = if text.starts_with("Andi::") {
        text.to_owned()
    } else {
        format!("Andi::{text}")
    };
    EntityUid::from_str(&qualified).map_err(|e| {
        anyhow!(
            "`{text}` is not a resource: write `Type::\"id\"`, e.g. `Workspace::\"ws_…\"`, `ObjectDefinition::\"obj_…\"` or `Record::\"obj_…/rec_…\"` ({e})"
        )
    })
}

/// The resource as a request would present it, loaded from the key's workspace.
async fn find_resource(
    db: &impl ConnectionTrait,
    principal: &Principal,
    uid: &EntityUid,
) -> anyhow::Result<Resource> {
    let id = uid.id().unescaped();
    let object = |object_id: &str| {
        let object_id = object_id.to_owned();
        async move {
            store::objects::find_definitions(db, &principal.workspace.id)
                .await
                .context("cannot read the object definitions")?
                .into_iter()
                .find(|d| d.id == object_id)
                .ok_or_else(|| {
                    anyhow!(
                        "no object definition `{object_id}` in the key's workspace {}",
                        principal.workspace.handle
                    )
                })
        }
    };
    match uid.type_name().basename() {
        "Workspace" => {
            store::workspaces::find_workspace(db, id)
                .await?
                .ok_or_else(|| anyhow!("no workspace `{id}`"))?;
            Ok(Resource::Workspace { id: id.to_owned() })
        }
        "ApiKey" if id == principal.key_id => Ok(Resource::ApiKey {
            id: id.to_owned(),
            workspace_id: principal.workspace.id.clone(),
        }),
        "ApiKey" => bail!(
            "a key can only be asked about itself: use --resource 'ApiKey::\"{}\"'",
            principal.key_id
        ),
        "ObjectDefinition" => {
            let definition = object(id).await?;
            Ok(Resource::ObjectDefinition {
                id: definition.id,
                handle: definition.handle.to_string(),
                workspace_id: definition.workspace_id,
            })
        }
        "Record" => {
            let (object_id, record_id) = id.split_once('/').ok_or_else(|| {
                anyhow!("a record is named `Record::\"<object id>/<record id>\"`, e.g. `Record::\"obj_…/rec_…\"`")
            })?;
            let definition = object(object_id).await?;
            Ok(Resource::Record {
                id: record_id.to_owned(),
                object_id: definition.id,
                object_handle: definition.handle.to_string(),
                workspace_id: definition.workspace_id,
            })
        }
        other => bail!(
            "Andi decides about Workspace, ApiKey, ObjectDefinition and Record resources, not `{other}`"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_parse_with_or_without_the_namespace() {
        assert_eq!(
            parse_resource("Workspace::\"ws_1\"").unwrap().to_string(),
            "Andi::Workspace::\"ws_1\""
        );
        assert_eq!(
            parse_resource("Andi::Record::\"obj_1/rec_2\"")
                .unwrap()
                .to_string(),
            "Andi::Record::\"obj_1/rec_2\""
        );
        let error = parse_resource("ws_1").unwrap_err().to_string();
        assert!(
            error.contains("Type::\\\"id\\\"") || error.contains("Type::\"id\""),
            "{error}"
        );
    }
}
