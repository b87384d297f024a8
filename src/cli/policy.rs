//! `andi policy validate | test | explain`: the security team's tools for `policies/`.

use std::path::{Path, PathBuf};

use std::str::FromStr;

use anyhow::{Context as _, anyhow, bail};
use cedar_policy::EntityUid;
use chrono::Utc;
use clap::Subcommand;
use sea_orm::ConnectionTrait;

use crate::authz::{
    self, Action, CaseContext, PolicyBundle, RequestContext, Resource, load, run_cases,
};
use crate::config::DatabaseArgs;
use crate::http::limits::Limits;
use crate::objects::definition::ObjectDefinition;
use crate::objects::query::parse::parse_query_params;
use crate::principal::KeyPrincipal;
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
        /// `Record::"obj_…/rec_…"`; the key's workspace and objects may be named by handle
        /// (`Workspace::"acme"`, `Record::"invoices/rec_…"`).
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
            let db = store::open(&database.database_url, database.database_pool_size).await?;
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

/// Evaluates `key_id` doing `action` on `resource` (`Type::"id"`, with or without the
/// `Andi::` namespace), with the key and the resource as the database has them.
async fn explain(
    db: &impl ConnectionTrait,
    bundle: &PolicyBundle,
    key_id: &str,
    action: Action,
    resource: &str,
    context: &RequestContext,
) -> anyhow::Result<String> {
    let key = store::api_keys::find_key(db, key_id)
        .await?
        .ok_or_else(|| {
            anyhow!("no key `{key_id}`; list keys with `andi key list --workspace <handle>`")
        })?;
    let principal = KeyPrincipal::from(&key);
    let mut notes = Vec::new();
    if let Some(revoked) = key.revoked_at {
        notes.push(format!(
            "the key was revoked at {revoked}; its requests are refused before authorization"
        ));
    }
    if let Some(expires) = key.expires_at
        && expires <= context.time
    {
        notes.push(format!(
            "the key expired at {expires}; its requests are refused before authorization"
        ));
    }

    let uid = parse_resource(resource)?;
    let resource = find_resource(db, &principal, &uid).await?;
    let query = match (&resource, action) {
        (Resource::ObjectDefinition { id, .. }, Action::QueryRecords) => {
            let definition = find_object(db, &principal, id).await?;
            Some(explain_query(db, bundle, &principal, &definition, context)?)
        }
        _ => None,
    };
    let decision = authz::explain(bundle, principal, action, &resource, context, notes)
        .map_err(|e| anyhow!("the request cannot be evaluated: {e}"))?;
    Ok(format!("{decision}{}", query.unwrap_or_default()))
}

/// What a query of `definition` by `principal` returns: the policies' residuals, the filter
/// they became, and the SQL of the first page of an unfiltered query.
fn explain_query(
    db: &impl ConnectionTrait,
    bundle: &PolicyBundle,
    principal: &KeyPrincipal,
    definition: &ObjectDefinition,
    context: &RequestContext,
) -> anyhow::Result<String> {
    let filter = authz::query_filter(bundle, principal, definition, context)
        .map_err(|e| anyhow!("the query's filter cannot be computed: {e}"))?;
    let query = parse_query_params(&[], definition, Limits::default().query()).map_err(|_| {
        anyhow!(
            "the default query of `{}` does not parse",
            definition.handle
        )
    })?;
    let mut out = String::from(
        "query filter (the records queryRecords returns are those getRecord allows):\n",
    );
    for residual in &filter.residuals {
        out.push_str(&format!("  residual: {residual}\n"));
    }
    out.push_str(&format!("  filter: {}\n", filter.condition));
    out.push_str(&format!(
        "  rows decided one by one: {}\n",
        if filter.exact {
            "no (the filter is exact)"
        } else {
            "yes (a part of a residual has no SQL form)"
        }
    ));
    out.push_str(&format!(
        "  sql: {}\n",
        store::record_query::query_sql(
            db.get_database_backend(),
            &definition.workspace_id,
            &definition.id,
            &query,
            &filter.condition,
        )
    ));
    Ok(out)
}

/// A definition of the key's workspace, by id or handle.
async fn find_object(
    db: &impl ConnectionTrait,
    principal: &KeyPrincipal,
    object_id: &str,
) -> anyhow::Result<ObjectDefinition> {
    store::objects::find_definitions(db, &principal.workspace.id)
        .await
        .context("cannot read the object definitions")?
        .into_iter()
        .find(|d| d.id == object_id || d.handle.as_str() == object_id)
        .ok_or_else(|| {
            anyhow!(
                "no object definition `{object_id}` in the key's workspace {}",
                principal.workspace.handle
            )
        })
}

fn parse_resource(text: &str) -> anyhow::Result<EntityUid> {
    let qualified = if text.starts_with("Andi::") {
        text.to_owned()
    } else {
        format!("Andi::{text}")
    };
    EntityUid::from_str(&qualified).map_err(|e| {
        anyhow!(
            "`{text}` is not a resource: write `Type::\"id\"`, e.g. `Workspace::\"ws_…\"`, `ObjectDefinition::\"obj_…\"` or `Record::\"obj_…/rec_…\"` ({e})"
        )
    })
}

/// The resource as a request would present it, loaded from the key's workspace.
async fn find_resource(
    db: &impl ConnectionTrait,
    principal: &KeyPrincipal,
    uid: &EntityUid,
) -> anyhow::Result<Resource> {
    let id = uid.id().unescaped();
    match uid.type_name().basename() {
        "Workspace" if id == principal.workspace.handle => Ok(Resource::Workspace {
            id: principal.workspace.id.clone(),
        }),
        "Workspace" => {
            store::workspaces::find_workspace(db, id)
                .await?
                .ok_or_else(|| anyhow!("no workspace `{id}`"))?;
            Ok(Resource::Workspace { id: id.to_owned() })
        }
        "ApiKey" if id == principal.key_id => Ok(Resource::own_key(principal)),
        "ApiKey" => bail!(
            "a key can only be asked about itself: use --resource 'ApiKey::\"{}\"'",
            principal.key_id
        ),
        "ObjectDefinition" => Ok(Resource::object(&find_object(db, principal, id).await?)),
        "Record" => {
            let (object_id, record_id) = id.split_once('/').ok_or_else(|| {
                anyhow!("a record is named `Record::\"<object id>/<record id>\"`, e.g. `Record::\"obj_…/rec_…\"`")
            })?;
            let definition = find_object(db, principal, object_id).await?;
            let record = store::records::find_live(db, &definition, record_id)
                .await
                .context("cannot read the record")?;
            Ok(Resource::record(&definition, record_id, record.as_ref()))
        }
        other => bail!(
            "Andi decides about Workspace, ApiKey, ObjectDefinition and Record resources, not `{other}`"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_parse_with_or_without_the_namespace() {
        assert_eq!(
            parse_resource("Workspace::\"ws_1\"").unwrap().to_string(),
            "Andi::Workspace::\"ws_1\""
        );
        assert_eq!(
            parse_resource("Andi::Record::\"obj_1/rec_2\"")
                .unwrap()
                .to_string(),
            "Andi::Record::\"obj_1/rec_2\""
        );
        let error = parse_resource("ws_1").unwrap_err().to_string();
        assert!(
            error.contains("Type::\\\"id\\\"") || error.contains("Type::\"id\""),
            "{error}"
        );
    }
}
