//! The `andi` command: `serve`, `migrate`, `workspace …`, `key …`, `policy …`.

use std::process::ExitCode;

use andi::auth::Environment;
use andi::authz::{PolicyCommand, run_policy_command};
use andi::config::{DatabaseArgs, ServeConfig};
use andi::keys::{self, ApiKeyView, Grants, IssuedKey, NewKey, Permission, Role, parse_duration};
use andi::workspace::{self, WorkspaceHandle, WorkspaceView};
use andi::{app, console, store, telemetry};
use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use sea_orm::DatabaseConnection;

#[derive(Parser)]
#[command(
    name = "andi",
    version,
    about = "Workspace objects and records behind an HTTP API, with API keys and Cedar policies"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (applies migrations and loads the policies first).
    Serve(ServeConfig),
    /// Apply pending database migrations.
    Migrate(DatabaseArgs),
    /// Create and list workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Create, list, revoke and rotate API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Validate, test and explain the Cedar policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Create console accounts (for scripted setups and when sign-up is closed).
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand)]
enum UserCommand {
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

#[derive(Subcommand)]
enum WorkspaceCommand {
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

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a key. Give it at least one --permission or a --role.
    Create {
        /// Handle of the workspace the key belongs to.
        #[arg(long)]
        workspace: String,
        /// What the key is for, e.g. `ci` or `billing-worker`.
        #[arg(long)]
        name: String,
        /// objects.read, objects.write or workspaces.read; repeat for several.
        #[arg(long = "permission", value_parser = parse_permission)]
        permissions: Vec<Permission>,
        /// admin, editor or viewer.
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        /// Lifetime, e.g. 30d, 12h; without it the key does not expire.
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<chrono::Duration>,
        /// live (andi_live_ keys) or test (andi_test_ keys).
        #[arg(long, default_value = "live", value_parser = parse_environment)]
        environment: Environment,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List a workspace's keys (never their secrets).
    List {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a key; it stops working at once.
    Revoke {
        key_id: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Issue a new secret with the same grants; the old one works until the grace ends.
    Rotate {
        key_id: String,
        /// How long the old secret keeps working, e.g. 24h; default 0 (expires at once).
        #[arg(long, default_value = "0s", value_parser = parse_duration)]
        grace: chrono::Duration,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

fn parse_permission(s: &str) -> Result<Permission, String> {
    s.parse()
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

fn parse_environment(s: &str) -> Result<Environment, String> {
    s.parse()
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let _telemetry = match telemetry::init(default_filter) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("error: cannot start telemetry: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(config) => app::serve(config).await,
        Command::Migrate(database) => {
            open(&database).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Workspace(command) => run_workspace(command).await,
        Command::Key(command) => run_key(command).await,
        Command::Policy(command) => run_policy_command(command).await,
        Command::User(command) => run_user(command).await,
    }
}

/// Opens the database and brings its schema up to date, so every command works on a fresh file.
async fn open(database: &DatabaseArgs) -> anyhow::Result<DatabaseConnection> {
    let db = store::connect(&database.database_url)
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                app::redact_url(&database.database_url)
            )
        })?;
    store::migrate(&db)
        .await
        .context("cannot apply the database migrations")?;
    Ok(db)
}

async fn find_workspace(
    db: &DatabaseConnection,
    handle: &str,
) -> anyhow::Result<workspace::Workspace> {
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

async fn run_workspace(command: WorkspaceCommand) -> anyhow::Result<()> {
    match command {
        WorkspaceCommand::Create {
            handle,
            name,
            json,
            database,
        } => {
            let db = open(&database).await?;
            let handle = WorkspaceHandle::parse(&handle).map_err(|e| anyhow!(e))?;
            let created = workspace::create_workspace(&db, handle, &name, Utc::now()).await?;
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

async fn run_key(command: KeyCommand) -> anyhow::Result<()> {
    let now = Utc::now();
    match command {
        KeyCommand::Create {
            workspace,
            name,
            permissions,
            role,
            expires_in,
            environment,
            json,
            database,
        } => {
            let grants = Grants::new(role, permissions).map_err(|e| {
                anyhow!("{e}: pass --permission objects.read|objects.write|workspaces.read (repeatable) or --role admin|editor|viewer")
            })?;
            let db = open(&database).await?;
            let workspace = find_workspace(&db, &workspace).await?;
            let (secret, key) = keys::create_key(
                &db,
                &workspace,
                NewKey {
                    name,
                    grants,
                    environment,
                    expires_in,
                },
                now,
            )
            .await?;
            print_issued(secret.expose(), ApiKeyView::new(&key, now), json, "created")
        }
        KeyCommand::List {
            workspace,
            json,
            database,
        } => {
            let db = open(&database).await?;
            let workspace = find_workspace(&db, &workspace).await?;
            let views: Vec<ApiKeyView> = keys::list_keys(&db, &workspace)
                .await?
                .iter()
                .map(|k| ApiKeyView::new(k, now))
                .collect();
            if json {
                return print_json(&serde_json::json!({ "items": views }));
            }
            if views.is_empty() {
                eprintln!(
                    "no keys in {}; create one with `andi key create --workspace {} --name … --permission …`",
                    workspace.handle, workspace.handle
                );
                return Ok(());
            }
            println!(
                "{:<26} {:<20} {:<15} {:<7} {:<40} {:<5} {:<8} {:<20} {:<20} EXPIRES",
                "ID",
                "NAME",
                "START",
                "ROLE",
                "PERMISSIONS",
                "ENV",
                "STATUS",
                "CREATED",
                "LAST USED"
            );
            for k in views {
                let permissions: Vec<&str> = k.permissions.iter().map(|p| p.as_str()).collect();
                println!(
                    "{:<26} {:<20} {:<15} {:<7} {:<40} {:<5} {:<8} {:<20} {:<20} {}",
                    k.id,
                    k.name,
                    k.start,
                    k.role.map_or("-", |r| r.as_str()),
                    if permissions.is_empty() {
                        "-".to_owned()
                    } else {
                        permissions.join(",")
                    },
                    k.environment.as_str(),
                    serde_json::to_value(k.status)?.as_str().unwrap_or_default(),
                    short_time(Some(k.created_at)),
                    short_time(k.last_used_at),
                    short_time(k.expires_at),
                );
            }
            Ok(())
        }
        KeyCommand::Revoke {
            key_id,
            json,
            database,
        } => {
            let db = open(&database).await?;
            let key = keys::revoke_key(&db, &key_id, now).await?;
            let view = ApiKeyView::new(&key, now);
            if json {
                print_json(&view)
            } else {
                println!(
                    "revoked key {} ({}) at {}",
                    view.id,
                    view.name,
                    short_time(view.revoked_at)
                );
                Ok(())
            }
        }
        KeyCommand::Rotate {
            key_id,
            grace,
            json,
            database,
        } => {
            let db = open(&database).await?;
            let (secret, key) = keys::rotate_key(&db, &key_id, grace, now).await?;
            if !json {
                eprintln!(
                    "the old key {key_id} works until {}",
                    short_time(Some(now + grace))
                );
            }
            print_issued(
                secret.expose(),
                ApiKeyView::new(&key, now),
                json,
                "rotated into",
            )
        }
    }
}

/// Prints a new secret: as JSON, or alone on stdout with its description and warning on
/// stderr, so `KEY=$(andi key create …)` captures only the key.
fn print_issued(secret: &str, view: ApiKeyView, json: bool, verb: &str) -> anyhow::Result<()> {
    if json {
        return print_json(&IssuedKey {
            key: secret.to_owned(),
            api_key: view,
        });
    }
    let permissions: Vec<&str> = view.permissions.iter().map(|p| p.as_str()).collect();
    eprintln!(
        "{verb} key {} \"{}\" in workspace {} (role: {}, permissions: {}, expires: {})",
        view.id,
        view.name,
        view.workspace,
        view.role.map_or("none", |r| r.as_str()),
        if permissions.is_empty() {
            "none".to_owned()
        } else {
            permissions.join(", ")
        },
        view.expires_at
            .map_or("never".to_owned(), |t| t.to_rfc3339()),
    );
    println!("{secret}");
    eprintln!("Copy this key now: it will not be shown again.");
    Ok(())
}

fn short_time(time: Option<DateTime<Utc>>) -> String {
    time.map_or("-".to_owned(), |t| {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    })
}

async fn run_user(command: UserCommand) -> anyhow::Result<()> {
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
            let user = console::create_user(&db, &email, &password, now).await?;
            if let Some(workspace) = workspace {
                store::users::insert_membership(
                    &db,
                    &workspace.id,
                    &user.id,
                    console::MemberRole::Admin,
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
