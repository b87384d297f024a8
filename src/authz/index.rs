//! The policy scope index: at load, the policies are grouped by the requests their scope
//! can match, so a decision evaluates only those instead of the whole set.
//!
//! Cedar evaluates every policy it is given, and each one costs about a microsecond even
//! when its scope can never match; with a thousand policies that is a millisecond per
//! request. A policy whose scope cannot match a request can neither permit nor forbid it,
//! nor raise an error for it (the scope is checked before the conditions), so leaving it
//! out changes nothing in the decision, its determining policies or its errors. The
//! property test below checks that on thousands of random requests.
//!
//! Groups are keyed by action (a policy joins the group of every action its `action` scope
//! can match, through action groups too), principal type and resource type (from the
//! schema's `appliesTo`, narrowed by `is` and `==` in the scope). Inside a group, policies
//! that pin the principal or the resource with `==` are kept apart, in sets prebuilt per
//! pinned uid, so a key with a policy of its own pays for that policy only.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use cedar_policy::{
    ActionConstraint, Entities, EntityTypeName, EntityUid, Policy, PolicyId, PolicySet,
    PrincipalConstraint, ResourceConstraint, Schema,
};

use super::action::Action;

/// A set of policies, and whether any of them mentions `context`.
#[derive(Debug)]
struct Scoped {
    policies: PolicySet,
    reads_context: bool,
}

/// The policies a request is evaluated against.
#[derive(Debug)]
pub struct Selection<'a> {
    pub policies: Cow<'a, PolicySet>,
    /// Whether one of them mentions `context`: if none does, the context cannot change the
    /// decision.
    pub reads_context: bool,
}

impl<'a> From<&'a Scoped> for Selection<'a> {
    fn from(scoped: &'a Scoped) -> Selection<'a> {
        Selection {
            policies: Cow::Borrowed(&scoped.policies),
            reads_context: scoped.reads_context,
        }
    }
}

/// How many of the attributes [`PolicyIndex::guards`] names one group tells apart; the
/// policies guarded by any further one are always evaluated.
const GROUP_GUARDS: usize = 3;

/// The policies that can apply to one (action, principal type, resource type).
#[derive(Debug)]
struct Group {
    principal_type: EntityTypeName,
    resource_type: EntityTypeName,
    /// Indices into [`PolicyIndex::guards`] of the attributes its open policies are guarded
    /// by, at most [`GROUP_GUARDS`].
    guards: Vec<usize>,
    /// Policies that pin neither the principal nor the resource.
    open: Scoped,
    /// `open` without the policies guarded by an attribute the principal lacks, for each
    /// combination of `guards` but all of them (bit `i`: it has `guards[i]`).
    open_lacking: Vec<Scoped>,
    /// `open` plus the policies whose scope says `principal == uid`.
    by_principal: HashMap<EntityUid, Scoped>,
    /// `open` plus the policies whose scope says `resource == uid` (principal not pinned).
    by_resource: HashMap<EntityUid, Scoped>,
    /// The policies of `by_resource` alone, for a request that matches both kinds of pin.
    resource_pinned: HashMap<EntityUid, Vec<Policy>>,
    /// Whether any policy of the group, pinned or not, mentions `context`.
    reads_context: bool,
    /// Whether any policy of the group reads the resource in its conditions.
    reads_resource: bool,
}

impl Group {
    fn select<'a>(
        &'a self,
        principal: &EntityUid,
        resource: &EntityUid,
        guards_held: GuardsHeld,
    ) -> Selection<'a> {
        match (
            self.by_principal.get(principal),
            self.by_resource.get(resource),
        ) {
            (None, None) => {
                let combination = self
                    .guards
                    .iter()
                    .enumerate()
                    .filter(|(_, guard)| guards_held.has(**guard))
                    .fold(0, |combination, (i, _)| combination | (1 << i));
                Selection::from(self.open_lacking.get(combination).unwrap_or(&self.open))
            }
            (Some(scoped), None) | (None, Some(scoped)) => Selection::from(scoped),
            (Some(by_principal), Some(by_resource)) => {
                // Both pinned at once is rare: build the union for this request.
                let mut union = by_principal.policies.clone();
                for policy in self.resource_pinned.get(resource).into_iter().flatten() {
                    // Ids are unique in the loaded set and the two groups are disjoint.
                    let _ = union.add(policy.clone());
                }
                Selection {
                    policies: Cow::Owned(union),
                    reads_context: by_principal.reads_context || by_resource.reads_context,
                }
            }
        }
    }
}

/// Which of [`PolicyIndex::guards`] a principal's entity has (bit `i`: it has `guards[i]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardsHeld(u32);

impl GuardsHeld {
    /// What `principal` in `entities` holds of `guards`.
    pub fn of(entities: &Entities, principal: &EntityUid, guards: &[String]) -> GuardsHeld {
        // A principal that is not among the entities has no attribute, as `has` sees it.
        let Some(entity) = entities.get(principal) else {
            return GuardsHeld(0);
        };
        GuardsHeld(
            guards
                .iter()
                .enumerate()
                .filter(|(_, attribute)| entity.attr(attribute).is_some())
                .fold(0, |held, (i, _)| held | (1 << i)),
        )
    }

    fn has(self, guard: usize) -> bool {
        (self.0 >> guard) & 1 == 1
    }
}

/// How many guard attributes the index tells apart (the bits of [`GuardsHeld`]).
const GUARDS: usize = 32;

/// The loaded policy set, grouped by scope.
#[derive(Debug, Default)]
pub struct PolicyIndex {
    /// Indexed by [`Action::index`].
    groups: Vec<Vec<Group>>,
    /// The attributes policies are guarded by: a policy whose condition begins with
    /// `principal has <attribute> && …` can neither apply to nor fail for a principal
    /// without it, so it is left out of that principal's selection (the shipped
    /// `key-object-limits` for keys without an object limit).
    guards: Vec<String>,
}

