//! `andi serve` as a process: start-up checks, the seed's examples, and secrets in logs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use andi::keys::grant::Role;

use crate::helpers::{policy_dir, spawn_app};

fn copy_policies(to: &Path) {
    for entry in std::fs::read_dir(policy_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

fn serve_with_policies(database_url: &str, policies: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_andi"))
        .args(["serve", "--listen", "127.0.0.1:0", "--policy-dir"])
        .arg(policies)
        .env("DATABASE_URL", database_url)
        .output()
        .expect("run andi serve")
}

#[tokio::test]
async fn serve_refuses_to_start_on_invalid_policies_and_names_the_file_and_line() {
    let app = spawn_app().await;
    let cases = [
        (
            "broken.cedar",
            "@id(\"x\")\npermit (\n  principal,, action, resource\n);\n",
            "broken.cedar:3",
        ),
        (
            "anonymous.cedar",
            "// no id\npermit (principal, action, resource);\n",
            "anonymous.cedar:2",
        ),
        (
            "duplicate.cedar",
            "// again\n@id(\"objects-read\")\npermit (principal, action, resource);\n",
            "duplicate policy id `objects-read`",
        ),
        (
            "typo.cedar",
            "@id(\"typo\")\npermit (principal, action == Andi::Action::\"deleteEverything\", resource);\n",
            "typo.cedar:1",
        ),
        (
            "types.cedar",
            "@id(\"types\")\npermit (principal is Andi::ApiKey, action, resource)\nwhen { principal.environment > 3 };\n",
            "types.cedar:3",
        ),
    ];
    for (file, text, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        copy_policies(dir.path());
        std::fs::write(dir.path().join(file), text).unwrap();

        let output = serve_with_policies(&app.database_url, dir.path());

        assert!(!output.status.success(), "{file}: serve must not start");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(expected),
            "{file}: expected `{expected}` in:\n{stderr}"
        );
    }
}

#[tokio::test]
async fn serve_refuses_a_schema_without_an_action_the_code_uses() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    copy_policies(dir.path());
    let schema = std::fs::read_to_string(dir.path().join("schema.cedarschema")).unwrap();
    let without = schema.replace("action getRecord in", "action getRecordRenamed in");
    std::fs::write(dir.path().join("schema.cedarschema"), without).unwrap();

    let output = serve_with_policies(&app.database_url, dir.path());

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("schema.cedarschema:") && stderr.contains("`getRecord`"),
        "{stderr}"
    );
}

/// A running `andi serve` whose stdout and stderr are collected.
pub struct Server {
    child: Child,
    pub address: String,
    log: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Server {
    /// Starts `andi serve` on `database_url` with the policies of `policies`, logging at
    /// trace level, with `args` added to its command line; returns once it listens.
    pub fn start(database_url: &str, policies: &Path, args: &[&str]) -> Server {
        Server::start_with_env(database_url, policies, args, &[])
    }

    /// [`Server::start`] with these environment variables set too.
    pub fn start_with_env(
        database_url: &str,
        policies: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_andi"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--last-used-interval",
                "100ms",
                "--policy-dir",
            ])
            .arg(policies)
            .args(args)
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "trace")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start andi serve");
        let log = Arc::new(Mutex::new(String::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        let mut readers = Vec::new();
        for stream in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let log = log.clone();
            let sender = sender.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(at) = line.find("andi listening on http://") {
                        let address = line[at + "andi listening on ".len()..]
                            .split(|c: char| c.is_whitespace() || c == '"')
                            .next()
                            .unwrap_or("")
                            .to_owned();
                        let _ = sender.send(address);
                    }
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            }));
        }
        let address = receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("andi serve reports where it listens");
        Server {
            child,
            address,
            log,
            readers,
        }
    }

    /// Sends the process a signal by name (`HUP`, `TERM`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name}");
    }

    /// Stops the server as a deploy does (SIGTERM: open requests are answered, the last
    /// lines written) and returns everything it printed, complete once both pipes end.
    pub fn stop(mut self) -> String {
        self.signal("TERM");
        // Bounded: past it the process is killed, which ends the pipes too.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && !self.readers.iter().all(JoinHandle::is_finished) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if !self.readers.iter().all(JoinHandle::is_finished) {
            eprintln!("andi serve did not stop within 30 s of SIGTERM; killing it");
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        for reader in self.readers {
            reader.join().expect("the log reader ends with the pipe");
        }
        let log = self.log.lock().unwrap();
        log.clone()
    }
}

