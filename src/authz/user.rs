//! The `User` entity of a signed-in person, built from the memberships a request loaded:
//! its parents are the workspaces it belongs to, and `adminOf` those it administers, so a
//! person can be an admin of one workspace and a member of another.

use std::collections::{HashMap, HashSet};

use cedar_policy::{Entity, RestrictedExpression};

use super::entities::EntityTypes;
use crate::principal::{Principal, UserPrincipal};

/// The user, and its own workspace (see [`Principal::own_workspace`]) when it has one.
pub(super) fn user_entities(
    types: &EntityTypes,
    user: &UserPrincipal,
) -> Result<Vec<Entity>, String> {
    let t = types;
    let workspace_uid = |id: &str| t.uid(&t.workspace, id);
    let admin_of = RestrictedExpression::new_set(
        user.admin_of
            .iter()
            .map(|id| RestrictedExpression::new_entity_uid(workspace_uid(id))),
    );
    let user_entity = Entity::new(
        t.uid(&t.user, &user.id),
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
    let own_workspace = Principal::User(user)
        .own_workspace()
        .map(|id| Entity::new_no_attrs(workspace_uid(id), HashSet::new()));
    Ok([user_entity].into_iter().chain(own_workspace).collect())
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::path::PathBuf;

    use chrono::Utc;

    use super::*;
    use crate::authz::{Action, PolicyBundle, RequestContext, Resource, evaluate, load};
    use crate::keys::secret::Environment;

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

    fn allowed(user: &UserPrincipal, action: Action, resource: &Resource) -> bool {
        let evaluation = evaluate(
            &bundle(),
            Principal::User(user),
            action,
            resource,
            &context(),
        )
        .expect("evaluates");
        assert!(evaluation.errors.is_empty(), "{:?}", evaluation.errors);
        evaluation.allowed
    }

    #[test]
    fn roles_are_per_workspace() {
        let key_in = |ws: &str| Resource::ApiKey {
            id: "key_1".to_owned(),
            workspace_id: ws.to_owned(),
            role: None,
            permissions: Vec::new(),
            environment: Environment::Live,
            metadata: Default::default(),
            objects: None,
        };
        let ws = |id: &str| Resource::Workspace { id: id.to_owned() };
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
            &Resource::Console
        ));
    }

    #[test]
    fn a_key_that_is_the_resource_reaches_its_permissions_through_its_role() {
        // Cedar on the full entity graph: an editor key is in objects.write through the
        // editor role, so an admin cannot revoke it; a viewer key is not.
        let dir = tempfile::tempdir().expect("a directory");
        let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies");
        for entry in std::fs::read_dir(&shipped).expect("policies") {
            let path = entry.expect("an entry").path();
            if path.is_file() {
                std::fs::copy(&path, dir.path().join(path.file_name().expect("a name")))
                    .expect("copied");
            }
        }
        std::fs::write(
            dir.path().join("writers.cedar"),
            "@id(\"keep-writers\")\nforbid (principal, action == Andi::Action::\"revokeApiKey\", resource)\nwhen { resource in Andi::Permission::\"objects.write\" };\n",
        )
        .expect("written");
        let bundle = load(dir.path()).expect("loads");
        let key = |role| Resource::ApiKey {
            id: "key_1".to_owned(),
            workspace_id: "ws_a".to_owned(),
            role: Some(role),
            permissions: Vec::new(),
            environment: Environment::Live,
            metadata: Default::default(),
            objects: None,
        };
        let admin = user(&["ws_a"], &["ws_a"]);
        let revoke = |resource: &Resource| {
            evaluate(
                &bundle,
                Principal::User(&admin),
                Action::RevokeApiKey,
                resource,
                &context(),
            )
            .expect("evaluates")
            .allowed
        };
        assert!(!revoke(&key(crate::keys::grant::Role::Editor)));
        assert!(revoke(&key(crate::keys::grant::Role::Viewer)));
    }
}
