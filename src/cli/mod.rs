//! The `andi` command: `serve`, `migrate`, `workspace …`, `key …`, `policy …`, `user …`.
//! Every subcommand is a function of the library, so tests can run it in-process.

pub mod key;
pub mod policy;
pub mod serve;
pub mod user;
pub mod workspace;

use anyhow::anyhow;
use clap::{Parser, Subcommand};
use sea_orm::DatabaseConnection;

use crate::config::{DatabaseArgs, ServeConfig};
use crate::store;
use crate::workspace::{Workspace, WorkspaceHandle};

#[derive(Parser)]
#[command(
    name = "andi",
    version,
    about = "Workspace objects and records behind an HTTP API, with API keys and Cedar policies"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP service (applies migrations and loads the policies first).
    Serve(Box<ServeConfig>),
    /// Apply pending database migrations.
    Migrate(DatabaseArgs),
    /// Create and list workspaces.
    #[command(subcommand)]
    Workspace(workspace::WorkspaceCommand),
    /// Create, list, revoke and rotate API keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Validate, test and explain the Cedar policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Create console accounts (for scripted setups and when sign-up is closed).
    #[command(subcommand)]
    User(user::UserCommand),
}

pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(config) => serve::serve(*config).await,
        Command::Migrate(database) => {
            store::open(&database.database_url, database.database_pool_size).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Workspace(command) => workspace::run(command).await,
        Command::Key(command) => key::run(command).await,
        Command::Policy(command) => policy::run(command).await,
        Command::User(command) => user::run(command).await,
    }
}

/// Opens the database and brings its schema up to date, so every command works on a fresh file.
async fn open(database: &DatabaseArgs) -> anyhow::Result<DatabaseConnection> {
    Ok(store::open(&database.database_url, database.database_pool_size).await?)
}

async fn find_workspace(db: &DatabaseConnection, handle: &str) -> anyhow::Result<Workspace> {
    let handle = WorkspaceHandle::parse(handle).map_err(|e| anyhow!(e))?;
    store::workspaces::find_workspace_by_handle(db, &handle)
        .await?
        .ok_or_else(|| {
            anyhow!(
                "no workspace `{handle}`; create it with `andi workspace create {handle} --name …`"
            )
        })
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
