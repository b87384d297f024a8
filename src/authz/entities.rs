//! The entities of a principal's decisions: for a key, the key (its workspace, role and
//! permissions as parents), its workspace and its role; for a user, the user (see
//! [`super::user`]); and the action with its groups.
//!
//! Cedar computes the transitive closure of every entity set it is handed, and on a decision
//! that costs more than evaluating the policies. These sets depend only on the principal and
//! the action, so each is built once per loaded policy set and remembered; a request adds
//! only its resource, when the resource is not already among them.
//!
//! When the resource is among them (the principal's own workspace, or a key itself) and no
//! policy that could apply reads the context, the decision depends on nothing but the
//! principal, the action and the policy set, so it is remembered too: every later request
//! still records its decision, but does not evaluate it again.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, OnceLock, RwLock};

use std::str::FromStr;

use cedar_policy::{Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression};

use super::action::Action;
use super::decision::Evaluation;
use super::index::GuardsHeld;
use crate::keys::grant::Role;
use crate::keys::metadata::KeyMetadata;
use crate::keys::object_limit::ObjectLimit;
use crate::keys::secret::Environment;
use crate::principal::{KeyPrincipal, Principal, UserPrincipal};

/// The schema's namespace.
pub const NAMESPACE: &str = "Andi";

/// Entity type names of the `Andi` namespace, parsed once.
#[derive(Debug, Clone)]
pub struct EntityTypes {
    pub api_key: EntityTypeName,
    pub workspace: EntityTypeName,
    pub role: EntityTypeName,
    pub permission: EntityTypeName,
    pub object_definition: EntityTypeName,
    pub record: EntityTypeName,
    pub user: EntityTypeName,
    pub console: EntityTypeName,
}

impl EntityTypes {
    pub(super) fn parse() -> Result<EntityTypes, String> {
        let name = |n: &str| {
            EntityTypeName::from_str(&format!("{NAMESPACE}::{n}"))
                .map_err(|e| format!("bad entity type name {n}: {e}"))
        };
        Ok(EntityTypes {
            api_key: name("ApiKey")?,
            workspace: name("Workspace")?,
            role: name("Role")?,
            permission: name("Permission")?,
            object_definition: name("ObjectDefinition")?,
            record: name("Record")?,
            user: name("User")?,
            console: name("Console")?,
        })
    }

    pub fn uid(&self, type_name: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(type_name.clone(), EntityId::new(id))
    }
}

/// How many principals of each kind (keys, users) are remembered; past it, one is forgotten
/// for each new one (and rebuilt on its next decision, about 20 µs). A few kilobytes per
/// principal and action used, so at most a few tens of megabytes.
const PRINCIPALS_REMEMBERED: usize = 1_024;

/// How many objects' entity sets one principal's decisions on one action hold; past it,
/// they start afresh. An object's set shares the principal's entities and adds about a
/// kilobyte.
const OBJECTS_REMEMBERED: usize = 32;

/// One principal's decisions on one action.
#[derive(Debug)]
pub struct PrincipalAction {
    pub entities: Entities,
    /// The decision on the principal's own workspace, once made; only for a context-free
    /// group.
    pub own_workspace: OnceLock<Evaluation>,
    /// The decision on a key itself, once made; only for a context-free group.
    pub own_key: OnceLock<Evaluation>,
    /// Which attributes that guard policies the principal has.
    pub guards_held: GuardsHeld,
    /// `entities` with one object definition added, by object id: a decision about the
    /// object, or about one of its records (which adds only the record), reuses it instead
    /// of recomputing the closure of the whole set.
    objects: RwLock<HashMap<String, Arc<ObjectEntities>>>,
}

/// What an object definition entity is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ObjectFacts<'a> {
    pub id: &'a str,
    pub handle: &'a str,
    pub workspace_id: &'a str,
    pub attribute_keys: Option<&'a [String]>,
}

/// A principal's entities with one object definition, and the facts it was built from.
#[derive(Debug)]
pub(super) struct ObjectEntities {
    handle: String,
    workspace_id: String,
    attribute_keys: Option<Vec<String>>,
    pub entities: Entities,
}

impl ObjectEntities {
    fn built_from(&self, object: &ObjectFacts<'_>) -> bool {
        self.handle == object.handle
            && self.workspace_id == object.workspace_id
            && self.attribute_keys.as_deref() == object.attribute_keys
    }
}

impl PrincipalAction {
    fn new(entities: Entities, guards_held: GuardsHeld) -> PrincipalAction {
        PrincipalAction {
            entities,
            guards_held,
            own_workspace: OnceLock::new(),
            own_key: OnceLock::new(),
            objects: RwLock::new(HashMap::new()),
        }
    }

