mod auth;
mod create_object;
mod helpers;
mod service;
