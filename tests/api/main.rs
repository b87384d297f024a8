mod auth;
mod helpers;
mod object_support;
mod objects;
mod openapi;
mod query;
mod records;
