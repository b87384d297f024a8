//! Andi: a workspace's object definitions and records behind an HTTP API, reached with
//! workspace API keys and authorized by Cedar policies.
//!
//! Where things happen: a request is authenticated in [`auth`] (through the extractor in
//! [`http::extract`]), authorized in [`authz`], carried out by the services ([`keys`],
//! [`workspace`], [`account`], [`objects`]) and stored through [`store`]; [`http`] holds the
//! router, the handlers and the one status table, [`console`] the browser pages, [`cli`]
//! every `andi` subcommand. Imports point one way, top to bottom:
//!
//! ```text
//! cli, config                      the command line and its settings
//! http (app, openapi)              the router of every route
//! http, console                    handlers, extractors, the status table, pages
//! keys::lifecycle, workspace::create, account, objects::{define, batch, evolve, change, sweep, worker, cache}  services
//! auth, authz                      authentication and authorization (neither imports the other)
//! store                            sea-orm entities and queries
//! principal, issue, keys, workspace, account::user, objects::{definition, …}     the model
//! id, duration, ttl_cache, request_id, telemetry, metrics, timestamp             the kernel
//! ```
//!
//! `tests/layers.rs` holds this table against the `use crate::` lines of every file.

pub mod account;
pub mod auth;
pub mod authz;
pub mod cli;
pub mod config;
pub mod console;
pub mod duration;
pub mod http;
pub mod id;
pub mod issue;
pub mod keys;
pub mod metrics;
pub mod objects;
pub mod principal;
pub mod request_id;
pub mod store;
pub mod telemetry;
pub mod timestamp;
pub mod ttl_cache;
pub mod workspace;
