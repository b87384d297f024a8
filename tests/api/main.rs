mod auth;
mod helpers;
