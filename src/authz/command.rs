//! `andi policy validate | test | explain`: the security team's tools for `policies/`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use chrono::Utc;
use clap::Subcommand;

use super::cases::CaseContext;
use super::{Action, explain, load, run_cases};
use crate::config::DatabaseArgs;
use crate::store;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Strictly validate the schema, the policies and entities.json; exit 1 on any error or warning.
    Validate {
        /// The policy directory.
        #[arg(long, env = "ANDI_POLICY_DIR", default_value = "policies")]
        dir: PathBuf,
    },
    /// Run the decision cases in DIR/tests/*.json, and each example's in DIR/examples/tests/.
    Test {
        /// The policy directory.
        #[arg(long, env = "ANDI_POLICY_DIR", default_value = "policies")]
        dir: PathBuf,
    },
    /// Decide one request against the database's key and resource and the policies on disk.
    Explain {
        /// The key's id (`key_…`), as `andi key list` shows it.
        #[arg(long)]
        key: String,
        /// An action of the schema, e.g. `getRecord` or `deleteObject`.
        #[arg(long, value_parser = parse_action)]
        action: Action,
        /// `Workspace::"ws_…"`, `ApiKey::"key_…"`, `ObjectDefinition::"obj_…"` or
        /// `Record::"obj_…/rec_…"`.
        #[arg(long)]
        resource: String,
        /// Request facts as JSON: {"ip": "203.0.113.7", "time": "2026-01-05T12:00:00Z",
        /// "method": "DELETE", "path": "/api/…"}; unset ones are 127.0.0.1, now, GET and /.
        #[arg(long)]
        context: Option<String>,
        /// The policy directory.
        #[arg(long, env = "ANDI_POLICY_DIR", default_value = "policies")]
        dir: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

fn parse_action(s: &str) -> Result<Action, String> {
    s.parse::<Action>().map_err(|e| {
        let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        format!("{e}; the actions are {}", known.join(", "))
    })
}

/// Runs one `andi policy` command. An `Err` means exit code 1.
pub async fn run(command: PolicyCommand) -> anyhow::Result<()> {
    match command {
        PolicyCommand::Validate { dir } => validate(&dir),
        PolicyCommand::Test { dir } => test(&dir),
        PolicyCommand::Explain {
            key,
            action,
            resource,
            context,
            dir,
            database,
        } => {
            let context: CaseContext = match context {
                Some(json) => serde_json::from_str(&json)
                    .context("--context must be JSON like {\"ip\": \"203.0.113.7\", \"time\": \"2026-01-05T12:00:00Z\"}")?,
                None => CaseContext::default(),
            };
            let bundle = load(&dir).map_err(|errors| {
                anyhow!("the policies in {} are invalid:\n{errors}", dir.display())
            })?;
            let db = store::connect(&database.database_url)
                .await
                .with_context(|| {
                    format!(
                        "cannot open the database {}",
                        crate::app::redact_url(&database.database_url)
                    )
                })?;
            store::migrate(&db)
                .await
                .context("cannot apply the database migrations")?;
            let explanation = explain(
                &db,
                &bundle,
                &key,
                action,
                &resource,
                &context.to_request_context(Utc::now()),
            )
            .await?;
            print!("{explanation}");
            Ok(())
        }
    }
}

fn validate(dir: &Path) -> anyhow::Result<()> {
    match load(dir) {
        Ok(bundle) => {
            println!(
                "{}: valid (version {}, {} policies: {})",
                dir.display(),
                bundle.version,
                bundle.policy_ids.len(),
                bundle.policy_ids.join(", ")
            );
            Ok(())
        }
        Err(errors) => {
            for error in &errors.0 {
                println!("{error}");
            }
            bail!(
                "{} problem(s) in {}; nothing was loaded",
                errors.0.len(),
                dir.display()
            )
        }
    }
}

fn test(dir: &Path) -> anyhow::Result<()> {
    let report = run_cases(dir).map_err(|errors| {
        anyhow!(
            "the policies in {} do not load, so no case ran:\n{errors}",
            dir.display()
        )
    })?;
    for failure in &report.failures {
        println!("{failure}");
    }
    println!("{} passed, {} failed", report.passed, report.failures.len());
    if report.failures.is_empty() {
        Ok(())
    } else {
        bail!("{} policy case(s) failed", report.failures.len())
    }
}