impl PolicyIndex {
    /// Groups `policies` for every action Andi asks about. `action_uids` is indexed by
    /// [`Action::index`].
    pub fn build(
        schema: &Schema,
        policies: &PolicySet,
        action_uids: &[EntityUid],
    ) -> Result<PolicyIndex, String> {
        let action_entities = schema
            .action_entities()
            .map_err(|e| format!("cannot build the action entities: {e}"))?;
        // Writing a policy as JSON to look for `context` is the costly part of indexing:
        // once per policy, not once per group it joins.
        let context_readers: HashSet<&PolicyId> = policies
            .policies()
            .filter(|p| mentions_var(p, "context"))
            .map(Policy::id)
            .collect();
        let resource_readers: HashSet<&PolicyId> = policies
            .policies()
            .filter(|p| reads_resource_beyond_ancestry(p))
            .map(Policy::id)
            .collect();
        let mut guards: Vec<String> = Vec::new();
        let mut guarded: HashMap<&PolicyId, usize> = HashMap::new();
        for policy in policies.policies() {
            let Some(attribute) = principal_guard(policy) else {
                continue;
            };
            let guard = match guards.iter().position(|known| *known == attribute) {
                Some(guard) => guard,
                None if guards.len() < GUARDS => {
                    guards.push(attribute);
                    guards.len() - 1
                }
                None => continue,
            };
            guarded.insert(policy.id(), guard);
        }
        let facts = PolicyFacts {
            context_readers: &context_readers,
            resource_readers: &resource_readers,
            guarded: &guarded,
        };
        let mut groups = Vec::with_capacity(Action::ALL.len());
        for action in Action::ALL {
            let uid = &action_uids[action.index()];
            let mut matching: HashSet<&EntityUid> = action_entities
                .ancestors(uid)
                .into_iter()
                .flatten()
                .collect();
            matching.insert(uid);
            let principal_types: Vec<&EntityTypeName> = schema
                .principals_for_action(uid)
                .into_iter()
                .flatten()
                .collect();
            let resource_types: Vec<&EntityTypeName> = schema
                .resources_for_action(uid)
                .into_iter()
                .flatten()
                .collect();
            let for_action: Vec<&Policy> = policies
                .policies()
                .filter(|p| action_can_match(&p.action_constraint(), &matching))
                .collect();
            let mut action_groups = Vec::new();
            for principal_type in &principal_types {
                for resource_type in &resource_types {
                    let members = for_action.iter().copied().filter(|p| {
                        principal_can_match(&p.principal_constraint(), principal_type)
                            && resource_can_match(&p.resource_constraint(), resource_type)
                    });
                    action_groups.push(group(principal_type, resource_type, members, &facts)?);
                }
            }
            groups.push(action_groups);
        }
        Ok(PolicyIndex { groups, guards })
    }

    /// The attributes [`GuardsHeld`] is taken of.
    pub fn guards(&self) -> &[String] {
        &self.guards
    }

    /// Whether a policy that can apply to some request of this shape mentions `context`;
    /// true when the index has no group for it. When false, no [`PolicyIndex::select`] of
    /// this shape reads it.
    pub fn reads_context(
        &self,
        action: Action,
        principal_type: &EntityTypeName,
        resource_type: &EntityTypeName,
    ) -> bool {
        self.group(action, principal_type, resource_type)
            .is_none_or(|g| g.reads_context)
    }

    /// Whether every resource of `resource_type` under one parent gets the same decision
    /// for one principal and context: no policy that can apply reads the resource or pins
    /// one with `==`. The records of one batch can then share one evaluation.
    pub fn decides_alike(
        &self,
        action: Action,
        principal_type: &EntityTypeName,
        resource_type: &EntityTypeName,
    ) -> bool {
        self.group(action, principal_type, resource_type)
            .is_some_and(|g| !g.reads_resource && g.resource_pinned.is_empty())
    }

    fn group(
        &self,
        action: Action,
        principal_type: &EntityTypeName,
        resource_type: &EntityTypeName,
    ) -> Option<&Group> {
        self.groups.get(action.index()).and_then(|groups| {
            groups
                .iter()
                .find(|g| &g.principal_type == principal_type && &g.resource_type == resource_type)
        })
    }

    /// The policies that can apply to this request; the whole set (said to read the
    /// context) when the index has no group for it (a request the schema would reject
    /// anyway).
    pub fn select<'a>(
        &'a self,
        all: &'a PolicySet,
        action: Action,
        principal: &EntityUid,
        resource: &EntityUid,
        guards_held: GuardsHeld,
    ) -> Selection<'a> {
        self.group(action, principal.type_name(), resource.type_name())
            .map_or(
                Selection {
                    policies: Cow::Borrowed(all),
                    reads_context: true,
                },
                |g| g.select(principal, resource, guards_held),
            )
    }
}

/// What the index found out about each policy, once.
struct PolicyFacts<'a> {
    context_readers: &'a HashSet<&'a PolicyId>,
    resource_readers: &'a HashSet<&'a PolicyId>,
    /// The index into [`PolicyIndex::guards`] of a guarded policy's attribute.
    guarded: &'a HashMap<&'a PolicyId, usize>,
}

