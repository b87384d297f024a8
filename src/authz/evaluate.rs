//! One request evaluated against one policy set: the scope index picks the policies, the
//! principal's remembered entities and decisions are reused, and the context is built only
//! when a policy can read it.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityTypeName, EntityUid, Request,
    RestrictedExpression,
};

use super::action::Action;
use super::bundle::PolicyBundle;
use super::context;
use super::decision::Evaluation;
use super::entities::{EntityTypes, KeyFacts, ObjectFacts, key_entity};
use super::record_entity::{RecordEntity, with_record};
use super::request::{CONSOLE_ID, RecordData, RequestContext, Resource};
use crate::principal::Principal;

fn principal_type<'a>(types: &'a EntityTypes, principal: Principal<'_>) -> &'a EntityTypeName {
    match principal {
        Principal::Key(_) => &types.api_key,
        Principal::User(_) => &types.user,
    }
}

fn principal_uid(types: &EntityTypes, principal: Principal<'_>) -> EntityUid {
    types.uid(principal_type(types, principal), principal.id())
}

fn resource_type<'a>(types: &'a EntityTypes, resource: &Resource) -> &'a EntityTypeName {
    match resource {
        Resource::Console => &types.console,
        Resource::Workspace { .. } => &types.workspace,
        Resource::ApiKey { .. } => &types.api_key,
        Resource::ObjectDefinition { .. } => &types.object_definition,
        Resource::Record { .. } => &types.record,
    }
}

pub(super) fn resource_uid(bundle: &PolicyBundle, resource: &Resource) -> EntityUid {
    let t = &bundle.types;
    let type_name = resource_type(t, resource);
    match resource {
        Resource::Console => t.uid(type_name, CONSOLE_ID),
        Resource::Workspace { id }
        | Resource::ApiKey { id, .. }
        | Resource::ObjectDefinition { id, .. } => t.uid(type_name, id),
        Resource::Record { id, object_id, .. } => t.uid(type_name, &format!("{object_id}/{id}")),
    }
}