    /// The principal's entities with `object` added, built with `entity` the first time
    /// (and again whenever the object's facts change: a renamed handle, a new attribute).
    pub(super) fn with_object(
        &self,
        object: &ObjectFacts<'_>,
        entity: impl FnOnce() -> Result<Entity, String>,
    ) -> Result<Arc<ObjectEntities>, String> {
        let remembered = self.objects.read().ok().and_then(|objects| {
            objects
                .get(object.id)
                .filter(|held| held.built_from(object))
                .cloned()
        });
        if let Some(held) = remembered {
            return Ok(held);
        }
        let entities = self
            .entities
            .clone()
            .add_entities([entity()?], None)
            .map_err(|e| format!("entities: {e}"))?;
        let built = Arc::new(ObjectEntities {
            handle: object.handle.to_owned(),
            workspace_id: object.workspace_id.to_owned(),
            attribute_keys: object.attribute_keys.map(<[String]>::to_vec),
            entities,
        });
        if let Ok(mut objects) = self.objects.write() {
            if objects.len() >= OBJECTS_REMEMBERED && !objects.contains_key(object.id) {
                objects.clear();
            }
            objects.insert(object.id.to_owned(), Arc::clone(&built));
        }
        Ok(built)
    }
}

/// One principal's decisions, indexed by [`Action::index`], filled as actions are asked.
type PerAction = Vec<Option<Arc<PrincipalAction>>>;

/// The principals of one kind seen so far. Keyed by the whole principal, not its id, so the
/// remembered set is always the one this principal would build.
#[derive(Debug)]
struct Seen<P>(RwLock<HashMap<P, PerAction>>);

impl<P: Clone + Eq + Hash> Seen<P> {
    fn new() -> Seen<P> {
        Seen(RwLock::new(HashMap::new()))
    }

    /// What `principal`'s decisions on `action` share, built with `entities` the first time.
    fn get_or_build(
        &self,
        principal: &P,
        action: Action,
        build: impl FnOnce() -> Result<PrincipalAction, String>,
    ) -> Result<Arc<PrincipalAction>, String> {
        let remembered = self.0.read().ok().and_then(|seen| {
            seen.get(principal)?
                .get(action.index())
                .and_then(Option::clone)
        });
        if let Some(principal_action) = remembered {
            return Ok(principal_action);
        }
        let built = Arc::new(build()?);
        if let Ok(mut seen) = self.0.write() {
            if seen.len() >= PRINCIPALS_REMEMBERED && !seen.contains_key(principal) {
                let forgotten = seen.keys().next().cloned();
                if let Some(forgotten) = forgotten {
                    seen.remove(&forgotten);
                }
            }
            let per_action = seen
                .entry(principal.clone())
                .or_insert_with(|| vec![None; Action::ALL.len()]);
            per_action[action.index()] = Some(Arc::clone(&built));
        }
        Ok(built)
    }
}

/// Per-action and per-role entities picked at load, and the entity sets built from them.
#[derive(Debug)]
pub struct DecisionEntities {
    /// Indexed by [`Action::index`].
    actions: Vec<Option<Entity>>,
    roles: HashMap<Role, Entity>,
    /// The roles, permissions and actions a policy names by literal and reads through
    /// (`Andi::Role::"viewer" in …`): Cedar on the full entity graph finds them, so every
    /// decision holds them too (see [`super::entity_reads`]).
    read_by_literal: Vec<Entity>,
    keys: Seen<KeyPrincipal>,
    users: Seen<UserPrincipal>,
}

impl DecisionEntities {
    /// Picks them from the loaded action and role entities.
    pub fn build(
        base: &[Entity],
        action_uids: &[EntityUid],
        read_by_literal: &HashSet<EntityUid>,
        types: &EntityTypes,
    ) -> DecisionEntities {
        let actions = action_uids
            .iter()
            .map(|uid| base.iter().find(|e| &e.uid() == uid).cloned())
            .collect();
        let roles = base
            .iter()
            .filter(|e| e.uid().type_name() == &types.role)
            .filter_map(|e| Some((e.uid().id().unescaped().parse::<Role>().ok()?, e.clone())))
            .collect();
        let read_by_literal = base
            .iter()
            .filter(|e| read_by_literal.contains(&e.uid()))
            .cloned()
            .collect();
        DecisionEntities {
            actions,
            roles,
            read_by_literal,
            keys: Seen::new(),
            users: Seen::new(),
        }
    }

