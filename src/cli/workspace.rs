//! `andi workspace create | list`.

use anyhow::anyhow;
use chrono::Utc;
use clap::Subcommand;

use super::{open, print_json};
use crate::config::DatabaseArgs;
use crate::store;
use crate::workspace::create::create_workspace;
use crate::workspace::{WorkspaceHandle, WorkspaceView};

#[derive(Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace.
    Create {
        /// Lower-case handle, e.g. `acme`.
        handle: String,
        /// Display name.
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List workspaces.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub async fn run(command: WorkspaceCommand) -> anyhow::Result<()> {
    match command {
        WorkspaceCommand::Create {
            handle,
            name,
            json,
            database,
        } => {
            let db = open(&database).await?;
            let handle = WorkspaceHandle::parse(&handle).map_err(|e| anyhow!(e))?;
            let created = create_workspace(&db, handle, &name, Utc::now()).await?;
            if json {
                print_json(&WorkspaceView::from(&created))
            } else {
                println!(
                    "created workspace {} ({}) {}",
                    created.handle, created.name, created.id
                );
                Ok(())
            }
        }
        WorkspaceCommand::List { json, database } => {
            let db = open(&database).await?;
            let all = store::workspaces::find_workspaces(&db).await?;
            if json {
                let items: Vec<WorkspaceView> = all.iter().map(WorkspaceView::from).collect();
                return print_json(&serde_json::json!({ "items": items }));
            }
            if all.is_empty() {
                eprintln!(
                    "no workspaces yet; create one with `andi workspace create <handle> --name <name>`"
                );
            }
            for w in all {
                println!(
                    "{:<24} {:<32} {:<26} {}",
                    w.handle,
                    w.name,
                    w.id,
                    w.created_at.to_rfc3339()
                );
            }
            Ok(())
        }
    }
}
