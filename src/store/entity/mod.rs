//! sea-orm entities: the tables as the application reads and writes them.

pub mod api_key;
pub mod api_key_secret;
pub mod invitation;
pub mod key_event;
pub mod key_rate_window;
pub mod login_attempt;
pub mod membership;
pub mod object_definition;
pub mod session;
pub mod user;
pub mod workspace;
