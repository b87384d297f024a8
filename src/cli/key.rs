//! `andi key create | list | revoke | rotate`.

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

use super::{find_workspace, open, print_json};
use crate::authz::{DecisionLog, DecisionLogTarget};
use crate::config::DatabaseArgs;
use crate::duration::parse_duration;
use crate::keys::api_key::{ApiKeyView, IssuedKey, NewKey};
use crate::keys::grant::{Grants, Permission, Role};
use crate::keys::lifecycle::{self, Actor, Audit};
use crate::keys::metadata::KeyMetadata;
use crate::keys::object_limit::ObjectLimit;
use crate::keys::rate_limit::RateLimit;
use crate::keys::secret::Environment;

#[derive(Subcommand)]
pub enum KeyCommand {
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
        /// Metadata for policies, `key=value` (e.g. region=EU); repeat for several.
        #[arg(long = "meta", value_name = "KEY=VALUE")]
        meta: Vec<String>,
        /// Limit the key to these objects, by handle (e.g. invoices,customers); without it
        /// the key may use every object its grants allow.
        #[arg(long, value_name = "HANDLES")]
        objects: Option<String>,
        /// At most so many requests per window, e.g. 100/1m; counted across servers.
        #[arg(long, value_name = "REQUESTS/WINDOW", value_parser = parse_rate_limit)]
        rate_limit: Option<RateLimit>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        audit: AuditArgs,
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
        audit: AuditArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Issue a new secret for the key (same id and grants); the previous one works until the grace ends.
    Rotate {
        key_id: String,
        /// How long the old secret keeps working, e.g. 24h; default 0 (expires at once).
        #[arg(long, default_value = "0s", value_parser = parse_duration)]
        grace: chrono::Duration,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        audit: AuditArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Where the key's events are recorded, besides the trace: the server's decision log.
#[derive(Args)]
pub struct AuditArgs {
    /// Append the event to this decision log (`stdout` or a file), as the server does.
    #[arg(long, env = "ANDI_DECISION_LOG")]
    decision_log: Option<DecisionLogTarget>,
}

impl AuditArgs {
    fn open(&self) -> anyhow::Result<Option<DecisionLog>> {
        Ok(self
            .decision_log
            .as_ref()
            .map(DecisionLog::open)
            .transpose()?)
    }
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

pub async fn run(command: KeyCommand) -> anyhow::Result<()> {
    let now = Utc::now();
    match command {
        KeyCommand::Create {
            workspace,
            name,
            permissions,
            role,
            expires_in,
            environment,
            meta,
            objects,
            rate_limit,
            json,
            audit,
            database,
        } => {
            let grants = Grants::new(role, permissions).map_err(|e| {
                anyhow!("{e}: pass --permission objects.read|objects.write|workspaces.read (repeatable) or --role admin|editor|viewer")
            })?;
            let metadata = KeyMetadata::parse_pairs(meta.iter().map(String::as_str))
                .map_err(|e| anyhow!("--meta: {e}"))?;
            let objects = objects
                .as_deref()
                .map(ObjectLimit::parse_list)
                .transpose()
                .map_err(|e| anyhow!("--objects: {e}"))?;
            let db = open(&database).await?;
            let workspace = find_workspace(&db, &workspace).await?;
            let (actor, log) = (Actor::cli(), audit.open()?);
            let (secret, key) = lifecycle::create_key(
                &db,
                Audit {
                    actor: &actor,
                    log: log.as_ref(),
                },
                &workspace,
                NewKey {
                    name,
                    grants,
                    environment,
                    expires_in,
                    metadata,
                    objects,
                    rate_limit,
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
            let views: Vec<ApiKeyView> = lifecycle::list_keys(&db, &workspace)
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
                "{:<26} {:<20} {:<15} {:<7} {:<40} {:<5} {:<8} {:<20} {:<20} {:<20} {:<20} METADATA",
                "ID",
                "NAME",
                "START",
                "ROLE",
                "PERMISSIONS",
                "ENV",
                "STATUS",
                "CREATED",
                "CREATED BY",
                "LAST USED",
                "EXPIRES",
            );
            for k in views {
                let permissions: Vec<&str> = k.permissions.iter().map(|p| p.as_str()).collect();
                let metadata: Vec<String> = k
                    .metadata
                    .pairs()
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect();
                println!(
                    "{:<26} {:<20} {:<15} {:<7} {:<40} {:<5} {:<8} {:<20} {:<20} {:<20} {:<20} {}",
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
                    k.created_by.as_deref().unwrap_or("-"),
                    short_time(k.last_used_at),
                    short_time(k.expires_at),
                    if metadata.is_empty() {
                        "-".to_owned()
                    } else {
                        metadata.join(",")
                    },
                );
            }
            Ok(())
        }
        KeyCommand::Revoke {
            key_id,
            json,
            audit,
            database,
        } => {
            let db = open(&database).await?;
            let (actor, log) = (Actor::cli(), audit.open()?);
            let audit = Audit {
                actor: &actor,
                log: log.as_ref(),
            };
            let key = lifecycle::revoke_key(&db, audit, &key_id, now).await?;
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
            audit,
            database,
        } => {
            let db = open(&database).await?;
            let (actor, log) = (Actor::cli(), audit.open()?);
            let audit = Audit {
                actor: &actor,
                log: log.as_ref(),
            };
            let (secret, key) = lifecycle::rotate_key(&db, audit, &key_id, grace, now).await?;
            if !json {
                eprintln!(
                    "the key's previous secret works until {}",
                    short_time(Some(now + grace))
                );
            }
            print_issued(secret.expose(), ApiKeyView::new(&key, now), json, "rotated")
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

fn parse_rate_limit(text: &str) -> Result<RateLimit, String> {
    RateLimit::parse(text)
}
