//! Authorization: every request's principal, action and resource are put to Cedar against
//! the loaded policy set, and every decision is recorded.
//!
//! API keys and signed-in console users take the same path: one [`Principal`], one
//! [`Resource`], one [`evaluate`] with the scope index and the remembered decisions, one
//! record of each decision. Only the denial differs: a key's names the permission it lacks,
//! a user's the action.
//!
//! Security-sensitive: this is the only place that decides whether an authenticated key or
//! a signed-in person may act. It fails closed (any error building the request is a denial
//! answered as a 500), and what it records never holds a secret: keys appear by id.

mod action;
mod bundle;
mod cases;
mod context;
mod decision;
mod decision_log;
mod entities;
mod entity_reads;
mod evaluate;
mod explain;
mod index;
mod live;
mod load;
mod query_filter;
mod record_attributes;
mod record_entity;
mod reload;
mod request;
mod roles;
mod source;
mod user;

pub use action::Action;
pub use bundle::PolicyBundle;
pub use cases::{CaseContext, CaseFailure, CaseReport, run_cases};
pub use decision::{AuthzError, Denial, DeniedResource, Evaluation, UserAuthzError};
pub use decision_log::{DecisionLog, DecisionLogTarget, KeyEvent, KeyOutcome, NotRecorded};
pub use evaluate::evaluate;
pub use explain::{Explanation, explain};

pub use live::{Authz, ReloadFailure, StoredDataCheck, Visible};
pub use load::{load, load_with};
pub use query_filter::{QueryFilter, query_filter};
pub use record_attributes::{CedarType, RecordAttributeTypes};
pub use reload::{ReloadTask, reload_on_hangup, watch};
pub use request::{RecordData, RequestContext, Resource, attribute_keys};
pub use source::{PolicyError, PolicyErrors, PolicyLocation};
