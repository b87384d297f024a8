//! The fixed entities a decision needs, picked per request: the action (with its groups as
//! ancestors) and the key's role (with its permissions). Cedar recomputes the transitive
//! closure of every entity it is given on each request, so handing it only these, instead
//! of every action and role, keeps that work to a handful of entities.

use std::collections::HashMap;

use cedar_policy::{Entity, EntityUid};

use super::action::Action;
use super::load::EntityTypes;
use crate::keys::Role;

/// Per-action and per-role entities, built once at load.
#[derive(Debug)]
pub struct DecisionEntities {
    /// Indexed by [`Action::index`].
    actions: Vec<Option<Entity>>,
    roles: HashMap<Role, Entity>,
}

impl DecisionEntities {
    /// Picks them from the loaded action and role entities.
    pub fn build(
        base: &[Entity],
        action_uids: &[EntityUid],
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
        DecisionEntities { actions, roles }
    }

    /// The entities a request for `action` by a key with `role` needs besides its own.
    pub fn for_request(&self, action: Action, role: Option<Role>) -> impl Iterator<Item = &Entity> {
        self.actions
            .get(action.index())
            .and_then(Option::as_ref)
            .into_iter()
            .chain(role.and_then(|role| self.roles.get(&role)))
    }
}
