//! Shared test harness: the real testbed (Dovecot + Postfix on loopback, started by the
//! project's own scripts) and a real `mailroom serve` process per test on a free port.

pub mod accept_all;
pub mod cluster_nodes;
pub mod database;
pub mod hostile_server;
pub mod imap_peer;
pub mod oauth_provider;
pub mod webhook_receiver;

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use serde_json::Value;

pub use database::{Database, Engine};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// How many testbed users the tests need: the highest `userN` any module signs in as
/// (testbed/README.md, "Users and mail flow", lists them). A running testbed with fewer
/// is restarted with this many before the first test uses it.
pub const TESTBED_USERS: u32 = 520;

/// The running testbed's ports, users and CA. Started once per test binary; a test that
/// needs it fails (never skips) if it cannot be started.
pub struct Testbed {
    pub host: String,
    pub ca_file: PathBuf,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub smtp_port: u16,
    pub submission_port: u16,
    pub smtps_port: u16,
    /// dnsmasq, with SRV records for example.test pointing at the testbed.
    pub dns_port: u16,
    /// testbed/oauth-server: Google, Microsoft and Yahoo endpoint shapes whose tokens
    /// Dovecot and Postfix take for XOAUTH2 and OAUTHBEARER.
    pub oauth_url: String,
    pub dir: PathBuf,
}

impl Testbed {
    pub fn get() -> &'static Testbed {
        static TESTBED: OnceLock<Testbed> = OnceLock::new();
        TESTBED.get_or_init(|| {
            let script = repo_root().join("testbed/start");
            // More users if the caller asks for more (a benchmark's testbed is reused).
            let users = std::env::var("TESTBED_USERS")
                .ok()
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(0)
                .max(TESTBED_USERS);
            let output = Command::new(&script)
                .env("TESTBED_USERS", users.to_string())
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            assert!(
                output.status.success(),
                "testbed/start failed ({}); stdout:\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout)
            );
            let vars = parse_env(&String::from_utf8_lossy(&output.stdout));
            let var = |key: &str| {
                vars.get(key)
                    .cloned()
                    .unwrap_or_else(|| panic!("testbed/start did not print {key}"))
            };
            let port = |key: &str| var(key).parse::<u16>().expect(key);
            let users = var("TESTBED_USERS").parse::<u32>().expect("TESTBED_USERS");
            assert!(
                users >= TESTBED_USERS,
                "the testbed has {users} users; the tests need {TESTBED_USERS}"
            );
            Testbed {
                host: var("TESTBED_HOST"),
                ca_file: PathBuf::from(var("TESTBED_CA")),
                imap_port: port("TESTBED_IMAP_PORT"),
                imaps_port: port("TESTBED_IMAPS_PORT"),
                smtp_port: port("TESTBED_SMTP_PORT"),
                submission_port: port("TESTBED_SUBMISSION_PORT"),
                smtps_port: port("TESTBED_SMTPS_PORT"),
                dns_port: port("TESTBED_DNS_PORT"),
                oauth_url: var("TESTBED_OAUTH_URL"),
                dir: PathBuf::from(var("TESTBED_DIR")),
            }
        })
    }

    pub fn user(n: u32) -> (String, String) {
        (format!("user{n}@example.test"), format!("pass{n}"))
    }

    /// Custom-auth settings for a testbed user over STARTTLS on both servers.
    pub fn settings(&self, n: u32) -> Value {
        let (email, password) = Self::user(n);
        serde_json::json!({
            "imap_username": email,
            "imap_password": password,
            "imap_host": "localhost",
            "imap_port": self.imap_port,
            "imap_security": "starttls",
            "smtp_host": "localhost",
            "smtp_port": self.submission_port,
            "smtp_security": "starttls",
        })
    }
}

fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim().trim_start_matches("export ");
            let (k, v) = line.split_once('=')?;
            let v = v.trim().trim_matches('"').trim_matches('\'');
            k.starts_with("TESTBED_")
                .then(|| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// Polls `check` until it returns Some, or panics at the deadline.
pub fn wait_for<T>(what: &str, deadline: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `mailroom serve` process with its own data dir and database (see [`Database`]:
/// `MAILROOM_TEST_DATABASE` picks SQLite or PostgreSQL), killed on drop; then its
/// database goes.
pub struct Mailroom {
    pub base_url: String,
    pub data_dir: tempfile::TempDir,
    child: Child,
    /// The settings it runs with, the database's included.
    env: Vec<(String, String)>,
    pub database: Database,
}

/// The settings a test server runs with against the testbed.
pub fn testbed_env() -> Vec<(String, String)> {
    let testbed = Testbed::get();
    vec![
        ("MAILROOM_ALLOW_PRIVATE_HOSTS".into(), "true".into()),
        ("MAILROOM_ALLOW_INSECURE_TRANSPORT".into(), "true".into()),
        (
            "MAILROOM_EXTRA_CA_FILE".into(),
            testbed.ca_file.display().to_string(),
        ),
        ("MAILROOM_PROVIDER_TIMEOUT_SECS".into(), "3".into()),
        (
            "MAILROOM_DNS_SERVER".into(),
            format!("127.0.0.1:{}", testbed.dns_port),
        ),
    ]
}

pub fn mailroom_command(data_dir: &Path, env: &[(String, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailroom"));
    command.arg("--data-dir").arg(data_dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("MAILROOM_") {
            command.env_remove(key);
        }
    }
    command.env("MAILROOM_LOG", "warn,mailroom=info");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

impl Mailroom {
    /// Starts a server with the testbed settings.
    pub fn start() -> Self {
        Self::start_with(testbed_env())
    }

    /// Starts a server with exactly these `MAILROOM_*` settings, and the database's.
    pub fn start_with(mut env: Vec<(String, String)>) -> Self {
        let database = Database::new();
        env.extend(database.env());
        Self::start_in(tempfile::tempdir().expect("temp dir"), env, database)
    }

    /// Stops this server (SIGKILL) and starts another on the same data dir and database.
    pub fn restart(mut self) -> Self {
        self.kill();
        let data_dir =
            std::mem::replace(&mut self.data_dir, tempfile::tempdir().expect("temp dir"));
        let database = std::mem::replace(&mut self.database, Database::Sqlite);
        let env = self.env.clone();
        Self::start_in(data_dir, env, database)
    }

    fn start_in(
        data_dir: tempfile::TempDir,
        env: Vec<(String, String)>,
        database: Database,
    ) -> Self {
        let mut command = mailroom_command(data_dir.path(), &env);
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("spawn mailroom serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let base_url = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(remaining)
                .expect("mailroom serve did not announce its address in time");
            if let Some(url) = line.split("listening on ").nth(1) {
                break url.trim().to_owned();
            }
        };
        Mailroom {
            base_url,
            data_dir,
            child,
            env,
            database,
        }
    }

    /// Runs a CLI command against this server's data dir.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        mailroom_command(self.data_dir.path(), &self.env)
            .args(args)
            .output()
            .expect("run mailroom CLI")
    }

    /// Creates an application through the CLI.
    pub fn create_app(&self, name: &str) -> App {
        let output = self.cli(&["app", "create", "--name", name, "--json"]);
        assert!(output.status.success(), "app create failed: {output:?}");
        let json: Value = serde_json::from_slice(&output.stdout).expect("app create prints JSON");
        App {
            application_id: json["application_id"].as_str().unwrap().to_owned(),
            client_secret: json["client_secret"].as_str().unwrap().to_owned(),
            api_key: json["api_key"].as_str().unwrap().to_owned(),
            api_key_id: json["api_key_id"].as_str().unwrap().to_owned(),
        }
    }

    pub fn client(&self, api_key: &str) -> Api {
        Api {
            base_url: self.base_url.clone(),
            api_key: Some(api_key.to_owned()),
            http: reqwest::Client::new(),
        }
    }

    pub fn anonymous(&self) -> Api {
        Api {
            base_url: self.base_url.clone(),
            api_key: None,
            http: reqwest::Client::new(),
        }
    }

    /// Everything its database stores, as text ([`Database::contents`]).
    pub fn database_text(&self) -> String {
        self.database.contents(self.data_dir.path())
    }

    /// A number read from its database behind its back ([`Database::scalar`]).
    pub fn database_scalar(&self, sql: &str) -> i64 {
        self.database.scalar(self.data_dir.path(), sql)
    }

    /// The process id of the server.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's peak resident memory so far (`VmHWM`), in bytes; `None` once it
    /// has exited.
    pub fn peak_rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Mailroom {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct App {
    pub application_id: String,
    pub client_secret: String,
    pub api_key: String,
    pub api_key_id: String,
}

/// A response: status, the `x-request-id` header and the JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub request_id_header: Option<String>,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn error_type(&self) -> &str {
        self.body["error"]["type"].as_str().unwrap_or_default()
    }

    pub fn error_message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

pub struct Api {
    pub base_url: String,
    pub api_key: Option<String>,
    pub http: reqwest::Client,
}

impl Api {
    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::reply(request.send().await.expect("HTTP request")).await
    }

    pub async fn raw(&self, method: &str, path: &str, content_type: &str, body: &str) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .header("content-type", content_type)
            .body(body.to_owned());
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        Self::reply(request.send().await.expect("HTTP request")).await
    }

    async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let request_id_header = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("response body is not JSON (status {status}): {text}"));
        Reply {
            status,
            request_id_header,
            body,
            text,
        }
    }

    /// A request with a body of raw bytes (multipart, MIME).
    pub async fn bytes(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .header("content-type", content_type)
            .body(body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        Self::reply(request.send().await.expect("HTTP request")).await
    }

    /// A GET whose answer need not be JSON (downloads): status and bytes.
    pub async fn get_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let mut request = self.http.get(format!("{}{path}", self.base_url));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.expect("HTTP request");
        let status = response.status().as_u16();
        (status, response.bytes().await.expect("body").to_vec())
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send("POST", path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, None).await
    }
}

/// A new application with an IMAP connector. Returns it and its API client.
pub async fn imap_app(server: &Mailroom, name: &str) -> (App, Api) {
    let app = server.create_app(name);
    let api = server.client(&app.api_key);
    let connector = api
        .post("/v3/connectors", serde_json::json!({"provider": "imap"}))
        .await;
    assert_eq!(connector.status, 201, "{}", connector.text);
    (app, api)
}

/// An application with an IMAP connector and a custom-auth grant for testbed user `user`,
/// holding `scope` (none: every scope). Returns the API client and the grant id.
pub async fn connect_grant_with_scope(
    server: &Mailroom,
    user: u32,
    scope: Option<Value>,
) -> (Api, String) {
    let (_, api) = imap_app(server, "sync").await;
    let mut request =
        serde_json::json!({"provider": "imap", "settings": Testbed::get().settings(user)});
    if let Some(scope) = scope {
        request["scope"] = scope;
    }
    let reply = api.post("/v3/connect/custom", request).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    (api, reply.body["data"]["id"].as_str().unwrap().to_owned())
}

/// An application ready for hosted sign-in: an IMAP connector and `redirect_uri`
/// registered. Returns it and its API client.
pub async fn hosted_auth_app(server: &Mailroom, name: &str, redirect_uri: &str) -> (App, Api) {
    let (app, api) = imap_app(server, name).await;
    let registered = api
        .post(
            "/v3/applications/redirect-uris",
            serde_json::json!({"url": redirect_uri}),
        )
        .await;
    assert!(registered.status < 300, "{}", registered.text);
    (app, api)
}

pub async fn connect_grant(server: &Mailroom, user: u32) -> (Api, String) {
    connect_grant_with_scope(server, user, None).await
}

/// Polls `path` until `check` accepts the body (deadline 60 s: a bound for a failing
/// test, generous because CI machines run the whole suite on two busy cores).
pub async fn eventually(
    api: &Api,
    path: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    eventually_within(api, path, what, std::time::Duration::from_secs(60), check).await
}

/// As [`eventually`], with a deadline of `within`.
pub async fn eventually_within(
    api: &Api,
    path: &str,
    what: &str,
    within: std::time::Duration,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let reply = api.get(path).await;
        if reply.status == 200 && check(&reply.body) {
            return reply.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; last reply: {}",
            reply.text
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

pub fn data_len(body: &Value) -> usize {
    body["data"].as_array().map(Vec::len).unwrap_or(0)
}

pub fn find_by_subject<'a>(body: &'a Value, subject: &str) -> &'a Value {
    body["data"]
        .as_array()
        .and_then(|list| list.iter().find(|m| m["subject"] == subject))
        .unwrap_or_else(|| panic!("no message with subject {subject}: {body}"))
}

/// The value of a hidden `<input>` of the sign-in page, if it has one.
pub fn hidden_input(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    html.split_once(&marker)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(value, _)| value.to_owned())
}

/// The sign-in page's CSRF cookie (`mailroom_csrf_<flow>=<token>`) as a Cookie header
/// value, if the response set one.
pub fn csrf_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';')
                .next()
                .filter(|c| c.starts_with("mailroom_csrf_"))
        })
        .map(str::to_owned)
}

