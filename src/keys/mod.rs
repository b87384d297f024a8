//! API keys: the secret's format ([`secret`]), what a key may do ([`grant`]), what it says
//! about itself ([`metadata`]), which objects it is limited to ([`object_limit`]), how often
//! it may be used ([`rate_limit`]), the
//! stored key ([`api_key`]) and its lifecycle ([`lifecycle`]).

pub mod api_key;
pub mod grant;
pub mod lifecycle;
pub mod metadata;
pub mod object_limit;
pub mod rate_limit;
pub mod secret;
