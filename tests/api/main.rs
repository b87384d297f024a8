mod auth;
mod helpers;
mod revocation;
