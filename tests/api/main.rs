mod auth;
mod console;
mod console_api;
mod helpers;
