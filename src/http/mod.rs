//! The HTTP interface: the router and its layers ([`app`]), the shared state, the
//! extractors (the key's authentication, JSON bodies), the one status table ([`error`]),
//! the OpenAPI document, and the handlers of the `/api` routes.

pub mod app;
pub mod caller;
pub mod connections;
pub mod cors;
pub mod definitions;
pub mod error;
pub mod etag;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod limits;
pub mod metrics;
pub mod object_access;
pub mod openapi;
pub mod records;
pub mod request_context;
pub mod state;
pub mod trace;
