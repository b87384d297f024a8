//! API keys: the secret's format ([`secret`]), what a key may do ([`grant`]), the stored key
//! ([`api_key`]) and its lifecycle ([`lifecycle`]).

pub mod api_key;
pub mod grant;
pub mod lifecycle;
pub mod secret;