/// Changes a testbed user's password for the life of the guard.
pub struct PasswordChange {
    email: String,
    original: String,
    changed: String,
}

/// Guards the testbed's users file: modules change their users' passwords side by side,
/// and each edit must start from the other's, never from a copy read before it.
static USERS_FILE: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl PasswordChange {
    pub fn new(user: u32, password: &str) -> Self {
        let (email, original) = Testbed::user(user);
        let change = PasswordChange {
            email,
            original,
            changed: password.to_owned(),
        };
        if let Err(e) = change.set_password(&change.original, &change.changed) {
            panic!("{e}");
        }
        change
    }

    /// Rewrites this user's line only, from `old` to `new`.
    fn set_password(&self, old: &str, new: &str) -> Result<(), String> {
        let _edit = USERS_FILE.lock().unwrap_or_else(|e| e.into_inner());
        let file = Testbed::get().dir.join("dovecot/users");
        let users = std::fs::read_to_string(&file).map_err(|e| format!("users file: {e}"))?;
        let email = &self.email;
        let changed = users.replace(
            &format!("{email}:{{PLAIN}}{old}:"),
            &format!("{email}:{{PLAIN}}{new}:"),
        );
        if changed == users {
            return Err(format!(
                "{email} with password {old} is not in the users file"
            ));
        }
        replace_file(&file, &changed).map_err(|e| format!("users file: {e}"))
    }
}

impl Drop for PasswordChange {
    fn drop(&mut self) {
        let _ = self.set_password(&self.changed, &self.original);
    }
}

/// Replaces a file's contents at once (a new file renamed over it, with its owner and
/// mode), so that Dovecot, re-reading it for another user's login, never sees it half
/// written.
fn replace_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path)?;
    let staged = path.with_extension("staged");
    std::fs::write(&staged, contents)?;
    std::fs::set_permissions(&staged, metadata.permissions())?;
    std::os::unix::fs::chown(&staged, Some(metadata.uid()), Some(metadata.gid()))?;
    std::fs::rename(&staged, path)
}

/// A process killed when the test ends, however it ends.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `command`, a `mailroom serve` set up by the caller (to signal it, to read its
/// log, to wrap it), and waits for the URL it announces.
pub fn spawn_announced(mut command: Command) -> (Process, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn mailroom serve");
    let stdout = child.stdout.take().expect("stdout");
    let process = Process(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("mailroom serve did not announce its address in time");
        if let Some(url) = line.split("listening on ").nth(1) {
            break url.trim().to_owned();
        }
    };
    (process, url)
}
