//! The console's pages over HTTP, as a browser uses them: forms, cookies and redirects.

use andi::account::settings::{AccountSettings, SignupMode};
use andi::console::settings::ConsoleConfig;
use reqwest::StatusCode;
use reqwest::redirect::Policy;

use crate::helpers::{TestApp, spawn_app};

pub const PASSWORD: &str = "correct horse battery staple";

/// One browser: its own cookies, redirects not followed so tests see them.
pub struct Person {
    pub client: reqwest::Client,
    base: String,
}

/// The value of `name="<field>" value="…"` in a page.
fn input_value(html: &str, field: &str) -> Option<String> {
    let marker = format!("name=\"{field}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    Some(html[start..].split('"').next()?.to_owned())
}

/// The `andi_session` value a response sets, if any.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|line| line.starts_with("andi_session="))
        .map(|line| {
            line["andi_session=".len()..]
                .split(';')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
}

impl Person {
    pub fn new(app: &TestApp) -> Person {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .expect("client");
        Person {
            client,
            base: app.address.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.expect("page body")
    }

    /// The CSRF token of the form on `path`.
    pub async fn token(&self, path: &str) -> String {
        input_value(&self.page(path).await, "csrf").expect("the page has a csrf field")
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("request sent")
    }

    /// Posts a form on `page` to `action` with the page's CSRF token.
    pub async fn submit(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let token = self.token(page).await;
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_form(action, &all).await
    }

    pub async fn sign_up(&self, email: &str, password: &str) -> reqwest::Response {
        self.submit(
            "/sign-up",
            "/sign-up",
            &[("email", email), ("password", password)],
        )
        .await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.submit(
            "/sign-in",
            "/sign-in",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// Signs up and creates a workspace, of which this person is then the admin.
    pub async fn admin_of(app: &TestApp, email: &str, handle: &str) -> Person {
        let person = Person::new(app);
        assert_eq!(
            person.sign_up(email, PASSWORD).await.status(),
            303,
            "sign-up"
        );
        let created = person
            .submit(
                "/workspaces",
                "/workspaces",
                &[("handle", handle), ("name", handle)],
            )
            .await;
        assert_eq!(created.status(), 303, "workspace created");
        person
    }

    /// Creates a key from the page and returns the page that follows (with the secret).
    pub async fn create_key(&self, handle: &str, fields: &[(&str, &str)]) -> String {
        let keys = format!("/workspaces/{handle}/api-keys");
        let response = self.submit(&keys, &keys, fields).await;
        assert_eq!(response.status(), 303, "key created");
        self.page(&keys).await
    }
}

/// The secret shown on a keys page, if any.
pub fn shown_secret(html: &str) -> Option<String> {
    let start = html
        .find("andi_live_")
        .or_else(|| html.find("andi_test_"))?;
    let secret: String = html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    // The table shows only the 14-character start followed by an ellipsis.
    (secret.len() > 20).then_some(secret)
}

#[tokio::test]
async fn signing_up_signs_in_with_a_safe_cookie_and_lands_on_workspaces() {
    let app = spawn_app().await;
    let person = Person::new(&app);
    assert!(
        person.get("/").await.headers()["location"] == "/sign-up",
        "a fresh install offers sign-up"
    );

    let response = person.sign_up("Ada@Example.com", PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/workspaces");
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|line| line.starts_with("andi_session="))
        .expect("a session cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "not Secure over plain http: {cookie}"
    );

    let page = person.page("/workspaces").await;
    assert!(
        page.contains("ada@example.com"),
        "signed in as the lower-cased email"
    );
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let console = ConsoleConfig {
        public_url: Some("https://andi.example.com".to_owned()),
        ..ConsoleConfig::default()
    };
    let app = TestApp::builder().console(console).spawn().await;
    let person = Person::new(&app);
    let token = person.token("/sign-up").await;
    let response = person
        .post_form(
            "/sign-up",
            &[
                ("csrf", &token),
                ("email", "ada@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn a_short_password_is_refused_with_a_clear_message() {
    let app = spawn_app().await;
    let person = Person::new(&app);
    let response = person.sign_up("ada@example.com", "short").await;
    assert_eq!(response.status(), 400);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("The password is too short: use at least 12 characters."),
        "{page}"
    );
    assert!(
        person.get("/workspaces").await.status() == 303,
        "no session was started"
    );
}

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    Person::new(&app).sign_up("ada@example.com", PASSWORD).await;

    let person = Person::new(&app);
    let wrong_password = person
        .sign_in("ada@example.com", "not the password at all")
        .await;
    let unknown_email = person
        .sign_in("nobody@example.com", "not the password at all")
        .await;
    assert_eq!(wrong_password.status(), 401);
    assert_eq!(unknown_email.status(), 401);
    let error = |page: &str| {
        page.split("role=\"alert\">")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .map(str::to_owned)
    };
    let (a, b) = (
        error(&wrong_password.text().await.unwrap()),
        error(&unknown_email.text().await.unwrap()),
    );
    assert_eq!(a.as_deref(), Some("Incorrect email or password."));
    assert_eq!(a, b, "the two failures must be indistinguishable");
}

#[tokio::test]
async fn signing_in_issues_a_new_session_and_signing_out_ends_it() {
    let app = spawn_app().await;
    let person = Person::new(&app);
    let first = session_cookie(&person.sign_up("ada@example.com", PASSWORD).await)
        .expect("session at sign-up");
    let second = session_cookie(&person.sign_in("ada@example.com", PASSWORD).await)
        .expect("session at sign-in");
    assert_ne!(first, second, "the session id changes at sign-in");

    let raw = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let with = |token: &str| {
        raw.get(person.url("/workspaces"))
            .header("cookie", format!("andi_session={token}"))
            .send()
    };
    assert_eq!(
        with(&first).await.unwrap().status(),
        303,
        "the replaced session is gone"
    );
    assert_eq!(with(&second).await.unwrap().status(), 200);

    let out = person.submit("/workspaces", "/sign-out", &[]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(
        with(&second).await.unwrap().status(),
        303,
        "sign-out deleted the session"
    );
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let person = Person::new(&app);
    person.sign_up("ada@example.com", PASSWORD).await;

    let forged = person
        .post_form("/workspaces", &[("handle", "acme"), ("name", "Acme")])
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(
        forged
            .text()
            .await
            .unwrap()
            .contains("did not come from this site")
    );
    let wrong = person
        .post_form(
            "/workspaces",
            &[
                ("csrf", "x".repeat(32).as_str()),
                ("handle", "acme"),
                ("name", "Acme"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(
        !person
            .page("/workspaces")
            .await
            .contains("/workspaces/acme/"),
        "no workspace was created"
    );

    let token = person.token("/workspaces").await;
    let cross_site = person
        .client
        .post(person.url("/workspaces"))
        .header("origin", "https://evil.example")
        .form(&[
            ("csrf", token.as_str()),
            ("handle", "acme"),
            ("name", "Acme"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        cross_site.status(),
        StatusCode::FORBIDDEN,
        "a foreign Origin is refused even with the token"
    );

    let stranger = Person::new(&app);
    let no_form_cookie = stranger
        .post_form(
            "/sign-in",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        no_form_cookie.status(),
        StatusCode::FORBIDDEN,
        "sign-in needs its form token too"
    );
}

#[tokio::test]
async fn repeated_failed_sign_ins_lock_the_account_with_a_429() {
    let app = spawn_app().await;
    Person::new(&app).sign_up("ada@example.com", PASSWORD).await;
    let attacker = Person::new(&app);
    for attempt in 1..=5 {
        let response = attacker
            .sign_in("ada@example.com", "guess number one")
            .await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    let locked = attacker.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(
        locked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(locked.headers().contains_key("retry-after"));
    let page = locked.text().await.unwrap();
    assert!(
        page.contains(
            "Too many failed sign-in attempts for this account; try again in 15 minute(s)."
        ),
        "{page}"
    );
}

#[tokio::test]
async fn repeated_failed_sign_ins_from_one_address_are_limited_with_a_429() {
    let console = ConsoleConfig {
        account: AccountSettings {
            login_max_failures_per_ip: 3,
            ..AccountSettings::default()
        },
        ..ConsoleConfig::default()
    };
    let app = TestApp::builder().console(console).spawn().await;
    let attacker = Person::new(&app);
    for n in 0..3 {
        let response = attacker
            .sign_in(&format!("user{n}@example.com"), "guess number one")
            .await;
        assert_eq!(response.status(), 401, "attempt {n}");
    }
    let limited = attacker
        .sign_in("user9@example.com", "guess number one")
        .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited
            .text()
            .await
            .unwrap()
            .contains("for your network address")
    );
}

#[tokio::test]
async fn when_sign_up_is_closed_only_the_first_account_can_be_created() {
    let console = ConsoleConfig {
        account: AccountSettings {
            signup: SignupMode::Closed,
            ..AccountSettings::default()
        },
        ..ConsoleConfig::default()
    };
    let app = TestApp::builder().console(console).spawn().await;
    assert_eq!(
        Person::new(&app)
            .sign_up("first@example.com", PASSWORD)
            .await
            .status(),
        303
    );
    let stranger = Person::new(&app);
    assert!(
        stranger
            .page("/sign-up")
            .await
            .contains("Sign-up is closed on this server"),
        "the page says so"
    );
    let second = stranger
        .submit(
            "/sign-in",
            "/sign-up",
            &[("email", "second@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(second.status(), StatusCode::FORBIDDEN);
    assert!(
        second
            .text()
            .await
            .unwrap()
            .contains("Sign-up is closed on this server")
    );
}

#[tokio::test]
async fn a_new_secret_is_shown_once_and_works() {
    let app = spawn_app().await;
    let ada = Person::admin_of(&app, "ada@example.com", "acme").await;
    let page = ada
        .create_key(
            "acme",
            &[
                ("name", "billing-worker"),
                ("permission", "objects.read"),
                ("environment", "live"),
            ],
        )
        .await;
    let secret = shown_secret(&page).expect("the page after creating shows the secret");
    assert!(page.contains("It will not be shown again"));
    assert_eq!(app.get("/api/objects", &secret).await.status(), 200);
    assert_eq!(
        app.post_json(
            "/api/objects",
            &secret,
            &serde_json::json!({"name": "Invoices"})
        )
        .await
        .status(),
        403
    );

    let reloaded = ada.page("/workspaces/acme/api-keys").await;
    assert_eq!(
        shown_secret(&reloaded),
        None,
        "a reload does not show the secret again"
    );
    assert!(
        reloaded.contains("billing-worker") && reloaded.contains("objects.read"),
        "the key is in the table"
    );
}

#[tokio::test]
async fn the_create_form_explains_what_is_missing() {
    let app = spawn_app().await;
    let ada = Person::admin_of(&app, "ada@example.com", "acme").await;
    let response = ada
        .submit(
            "/workspaces/acme/api-keys",
            "/workspaces/acme/api-keys",
            &[("name", "nothing")],
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("A key needs at least one permission or a role")
    );
}

#[tokio::test]
async fn revoking_asks_for_confirmation_and_then_stops_the_key() {
    let app = spawn_app().await;
    let ada = Person::admin_of(&app, "ada@example.com", "acme").await;
    let page = ada
        .create_key("acme", &[("name", "ci"), ("role", "viewer")])
        .await;
    let secret = shown_secret(&page).unwrap();
    let key_id = page
        .split("data-key-id=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();

    let confirm = format!("/workspaces/acme/api-keys/{key_id}/revoke");
    let question = ada.page(&confirm).await;
    assert!(question.contains("Revoke “ci”?"), "{question}");
    assert_eq!(
        app.get("/api/objects", &secret).await.status(),
        200,
        "asking revokes nothing"
    );

    let done = ada.submit(&confirm, &confirm, &[]).await;
    assert_eq!(done.status(), 303);
    assert_eq!(app.get("/api/objects", &secret).await.status(), 401);
    assert!(
        ada.page("/workspaces/acme/api-keys")
            .await
            .contains("status-revoked")
    );
}

#[tokio::test]
async fn rotating_shows_the_new_secret_once_and_retires_the_old_one() {
    let app = spawn_app().await;
    let ada = Person::admin_of(&app, "ada@example.com", "acme").await;
    let page = ada
        .create_key("acme", &[("name", "ci"), ("permission", "objects.read")])
        .await;
    let old = shown_secret(&page).unwrap();
    let key_id = page
        .split("data-key-id=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();

    let rotate = format!("/workspaces/acme/api-keys/{key_id}/rotate");
    assert_eq!(
        ada.submit(&rotate, &rotate, &[("grace", "0s")])
            .await
            .status(),
        303
    );
    let after = ada.page("/workspaces/acme/api-keys").await;
    let new = shown_secret(&after).expect("the new secret is shown");
    assert_ne!(new, old);
    assert_eq!(app.get("/api/objects", &new).await.status(), 200);
    assert_eq!(
        app.get("/api/objects", &old).await.status(),
        401,
        "no grace: the old key stops at once"
    );
    assert_eq!(
        shown_secret(&ada.page("/workspaces/acme/api-keys").await),
        None
    );
}

#[tokio::test]
async fn a_member_sees_the_keys_but_only_admins_manage_them() {
    let app = spawn_app().await;
    let ada = Person::admin_of(&app, "ada@example.com", "acme").await;
    let page = ada
        .create_key("acme", &[("name", "ci"), ("permission", "objects.read")])
        .await;
    let key_id = page
        .split("data-key-id=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();

    let bob = Person::new(&app);
    bob.sign_up("bob@example.com", PASSWORD).await;
    assert_eq!(
        bob.get("/workspaces/acme/api-keys").await.status(),
        404,
        "not a member yet: no such workspace"
    );

    let added = ada
        .submit(
            "/workspaces/acme/members",
            "/workspaces/acme/members",
            &[("email", "bob@example.com"), ("role", "member")],
        )
        .await;
    assert_eq!(added.status(), 303);
    assert!(
        ada.page("/workspaces/acme/members")
            .await
            .contains("bob@example.com")
    );

    let keys = bob.page("/workspaces/acme/api-keys").await;
    assert!(keys.contains(&key_id), "a member sees the keys");
    assert!(!keys.contains("Create key"), "but gets no create form");
    let token = bob.token("/workspaces").await;
    let create = bob
        .post_form(
            "/workspaces/acme/api-keys",
            &[
                ("csrf", &token),
                ("name", "mine"),
                ("permission", "objects.write"),
            ],
        )
        .await;
    assert_eq!(create.status(), StatusCode::FORBIDDEN);
    assert!(
        create
            .text()
            .await
            .unwrap()
            .contains("only admins of this workspace can create API keys")
    );
    let revoke = bob
        .post_form(
            &format!("/workspaces/acme/api-keys/{key_id}/revoke"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::FORBIDDEN);
    let add = bob
        .post_form(
            "/workspaces/acme/members",
            &[
                ("csrf", &token),
                ("email", "bob@example.com"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(
        add.status(),
        StatusCode::FORBIDDEN,
        "a member cannot promote themselves"
    );
    assert!(
        ada.page("/workspaces/acme/api-keys")
            .await
            .contains("status-active"),
        "the key is untouched"
    );
}

#[tokio::test]
async fn page_text_is_escaped() {
    let app = spawn_app().await;
    let ada = Person::admin_of(&app, "ada@example.com", "acme").await;
    let page = ada
        .create_key(
            "acme",
            &[
                ("name", "<script>alert(1)</script>"),
                ("permission", "objects.read"),
            ],
        )
        .await;
    assert!(!page.contains("<script>alert(1)</script>"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;"), "shown as text");
}

#[tokio::test]
async fn an_account_created_on_the_command_line_signs_in_and_administers_its_workspace() {
    let console = ConsoleConfig {
        account: AccountSettings {
            signup: SignupMode::Closed,
            ..AccountSettings::default()
        },
        ..ConsoleConfig::default()
    };
    let app = TestApp::builder().console(console).spawn().await;
    Person::new(&app)
        .sign_up("owner@example.com", PASSWORD)
        .await;
    app.create_workspace("acme").await;

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_andi"))
        .args(["user", "create", "ops@example.com", "--admin-of", "acme"])
        .env("DATABASE_URL", &app.database_url)
        .env("ANDI_USER_PASSWORD", PASSWORD)
        .output()
        .expect("andi runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains(PASSWORD),
        "the password is never printed"
    );

    let ops = Person::new(&app);
    assert_eq!(
        ops.sign_in("ops@example.com", PASSWORD).await.status(),
        303,
        "sign-up is closed, but the CLI is not"
    );
    let page = ops
        .create_key(
            "acme",
            &[("name", "deploy"), ("permission", "objects.write")],
        )
        .await;
    assert!(
        shown_secret(&page).is_some(),
        "an admin of acme creates keys"
    );
}

#[tokio::test]
async fn inviting_an_email_answers_the_same_whether_or_not_it_has_an_account() {
    let app = spawn_app().await;
    let ada = Person::admin_of(&app, "ada@example.com", "acme").await;
    let bob = Person::new(&app);
    bob.sign_up("bob@example.com", PASSWORD).await;

    let mut answers = Vec::new();
    for email in ["bob@example.com", "nobody@example.com"] {
        let response = ada
            .submit(
                "/workspaces/acme/members",
                "/workspaces/acme/members",
                &[("email", email), ("role", "member")],
            )
            .await;
        answers.push((
            response.status(),
            response
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned()),
        ));
    }
    assert_eq!(answers[0], answers[1], "the same answer for both emails");
    let members = ada.page("/workspaces/acme/members").await;
    for email in ["bob@example.com", "nobody@example.com"] {
        let row = members
            .split(email)
            .nth(1)
            .expect("the invited email is listed");
        assert!(
            row.trim_start()
                .starts_with("<span class=\"muted\">(invited"),
            "{email} is listed as invited"
        );
    }

    assert_eq!(
        bob.get("/workspaces/acme/api-keys").await.status(),
        200,
        "a person with an account is a member on their next page"
    );
    let carol = Person::new(&app);
    carol.sign_up("nobody@example.com", PASSWORD).await;
    assert_eq!(
        carol.get("/workspaces/acme/api-keys").await.status(),
        200,
        "a person without one is a member once they sign up"
    );
    assert!(
        !ada.page("/workspaces/acme/members")
            .await
            .contains("(invited"),
        "no invitation is left open once both have used the console"
    );
}

#[tokio::test]
async fn the_create_form_sets_metadata_object_limits_and_a_rate_limit_and_the_table_shows_them() {
    let app = spawn_app().await;
    let ada = Person::admin_of(&app, "ada@example.com", "acme").await;
    let page = ada
        .create_key(
            "acme",
            &[
                ("name", "eu-billing"),
                ("role", "editor"),
                ("metadata", "region=EU\r\nteam=billing\r\n"),
                ("objects", "invoices, payments"),
                ("rate_limit", "100/1m"),
            ],
        )
        .await;
    let secret = shown_secret(&page).expect("the secret is shown once");
    let own: serde_json::Value = app.get("/api/key", &secret).await.json().await.unwrap();
    assert_eq!(
        (&own["metadata"], &own["objects"], &own["rateLimit"]),
        (
            &serde_json::json!({"region": "EU", "team": "billing"}),
            &serde_json::json!(["invoices", "payments"]),
            &serde_json::json!({"requests": 100, "windowSecs": 60})
        )
    );
    // The page escapes `/` as `&#x2f;`.
    let page = page.replace("&#x2f;", "/");
    for shown in [
        "region=EU team=billing",
        "only: invoices, payments",
        "limit: 100/60s",
    ] {
        assert!(page.contains(shown), "the table shows `{shown}`");
    }

    let refused = ada
        .submit(
            "/workspaces/acme/api-keys",
            "/workspaces/acme/api-keys",
            &[("name", "bad"), ("role", "viewer"), ("metadata", "region")],
        )
        .await;
    assert_eq!(refused.status(), 400);
    let body = refused.text().await.unwrap();
    assert!(
        body.contains("is not `key=value`"),
        "the form says what to fix"
    );
    assert!(body.contains("region"), "the form keeps what was typed");
}