    /// What decisions by `principal` on `action` share: their entities without the resource,
    /// and which of `guards` (the index's guard attributes) the principal has.
    pub fn for_principal(
        &self,
        types: &EntityTypes,
        guards: &[String],
        principal: Principal<'_>,
        action: Action,
    ) -> Result<Arc<PrincipalAction>, String> {
        let shared = |entities: Entities| {
            let uid = match principal {
                Principal::Key(key) => types.uid(&types.api_key, &key.key_id),
                Principal::User(user) => types.uid(&types.user, &user.id),
            };
            let guards_held = GuardsHeld::of(&entities, &uid, guards);
            PrincipalAction::new(entities, guards_held)
        };
        match principal {
            Principal::Key(key) => self.keys.get_or_build(key, action, || {
                self.entities(action, key.role, key_entities(types, key)?)
                    .map(shared)
            }),
            Principal::User(user) => self.users.get_or_build(user, action, || {
                self.entities(action, None, super::user::user_entities(types, user)?)
                    .map(shared)
            }),
        }
    }

    /// The role entity (with its permissions as parents), for a key that is a resource.
    pub fn role(&self, role: Role) -> Option<&Entity> {
        self.roles.get(&role)
    }

    /// The principal's entities with the action's and the role's.
    fn entities(
        &self,
        action: Action,
        role: Option<Role>,
        principal: impl IntoIterator<Item = Entity>,
    ) -> Result<Entities, String> {
        Entities::from_entities(self.fixed(action, role).cloned().chain(principal), None)
            .map_err(|e| format!("entities: {e}"))
    }

    /// The action (with its groups as ancestors), the role (with its permissions), and the
    /// entities policies read by literal, each once. Other roles and permissions cannot
    /// change a decision: only a literal or an entity's parents reach them (and a key that
    /// is the resource brings its own role, see `evaluate`).
    fn fixed(&self, action: Action, role: Option<Role>) -> impl Iterator<Item = &Entity> {
        let request = self
            .actions
            .get(action.index())
            .and_then(Option::as_ref)
            .into_iter()
            .chain(role.and_then(|role| self.roles.get(&role)));
        let mut seen: HashSet<EntityUid> = HashSet::new();
        request
            .chain(&self.read_by_literal)
            .filter(move |entity| seen.insert(entity.uid()))
    }
}

/// What a key entity holds, as principal and as resource alike.
pub(super) struct KeyFacts<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub environment: Environment,
    pub metadata: &'a KeyMetadata,
    pub objects: Option<&'a ObjectLimit>,
}

/// A key entity: its workspace and environment, the handles it is limited to (`objects`,
/// absent for a key that may use every object, so one policy covers limited keys with
/// `principal has objects`), and its metadata as tags (`principal.getTag("region")`).
pub(super) fn key_entity(
    t: &EntityTypes,
    key: KeyFacts<'_>,
    parents: HashSet<EntityUid>,
) -> Result<Entity, String> {
    let mut attrs = HashMap::from([
        (
            "workspace".to_owned(),
            RestrictedExpression::new_entity_uid(t.uid(&t.workspace, key.workspace_id)),
        ),
        (
            "environment".to_owned(),
            RestrictedExpression::new_string(key.environment.as_str().to_owned()),
        ),
    ]);
    if let Some(objects) = key.objects {
        attrs.insert(
            "objects".to_owned(),
            RestrictedExpression::new_set(
                objects
                    .handles()
                    .map(|h| RestrictedExpression::new_string(h.to_string())),
            ),
        );
    }
    let tags = key
        .metadata
        .pairs()
        .iter()
        .map(|(k, v)| (k.clone(), RestrictedExpression::new_string(v.clone())));
    Entity::new_with_tags(t.uid(&t.api_key, key.id), attrs, parents, tags)
        .map_err(|e| e.to_string())
}

/// The key, a child of its workspace, its role and its permissions; and the workspace.
fn key_entities(types: &EntityTypes, principal: &KeyPrincipal) -> Result<[Entity; 2], String> {
    let t = types;
    let workspace_uid = t.uid(&t.workspace, &principal.workspace.id);
    let mut parents: HashSet<EntityUid> = HashSet::from([workspace_uid.clone()]);
    if let Some(role) = principal.role {
        parents.insert(t.uid(&t.role, role.as_str()));
    }
    parents.extend(
        principal
            .permissions
            .iter()
            .map(|p| t.uid(&t.permission, p.as_str())),
    );
    let key = key_entity(
        t,
        KeyFacts {
            id: &principal.key_id,
            workspace_id: &principal.workspace.id,
            environment: principal.environment,
            metadata: &principal.metadata,
            objects: principal.objects.as_ref(),
        },
        parents,
    )
    .map_err(|e| format!("principal entity: {e}"))?;
    Ok([key, Entity::new_no_attrs(workspace_uid, HashSet::new())])
}
