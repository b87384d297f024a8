//! The live policy set ([`Authz`]): one snapshot per decision, and the one place a
//! decision is made and recorded (span, debug event, decision log).

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};

use super::action::Action;
use super::bundle::PolicyBundle;
use super::decision::{AuthzError, Denial, DeniedResource, Evaluation, UserAuthzError};
use super::decision_log::{Decided, DecisionLog, FilterFields};
use super::evaluate::{evaluate, resource_uid, unreadable};
use super::load::load;
use super::query_filter::{QueryFilter, query_filter};
use super::request::{RequestContext, Resource};
use super::source::PolicyErrors;
use crate::objects::definition::ObjectDefinition;
use crate::objects::query::RecordFilter;
use crate::principal::{KeyPrincipal, Principal, UserPrincipal};
use arc_swap::ArcSwapOption;
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

/// The live policy set. Each decision takes one snapshot, so a request never sees a
/// partially swapped set.
pub struct Authz {
    current: ArcSwap<PolicyBundle>,
    reloads: ReloadState,
    decision_log: Option<Arc<DecisionLog>>,
    /// What the stored data requires of a reloaded set (see [`StoredDataCheck`]).
    stored_data: Option<StoredDataCheck>,
}

/// Refuses a policy set the stored data contradicts: a record attribute the schema declares
/// as a type some object's attribute of that key cannot be read as. The watcher and SIGHUP
/// reloads run it before a set is swapped in.
pub type StoredDataCheck = Arc<
    dyn Fn(Arc<PolicyBundle>) -> Pin<Box<dyn Future<Output = Result<(), PolicyErrors>> + Send>>
        + Send
        + Sync,
>;

impl Authz {
    pub fn load(dir: &Path) -> Result<Authz, PolicyErrors> {
        Ok(Authz::new(load(dir)?))
    }

    pub fn new(bundle: PolicyBundle) -> Authz {
        crate::metrics::get().policy_live(&bundle.version);
        Authz {
            current: ArcSwap::from_pointee(bundle),
            reloads: ReloadState::default(),
            decision_log: None,
            stored_data: None,
        }
    }

    /// Also refuses every set the watcher or SIGHUP reloads that `check` refuses.
    pub fn with_stored_data_check(mut self, check: StoredDataCheck) -> Authz {
        self.stored_data = Some(check);
        self
    }

    pub(super) fn stored_data_check(&self) -> Option<StoredDataCheck> {
        self.stored_data.clone()
    }

    /// The decision log, when there is one: key events are written to it too.
    pub fn decision_log(&self) -> Option<&DecisionLog> {
        self.decision_log.as_deref()
    }

    /// Also writes every decision to `log`.
    pub fn with_decision_log(mut self, log: Arc<DecisionLog>) -> Authz {
        self.decision_log = Some(log);
        self
    }

    pub fn snapshot(&self) -> Arc<PolicyBundle> {
        self.current.load_full()
    }

    pub fn version(&self) -> String {
        self.current.load().version.clone()
    }

    /// Asks whether the API key `principal` may perform `action` on `resource`; a denial
    /// names the permission the key lacks, when that is the cause.
    pub fn authorize(
        &self,
        principal: &KeyPrincipal,
        action: Action,
        resource: &Resource,
        context: &RequestContext,
    ) -> Result<(), AuthzError> {
        let bundle = self.current.load();
        let allowed = self
            .decide(
                &bundle,
                Principal::Key(principal),
                action,
                resource,
                context,
            )
            .map_err(AuthzError::Internal)?;
        if allowed {
            return Ok(());
        }
        Err(denial(&bundle, principal, action).into())
    }

    /// Asks whether the API key `principal` may perform `action` on each of `resources`
    /// (the records of a batch), against one snapshot of the policies. Every decision is
    /// recorded. Returns the denied ones, by position, with the policies that denied each.
    pub fn authorize_each(
        &self,
        principal: &KeyPrincipal,
        action: Action,
        resources: &[Resource],
        context: &RequestContext,
    ) -> Result<Vec<DeniedResource>, AuthzError> {
        let decided = self.decide_each(principal, action, resources, context, true)?;
        Ok(decided
            .each
            .into_iter()
            .enumerate()
            .filter(|(_, evaluation)| !evaluation.allowed)
            .map(|(position, evaluation)| DeniedResource {
                position,
                policies: evaluation.policies,
                errors: evaluation.errors,
            })
            .collect())
    }

