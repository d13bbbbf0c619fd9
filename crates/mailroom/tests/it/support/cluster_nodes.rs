//! Several `mailroom serve` processes on one PostgreSQL (cluster mode): a schema
//! of their own on the test server or a private PostgreSQL the test may restart, nodes
//! started, signalled and restarted as an operator would, the operator's CLI views
//! (`mailroom nodes --json`, `mailroom grants status --json`), the IMAP sessions Dovecot
//! holds per user, and mail delivered through the testbed's SMTP port.

use std::{
    collections::{BTreeMap, HashMap},
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use serde_json::Value;

use super::{Testbed, mailroom_command, repo_root, testbed_env};

/// The tests' PostgreSQL (`MAILROOM_TEST_POSTGRES`, as for the rest of the suite).
pub fn postgres_url() -> String {
    super::database::postgres_url()
}

/// `url` with its sessions' search_path set to `schema`.
pub fn schema_url(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

fn psql(url: &str, sql: &str) -> Result<String, String> {
    let output = Command::new("psql")
        .args([
            url,
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// A fresh schema, dropped with everything in it when the value is dropped.
pub struct Schema {
    admin_url: String,
    pub name: String,
    /// The URL every node gets.
    pub url: String,
}

impl Schema {
    pub fn create(admin_url: &str, prefix: &str) -> Self {
        let name = format!("{prefix}_{}", unique_suffix());
        psql(admin_url, &format!("CREATE SCHEMA {name}"))
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is needed: {e}"));
        Schema {
            admin_url: admin_url.to_owned(),
            url: schema_url(admin_url, &name),
            name,
        }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Err(e) = psql(
            &self.admin_url,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        ) {
            eprintln!("could not drop schema {}: {e}", self.name);
        }
    }
}

fn unique_suffix() -> String {
    use sha2::Digest;
    // Tests of one process run side by side: the count tells apart those of one instant.
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let count = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let digest = sha2::Sha256::digest(format!("{}-{nanos}-{count}", std::process::id()));
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A secret key every node of one cluster shares (64 hex digits, `secret_key.rs`).
pub fn shared_secret_key() -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("cluster key {}", unique_suffix()));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A PostgreSQL of the test's own, in a temp dir, run by the `postgres` system user
/// (PostgreSQL refuses to run as root), so the test may restart it without touching the
/// machine's server. Stopped and deleted on drop.
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    /// `postgres://postgres@127.0.0.1:PORT/postgres`
    pub url: String,
}

impl PrivatePostgres {
    pub fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server binaries under /usr/lib/postgresql")
            .filter_map(Result::ok)
            .map(|entry| entry.path().join("bin"))
            .filter(|bin| bin.join("pg_ctl").exists())
            .max()
            .expect("a PostgreSQL version with pg_ctl");
        let dir = tempfile::Builder::new()
            .prefix("mailroom-cluster-pg-")
            .tempdir()
            .expect("temp dir");
        let chown = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(dir.path())
            .status()
            .expect("chown");
        assert!(chown.success(), "chown of the private PostgreSQL's dir");
        let port = free_port();
        let pg = PrivatePostgres {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            bin,
            port,
        };
        pg.as_postgres(
            "initdb",
            &[
                "-D",
                &pg.data_dir(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        pg.pg_ctl("start");
        pg
    }

    fn data_dir(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn as_postgres(&self, program: &str, args: &[&str]) {
        let output = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(program))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} as postgres: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        let data = self.data_dir();
        let mut args = vec![
            "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options, action,
        ];
        if action != "start" {
            args.extend(["-m", "fast"]);
        }
        self.as_postgres("pg_ctl", &args);
    }

    /// `pg_ctl restart -m fast`: every session is ended, the server comes back on the
    /// same port.
    pub fn restart(&self) {
        self.pg_ctl("restart");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.data_dir(), "-w", "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Empties these users' mailboxes (testbed/reset-user, one run for all).
pub fn reset_users(users: impl IntoIterator<Item = u32>) {
    // The testbed must be up, with these users, before the script can empty them.
    Testbed::get();
    let output = Command::new(repo_root().join("testbed/reset-user"))
        .args(users.into_iter().map(|n| format!("user{n}")))
        .stdin(Stdio::null())
        .output()
        .expect("run testbed/reset-user");
    assert!(
        output.status.success(),
        "testbed/reset-user failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One scenario at a time: each starts several servers and a mail load, and two at once
/// on two cores would measure the machine, not the cluster.
/// (An async lock: it is held across the scenario's awaits, and a failed scenario does
/// not poison it for the next.)
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// The settings every node of a cluster runs with: the testbed's, the shared database
/// and key, a short lease (so the suite is quick), and no per-host sign-in limit (every
/// grant signs in to the same testbed at once).
pub fn cluster_env(database_url: &str, lease_secs: u64) -> Vec<(String, String)> {
    let mut env = testbed_env();
    env.extend(
        [
            ("MAILROOM_DATABASE_URL", database_url.to_owned()),
            ("MAILROOM_SECRET_KEY", shared_secret_key()),
            ("MAILROOM_LEASE_SECS", lease_secs.to_string()),
            ("MAILROOM_WEBHOOK_RETRY_SECS", "1".to_owned()),
            ("MAILROOM_GRANT_REQUESTS_PER_SECOND", "0".to_owned()),
            (
                "MAILROOM_SIGN_IN_ATTEMPTS_PER_IP_PER_MINUTE",
                "100000".to_owned(),
            ),
            (
                "MAILROOM_SIGN_IN_ATTEMPTS_PER_HOST_PER_MINUTE",
                "100000".to_owned(),
            ),
            (
                "MAILROOM_SIGN_IN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE",
                "100000".to_owned(),
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    // MAILROOM_TEST_CLUSTER_LOG=<filter> sets the nodes' log filter, to trace a failure.
    if let Ok(filter) = std::env::var("MAILROOM_TEST_CLUSTER_LOG") {
        env.push(("MAILROOM_LOG".to_owned(), filter));
    }
    env
}

/// One `mailroom serve` of a cluster: its own data dir, its stderr in a log file.
pub struct Node {
    pub name: String,
    pub base_url: String,
    /// What it printed after `listening on`: `node <NODE_ID>`.
    pub node_id: String,
    data_dir: PathBuf,
    log_path: PathBuf,
    env: Vec<(String, String)>,
    child: Child,
    exited: Option<ExitStatus>,
}

impl Node {
    fn spawn(name: &str, data_dir: PathBuf, log_path: PathBuf, env: Vec<(String, String)>) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("node log file");
        let mut child = mailroom_command(&data_dir, &env)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn mailroom serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        // Drains stdout for the node's whole life, so that it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut base_url = None;
        let node_id = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(remaining) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "{name} did not announce `listening on` and `node <id>` in time; log:\n{}",
                        tail(&log_path, 30)
                    );
                }
            };
            if let Some(url) = line.split("listening on ").nth(1) {
                base_url = Some(url.trim().to_owned());
            } else if let Some(id) = line.strip_prefix("node ")
                && base_url.is_some()
            {
                break id.trim().to_owned();
            }
        };
        Node {
            name: name.to_owned(),
            base_url: base_url.expect("listening line"),
            node_id,
            data_dir,
            log_path,
            env,
            child,
            exited: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    /// `kill -9`, as a crash or a lost machine would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        self.exited = self.child.wait().ok();
    }

    pub fn sigstop(&self) {
        self.signal("STOP");
    }

    pub fn sigcont(&self) {
        self.signal("CONT");
    }

    /// SIGTERM, then waits (deadline `within`) for the process to exit; returns its status.
    pub fn terminate(&mut self, within: Duration) -> ExitStatus {
        self.signal("TERM");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.exited = Some(status);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {within:?} of SIGTERM; log:\n{}",
                self.name,
                tail(&self.log_path, 30)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.exited.is_none() && matches!(self.child.try_wait(), Ok(None))
    }

    /// Starts the same node again on its data dir (after it exited).
    pub fn start_again(&mut self) {
        assert!(!self.is_running(), "{} is still running", self.name);
        let again = Node::spawn(
            &self.name,
            self.data_dir.clone(),
            self.log_path.clone(),
            self.env.clone(),
        );
        // The old value only holds the exited child, already waited for.
        drop(std::mem::replace(self, again));
    }

    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_path, lines)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // std's kill sends nothing to a child already waited for, so a reused pid is safe;
        // SIGKILL ends a stopped process too.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Nodes sharing one database, and the operator's CLI against it.
pub struct Cluster {
    pub env: Vec<(String, String)>,
    pub nodes: Vec<Node>,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts `count` nodes one after the other (the first applies the migrations).
    pub fn start(count: usize, env: Vec<(String, String)>) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("mailroom-cluster-")
            .tempdir()
            .expect("temp dir");
        let mut cluster = Cluster {
            env,
            nodes: Vec::new(),
            dir,
        };
        for _ in 0..count {
            cluster.add_node();
        }
        cluster
    }

    pub fn add_node(&mut self) -> usize {
        let index = self.nodes.len();
        let name = format!("node{}", index + 1);
        let data_dir = self.dir.path().join(&name);
        std::fs::create_dir_all(&data_dir).expect("node data dir");
        let log = self.dir.path().join(format!("{name}.log"));
        self.nodes
            .push(Node::spawn(&name, data_dir, log, self.env.clone()));
        index
    }

    /// Runs the CLI against the cluster's database (a data dir of its own: the database
    /// and key come from the environment).
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let data_dir = self.dir.path().join("cli");
        mailroom_command(&data_dir, &self.env)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run mailroom CLI")
    }

    fn cli_json(&self, args: &[&str]) -> Result<Value, String> {
        let output = self.cli(args);
        if !output.status.success() {
            return Err(format!(
                "mailroom {args:?}: {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        serde_json::from_slice(&output.stdout).map_err(|e| {
            format!(
                "mailroom {args:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// `mailroom nodes --json`.
    pub fn nodes_json(&self) -> Vec<Value> {
        match self.cli_json(&["nodes", "--json"]) {
            Ok(Value::Array(list)) => list,
            Ok(other) => panic!("mailroom nodes --json is not an array: {other}"),
            Err(e) => panic!("{e}"),
        }
    }

    /// `mailroom grants status --json`.
    pub fn grants_status(&self) -> Vec<Value> {
        match self.cli_json(&["grants", "status", "--json"]) {
            Ok(Value::Array(list)) => list,
            Ok(other) => panic!("mailroom grants status --json is not an array: {other}"),
            Err(e) => panic!("{e}"),
        }
    }

    /// Each grant's owner node (`owner_node`, None while nobody holds its lease).
    pub fn owners(&self) -> BTreeMap<String, Option<String>> {
        self.grants_status()
            .iter()
            .map(|row| {
                (
                    row["grant_id"].as_str().unwrap_or_default().to_owned(),
                    row["owner_node"].as_str().map(str::to_owned),
                )
            })
            .collect()
    }

    /// The node ids `mailroom nodes` lists as live.
    pub fn live_node_ids(&self) -> Vec<String> {
        self.nodes_json()
            .iter()
            .filter(|n| n["state"] == "live")
            .filter_map(|n| n["node_id"].as_str().map(str::to_owned))
            .collect()
    }

    /// How many grants each node id owns now.
    pub fn grants_per_owner(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for owner in self.owners().into_values().flatten() {
            *counts.entry(owner).or_default() += 1;
        }
        counts
    }

    /// The node (by index) whose id is `node_id`.
    pub fn index_of(&self, node_id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.node_id == node_id)
    }

    /// Every node's log tail, for a failure message.
    pub fn logs(&self, lines: usize) -> String {
        self.nodes
            .iter()
            .map(|n| {
                format!(
                    "--- {} ({}, pid {}) ---\n{}",
                    n.name,
                    n.node_id,
                    n.pid(),
                    n.log_tail(lines)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("cluster logs:\n{}", self.logs(40));
        }
        // MAILROOM_TEST_KEEP_CLUSTER_LOGS=1 keeps the nodes' logs and data dirs to read.
        if std::env::var_os("MAILROOM_TEST_KEEP_CLUSTER_LOGS").is_some() {
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
            eprintln!("cluster logs kept in {}", dir.keep().display());
        }
    }
}

/// The IMAP sessions Dovecot holds now, per user address (`doveadm who -1`, one row a
/// session, with the testbed's own config: testbed/README.md).
pub fn imap_sessions() -> HashMap<String, usize> {
    let conf = Testbed::get().dir.join("dovecot/dovecot.conf");
    let output = Command::new("doveadm")
        .arg("-c")
        .arg(conf)
        .args(["who", "-1"])
        .output()
        .expect("run doveadm who");
    assert!(
        output.status.success(),
        "doveadm who failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut sessions = HashMap::new();
    for row in String::from_utf8_lossy(&output.stdout).lines().skip(1) {
        let mut fields = row.split_whitespace();
        if let (Some(user), Some("imap")) = (fields.next(), fields.next()) {
            *sessions.entry(user.to_owned()).or_default() += 1;
        }
    }
    sessions
}

/// The testbed's Dovecot log from a mark on: how many IMAP logins each user made since.
/// Sessions that open and close at once never show in `doveadm who`; the log counts them.
pub struct DovecotLog {
    path: PathBuf,
    offset: u64,
}

impl DovecotLog {
    pub fn mark() -> Self {
        let path = Testbed::get().dir.join("log/dovecot.log");
        let offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        DovecotLog { path, offset }
    }

    /// IMAP logins per user address since the mark.
    pub fn imap_logins(&self) -> HashMap<String, usize> {
        use std::io::{Seek, SeekFrom};
        let mut text = Vec::new();
        if let Ok(mut file) = std::fs::File::open(&self.path)
            && file.seek(SeekFrom::Start(self.offset)).is_ok()
        {
            let _ = file.read_to_end(&mut text);
        }
        let mut logins = HashMap::new();
        for line in String::from_utf8_lossy(&text).lines() {
            if let Some(rest) = line.split("imap-login: Info: Login: user=<").nth(1)
                && let Some((user, _)) = rest.split_once('>')
            {
                *logins.entry(user.to_owned()).or_default() += 1;
            }
        }
        logins
    }
}

/// Delivers one small message per (recipient, subject) through the testbed's SMTP port
/// (no AUTH from loopback; Postfix hands it to Dovecot over LMTP), in one SMTP session.
pub fn deliver(messages: &[(String, String)]) {
    let testbed = Testbed::get();
    let stream = TcpStream::connect((testbed.host.as_str(), testbed.smtp_port))
        .expect("connect to the testbed's SMTP port");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let expect = |reader: &mut BufReader<TcpStream>, code: &str, after: &str| loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("SMTP reply");
        assert!(
            line.starts_with(code),
            "SMTP answered {line:?} after {after}"
        );
        if line.as_bytes().get(3) != Some(&b'-') {
            break;
        }
    };
    expect(&mut reader, "220", "connecting");
    let mut say = |reader: &mut BufReader<TcpStream>, command: &str, code: &str| {
        writer
            .write_all(format!("{command}\r\n").as_bytes())
            .expect("SMTP write");
        expect(reader, code, command);
    };
    say(&mut reader, "EHLO cluster-test.example.test", "250");
    for (to, subject) in messages {
        say(&mut reader, "MAIL FROM:<cluster-test@example.test>", "250");
        say(&mut reader, &format!("RCPT TO:<{to}>"), "250");
        say(&mut reader, "DATA", "354");
        let body = format!(
            "From: cluster-test@example.test\r\nTo: {to}\r\nSubject: {subject}\r\n\
             Message-ID: <{}.{}@cluster-test.example.test>\r\n\r\nA cluster test message.\r\n.",
            subject.replace(' ', "-"),
            unique_suffix()
        );
        say(&mut reader, &body, "250");
    }
    say(&mut reader, "QUIT", "221");
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
}

/// An HTTP call to one node that may find it down: `Err` for a connection error or a
/// timeout, else the status and JSON body (Null if not JSON).
pub async fn call(
    http: &reqwest::Client,
    base_url: &str,
    api_key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = http
        .request(method, format!("{base_url}{path}"))
        .bearer_auth(api_key)
        .timeout(Duration::from_secs(30));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| e.to_string())?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}
