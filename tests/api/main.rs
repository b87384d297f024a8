#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod auth;
mod cli;
mod create_object;
mod helpers;
mod serve;
mod service;