    /// Which of `resources` (rows a query read) the API key `principal` may take `action`
    /// on, against one snapshot of the policies. A shared evaluation is recorded once, and
    /// [`Visible::shared`] tells the caller what every other row of the object gets.
    pub fn visible(
        &self,
        principal: &KeyPrincipal,
        action: Action,
        resources: &[Resource],
        context: &RequestContext,
    ) -> Result<Visible, AuthzError> {
        let decided = self.decide_each(principal, action, resources, context, false)?;
        Ok(Visible {
            each: decided.each.iter().map(|e| e.allowed).collect(),
            shared: decided.shared.map(|e| e.allowed),
        })
    }

    /// Decides `action` on each of `resources` (one kind, one parent) with one snapshot.
    /// When no policy can tell them apart ([`super::index::PolicyIndex::decides_alike`]),
    /// the first evaluation without errors stands for the rest, each still checked for
    /// values the policies could not read; `record_shared` says whether each resource that
    /// shares it is recorded too, or only the one evaluated.
    fn decide_each(
        &self,
        principal: &KeyPrincipal,
        action: Action,
        resources: &[Resource],
        context: &RequestContext,
        record_shared: bool,
    ) -> Result<EachDecided, AuthzError> {
        let bundle = self.current.load();
        let key = Principal::Key(principal);
        let alike = resources.first().is_some_and(|first| {
            bundle.index.decides_alike(
                action,
                &bundle.types.api_key,
                resource_uid(&bundle, first).type_name(),
            )
        });
        let mut shared: Option<Evaluation> = None;
        let mut each = Vec::with_capacity(resources.len());
        for resource in resources {
            let evaluation = match &shared {
                Some(evaluation) => {
                    let evaluation =
                        unreadable(&bundle, resource).unwrap_or_else(|| evaluation.clone());
                    if record_shared || !evaluation.errors.is_empty() {
                        self.record(&bundle, key, action, resource, None, || Ok(evaluation))
                            .map_err(AuthzError::Internal)?
                    } else {
                        evaluation
                    }
                }
                None => {
                    let evaluation = self
                        .record(&bundle, key, action, resource, None, || {
                            evaluate(&bundle, key, action, resource, context)
                        })
                        .map_err(AuthzError::Internal)?;
                    if alike && evaluation.errors.is_empty() {
                        shared = Some(evaluation.clone());
                    }
                    evaluation
                }
            };
            each.push(evaluation);
        }
        Ok(EachDecided { each, shared })
    }
}

impl Authz {
    /// Which records of `definition` the API key `principal` may read (`getRecord`), as a
    /// filter for its query, recorded as one `filter` decision. When partial evaluation
    /// fails, the filter passes every row and says each must be decided.
    pub fn query_filter(
        &self,
        principal: &KeyPrincipal,
        definition: &ObjectDefinition,
        context: &RequestContext,
    ) -> Result<QueryFilter, AuthzError> {
        let bundle = self.current.load();
        let filter = query_filter(&bundle, principal, definition, context).unwrap_or_else(|error| {
            tracing::warn!(%error, "partial evaluation failed; each row of the query is decided");
            QueryFilter::each_row(error)
        });
        let text = filter.condition.to_string();
        self.record(
            &bundle,
            Principal::Key(principal),
            Action::GetRecord,
            &Resource::object(definition),
            Some(FilterFields {
                filter: &text,
                rows_decided: !filter.exact,
            }),
            || {
                Ok(Evaluation {
                    allowed: filter.condition != RecordFilter::False,
                    policies: filter.policies.clone(),
                    errors: filter.errors.clone(),
                    policy_version: bundle.version.clone(),
                })
            },
        )
        .map_err(AuthzError::Internal)?;
        Ok(filter)
    }

