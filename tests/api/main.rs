#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod attribute_removal;
mod auth;
mod auth_flood;
mod body_shape;
mod cedar_differential;
mod cedar_equivalence;
mod cli;
mod cli_busy;
mod connections;
mod console;
mod console_api;
mod create_object;
mod decision_log;
mod definition_cache;
mod definition_changes;
mod etags;
mod filterable;
mod helpers;
mod http_habits;
mod idempotency;
mod key_audit;
mod key_identity;
mod lockout;
mod metrics;
mod object_support;
mod objects;
mod openapi;
mod policy_cli;
mod policy_files;
mod policy_reload;
mod query;
mod query_policies;
mod record_policies;
mod records;
mod revocation;
mod revocation_race;
mod serve;
mod service;
