//! `spawn_app()`: the server as `andi serve` runs it (key cache, revocation watcher, policy
//! reload, `lastUsedAt` flusher), in-process on an ephemeral port, over a fresh database (a
//! temporary SQLite file, or a new PostgreSQL database when `ANDI_TEST_DATABASE_URL` is set,
//! dropped when the last server on it ends). `TestApp::builder()` changes its settings.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use andi::auth::KeyCacheConfig;
use andi::authz::{Authz, DecisionLog, DecisionLogTarget};
use andi::cli::serve::Application;
use andi::config::ServeConfig;
use andi::console::settings::ConsoleConfig;
use andi::http::connections::ConnectionLimits;
use andi::http::limits::Limits;
use andi::http::state::AppState;
use andi::id::random_base62;
use andi::keys::api_key::NewKey;
use andi::keys::grant::{Grants, Permission, Role};
use andi::keys::lifecycle::{self, Actor, Audit};
use andi::keys::metadata::KeyMetadata;
use andi::keys::secret::Environment;
use andi::store;
use andi::workspace::{Workspace, WorkspaceHandle};
use chrono::Utc;
use clap::Parser as _;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestApp {
    pub address: String,
    pub db: DatabaseConnection,
    pub database_url: String,
    /// The live policy set the server decides with.
    pub authz: Arc<Authz>,
    /// The server's shared state: revoking or rotating through it evicts the key from this
    /// server's cache, as the console does.
    pub state: AppState,
    /// Set with [`TestAppBuilder::decision_log`].
    pub decision_log: Option<Arc<DecisionLog>>,
    pub client: reqwest::Client,
    stop: oneshot::Sender<()>,
    server: JoinHandle<anyhow::Result<()>>,
    database: Arc<TestDatabase>,
}

/// The directory of the shipped policies.
pub fn policy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// The server with `andi serve`'s defaults.
pub async fn spawn_app() -> TestApp {
    TestApp::builder().spawn().await
}

/// The actor of keys a test makes or changes directly, without the CLI or the console.
pub static TEST_ACTOR: std::sync::LazyLock<Actor> =
    std::sync::LazyLock::new(|| Actor::Cli("test".to_owned()));

/// Key changes by [`TEST_ACTOR`], recorded in no decision log.
pub fn test_audit() -> Audit<'static> {
    Audit {
        actor: &TEST_ACTOR,
        log: None,
    }
}

/// A key named "test" with these grants, no expiry, metadata, object limit or rate limit.
pub fn new_key(role: Option<Role>, permissions: &[Permission], environment: Environment) -> NewKey {
    NewKey {
        name: "test".to_owned(),
        grants: Grants::new(role, permissions.to_vec()).expect("valid grants"),
        environment,
        expires_in: None,
        metadata: Default::default(),
        objects: None,
        rate_limit: None,
    }
}

/// Settings of a test server; [`TestAppBuilder::spawn`] starts it.
pub struct TestAppBuilder {
    config: ServeConfig,
    database: Option<Arc<TestDatabase>>,
}

impl TestApp {
    /// `andi serve`'s defaults, as its flags parse them, except: an ephemeral port, the
    /// shipped policies, and `lastUsedAt` written every 50 ms so a test need not wait a minute.
    pub fn builder() -> TestAppBuilder {
        #[derive(clap::Parser)]
        struct Serve {
            #[command(flatten)]
            config: ServeConfig,
        }
        let mut config = Serve::parse_from(["andi"]).config;
        config.listen = "127.0.0.1:0".parse().expect("a socket address");
        config.policy_dir = policy_dir();
        config.last_used_interval = Duration::from_millis(50);
        TestAppBuilder {
            config,
            database: None,
        }
    }

    /// Stops the server as SIGTERM stops `andi serve`: open requests are answered, then noted
    /// key uses and queued decisions are written.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.server)
            .await
            .expect("the server stops within 30 s")
            .expect("the server task ends")
            .expect("the server stops cleanly");
    }
}

impl TestAppBuilder {
    pub fn limits(mut self, limits: Limits) -> TestAppBuilder {
        self.config.limits = limits;
        self
    }

    pub fn connections(mut self, connections: ConnectionLimits) -> TestAppBuilder {
        self.config.connections = connections;
        self
    }

    /// The policies of `dir` instead of the shipped ones; the server watches `dir`.
    pub fn policies(mut self, dir: &Path) -> TestAppBuilder {
        self.config.policy_dir = dir.to_path_buf();
        self
    }

    pub fn policy_reload_debounce(mut self, debounce: Duration) -> TestAppBuilder {
        self.config.policy_reload_debounce = debounce;
        self
    }

    /// Appends one line per decision to `path` (see [`TestApp::decision_log`]).
    pub fn decision_log(mut self, path: &Path) -> TestAppBuilder {
        self.config.decision_log = Some(DecisionLogTarget::File(path.to_path_buf()));
        self
    }

    /// Sign-up mode, public URL, session and login limits.
    pub fn console(mut self, console: ConsoleConfig) -> TestAppBuilder {
        self.config.console = console;
        self
    }

    pub fn key_cache(mut self, key_cache: KeyCacheConfig) -> TestAppBuilder {
        self.config.key_cache = key_cache;
        self
    }