/// Evaluates one request against one bundle. Errors are programming errors (an entity or
/// request the schema rejects); the caller fails closed on them.
pub fn evaluate(
    bundle: &PolicyBundle,
    principal: Principal<'_>,
    action: Action,
    resource: &Resource,
    context: &RequestContext,
) -> Result<Evaluation, String> {
    let t = &bundle.types;
    let shared =
        bundle
            .decision_entities
            .for_principal(t, bundle.index.guards(), principal, action)?;
    let shape_reads_context = bundle.index.reads_context(
        action,
        principal_type(t, principal),
        resource_type(t, resource),
    );
    // The principal's own workspace, and a key itself, are among its entities already.
    let own = match (resource, principal) {
        (Resource::Workspace { id }, _) if principal.own_workspace() == Some(id.as_str()) => {
            Some(&shared.own_workspace)
        }
        (Resource::ApiKey { id, .. }, Principal::Key(key)) if *id == key.key_id => {
            Some(&shared.own_key)
        }
        _ => None,
    };
    if let Some(evaluation) = own.filter(|_| !shape_reads_context).and_then(OnceLock::get) {
        return Ok(evaluation.clone());
    }
    let principal_uid = principal_uid(t, principal);
    let resource_uid = resource_uid(bundle, resource);
    // Only the policies that can apply to this principal and resource: a policy pinned to
    // another key that reads the context does not make this key's decisions read it.
    let selected = bundle.index.select(
        &bundle.policies,
        action,
        &principal_uid,
        &resource_uid,
        shared.guards_held,
    );
    let reads_context = selected.reads_context;
    let remembered = own.filter(|_| !reads_context);
    if let Some(evaluation) = remembered.and_then(OnceLock::get) {
        return Ok(evaluation.clone());
    }

    let held_object;
    let with_resource;
    let entities: &Entities = match resource {
        _ if own.is_some() => &shared.entities,
        Resource::ObjectDefinition {
            id,
            handle,
            workspace_id,
            attribute_keys,
        } => {
            let object = ObjectFacts {
                id,
                handle,
                workspace_id,
                attribute_keys: attribute_keys.as_deref(),
            };
            held_object = shared.with_object(&object, || object_entity(t, &object))?;
            &held_object.entities
        }
        Resource::Record {
            object_id,
            object_handle,
            workspace_id,
            data,
            ..
        } => {
            let object = ObjectFacts {
                id: object_id,
                handle: object_handle,
                workspace_id,
                attribute_keys: None,
            };
            let record = match record_entity(bundle, resource_uid.clone(), &object, data.as_ref()) {
                Ok(record) => record,
                Err(unreadable) => return Ok(unreadable_denial(bundle, unreadable)),
            };
            // Its object is remembered with the principal's entities, so only the record
            // is added here.
            with_resource = with_record(
                &shared
                    .with_object(&object, || object_entity(t, &object))?
                    .entities,
                record,
            )?;
            &with_resource
        }
        Resource::Console | Resource::Workspace { .. } => {
            let resource = Entity::new_no_attrs(resource_uid.clone(), HashSet::new());
            with_resource = shared
                .entities
                .clone()
                .add_entities([resource], None)
                .map_err(|e| format!("entities: {e}"))?;
            &with_resource
        }
        Resource::ApiKey {
            id,
            workspace_id,
            role,
            permissions,
            environment,
            metadata,
            objects,
        } => {
            let key = key_entity(
                t,
                KeyFacts {
                    id,
                    workspace_id,
                    environment: *environment,
                    metadata,
                    objects: objects.as_ref(),
                },
                std::iter::once(t.uid(&t.workspace, workspace_id))
                    .chain(role.map(|role| t.uid(&t.role, role.as_str())))
                    .chain(permissions.iter().map(|p| t.uid(&t.permission, p.as_str())))
                    .collect(),
            )
            .map_err(|e| format!("key entity: {e}"))?;
            // Its role, so its permissions are reached through it as Cedar reaches them;
            // unless the principal's role is the same, and among its entities already.
            let role = role
                .and_then(|role| bundle.decision_entities.role(role))
                .filter(|role| shared.entities.get(&role.uid()).is_none())
                .cloned();
            with_resource = shared
                .entities
                .clone()
                .add_entities(std::iter::once(key).chain(role), None)
                .map_err(|e| format!("entities: {e}"))?;
            &with_resource
        }
    };

    let action_uid = bundle.action_uid(action);
    if cfg!(debug_assertions) {
        // Release builds trust the request's shape: it is built from typed values, so
        // checking it against the schema on every decision would only repeat what the types
        // guarantee. Debug builds (every test) check each request a handler makes, whole.
        Request::new(
            principal_uid.clone(),
            action_uid.clone(),
            resource_uid.clone(),
            cedar_context(context)?,
            Some(&bundle.schema),
        )
        .map_err(|e| format!("request: {e}"))?;
    }
    // A context that no applicable policy mentions cannot change the decision, and
    // evaluating its `ip(…)` and `datetime(…)` values is a fifth of a decision.
    let context = if reads_context {
        cedar_context(context)?
    } else {
        Context::empty()
    };
    let request = Request::new(
        principal_uid,
        action_uid.clone(),
        resource_uid,
        context,
        None,
    )
    .map_err(|e| format!("request: {e}"))?;

    let response = Authorizer::new().is_authorized(&request, &selected.policies, entities);
    let mut policies: Vec<String> = response
        .diagnostics()
        .reason()
        .map(ToString::to_string)
        .collect();
    policies.sort();
    let evaluation = Evaluation {
        allowed: response.decision() == Decision::Allow,
        policies,
        errors: response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect(),
        policy_version: bundle.version.clone(),
    };
    if let Some(slot) = remembered {
        // Another request may have filled it meanwhile, with the same decision.
        let _ = slot.set(evaluation.clone());
    }
    Ok(evaluation)
}

/// The request's context as Cedar sees it: `ip`, `time`, `method`, `path`.
pub(super) fn cedar_context(context: &RequestContext) -> Result<Context, String> {
    Context::from_pairs([
        ("ip".to_owned(), context::ip_expression(context.ip)),
        (
            "time".to_owned(),
            context::datetime_expression(context.time),
        ),
        (
            "method".to_owned(),
            RestrictedExpression::new_string(context.method.clone()),
        ),
        (
            "path".to_owned(),
            RestrictedExpression::new_string(context.path.clone()),
        ),
    ])
    .map_err(|e| format!("context: {e}"))
}

/// A decision about a resource holding a value the schema's declared type cannot hold: it
/// denies, with the reason among its errors.
fn unreadable_denial(bundle: &PolicyBundle, message: String) -> Evaluation {
    Evaluation {
        allowed: false,
        policies: Vec::new(),
        errors: vec![message],
        policy_version: bundle.version.clone(),
    }
}

/// The denial [`evaluate`] would answer for a record holding a value the policies cannot
/// read as declared; none when every value reads. Checked for each row that shares another
/// row's evaluation, since that evaluation never built this row's entity.
pub(super) fn unreadable(bundle: &PolicyBundle, resource: &Resource) -> Option<Evaluation> {
    let Resource::Record {
        data: Some(data), ..
    } = resource
    else {
        return None;
    };
    let message = bundle.record_attributes.read(&data.attributes).err()?;
    Some(unreadable_denial(bundle, message))
}