fn group<'a>(
    principal_type: &EntityTypeName,
    resource_type: &EntityTypeName,
    members: impl Iterator<Item = &'a Policy>,
    facts: &PolicyFacts<'_>,
) -> Result<Group, String> {
    let add = |set: &mut Scoped, policy: &Policy| {
        set.reads_context |= facts.context_readers.contains(policy.id());
        set.policies
            .add(policy.clone())
            .map_err(|e| format!("cannot index policy {}: {e}", policy.id()))
    };
    let mut open: Vec<&Policy> = Vec::new();
    let mut principal_pinned: HashMap<EntityUid, Vec<Policy>> = HashMap::new();
    let mut resource_pinned: HashMap<EntityUid, Vec<Policy>> = HashMap::new();
    let mut reads_context = false;
    let mut reads_resource = false;
    for policy in members {
        reads_context |= facts.context_readers.contains(policy.id());
        reads_resource |= facts.resource_readers.contains(policy.id());
        match (policy.principal_constraint(), policy.resource_constraint()) {
            (PrincipalConstraint::Eq(uid), _) => {
                principal_pinned
                    .entry(uid)
                    .or_default()
                    .push(policy.clone());
            }
            (_, ResourceConstraint::Eq(uid)) => {
                resource_pinned.entry(uid).or_default().push(policy.clone());
            }
            _ => open.push(policy),
        }
    }
    let mut guards: Vec<usize> = Vec::new();
    for policy in &open {
        if let Some(&guard) = facts.guarded.get(policy.id())
            && !guards.contains(&guard)
            && guards.len() < GROUP_GUARDS
        {
            guards.push(guard);
        }
    }
    let open_lacking = (0..(1usize << guards.len()) - 1)
        .map(|combination| {
            let mut set = Scoped {
                policies: PolicySet::new(),
                reads_context: false,
            };
            for policy in &open {
                let lacked = facts
                    .guarded
                    .get(policy.id())
                    .and_then(|guard| guards.iter().position(|g| g == guard))
                    .is_some_and(|i| (combination >> i) & 1 == 0);
                if !lacked {
                    add(&mut set, policy)?;
                }
            }
            Ok(set)
        })
        .collect::<Result<Vec<Scoped>, String>>()?;
    let mut all_open = Scoped {
        policies: PolicySet::new(),
        reads_context: false,
    };
    for policy in &open {
        add(&mut all_open, policy)?;
    }
    let open = all_open;
    let with_open = |pinned: &HashMap<EntityUid, Vec<Policy>>| {
        pinned
            .iter()
            .map(|(uid, policies)| {
                let mut set = Scoped {
                    policies: open.policies.clone(),
                    reads_context: open.reads_context,
                };
                for policy in policies {
                    add(&mut set, policy)?;
                }
                Ok((uid.clone(), set))
            })
            .collect::<Result<HashMap<_, _>, String>>()
    };
    Ok(Group {
        principal_type: principal_type.clone(),
        resource_type: resource_type.clone(),
        by_principal: with_open(&principal_pinned)?,
        by_resource: with_open(&resource_pinned)?,
        resource_pinned,
        guards,
        open,
        open_lacking,
        reads_context,
        reads_resource,
    })
}

/// The attribute a policy's condition tests first, when that test is `principal has
/// <attribute>`, alone or left of `&&`: the leftmost operand of the first condition, a
/// `when`.
/// Cedar evaluates the scope (which cannot fail) and then the conditions in order, left to
/// right, so for a principal without the attribute the policy is false before anything
/// could fail. A policy that cannot be written as JSON has none.
fn principal_guard(policy: &Policy) -> Option<String> {
    let json = policy.to_json().ok()?;
    let first = json.get("conditions")?.get(0)?;
    if first.get("kind")? != "when" {
        return None;
    }
    let mut test = first.get("body")?;
    while let Some(left) = test.get("&&").and_then(|and| and.get("left")) {
        test = left;
    }
    let has = test.get("has")?;
    (has.get("left")?.get("Var")? == "principal")
        .then(|| has.get("attr")?.as_str().map(str::to_owned))
        .flatten()
}

/// Whether a policy's conditions mention the variable `name` (`context`, `resource`); the
/// scope is not an expression, so it never does. A policy that cannot be written as JSON is
/// assumed to.
fn mentions_var(policy: &Policy, name: &str) -> bool {
    fn mentions(json: &serde_json::Value, name: &str) -> bool {
        match json {
            serde_json::Value::Object(map) => {
                map.get("Var").is_some_and(|var| var == name)
                    || map.values().any(|v| mentions(v, name))
            }
            serde_json::Value::Array(items) => items.iter().any(|v| mentions(v, name)),
            _ => false,
        }
    }
    policy.to_json().map_or(true, |json| mentions(&json, name))
}

/// Whether a policy's conditions read anything of the resource but its type and ancestors:
/// `resource in principal.workspace` or `resource is Andi::Record` answer the same for
/// every record of one object (or every object of one workspace), so they do not tell such
/// resources apart; any other use of `resource` may. A policy that cannot be written as
/// JSON is assumed to.
fn reads_resource_beyond_ancestry(policy: &Policy) -> bool {
    fn reads(json: &serde_json::Value) -> bool {
        match json {
            serde_json::Value::Object(map) => {
                if map.get("Var").is_some_and(|var| var == "resource") {
                    return true;
                }
                map.iter().any(|(op, operands)| {
                    let on_resource = operands
                        .get("left")
                        .and_then(|left| left.get("Var"))
                        .is_some_and(|var| var == "resource");
                    match op.as_str() {
                        // The left side is the resource itself: only the other operands
                        // can read it.
                        "in" if on_resource => operands.get("right").is_some_and(reads),
                        "is" if on_resource => operands.get("in").is_some_and(reads),
                        _ => reads(operands),
                    }
                })
            }
            serde_json::Value::Array(items) => items.iter().any(reads),
            _ => false,
        }
    }
    policy
        .to_json()
        .map_or(true, |json| json.get("conditions").is_some_and(reads))
}

