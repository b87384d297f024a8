//! Settings of the console.

use std::time::Duration;

use clap::Args;

use crate::account::settings::AccountSettings;
use crate::duration::parse_std_duration;

/// Settings of the console.
#[derive(Debug, Clone, Args)]
pub struct ConsoleConfig {
    #[command(flatten)]
    pub account: AccountSettings,

    /// The URL people open, e.g. https://andi.example.com; when https, cookies are `Secure`,
    /// and state-changing requests must come from this origin.
    #[arg(long, env = "ANDI_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// How long a console session lasts after sign-in.
    #[arg(long, env = "ANDI_SESSION_TTL", default_value = "7d", value_parser = parse_std_duration)]
    pub session_ttl: Duration,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            account: AccountSettings::default(),
            public_url: None,
            session_ttl: Duration::from_secs(7 * 86_400),
        }
    }
}

impl ConsoleConfig {
    /// Cookies are `Secure` when people reach the console over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }
}