#[tokio::test]
async fn no_secret_reaches_the_log_even_at_trace_level() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (admin, admin_id) = app.create_key(&acme, Some(Role::Admin), &[]).await;
    let (viewer, _) = app.create_key(&acme, Some(Role::Viewer), &[]).await;
    let (revoked, revoked_id) = app.create_key(&acme, Some(Role::Viewer), &[]).await;
    andi::keys::lifecycle::revoke_key(
        &app.db,
        crate::helpers::test_audit(),
        &revoked_id,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let mut near_miss = admin.clone();
    let last = near_miss.pop().unwrap();
    near_miss.push(if last == 'x' { 'y' } else { 'x' });
    let server = Server::start(&app.database_url, &policy_dir(), &[]);
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.address);

    let requests = [
        client.get(url("/api/objects")).bearer_auth(&admin),
        client.get(url("/api/objects")).header("x-api-key", &viewer),
        client
            .post(url("/api/objects"))
            .bearer_auth(&viewer)
            .json(&serde_json::json!({"name": "Denied"})),
        client
            .post(url("/api/objects"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"name": "Invoices"})),
        client.get(url("/api/objects")).bearer_auth(&revoked),
        client.get(url("/api/objects")).bearer_auth(&near_miss),
        client
            .get(url("/api/objects"))
            .bearer_auth(&admin)
            .header("x-api-key", &viewer),
        client
            .get(url("/api/key"))
            .header("cookie", format!("session={admin}"))
            .bearer_auth(&admin),
    ];
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.send().await.unwrap().status().as_u16());
    }
    let log = server.stop();

    assert_eq!(statuses, [200, 200, 403, 201, 401, 401, 400, 200]);
    assert!(
        log.contains(&admin_id),
        "the log records requests by key id, so this test would see a leak"
    );
    assert!(
        log.contains("authz"),
        "decisions are in the log at trace level"
    );
    for (name, secret) in [
        ("admin", &admin),
        ("viewer", &viewer),
        ("revoked", &revoked),
        ("near miss", &near_miss),
    ] {
        assert!(
            !log.contains(secret.as_str()),
            "the {name} key appears in the log"
        );
        assert!(
            !log.contains(&secret[10..30]),
            "part of the {name} key appears in the log"
        );
    }
}

#[tokio::test]
async fn the_seed_curl_and_fetch_examples_work_verbatim() {
    let app = spawn_app().await;
    let acme = app.create_workspace("acme").await;
    let (key, _) = app.create_key(&acme, Some(Role::Viewer), &[]).await;
    let url = app.url("/api/objects");

    // The seed's curl command, with only the host changed.
    // The server runs on this test's runtime, so the clients are awaited, not blocked on.
    let curl = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "curl -sS \"{url}\" \\\n-H \"Authorization: Bearer $ANDI_API_KEY\""
        ))
        .env("ANDI_API_KEY", &key)
        .output()
        .await
        .expect("curl runs");
    assert!(
        curl.status.success(),
        "{}",
        String::from_utf8_lossy(&curl.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "{\"items\":[]}");

    // The seed's fetch snippet, with only the host changed, where Node is installed.
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("node is not installed; the fetch example was not run");
        return;
    }
    let script = format!(
        "const apiKey = process.env.ANDI_API_KEY;\nconst response = await fetch(\"{url}\", {{\nheaders: {{\nAuthorization: `Bearer ${{apiKey}}`,\n}},\n}});\nconsole.log(response.status, await response.text());\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seed.mjs");
    std::fs::write(&file, script).unwrap();
    let node = tokio::process::Command::new("node")
        .arg(&file)
        .env("ANDI_API_KEY", &key)
        .output()
        .await
        .expect("node runs");
    assert!(
        node.status.success(),
        "{}",
        String::from_utf8_lossy(&node.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&node.stdout).trim(),
        "200 {\"items\":[]}"
    );
}

#[tokio::test]
async fn logs_to_a_pipe_carry_no_colour_codes() {
    let app = spawn_app().await;
    let server = Server::start(&app.database_url, &policy_dir(), &[]);
    let health = reqwest::get(format!("{}/healthz", server.address))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let log = server.stop();
    assert!(log.contains("andi listening on"), "{log}");
    assert!(!log.contains('\u{1b}'), "an escape code in:\n{log}");
}

#[tokio::test]
async fn andi_log_format_json_writes_one_json_object_per_line() {
    let app = spawn_app().await;
    let server = Server::start_with_env(
        &app.database_url,
        &policy_dir(),
        &[],
        &[("ANDI_LOG_FORMAT", "json")],
    );
    let health = reqwest::get(format!("{}/healthz", server.address))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let log = server.stop();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect();
    let listening = lines
        .iter()
        .find(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("andi listening on"))
        })
        .unwrap_or_else(|| panic!("no listening line in:\n{log}"));
    assert_eq!(listening["level"], "INFO");
    assert!(listening["timestamp"].is_string(), "{listening}");
}