    /// Which of `resources` (rows an exact query filter passed) hold only values the
    /// policies can read; each one that does not is recorded as the denial
    /// [`Authz::authorize`] would give it.
    pub fn readable(
        &self,
        principal: &KeyPrincipal,
        action: Action,
        resources: &[Resource],
    ) -> Result<Vec<bool>, AuthzError> {
        let bundle = self.current.load();
        resources
            .iter()
            .map(|resource| match unreadable(&bundle, resource) {
                None => Ok(true),
                Some(denial) => self
                    .record(
                        &bundle,
                        Principal::Key(principal),
                        action,
                        resource,
                        None,
                        || Ok(denial),
                    )
                    .map(|_| false)
                    .map_err(AuthzError::Internal),
            })
            .collect()
    }
}

/// What [`Authz::decide_each`] found.
struct EachDecided {
    each: Vec<Evaluation>,
    /// The evaluation that stood for every resource policies could not tell apart.
    shared: Option<Evaluation>,
}

/// What [`Authz::visible`] found.
#[derive(Debug)]
pub struct Visible {
    /// Whether each resource is allowed, in order.
    pub each: Vec<bool>,
    /// When no policy can tell the rows apart, the answer every other row of the object
    /// gets too (unless it holds a value the policies cannot read, which denies).
    pub shared: Option<bool>,
}

/// Why `principal` was denied `action`: the permission it lacks, when that is the cause.
fn denial(bundle: &PolicyBundle, principal: &KeyPrincipal, action: Action) -> Denial {
    let missing_permission = bundle.required_permission(action).filter(|needed| {
        !bundle
            .effective_permissions(principal.role, &principal.permissions)
            .contains(needed)
    });
    Denial {
        action,
        missing_permission,
    }
}

impl Authz {
    /// Asks whether the signed-in `user` may perform `action` on `resource`.
    pub fn authorize_user(
        &self,
        user: &UserPrincipal,
        action: Action,
        resource: &Resource,
        context: &RequestContext,
    ) -> Result<(), UserAuthzError> {
        let bundle = self.current.load();
        let allowed = self
            .decide(&bundle, Principal::User(user), action, resource, context)
            .map_err(UserAuthzError::Internal)?;
        if allowed {
            Ok(())
        } else {
            Err(UserAuthzError::Denied(action))
        }
    }

    /// Evaluates one request and records it (see [`Authz::record`]). Returns whether it
    /// allowed, or the error on which the caller fails closed.
    fn decide(
        &self,
        bundle: &PolicyBundle,
        principal: Principal<'_>,
        action: Action,
        resource: &Resource,
        context: &RequestContext,
    ) -> Result<bool, String> {
        self.record(bundle, principal, action, resource, None, || {
            evaluate(bundle, principal, action, resource, context)
        })
        .map(|evaluation| evaluation.allowed)
    }