/// An object definition entity, a child of its workspace.
pub(super) fn object_entity(t: &EntityTypes, object: &ObjectFacts<'_>) -> Result<Entity, String> {
    let mut attributes = HashMap::from([
        (
            "workspace".to_owned(),
            RestrictedExpression::new_entity_uid(t.uid(&t.workspace, object.workspace_id)),
        ),
        (
            "handle".to_owned(),
            RestrictedExpression::new_string(object.handle.to_owned()),
        ),
    ]);
    if let Some(keys) = object.attribute_keys {
        attributes.insert(
            "attributeKeys".to_owned(),
            RestrictedExpression::new_set(
                keys.iter()
                    .map(|key| RestrictedExpression::new_string(key.clone())),
            ),
        );
    }
    Entity::new(
        t.uid(&t.object_definition, object.id),
        attributes,
        HashSet::from([t.uid(&t.workspace, object.workspace_id)]),
    )
    .map_err(|e| format!("object entity: {e}"))
}

/// A record (`uid`) of `object`: the declared attributes it holds and its authors, with its
/// whole ancestry (object and workspace) as parents.
fn record_entity<'a>(
    bundle: &'a PolicyBundle,
    uid: EntityUid,
    object: &ObjectFacts<'a>,
    data: Option<&'a RecordData>,
) -> Result<RecordEntity<'a>, String> {
    let t = &bundle.types;
    let attributes = match data {
        Some(data) => bundle.record_attributes.read(&data.attributes)?,
        None => Vec::new(),
    };
    let author = |key_id: Option<&String>| key_id.map(|id| t.uid(&t.api_key, id));
    Ok(RecordEntity {
        uid,
        workspace: t.uid(&t.workspace, object.workspace_id),
        object: t.uid(&t.object_definition, object.id),
        object_handle: object.handle,
        attributes,
        created_by: author(data.and_then(|d| d.created_by.as_ref())),
        updated_by: author(data.and_then(|d| d.updated_by.as_ref())),
    })
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::path::Path;

    use chrono::Utc;

    use super::*;
    use crate::authz::decision::AuthzError;
    use crate::authz::live::Authz;
    use crate::authz::load::load;
    use crate::keys::grant::Permission;
    use crate::keys::secret::Environment;
    use crate::principal::{KeyPrincipal, WorkspaceRef};

    fn bundle() -> PolicyBundle {
        load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"))
            .expect("shipped policies load")
    }

    fn reader() -> KeyPrincipal {
        KeyPrincipal {
            key_id: "key_reader".into(),
            workspace: WorkspaceRef {
                id: "ws_a".into(),
                handle: "a".into(),
            },
            role: None,
            permissions: vec![Permission::ObjectsRead],
            environment: Environment::Live,
            metadata: Default::default(),
            objects: None,
        }
    }

    fn context() -> RequestContext {
        RequestContext {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            time: Utc::now(),
            method: "GET".into(),
            path: "/".into(),
        }
    }

    fn object_in(workspace_id: &str) -> Resource {
        Resource::ObjectDefinition {
            id: "obj_1".into(),
            handle: "invoices".into(),
            workspace_id: workspace_id.into(),
            attribute_keys: None,
        }
    }

    #[test]
    fn a_permission_allows_its_actions_in_the_own_workspace() {
        let evaluation = evaluate(
            &bundle(),
            Principal::Key(&reader()),
            Action::GetObject,
            &object_in("ws_a"),
            &context(),
        )
        .unwrap();
        assert!(evaluation.allowed);
        assert_eq!(evaluation.policies, vec!["objects-read".to_owned()]);
    }

    #[test]
    fn the_isolation_policy_forbids_another_workspace_even_with_the_permission() {
        let evaluation = evaluate(
            &bundle(),
            Principal::Key(&reader()),
            Action::GetObject,
            &object_in("ws_b"),
            &context(),
        )
        .unwrap();
        assert!(!evaluation.allowed);
        assert_eq!(evaluation.policies, vec!["workspace-isolation".to_owned()]);
    }

    #[test]
    fn a_role_grants_its_permissions_through_entities_json() {
        let editor = KeyPrincipal {
            role: Some(crate::keys::grant::Role::Editor),
            permissions: vec![],
            ..reader()
        };
        let bundle = bundle();
        let write = evaluate(
            &bundle,
            Principal::Key(&editor),
            Action::DeleteObject,
            &object_in("ws_a"),
            &context(),
        )
        .unwrap();
        let workspace = Resource::Workspace { id: "ws_a".into() };
        let read_workspace = evaluate(
            &bundle,
            Principal::Key(&editor),
            Action::ReadWorkspace,
            &workspace,
            &context(),
        )
        .unwrap();
        assert!(write.allowed);
        assert!(!read_workspace.allowed, "editors lack workspaces.read");
        assert!(
            read_workspace.policies.is_empty(),
            "denied because nothing permits it"
        );
    }

    #[test]
    fn a_denial_names_the_missing_permission() {
        let authz = Authz::new(bundle());
        let denied = authz.authorize(
            &reader(),
            Action::CreateObject,
            &object_in("ws_a"),
            &context(),
        );
        match denied {
            Err(AuthzError::Denied(denial)) => {
                assert_eq!(denial.missing_permission, Some(Permission::ObjectsWrite))
            }
            other => panic!("expected a denial, got {other:?}"),
        }
    }
}
