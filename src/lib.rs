//! Andi: a workspace's object definitions and records behind an HTTP API, reached with
//! workspace API keys and authorized by Cedar policies.
//!
//! Where things happen: a request is authenticated in [`auth`], authorized in [`authz`],
//! and stored through [`store`]; [`app`] wires the router and its layers.

pub mod app;
pub mod auth;
pub mod authz;
pub mod body;
pub mod config;
pub mod console;
pub mod error;
pub mod health;
pub mod identity;
pub mod keys;
pub mod objects;
pub mod openapi;
pub mod request_id;
pub mod store;
pub mod telemetry;
pub mod ttl_cache;
pub mod workspace;
