//! Who may create an account, and how many failed sign-ins are tolerated.

use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::duration::parse_std_duration;

/// Whether strangers may create accounts from the sign-up page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignupMode {
    Open,
    /// Only the first account of a fresh install; later ones with `andi user create`.
    Closed,
}

/// Sign-up and sign-in settings.
#[derive(Debug, Clone, Args)]
pub struct AccountSettings {
    /// `open`: anyone may sign up; `closed`: only the first account (then `andi user create`).
    #[arg(long, env = "ANDI_SIGNUP", value_enum, default_value = "open")]
    pub signup: SignupMode,

    /// Failed sign-ins per account within the window before it is locked for the window.
    #[arg(long, env = "ANDI_LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u64,

    /// Failed sign-ins per client IP within the window before it is refused for the window.
    #[arg(long, env = "ANDI_LOGIN_MAX_FAILURES_PER_IP", default_value_t = 20)]
    pub login_max_failures_per_ip: u64,

    /// Sign-ups per client IP within the window before it is refused for the window.
    #[arg(long, env = "ANDI_SIGNUP_MAX_PER_IP", default_value_t = 10)]
    pub signup_max_per_ip: u64,

    /// The window of the sign-in and sign-up rate limits.
    #[arg(long, env = "ANDI_LOGIN_WINDOW", default_value = "15m", value_parser = parse_std_duration)]
    pub login_window: Duration,
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings {
            signup: SignupMode::Open,
            login_max_failures: 5,
            login_max_failures_per_ip: 20,
            signup_max_per_ip: 10,
            login_window: Duration::from_secs(15 * 60),
        }
    }
}
