//! `andi user create`: accounts for scripted setups and for servers with sign-up closed.

use anyhow::Context as _;
use chrono::Utc;
use clap::Subcommand;

use super::{find_workspace, open};
use crate::account::sign_in::create_user;
use crate::account::user::MemberRole;
use crate::config::DatabaseArgs;
use crate::store;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is read from ANDI_USER_PASSWORD, or else from the
    /// first line of standard input, so it never appears in the process list.
    Create {
        email: String,
        /// Also make the account an admin of this workspace (by handle).
        #[arg(long)]
        admin_of: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub async fn run(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            email,
            admin_of,
            database,
        } => {
            let password = match std::env::var("ANDI_USER_PASSWORD") {
                Ok(password) if !password.is_empty() => password,
                _ => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("cannot read the password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let db = open(&database).await?;
            let now = Utc::now();
            let workspace = match admin_of {
                Some(handle) => Some(find_workspace(&db, &handle).await?),
                None => None,
            };
            let user = create_user(&db, &email, &password, now).await?;
            if let Some(workspace) = workspace {
                store::users::insert_membership(
                    &db,
                    &workspace.id,
                    &user.id,
                    MemberRole::Admin,
                    now,
                )
                .await?;
                eprintln!("{} is an admin of {}", user.email, workspace.handle);
            }
            println!("created user {} {}", user.email, user.id);
            Ok(())
        }
    }
}