    /// Proxies whose forwarding headers name the client (`ANDI_TRUSTED_PROXIES`).
    pub fn trusted_proxies(mut self, proxies: &str) -> TestAppBuilder {
        self.config.trusted_proxies = proxies.parse().expect("a proxy list");
        self
    }

    pub fn cors_origins(mut self, origins: &str) -> TestAppBuilder {
        self.config.cors_origins = origins.parse().expect("an origin list");
        self
    }

    pub fn definition_cache_ttl(mut self, ttl: Duration) -> TestAppBuilder {
        self.config.definition_cache_ttl = ttl;
        self
    }

    /// A second server on `app`'s database, with its own pool and caches, as when several
    /// servers share one PostgreSQL.
    pub fn background_poll(mut self, poll: Duration) -> TestAppBuilder {
        self.config.background_poll = poll;
        self
    }

    pub fn database_of(mut self, app: &TestApp) -> TestAppBuilder {
        self.database = Some(Arc::clone(&app.database));
        self
    }

    pub async fn spawn(mut self) -> TestApp {
        let database = match self.database {
            Some(database) => database,
            None => Arc::new(TestDatabase::create().await),
        };
        self.config.database.database_url = database.url.clone();
        let application = Application::build(self.config)
            .await
            .expect("the server starts");
        let state = application.state();
        let state = state.clone();
        let (db, authz) = (state.db.clone(), Arc::clone(&state.authz));
        let decision_log = application.decision_log().cloned();
        let address = format!("http://{}", application.address());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(application.run_until_stopped(async {
            let _ = stopped.await;
        }));
        TestApp {
            address,
            db,
            database_url: database.url.clone(),
            authz,
            state,
            decision_log,
            client: reqwest::Client::new(),
            stop,
            server,
            database,
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn create_workspace(&self, handle: &str) -> Workspace {
        andi::workspace::create::create_workspace(
            &self.db,
            WorkspaceHandle::parse(handle).expect("valid handle"),
            handle,
            Utc::now(),
        )
        .await
        .expect("create workspace")
    }

    /// Creates a key and returns `(secret, key id)`.
    pub async fn create_key(
        &self,
        workspace: &Workspace,
        role: Option<Role>,
        permissions: &[Permission],
    ) -> (String, String) {
        self.create_key_with(workspace, role, permissions, Environment::Live, None)
            .await
    }

    pub async fn create_key_with(
        &self,
        workspace: &Workspace,
        role: Option<Role>,
        permissions: &[Permission],
        environment: Environment,
        expires_in: Option<chrono::Duration>,
    ) -> (String, String) {
        let new = NewKey {
            expires_in,
            ..new_key(role, permissions, environment)
        };
        self.create_key_from(workspace, new).await
    }

    /// Creates a key carrying `metadata` (its Cedar tags) and returns its secret.
    pub async fn create_key_tagged(
        &self,
        workspace: &Workspace,
        role: Option<Role>,
        permissions: &[Permission],
        environment: Environment,
        metadata: &[(&str, &str)],
    ) -> String {
        let pairs = metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let new = NewKey {
            metadata: KeyMetadata::new(pairs).expect("valid metadata"),
            ..new_key(role, permissions, environment)
        };
        self.create_key_from(workspace, new).await.0
    }

    /// Creates `new` and returns its secret and id.
    pub async fn create_key_from(&self, workspace: &Workspace, new: NewKey) -> (String, String) {
        let (secret, key) =
            lifecycle::create_key(&self.db, test_audit(), workspace, new, Utc::now())
                .await
                .expect("create key");
        (secret.expose().to_owned(), key.id)
    }

    pub async fn get(&self, path: &str, key: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_json(&self, path: &str, key: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// How many object definitions a workspace has, read straight from the database.
    pub async fn count_definitions(&self, workspace: &Workspace) -> usize {
        store::objects::find_definitions(&self.db, &workspace.id)
            .await
            .expect("count definitions")
            .len()
    }
}

/// Reads a problem+json body and checks its status, content type and code.
pub async fn assert_problem(
    response: reqwest::Response,
    status: u16,
    code: &str,
    context: &str,
) -> Value {
    assert_eq!(response.status().as_u16(), status, "{context}: status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        content_type, "application/problem+json",
        "{context}: content type"
    );
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["code"], code, "{context}: code in {body}");
    assert_eq!(body["status"], status, "{context}: status in body");
    assert!(
        body["requestId"].as_str().is_some_and(|id| !id.is_empty()),
        "{context}: requestId"
    );
    body
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    admin_url: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let name = format!("andi_test_{}", random_base62(12).to_lowercase());
        match std::env::var("ANDI_TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let admin = store::connect(&admin_url, store::DEFAULT_POOL_SIZE)
                    .await
                    .expect("connect to ANDI_TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create the test database");
                admin.close().await.ok();
                let url = replace_database(&admin_url, &name);
                TestDatabase {
                    url,
                    admin_url: Some(admin_url),
                    name,
                    _dir: None,
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("andi.db").display());
                TestDatabase {
                    url,
                    admin_url: None,
                    name,
                    _dir: Some(dir),
                }
            }
        }
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.rfind('/') {
        Some(slash) if slash > "postgres://".len() => &base[..slash],
        _ => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(admin_url) = self.admin_url.clone() else {
            return;
        };
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot block on itself.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(admin) = store::connect(&admin_url, store::DEFAULT_POOL_SIZE).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    admin.close().await.ok();
                }
            });
        });
        let _ = dropped.join();
    }
}
