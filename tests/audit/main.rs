//! The auditor's trail, in a test binary of its own: tracing decides whether a span is
//! recorded per call site, process-wide, so the other integration tests (serving requests
//! on threads without a subscriber) would make these spans disappear at random.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

#[allow(dead_code, reason = "shared with tests/api, which uses the rest")]
#[path = "../api/helpers.rs"]
mod helpers;
mod spans;
mod trace_context;
