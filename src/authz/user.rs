//! Decisions for console users: the same policy set, schema and `authz` span as for API
//! keys, with a `User` principal whose workspace roles are built per request.
//!
//! Security-sensitive: the console's only gate. It fails closed like [`Authz::authorize`]:
//! an entity or request the schema rejects is an error, never an allow.

use std::collections::{HashMap, HashSet};

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityUid, Request, RestrictedExpression,
};
use chrono::SecondsFormat;

use super::{Action, Asked, Authz, Evaluation, PolicyBundle, RequestContext};

/// The id of the single `Console` entity.
const CONSOLE_ID: &str = "andi";

/// A signed-in person as Cedar sees them: the workspaces they belong to, and the subset they
/// administer. Callers load only the memberships a decision needs.
#[derive(Debug, Clone)]
pub struct UserPrincipal {
    pub id: String,
    pub email: String,
    pub member_of: Vec<String>,
    pub admin_of: Vec<String>,
}

/// What a console decision is about.
#[derive(Debug, Clone)]
pub enum UserResource {
    /// The console itself, for actions that concern no workspace yet.
    Console,
    Workspace {
        id: String,
    },
    ApiKey {
        id: String,
        workspace_id: String,
        environment: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum UserAuthzError {
    #[error("a policy denies `{}` to this user", .0.as_str())]
    Denied(Action),
    #[error("authorization could not be evaluated: {0}")]
    Internal(String),
}

impl Authz {
    /// Asks whether the signed-in `user` may perform `action` on `resource`.
    pub fn authorize_user(
        &self,
        user: &UserPrincipal,
        action: Action,
        resource: &UserResource,
        context: &RequestContext,
    ) -> Result<(), UserAuthzError> {
        let bundle = self.current.load();
        let resource_uid = user_resource_uid(&bundle, resource);
        let workspace = match resource {
            UserResource::Console => "",
            UserResource::Workspace { id }
            | UserResource::ApiKey {
                workspace_id: id, ..
            } => id.as_str(),
        };
        let asked = Asked {
            principal: &user.id,
            workspace,
            action,
            resource: &resource_uid,
        };
        let allowed = self
            .record_decision(&bundle, asked, || {
                evaluate_user(&bundle, user, action, resource, context)
            })
            .map_err(UserAuthzError::Internal)?;
        if allowed {
            Ok(())
        } else {
            Err(UserAuthzError::Denied(action))
        }
    }
}

fn user_resource_uid(bundle: &PolicyBundle, resource: &UserResource) -> EntityUid {
    let t = &bundle.types;
    match resource {
        UserResource::Console => t.uid(&t.console, CONSOLE_ID),
        UserResource::Workspace { id } => t.uid(&t.workspace, id),
        UserResource::ApiKey { id, .. } => t.uid(&t.api_key, id),
    }
}

/// Evaluates one console request against one bundle.
pub fn evaluate_user(
    bundle: &PolicyBundle,
    user: &UserPrincipal,
    action: Action,
    resource: &UserResource,
    context: &RequestContext,
) -> Result<Evaluation, String> {
    let t = &bundle.types;
    let workspace_uid = |id: &str| t.uid(&t.workspace, id);
    let principal_uid = t.uid(&t.user, &user.id);

    let mut workspace_ids: HashSet<&str> = user
        .member_of
        .iter()
        .chain(&user.admin_of)
        .map(String::as_str)
        .collect();
    let admin_of = RestrictedExpression::new_set(
        user.admin_of
            .iter()
            .map(|id| RestrictedExpression::new_entity_uid(workspace_uid(id))),
    );
    let user_entity = Entity::new(
        principal_uid.clone(),
        HashMap::from([
            (
                "email".to_owned(),
                RestrictedExpression::new_string(user.email.clone()),
            ),
            ("adminOf".to_owned(), admin_of),
        ]),
        user.member_of.iter().map(|id| workspace_uid(id)).collect(),
    )
    .map_err(|e| format!("user entity: {e}"))?;

    let mut request_entities = vec![user_entity];
    match resource {
        UserResource::Console => request_entities.push(Entity::new_no_attrs(
            t.uid(&t.console, CONSOLE_ID),
            HashSet::new(),
        )),
        UserResource::Workspace { id } => {
            workspace_ids.insert(id);
        }
        UserResource::ApiKey {
            id,
            workspace_id,
            environment,
        } => {
            workspace_ids.insert(workspace_id);
            request_entities.push(
                Entity::new(
                    t.uid(&t.api_key, id),
                    HashMap::from([
                        (
                            "workspace".to_owned(),
                            RestrictedExpression::new_entity_uid(workspace_uid(workspace_id)),
                        ),
                        (
                            "environment".to_owned(),
                            RestrictedExpression::new_string(environment.clone()),
                        ),
                    ]),
                    HashSet::from([workspace_uid(workspace_id)]),
                )
                .map_err(|e| format!("key entity: {e}"))?,
            );
        }
    }
    request_entities.extend(
        workspace_ids
            .into_iter()
            .map(|id| Entity::new_no_attrs(workspace_uid(id), HashSet::new())),
    );
    let entities = Entities::from_entities(
        bundle.base_entities.iter().cloned().chain(request_entities),
        None,
    )
    .map_err(|e| format!("entities: {e}"))?;

    let context = Context::from_pairs([
        (
            "ip".to_owned(),
            RestrictedExpression::new_ip(context.ip.to_string()),
        ),
        (
            "time".to_owned(),
            RestrictedExpression::new_datetime(
                context.time.to_rfc3339_opts(SecondsFormat::Millis, true),
            ),
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
    .map_err(|e| format!("context: {e}"))?;

    let request = Request::new(
        principal_uid,
        bundle.action_uid(action).clone(),
        user_resource_uid(bundle, resource),
        context,
        Some(&bundle.schema),
    )
    .map_err(|e| format!("request: {e}"))?;

    let response = Authorizer::new().is_authorized(&request, &bundle.policies, &entities);
    let mut policies: Vec<String> = response
        .diagnostics()
        .reason()
        .map(ToString::to_string)
        .collect();
    policies.sort();
    Ok(Evaluation {
        allowed: response.decision() == Decision::Allow,
        policies,
        errors: response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect(),
        policy_version: bundle.version.clone(),
    })
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::path::PathBuf;

    use chrono::Utc;

    use super::*;
    use crate::authz::load;

    fn bundle() -> PolicyBundle {
        load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies"))
            .unwrap_or_else(|e| panic!("shipped policies must load:\n{e}"))
    }

    fn context() -> RequestContext {
        RequestContext {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            time: Utc::now(),
            method: "POST".to_owned(),
            path: "/".to_owned(),
        }
    }

    fn user(member_of: &[&str], admin_of: &[&str]) -> UserPrincipal {
        UserPrincipal {
            id: "usr_1".to_owned(),
            email: "a@example.com".to_owned(),
            member_of: member_of.iter().map(|s| (*s).to_owned()).collect(),
            admin_of: admin_of.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn allowed(user: &UserPrincipal, action: Action, resource: &UserResource) -> bool {
        let evaluation =
            evaluate_user(&bundle(), user, action, resource, &context()).expect("evaluates");
        assert!(evaluation.errors.is_empty(), "{:?}", evaluation.errors);
        evaluation.allowed
    }

    #[test]
    fn roles_are_per_workspace() {
        let key_in = |ws: &str| UserResource::ApiKey {
            id: "key_1".to_owned(),
            workspace_id: ws.to_owned(),
            environment: "live".to_owned(),
        };
        let ws = |id: &str| UserResource::Workspace { id: id.to_owned() };
        let person = user(&["ws_a", "ws_b"], &["ws_a"]);

        assert!(allowed(&person, Action::CreateApiKey, &ws("ws_a")));
        assert!(allowed(&person, Action::RevokeApiKey, &key_in("ws_a")));
        assert!(
            !allowed(&person, Action::CreateApiKey, &ws("ws_b")),
            "member of b only"
        );
        assert!(
            !allowed(&person, Action::RotateApiKey, &key_in("ws_b")),
            "member of b only"
        );
        assert!(
            allowed(&person, Action::ListApiKeys, &ws("ws_b")),
            "members read"
        );
        assert!(
            !allowed(&person, Action::ViewWorkspace, &ws("ws_c")),
            "not a member of c"
        );
        assert!(
            !allowed(&person, Action::RevokeApiKey, &key_in("ws_c")),
            "not a member of c"
        );
        assert!(allowed(
            &person,
            Action::CreateWorkspace,
            &UserResource::Console
        ));
    }
}
