//! `spawn_app()`: the real router on an ephemeral port, over a fresh database (a temporary
//! SQLite file, or a new PostgreSQL database when `ANDI_TEST_DATABASE_URL` is set, dropped
//! when the test ends).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use andi::authz::Authz;
use andi::console::settings::ConsoleConfig;
use andi::http::app::router;
use andi::http::limits::Limits;
use andi::http::state::AppState;
use andi::id::random_base62;
use andi::keys::api_key::NewKey;
use andi::keys::grant::{Grants, Permission, Role};
use andi::keys::lifecycle;
use andi::keys::secret::Environment;
use andi::store;
use andi::workspace::{Workspace, WorkspaceHandle};
use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::Value;

pub struct TestApp {
    pub address: String,
    pub db: DatabaseConnection,
    pub database_url: String,
    /// The live policy set the server decides with.
    pub authz: Arc<Authz>,
    pub client: reqwest::Client,
    _database: TestDatabase,
}

/// The directory of the shipped policies.
pub fn policy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Limits::default()).await
}

pub async fn spawn_app_with(limits: Limits) -> TestApp {
    spawn_app_with_authz(
        Authz::load(&policy_dir()).expect("shipped policies load"),
        limits,
    )
    .await
}

/// The app with the policies of `dir` instead of the shipped ones.
pub async fn spawn_app_with_policies(limits: Limits, dir: &std::path::Path) -> TestApp {
    spawn_app_with_authz(Authz::load(dir).expect("test policies load"), limits).await
}

/// The app with a given policy set, e.g. loaded from a temporary directory or with a
/// decision log.
pub async fn spawn_app_with_authz(authz: Authz, limits: Limits) -> TestApp {
    spawn_app_full(authz, limits, ConsoleConfig::default()).await
}

/// The app with the shipped policies and given console settings (sign-up, login limits).
pub async fn spawn_app_configured(limits: Limits, console: ConsoleConfig) -> TestApp {
    let authz = Authz::load(&policy_dir()).expect("shipped policies load");
    spawn_app_full(authz, limits, console).await
}

async fn spawn_app_full(authz: Authz, limits: Limits, console: ConsoleConfig) -> TestApp {
    let database = TestDatabase::create().await;
    let db = store::connect(&database.url)
        .await
        .expect("connect to the test database");
    store::migrate(&db)
        .await
        .expect("migrate the test database");
    let state = AppState::new(db.clone(), authz, limits).with_console(console);
    let authz = state.authz.clone();
    state
        .keys
        .usage()
        .spawn_flusher(db.clone(), Duration::from_millis(50));

    let address = serve(state).await;
    TestApp {
        address,
        db,
        database_url: database.url.clone(),
        authz,
        client: reqwest::Client::new(),
        _database: database,
    }
}

/// Serves `state`'s router on an ephemeral port until the test ends; its base URL.
pub async fn serve(state: AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port");
    let address = format!("http://{}", listener.local_addr().expect("local address"));
    tokio::spawn(async move {
        axum::serve(
            listener,
            router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("server runs");
    });
    address
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
            name: "test".to_owned(),
            grants: Grants::new(role, permissions.to_vec()).expect("valid grants"),
            environment,
            expires_in,
        };
        let (secret, key) = lifecycle::create_key(&self.db, workspace, new, Utc::now())
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
                let admin = store::connect(&admin_url)
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
                if let Ok(admin) = store::connect(&admin_url).await {
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