    /// Runs `evaluation` inside an `authz` span and records its outcome on the span, in the
    /// debug log and in the decision log, for key and user principals alike.
    fn record(
        &self,
        bundle: &PolicyBundle,
        principal: Principal<'_>,
        action: Action,
        resource: &Resource,
        filter: Option<FilterFields<'_>>,
        evaluation: impl FnOnce() -> Result<Evaluation, String>,
    ) -> Result<Evaluation, String> {
        let resource_uid = resource_uid(bundle, resource);
        let workspace = match principal {
            // A key acts in its own workspace; a user in the one the resource belongs to.
            Principal::Key(key) => key.workspace.id.as_str(),
            Principal::User(_) => resource.workspace_id().unwrap_or_default(),
        };
        let span = tracing::info_span!(
            "authz",
            andi.principal = %principal.id(),
            andi.workspace = %workspace,
            andi.action = action.as_str(),
            andi.resource = %resource_uid,
            andi.decision = tracing::field::Empty,
            andi.policies = tracing::field::Empty,
            andi.errors = tracing::field::Empty,
            andi.policy_version = %bundle.version,
            andi.filter = tracing::field::Empty,
            andi.rows_decided = tracing::field::Empty,
        );
        let _entered = span.enter();
        let outcome = evaluation();
        let (allowed, policies, errors) = match &outcome {
            Ok(evaluation) => (
                evaluation.allowed,
                evaluation.policies.as_slice(),
                evaluation.errors.clone(),
            ),
            Err(message) => (false, &[][..], vec![message.clone()]),
        };
        let decision = match (&filter, allowed) {
            (Some(_), _) => "filter",
            (None, true) => "allow",
            (None, false) => "deny",
        };
        if let Some(filter) = &filter {
            span.record("andi.filter", filter.filter);
            span.record("andi.rows_decided", filter.rows_decided);
        }
        crate::metrics::get().decision(
            action.as_str(),
            if outcome.is_err() { "error" } else { decision },
        );
        span.record("andi.decision", decision);
        span.record("andi.policies", policies.join(","));
        span.record("andi.errors", errors.join("; "));
        tracing::debug!(decision, "authorization decision");
        if let Some(log) = &self.decision_log
            // No decision is acted on without its record.
            && let Err(not_recorded) = log.write_decision(
                &span,
                Decided {
                    principal: principal.id(),
                    workspace,
                    action,
                    resource: &resource_uid,
                    policy_version: &bundle.version,
                    allowed,
                    policies,
                    errors: &errors,
                    filter,
                },
            )
        {
            return Err(not_recorded.to_string());
        }
        outcome
    }
}

/// Why the last reload was refused.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReloadFailure {
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub at: DateTime<Utc>,
    /// Each problem as `file:line:column: message`.
    pub errors: Vec<String>,
}

/// What `/readyz` tells about reloads.
#[derive(Default)]
struct ReloadState {
    /// Why the last reload was refused; cleared by the next good one.
    failure: ArcSwapOption<ReloadFailure>,
    /// Reloads tried since start, good or refused.
    attempts: AtomicU64,
}

impl Authz {
    /// Loads `dir` as a whole and swaps it in; or keeps the current set, logs why, and
    /// remembers the failure for `/readyz`.
    pub fn reload(&self, dir: &Path) -> Result<Arc<PolicyBundle>, PolicyErrors> {
        self.install(dir, load(dir).map(Arc::new))
    }

    /// Swaps in `loaded` (read from `dir`), or keeps the current set, logs why, and
    /// remembers the failure for `/readyz`.
    pub(super) fn install(
        &self,
        dir: &Path,
        loaded: Result<Arc<PolicyBundle>, PolicyErrors>,
    ) -> Result<Arc<PolicyBundle>, PolicyErrors> {
        self.reloads.attempts.fetch_add(1, Ordering::Relaxed);
        match loaded {
            Ok(bundle) => {
                let previous = self.current.swap(bundle.clone());
                self.reloads.failure.store(None);
                crate::metrics::get().policy_live(&bundle.version);
                crate::metrics::get().policy_reload(true);
                tracing::info!(
                    version = %bundle.version,
                    previous_version = %previous.version,
                    dir = %dir.display(),
                    policies = %bundle.policy_ids.join(","),
                    "policy set reloaded"
                );
                Ok(bundle)
            }
            Err(errors) => {
                for error in &errors.0 {
                    tracing::error!(%error, "invalid policy file");
                }
                tracing::error!(
                    dir = %dir.display(),
                    errors = errors.0.len(),
                    version = %self.version(),
                    "policy reload refused; still serving the last good set"
                );
                crate::metrics::get().policy_reload(false);
                self.reloads.failure.store(Some(Arc::new(ReloadFailure {
                    at: Utc::now(),
                    errors: errors.0.iter().map(ToString::to_string).collect(),
                })));
                Err(errors)
            }
        }
    }

    /// Why the last reload was refused, unless a good set has loaded since.
    pub fn last_reload_failure(&self) -> Option<Arc<ReloadFailure>> {
        self.reloads.failure.load_full()
    }

    /// How many reloads were tried since start, good or refused.
    pub fn reload_attempts(&self) -> u64 {
        self.reloads.attempts.load(Ordering::Relaxed)
    }
}