/// Whether an `action` scope can match an action whose uid or group uids are `matching`.
fn action_can_match(constraint: &ActionConstraint, matching: &HashSet<&EntityUid>) -> bool {
    match constraint {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(uid) => matching.contains(uid),
        ActionConstraint::In(uids) => uids.iter().any(|uid| matching.contains(uid)),
    }
}

fn principal_can_match(constraint: &PrincipalConstraint, principal_type: &EntityTypeName) -> bool {
    match constraint {
        PrincipalConstraint::Any | PrincipalConstraint::In(_) => true,
        PrincipalConstraint::Eq(uid) => uid.type_name() == principal_type,
        PrincipalConstraint::Is(t) | PrincipalConstraint::IsIn(t, _) => t == principal_type,
    }
}

fn resource_can_match(constraint: &ResourceConstraint, resource_type: &EntityTypeName) -> bool {
    match constraint {
        ResourceConstraint::Any | ResourceConstraint::In(_) => true,
        ResourceConstraint::Eq(uid) => uid.type_name() == resource_type,
        ResourceConstraint::Is(t) | ResourceConstraint::IsIn(t, _) => t == resource_type,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::path::PathBuf;
    use std::str::FromStr;
    use std::sync::LazyLock;

    use chrono::{TimeZone, Utc};
    use rand::rngs::StdRng;
    use rand::seq::IndexedRandom;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::authz::{PolicyBundle, RequestContext, Resource, evaluate, load};
    use crate::keys::grant::{Permission, Role};
    use crate::keys::object_limit::ObjectLimit;
    use crate::keys::secret::Environment;
    use crate::principal::{KeyPrincipal, Principal, UserPrincipal, WorkspaceRef};

    const KEYS: u32 = 20;
    const USERS: u32 = 10;
    const WORKSPACES: u32 = 4;
    const OBJECTS: u32 = 8;
    const RECORDS: u32 = 4;

    fn shipped() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies")
    }

    fn pick<'a>(rng: &mut StdRng, options: &[&'a str]) -> &'a str {
        options.choose(rng).copied().unwrap_or_default()
    }

    /// A random policy over Andi's types, with ids drawn from the same small ranges as the
    /// requests so that `==` pins often hit.
    /// With `context_free`, no condition mentions `context`.
    fn random_policy(rng: &mut StdRng, n: usize, context_free: bool) -> String {
        // Few forbids, each with a condition: otherwise nearly every request is denied and
        // the comparison would say little about permits.
        let forbid = rng.random_bool(0.04);
        let effect = if forbid { "forbid" } else { "permit" };
        let key = format!("Andi::ApiKey::\"key_{}\"", rng.random_range(0..KEYS));
        let user = format!("Andi::User::\"usr_{}\"", rng.random_range(0..USERS));
        let workspace = format!(
            "Andi::Workspace::\"ws_{}\"",
            rng.random_range(0..WORKSPACES)
        );
        let object = format!(
            "Andi::ObjectDefinition::\"obj_{}\"",
            rng.random_range(0..OBJECTS)
        );
        let record = format!(
            "Andi::Record::\"obj_{}/rec_{}\"",
            rng.random_range(0..OBJECTS),
            rng.random_range(0..RECORDS)
        );
        let permission = format!(
            "Andi::Permission::\"{}\"",
            pick(rng, &["objects.read", "objects.write", "workspaces.read"])
        );
        let role = format!(
            "Andi::Role::\"{}\"",
            pick(rng, &["admin", "editor", "viewer"])
        );
        let action_name = |rng: &mut StdRng| {
            let all: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
            let mut names = all;
            names.extend([
                "objects.read",
                "objects.write",
                "workspaces.read",
                "console.member",
                "console.admin",
            ]);
            format!("Andi::Action::\"{}\"", pick(rng, &names))
        };
        let principal = match rng.random_range(0..10) {
            0 | 1 => "principal".to_owned(),
            2 | 3 => format!("principal == {key}"),
            4 => "principal is Andi::ApiKey".to_owned(),
            5 => format!(
                "principal in {}",
                if rng.random_bool(0.5) {
                    &permission
                } else {
                    &workspace
                }
            ),
            6 => format!("principal is Andi::ApiKey in {role}"),
            7 => format!("principal == {user}"),
            8 => "principal is Andi::User".to_owned(),
            _ => format!("principal is Andi::User in {workspace}"),
        };
        let action = match rng.random_range(0..4) {
            0 => "action".to_owned(),
            1 => format!("action == {}", action_name(rng)),
            2 => format!("action in {}", action_name(rng)),
            _ => format!("action in [{}, {}]", action_name(rng), action_name(rng)),
        };
        let resource = match rng.random_range(0..11) {
            0 | 1 => "resource".to_owned(),
            2 => format!("resource == {object}"),
            3 => format!("resource == {workspace}"),
            4 => format!("resource == {record}"),
            5 => format!("resource == {key}"),
            6 => format!(
                "resource is {}",
                pick(
                    rng,
                    &[
                        "Andi::Workspace",
                        "Andi::ObjectDefinition",
                        "Andi::Record",
                        "Andi::ApiKey",
                        "Andi::Console"
                    ]
                )
            ),
            7 => format!("resource in {workspace}"),
            8 => "resource == Andi::Console::\"andi\"".to_owned(),
            9 => format!("resource is Andi::ApiKey in {workspace}"),
            _ => format!("resource is Andi::Record in {object}"),
        };
        let forbid_conditions = [
            "when { context.method == \"POST\" }",
            "when { principal.environment == \"test\" }",
            "when { resource has environment && resource.environment == \"test\" }",
            "when { context.ip.isInRange(ip(\"10.0.0.0/8\")) }",
        ];
        let allowed = |c: &&&str| !context_free || !c.contains("context");
        let conditions: Vec<&str> = if forbid {
            forbid_conditions.iter().filter(allowed).copied().collect()
        } else {
            CONDITIONS.iter().filter(allowed).copied().collect()
        };
        let condition = pick(rng, &conditions);
        format!("@id(\"p{n}\")\n{effect} ({principal}, {action}, {resource}) {condition};\n")
    }

    const CONDITIONS: [&str; 18] = [
        "",
        "",
        "when { resource in principal.workspace }",
        "unless { resource in principal.workspace }",
        "when { context.method == \"GET\" }",
        "when { principal.environment == \"test\" }",
        "when { context.path like \"/api/objects*\" }",
        "when { principal in Andi::Permission::\"objects.write\" }",
        // Raises an error for resources without a handle: errors must match too.
        "when { resource.handle == \"h1\" }",
        "when { context.ip.isInRange(ip(\"10.0.0.0/8\")) }",
        // The console's shapes: membership through the parents, administration through
        // `adminOf`; on a key principal they raise errors or are false.
        "when { principal in resource }",
        "when { resource in principal.adminOf }",
        "unless { resource in principal.adminOf }",
        "when { principal.email like \"*@a.example\" }",
        // Guarded by `objects`: left out for principals without it. The last two are not
        // guards: the test is not the first thing evaluated, or it is negated.
        "when { principal has objects && principal.objects.contains(\"h1\") }",
        "when { principal has objects }",
        "when { resource.handle == \"h1\" && principal has objects }",
        "unless { principal has objects }",
    ];

    /// The actions each kind of principal is asked about, as the shipped schema declares.
    struct ActionsOf {
        keys: Vec<Action>,
        users: Vec<Action>,
    }

    static ACTIONS: LazyLock<ActionsOf> = LazyLock::new(|| {
        let bundle = load(&shipped()).unwrap_or_else(|e| panic!("shipped policies load: {e}"));
        let asked_of = |principal_type: &EntityTypeName| {
            Action::ALL
                .into_iter()
                .filter(|action| {
                    bundle
                        .schema
                        .principals_for_action(bundle.action_uid(*action))
                        .into_iter()
                        .flatten()
                        .any(|t| t == principal_type)
                })
                .collect()
        };
        ActionsOf {
            keys: asked_of(&bundle.types.api_key),
            users: asked_of(&bundle.types.user),
        }
    });

    /// A principal the test owns; decisions borrow it as a [`Principal`].
    #[derive(Debug)]
    enum Owned {
        Key(KeyPrincipal),
        User(UserPrincipal),
    }

    impl Owned {
        fn principal(&self) -> Principal<'_> {
            match self {
                Owned::Key(key) => Principal::Key(key),
                Owned::User(user) => Principal::User(user),
            }
        }
    }

    fn random_request(rng: &mut StdRng) -> (Owned, Action, Resource, RequestContext) {
        let principal = random_principal(rng);
        let (action, resource, context) = random_request_by(rng, &principal);
        (principal, action, resource, context)
    }

    /// A key, or (a third of the time) a console user.
    fn random_principal(rng: &mut StdRng) -> Owned {
        if rng.random_bool(1.0 / 3.0) {
            Owned::User(random_user(rng))
        } else {
            Owned::Key(random_key(rng))
        }
    }

    fn random_key(rng: &mut StdRng) -> KeyPrincipal {
        let workspace = format!("ws_{}", rng.random_range(0..WORKSPACES));
        let permissions: Vec<Permission> = [
            Permission::ObjectsRead,
            Permission::ObjectsWrite,
            Permission::WorkspacesRead,
        ]
        .into_iter()
        .filter(|_| rng.random_bool(0.3))
        .collect();
        KeyPrincipal {
            key_id: format!("key_{}", rng.random_range(0..KEYS)),
            workspace: WorkspaceRef {
                handle: workspace.replace('_', "-"),
                id: workspace.clone(),
            },
            role: [
                None,
                Some(Role::Admin),
                Some(Role::Editor),
                Some(Role::Viewer),
            ]
            .choose(rng)
            .copied()
            .flatten(),
            permissions,
            environment: if rng.random_bool(0.3) {
                Environment::Test
            } else {
                Environment::Live
            },
            metadata: Default::default(),
            objects: rng
                .random_bool(0.3)
                .then(|| ObjectLimit::parse_list("h1").unwrap_or_else(|e| panic!("{e}"))),
        }
    }

    /// Mostly one membership, as the console loads for a request about one workspace;
    /// sometimes none (a request about no workspace) or several.
    fn random_user(rng: &mut StdRng) -> UserPrincipal {
        let memberships = *[0, 1, 1, 1, 2].choose(rng).unwrap_or(&1);
        let mut member_of: Vec<String> = Vec::new();
        for _ in 0..memberships {
            let workspace = format!("ws_{}", rng.random_range(0..WORKSPACES));
            if !member_of.contains(&workspace) {
                member_of.push(workspace);
            }
        }
        let admin_of = member_of
            .iter()
            .filter(|_| rng.random_bool(0.5))
            .cloned()
            .collect();
        UserPrincipal {
            id: format!("usr_{}", rng.random_range(0..USERS)),
            email: format!("usr@{}.example", pick(rng, &["a", "b"])),
            member_of,
            admin_of,
        }
    }

    fn random_request_by(
        rng: &mut StdRng,
        principal: &Owned,
    ) -> (Action, Resource, RequestContext) {
        let (action, resource) = match principal {
            Owned::Key(key) => random_key_request(rng, key),
            Owned::User(user) => random_user_request(rng, user),
        };
        let context = RequestContext {
            ip: if rng.random_bool(0.5) {
                IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))
            } else {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            },
            time: Utc
                .with_ymd_and_hms(2026, 11, 26, 9, 0, 0)
                .single()
                .unwrap_or_default(),
            method: pick(rng, &["GET", "POST"]).to_owned(),
            path: pick(
                rng,
                &["/api/objects", "/api/objects/h1/records", "/api/key"],
            )
            .to_owned(),
        };
        (action, resource, context)
    }

    fn random_key_request(rng: &mut StdRng, principal: &KeyPrincipal) -> (Action, Resource) {
        let workspace = principal.workspace.id.clone();
        let resource_workspace = if rng.random_bool(0.7) {
            workspace
        } else {
            format!("ws_{}", rng.random_range(0..WORKSPACES))
        };
        let object_id = format!("obj_{}", rng.random_range(0..OBJECTS));
        let object_handle = pick(rng, &["h1", "h2"]).to_owned();
        let action = *ACTIONS.keys.choose(rng).unwrap_or(&Action::ReadSelf);
        let definition = Resource::ObjectDefinition {
            id: object_id.clone(),
            handle: object_handle.clone(),
            workspace_id: resource_workspace.clone(),
            attribute_keys: Some(vec!["region".to_owned()]),
        };
        let record = Resource::Record {
            id: format!("rec_{}", rng.random_range(0..RECORDS)),
            object_id,
            object_handle,
            workspace_id: resource_workspace.clone(),
            data: Some(crate::authz::RecordData {
                attributes: serde_json::json!({"region": pick(rng, &["EU", "US"])})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                created_by: Some(principal.key_id.clone()),
                updated_by: None,
            }),
        };
        let resource = match action {
            Action::ReadSelf => Resource::own_key(principal),
            Action::ReadWorkspace | Action::ListObjects => Resource::Workspace {
                id: resource_workspace,
            },
            Action::GetRecord => record,
            Action::DeleteRecords | Action::UpsertRecords | Action::PatchRecords
                if rng.random_bool(0.5) =>
            {
                record
            }
            _ => definition,
        };
        (action, resource)
    }

    fn random_user_request(rng: &mut StdRng, user: &UserPrincipal) -> (Action, Resource) {
        let action = *ACTIONS.users.choose(rng).unwrap_or(&Action::ListWorkspaces);
        let resource_workspace = match user.member_of.choose(rng) {
            Some(member) if rng.random_bool(0.7) => member.clone(),
            _ => format!("ws_{}", rng.random_range(0..WORKSPACES)),
        };
        let resource = match action {
            Action::ListWorkspaces | Action::CreateWorkspace => Resource::Console,
            Action::RevokeApiKey | Action::RotateApiKey => Resource::ApiKey {
                id: format!("key_{}", rng.random_range(0..KEYS)),
                workspace_id: resource_workspace,
                role: [None, Some(Role::Admin), Some(Role::Viewer)]
                    .choose(rng)
                    .copied()
                    .flatten(),
                permissions: Vec::new(),
                environment: if rng.random_bool(0.3) {
                    Environment::Test
                } else {
                    Environment::Live
                },
                metadata: Default::default(),
                objects: None,
            },
            _ => Resource::Workspace {
                id: resource_workspace,
            },
        };
        (action, resource)
    }

    fn bundle_with(policies: &PolicySet, indexed: bool) -> PolicyBundle {
        let mut bundle = load(&shipped()).unwrap_or_else(|e| panic!("shipped policies load: {e}"));
        bundle.policies = policies.clone();
        bundle.index = if indexed {
            PolicyIndex::build(&bundle.schema, policies, &bundle.action_uids)
                .unwrap_or_else(|e| panic!("index builds: {e}"))
        } else {
            PolicyIndex::default()
        };
        bundle
    }

    /// Parses policies, each named by its `@id`.
    fn policy_set(text: &str) -> PolicySet {
        let parsed = PolicySet::from_str(text).unwrap_or_else(|e| panic!("policies parse: {e}"));
        PolicySet::from_policies(parsed.policies().map(|p| {
            let id = p.annotation("id").unwrap_or_default().to_owned();
            p.new_id(cedar_policy::PolicyId::new(id))
        }))
        .unwrap_or_else(|e| panic!("ids are unique: {e}"))
    }

    /// The shipped policies plus `count` random ones.
    fn shipped_and_random(rng: &mut StdRng, count: usize, context_free: bool) -> PolicySet {
        let shipped_text: String = ["base.cedar", "isolation.cedar", "console.cedar"]
            .iter()
            .map(|f| std::fs::read_to_string(shipped().join(f)).unwrap_or_default())
            .collect();
        let generated: String = (0..count)
            .map(|n| random_policy(rng, n, context_free))
            .collect();
        policy_set(&format!("{shipped_text}\n{generated}"))
    }

    /// Whether two evaluations of one request agree in allow, determining policies and
    /// errors; Cedar reports errors in no particular order, so they compare as sets.
    fn same(a: &crate::authz::Evaluation, b: &crate::authz::Evaluation) -> bool {
        let (mut a_errors, mut b_errors) = (a.errors.clone(), b.errors.clone());
        a_errors.sort();
        b_errors.sort();
        (a.allowed, &a.policies, &a_errors) == (b.allowed, &b.policies, &b_errors)
    }

    /// Keys and console users, each on the actions of its kind.
    #[test]
    fn indexed_decisions_equal_whole_set_decisions_on_random_requests() {
        assert_eq!(
            ACTIONS.keys.len() + ACTIONS.users.len(),
            Action::ALL.len(),
            "every action is drawn, for keys or for users"
        );
        let mut rng = StdRng::seed_from_u64(0x5eed_a9d1);
        let policies = shipped_and_random(&mut rng, 500, false);
        assert!(policies.policies().count() >= 500);

        let indexed = bundle_with(&policies, true);
        let whole = bundle_with(&policies, false);
        let (mut allowed, mut denied, mut with_errors) = (0, 0, 0);
        let (mut users_allowed, mut users_denied) = (0, 0);
        let mut differences = Vec::new();
        for i in 0..10_000 {
            let (owned, action, resource, context) = random_request(&mut rng);
            let principal = owned.principal();
            let a = evaluate(&indexed, principal, action, &resource, &context)
                .unwrap_or_else(|e| panic!("request {i} evaluates: {e}"));
            let b = evaluate(&whole, principal, action, &resource, &context)
                .unwrap_or_else(|e| panic!("request {i} evaluates: {e}"));
            match (a.allowed, principal) {
                (true, Principal::User(_)) => users_allowed += 1,
                (false, Principal::User(_)) => users_denied += 1,
                _ => {}
            }
            if a.allowed {
                allowed += 1
            } else {
                denied += 1
            }
            if !b.errors.is_empty() {
                with_errors += 1
            }
            if !same(&a, &b) {
                differences.push(format!(
                    "request {i}: {principal:?} {action:?} {resource:?}: indexed {:?} {:?} {:?}, whole {:?} {:?} {:?}",
                    a.allowed, a.policies, a.errors, b.allowed, b.policies, b.errors
                ));
            }
        }
        assert!(
            differences.is_empty(),
            "{} differences, first: {}",
            differences.len(),
            differences[0]
        );
        // The generated set must exercise both outcomes and error reporting, for keys and
        // users, or the comparison proves little.
        assert!(
            allowed > 500 && denied > 500 && with_errors > 100,
            "allowed {allowed}, denied {denied}, with errors {with_errors}"
        );
        assert!(
            users_allowed > 300 && users_denied > 100,
            "users: allowed {users_allowed}, denied {users_denied}"
        );
    }

    /// When no policy that could apply reads the context, decisions are evaluated without
    /// it, and those on a principal's own workspace or on a key itself are remembered. The
    /// whole-set bundle (no index) does neither: it evaluates every request afresh with its
    /// full context.
    #[test]
    fn remembered_decisions_equal_evaluated_ones_on_random_requests() {
        let mut rng = StdRng::seed_from_u64(0x6e6d_0001);
        let policies = shipped_and_random(&mut rng, 300, true);
        let remembering = bundle_with(&policies, true);
        let whole = bundle_with(&policies, false);
        // Few principals, so each (principal, action) comes back often.
        let principals: Vec<Owned> = (0..30).map(|_| random_principal(&mut rng)).collect();
        let (mut remembered, mut remembered_for_users) = (0, 0);
        let mut differences = Vec::new();
        for i in 0..5_000 {
            let owned = principals.choose(&mut rng).unwrap_or(&principals[0]);
            let principal = owned.principal();
            let (action, resource, context) = random_request_by(&mut rng, owned);
            let a = evaluate(&remembering, principal, action, &resource, &context)
                .unwrap_or_else(|e| panic!("request {i} evaluates: {e}"));
            let b = evaluate(&whole, principal, action, &resource, &context)
                .unwrap_or_else(|e| panic!("request {i} evaluates: {e}"));
            let shared = remembering
                .decision_entities
                .for_principal(
                    &remembering.types,
                    remembering.index.guards(),
                    principal,
                    action,
                )
                .unwrap_or_else(|e| panic!("{e}"));
            let slot = match (&resource, principal) {
                (Resource::Workspace { id }, _) if principal.own_workspace() == Some(id) => {
                    Some(&shared.own_workspace)
                }
                (Resource::ApiKey { .. }, Principal::Key(_)) => Some(&shared.own_key),
                _ => None,
            };
            if let Some(slot) = slot {
                assert_eq!(slot.get().map(|e| e.allowed), Some(a.allowed));
                remembered += 1;
                if let Principal::User(_) = principal {
                    remembered_for_users += 1;
                }
            }
            if !same(&a, &b) {
                differences.push(format!(
                    "request {i}: {principal:?} {action:?} {resource:?}"
                ));
            }
        }
        assert!(
            differences.is_empty(),
            "{} differences, first: {}",
            differences.len(),
            differences[0]
        );
        assert!(
            remembered > 500 && remembered_for_users > 100,
            "only {remembered} remembered decisions, {remembered_for_users} of them for users"
        );
    }

    #[test]
    fn a_decision_that_reads_the_context_is_evaluated_every_time() {
        let policies = policy_set(
            r#"
            @id("get-only") permit (principal, action == Andi::Action::"listObjects", resource)
            when { context.method == "GET" };
            "#,
        );
        let bundle = bundle_with(&policies, true);
        let mut rng = StdRng::seed_from_u64(1);
        let key = random_key(&mut rng);
        let own = Resource::Workspace {
            id: key.workspace.id.clone(),
        };
        let (_, _, context) = random_request_by(&mut rng, &Owned::Key(key.clone()));
        let decide = |method: &str| {
            let context = RequestContext {
                method: method.to_owned(),
                ..context.clone()
            };
            evaluate(
                &bundle,
                Principal::Key(&key),
                Action::ListObjects,
                &own,
                &context,
            )
            .unwrap_or_else(|e| panic!("{e}"))
            .allowed
        };
        assert!(decide("GET"));
        assert!(!decide("POST"));
        assert!(decide("GET"));
    }

    #[test]
    fn a_mention_of_context_is_found_in_scope_and_conditions_only() {
        let policies = policy_set(
            r#"
            @id("reads") permit (principal, action, resource) when { context.path == "/" };
            @id("nested") permit (principal, action, resource)
            unless { [1, 2].contains(3) || (if context has ip then true else false) };
            @id("word") permit (principal, action, resource) when { resource has handle && "context" == "context" };
            @id("none") permit (principal, action, resource);
            "#,
        );
        let mentions: Vec<(String, bool)> = policies
            .policies()
            .map(|p| (p.id().to_string(), mentions_var(p, "context")))
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect();
        assert_eq!(
            mentions,
            [
                ("nested".to_owned(), true),
                ("none".to_owned(), false),
                ("reads".to_owned(), true),
                ("word".to_owned(), false),
            ]
        );
    }

    #[test]
    fn only_reads_beyond_type_and_ancestry_tell_resources_apart() {
        let policies = policy_set(
            r#"
            @id("ancestry") permit (principal, action, resource) when { resource in principal.workspace };
            @id("type") forbid (principal, action, resource) when { resource is Andi::Record in principal.workspace };
            @id("attribute") forbid (principal, action, resource is Andi::Record) when { resource.objectHandle == "x" };
            @id("inside-in") forbid (principal, action, resource) when { principal in resource };
            @id("scope-only") forbid (principal, action, resource in Andi::Workspace::"ws_1");
            "#,
        );
        let reads: Vec<(String, bool)> = policies
            .policies()
            .map(|p| (p.id().to_string(), reads_resource_beyond_ancestry(p)))
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect();
        assert_eq!(
            reads,
            [
                ("ancestry".to_owned(), false),
                ("attribute".to_owned(), true),
                ("inside-in".to_owned(), true),
                ("scope-only".to_owned(), false),
                ("type".to_owned(), false),
            ]
        );
    }

    #[test]
    fn a_guard_is_the_first_test_of_the_first_when() {
        let policies = policy_set(
            r#"
            @id("alone") forbid (principal, action, resource) when { principal has objects };
            @id("left") forbid (principal, action, resource)
            when { principal has objects && principal.objects.contains("a") && true };
            @id("right") forbid (principal, action, resource)
            when { resource.handle == "a" && principal has objects };
            @id("unless") forbid (principal, action, resource) unless { principal has objects };
            @id("second") forbid (principal, action, resource)
            when { true } when { principal has objects };
            @id("resource") forbid (principal, action, resource) when { resource has handle };
            "#,
        );
        let guards: Vec<(String, Option<String>)> = policies
            .policies()
            .map(|p| (p.id().to_string(), principal_guard(p)))
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect();
        let objects = Some("objects".to_owned());
        assert_eq!(
            guards,
            [
                ("alone".to_owned(), objects.clone()),
                ("left".to_owned(), objects),
                ("resource".to_owned(), None),
                ("right".to_owned(), None),
                ("second".to_owned(), None),
                ("unless".to_owned(), None),
            ]
        );
    }

    #[test]
    fn a_policy_guarded_by_an_attribute_the_key_lacks_is_not_evaluated() {
        let policies = policy_set(
            r#"
            @id("limited") forbid (principal is Andi::ApiKey, action, resource)
            when { principal has objects && !principal.objects.contains("invoices") };
            @id("reads") permit (principal, action == Andi::Action::"listObjects", resource);
            "#,
        );
        let bundle = bundle_with(&policies, true);
        let mut rng = StdRng::seed_from_u64(2);
        let selected = |key: &KeyPrincipal| {
            let t = &bundle.types;
            let shared = bundle
                .decision_entities
                .for_principal(
                    t,
                    bundle.index.guards(),
                    Principal::Key(key),
                    Action::ListObjects,
                )
                .unwrap_or_else(|e| panic!("{e}"));
            let mut ids: Vec<String> = bundle
                .index
                .select(
                    &bundle.policies,
                    Action::ListObjects,
                    &t.uid(&t.api_key, &key.key_id),
                    &t.uid(&t.workspace, "ws_1"),
                    shared.guards_held,
                )
                .policies
                .policies()
                .map(|p| p.id().to_string())
                .collect();
            ids.sort();
            ids
        };
        let unlimited = KeyPrincipal {
            objects: None,
            ..random_key(&mut rng)
        };
        let limited = KeyPrincipal {
            key_id: "key_limited".to_owned(),
            objects: Some(ObjectLimit::parse_list("h1").unwrap_or_else(|e| panic!("{e}"))),
            ..unlimited.clone()
        };
        assert_eq!(selected(&unlimited), ["reads"]);
        assert_eq!(selected(&limited), ["limited", "reads"]);
    }

    #[test]
    fn a_policy_pinned_to_another_key_is_not_evaluated() {
        let policies = policy_set(
            r#"
            @id("mine") permit (principal == Andi::ApiKey::"key_1", action, resource);
            @id("theirs") permit (principal == Andi::ApiKey::"key_2", action, resource);
            @id("reads") permit (principal, action == Andi::Action::"listObjects", resource);
            @id("writes") permit (principal, action in Andi::Action::"objects.write", resource);
            "#,
        );
        let bundle = bundle_with(&policies, true);
        let t = &bundle.types;
        let selected = bundle.index.select(
            &bundle.policies,
            Action::ListObjects,
            &t.uid(&t.api_key, "key_1"),
            &t.uid(&t.workspace, "ws_1"),
            GuardsHeld::default(),
        );
        let mut ids: Vec<String> = selected
            .policies
            .policies()
            .map(|p| p.id().to_string())
            .collect();
        ids.sort();
        assert_eq!(ids, ["mine", "reads"]);
    }
}
