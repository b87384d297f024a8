//! A loaded policy set: the schema, the policies, the roles and everything a decision
//! needs precomputed (the scope index, the per-key entities, the action uids).

use std::collections::HashMap;

use cedar_policy::{Entity, EntityUid, PolicyId, PolicySet, Schema};

use super::action::Action;
use super::entities::{DecisionEntities, EntityTypes};
use super::index::PolicyIndex;
use super::record_attributes::RecordAttributeTypes;
use super::source::PolicyLocation;
use crate::keys::grant::{Permission, Role};

/// A complete, validated policy set with everything a decision needs precomputed.
#[derive(Debug)]
pub struct PolicyBundle {
    pub version: String,
    pub schema: Schema,
    pub policies: PolicySet,
    pub policy_ids: Vec<String>,
    pub locations: HashMap<PolicyId, PolicyLocation>,
    pub types: EntityTypes,
    /// Action entities (with their groups), roles and permissions.
    pub base_entities: Vec<Entity>,
    /// Indexed by [`Action::index`].
    pub action_uids: Vec<EntityUid>,
    /// The permission group each action belongs to, from the schema; indexed like `action_uids`.
    pub action_permissions: Vec<Option<Permission>>,
    pub role_permissions: HashMap<Role, Vec<Permission>>,
    /// `policies` grouped by the requests their scope can match.
    pub index: PolicyIndex,
    /// The action and role entities, and what each key's decisions share (its entities, its
    /// remembered decisions), built as keys are seen.
    pub decision_entities: DecisionEntities,
    /// The record attributes policies may read, and as what.
    pub record_attributes: RecordAttributeTypes,
}

impl PolicyBundle {
    pub fn action_uid(&self, action: Action) -> &EntityUid {
        &self.action_uids[action.index()]
    }

    pub fn required_permission(&self, action: Action) -> Option<Permission> {
        self.action_permissions[action.index()]
    }

    /// Explicit permissions plus those of the role, per `entities.json`.
    pub fn effective_permissions(
        &self,
        role: Option<Role>,
        explicit: &[Permission],
    ) -> Vec<Permission> {
        let mut all: Vec<Permission> = explicit.to_vec();
        if let Some(role) = role {
            all.extend(self.role_permissions.get(&role).into_iter().flatten());
        }
        all.sort();
        all.dedup();
        all
    }
}
