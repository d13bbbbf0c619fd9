//! The secret key and the files at rest, against real `mailroom` processes: a private
//! data dir and database whatever the umask; a missing or different key refused before
//! anything is sealed with it; `secret-key rotate` keeps every secret usable; CLI
//! commands leave an older schema alone.

use std::{
    os::unix::fs::PermissionsExt, path::Path, process::Command, process::Stdio, time::Duration,
};

use crate::support::{
    self, Database, Engine, Mailroom, Process, connect_grant, eventually,
    imap_peer::{ImapPeer, message, reset_user},
    mailroom_command, spawn_announced, testbed_env, wait_for,
    webhook_receiver::Receiver,
};
use serde_json::json;

const ROTATE_USER: u32 = 514;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `mailroom serve` on `data_dir` under umask 022, as a typical service would start.
fn serve_with_umask_022(data_dir: &Path, env: &[(String, String)]) -> (Process, String) {
    let inner = mailroom_command(data_dir, env);
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(inner.get_program())
        .args(inner.get_args())
        .args(["serve", "--listen", "127.0.0.1:0"]);
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command.stderr(Stdio::inherit());
    spawn_announced(command)
}

#[test]
fn the_data_dir_and_database_files_are_private_under_umask_022() {
    let parent = tempfile::tempdir().unwrap();
    let data_dir = parent.path().join("var/mailroom-data");
    let database = Database::new();
    let (_server, _url) = serve_with_umask_022(&data_dir, &database.env());
    // A write, so that the WAL holds something.
    let created = mailroom_command(&data_dir, &database.env())
        .args(["app", "create", "--name", "modes", "--json"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");

    assert_eq!(mode(&data_dir), 0o700, "data dir");
    assert_eq!(mode(&data_dir.join("secret.key")), 0o600, "key file");
    match database.engine() {
        Engine::Sqlite => {
            assert_eq!(mode(&data_dir.join("mailroom.db")), 0o600, "database");
            assert_eq!(mode(&data_dir.join("mailroom.db-wal")), 0o600, "WAL");
            assert_eq!(
                mode(&data_dir.join("mailroom.db-shm")),
                0o600,
                "shared memory"
            );
        }
        // PostgreSQL's files are its server's, under its own user and modes: what is
        // left to mailroom is to make no database file of its own beside the key.
        Engine::Postgres => {
            let files: Vec<_> = std::fs::read_dir(&data_dir)
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("mailroom.db"))
                .collect();
            assert!(
                files.is_empty(),
                "database files in the data dir: {files:?}"
            );
        }
    }
}

/// Runs `mailroom serve` expecting it to refuse: its exit status and stderr. A server
/// that starts instead fails the test.
fn serve_refuses(data_dir: &Path, env: &[(String, String)]) -> String {
    let child = mailroom_command(data_dir, env)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut process = Process(child);
    let status = wait_for("serve to give up", Duration::from_secs(30), || {
        process.0.try_wait().unwrap()
    });
    assert!(!status.success(), "serve started");
    let mut stderr = String::new();
    std::io::Read::read_to_string(process.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    stderr
}

#[test]
fn serve_refuses_a_database_sealed_with_another_key_and_writes_no_new_key() {
    let mut server = Mailroom::start_with(Vec::new());
    let app = server.create_app("sealed");
    server.kill();
    let data_dir = server.data_dir.path().to_owned();
    let key_file = data_dir.join("secret.key");
    let kept = data_dir.join("kept.key");
    std::fs::rename(&key_file, &kept).unwrap();

    let database = server.database.env();
    let stderr = serve_refuses(&data_dir, &database);
    assert!(
        stderr.contains("sealed with another secret key") && stderr.contains("secret.key"),
        "{stderr}"
    );
    assert!(!key_file.exists(), "a new key file was written");

    // Another key, in the file or in the environment: refused as well.
    std::fs::write(&key_file, "ab".repeat(32)).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let stderr = serve_refuses(&data_dir, &database);
    assert!(
        stderr.contains("sealed with another secret key"),
        "{stderr}"
    );
    std::fs::remove_file(&key_file).unwrap();
    let mut with_key = database.clone();
    with_key.push(("MAILROOM_SECRET_KEY".into(), "cd".repeat(32)));
    let stderr = serve_refuses(&data_dir, &with_key);
    assert!(stderr.contains("MAILROOM_SECRET_KEY"), "{stderr}");

    // The right key back: the server starts and knows the application.
    std::fs::rename(&kept, &key_file).unwrap();
    let server = server.restart();
    let listed = server.cli(&["app", "list", "--json"]);
    assert!(listed.status.success(), "{listed:?}");
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&app.application_id));
}

#[tokio::test]
async fn after_secret_key_rotate_grants_still_sync_and_webhooks_still_sign() {
    reset_user(ROTATE_USER, true);
    let mut peer = ImapPeer::login(ROTATE_USER).await;
    peer.append(
        "INBOX",
        "()",
        &message(
            "before@keys",
            "Before rotation",
            "ann@example.test",
            None,
            "x",
        ),
    )
    .await;
    let receiver = Receiver::start().await;
    let mut env = testbed_env();
    env.push(("MAILROOM_SYNC_POLL_SECS".into(), "1".into()));
    env.push(("MAILROOM_WEBHOOK_RETRY_SECS".into(), "1".into()));
    let mut server = Mailroom::start_with(env);
    let (api, grant) = connect_grant(&server, ROTATE_USER).await;
    let hook = api
        .post(
            "/v3/webhooks",
            json!({"trigger_types": ["message.created"], "webhook_url": receiver.url}),
        )
        .await;
    assert!(hook.status < 300, "{}", hook.text);
    let secret = hook.body["data"]["webhook_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually(
        &api,
        &format!("/v3/grants/{grant}/messages"),
        "the first sync",
        |b| b["data"].as_array().is_some_and(|l| l.len() == 1),
    )
    .await;

    // Not while a server runs: it would go on sealing with the old key.
    let refused = server.cli(&["secret-key", "rotate"]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("stop every server"), "{said}");

    server.kill();
    let key_file = server.data_dir.path().join("secret.key");
    let old_key = std::fs::read_to_string(&key_file).unwrap();
    let rotated = server.cli(&["secret-key", "rotate"]);
    assert!(rotated.status.success(), "{rotated:?}");
    let said = String::from_utf8_lossy(&rotated.stdout);
    assert!(
        said.contains("1 grant credential(s), 1 webhook secret(s) and 0 connector"),
        "{said}"
    );
    let new_key = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(new_key, old_key);
    assert_eq!(mode(&key_file), 0o600);
    assert!(!server.data_dir.path().join("secret.key.new").exists());

    // The server starts on the new key; the grant logs in to its mailbox with the
    // credentials sealed again, and the notification is signed with the same secret.
    let server = server.restart();
    let api = server.client(api.api_key.as_deref().unwrap());
    peer.append(
        "INBOX",
        "()",
        &message(
            "rotated@keys",
            "After rotation",
            "ann@example.test",
            None,
            "x",
        ),
    )
    .await;
    eventually(
        &api,
        &format!("/v3/grants/{grant}/messages"),
        "the new message synced",
        |b| {
            b["data"]
                .as_array()
                .is_some_and(|l| l.iter().any(|m| m["subject"] == "After rotation"))
        },
    )
    .await;
    receiver
        .wait_until("the notification", |r| {
            r.of_type("message.created")
                .iter()
                .any(|p| p.body["data"]["object"]["subject"] == "After rotation")
        })
        .await;
    let post = receiver
        .of_type("message.created")
        .into_iter()
        .find(|p| p.body["data"]["object"]["subject"] == "After rotation")
        .unwrap();
    assert_eq!(
        post.signature,
        mailroom_net::webhook_signature(&secret, &post.raw)
    );

    // The old key no longer opens this database.
    drop(server);
}

#[tokio::test]
async fn cli_commands_leave_an_older_schema_to_serve_or_migrate() {
    let mut server = Mailroom::start_with(Vec::new());
    server.create_app("schema");
    server.kill();
    // Make the schema one migration short of this mailroom: the one that made the key
    // check.
    server.database.execute(
        server.data_dir.path(),
        "DROP TABLE secret_key_check; DELETE FROM _sqlx_migrations WHERE version = 11",
    );
    let refused = server.cli(&["app", "list"]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("older than this mailroom") && said.contains("mailroom migrate"),
        "{said}"
    );

    let migrated = server.cli(&["migrate"]);
    assert!(migrated.status.success(), "{migrated:?}");
    let listed = server.cli(&["app", "list", "--json"]);
    assert!(listed.status.success(), "{listed:?}");
    assert!(String::from_utf8_lossy(&listed.stdout).contains("schema"));
}

#[tokio::test]
async fn no_log_level_prints_a_mailbox_password() {
    const USER: u32 = 515;
    let data_dir = tempfile::tempdir().unwrap();
    let log_path = data_dir.path().join("serve.log");
    let database = Database::new();
    let mut env = testbed_env();
    env.extend(database.env());
    env.push(("MAILROOM_LOG".into(), "trace,async_imap=trace".into()));
    let mut command = mailroom_command(data_dir.path(), &env);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(std::fs::File::create(&log_path).unwrap());
    let (server, base_url) = spawn_announced(command);
    let app = mailroom_command(data_dir.path(), &env)
        .args(["app", "create", "--name", "logs", "--json"])
        .output()
        .unwrap();
    assert!(app.status.success(), "{app:?}");
    let app: serde_json::Value = serde_json::from_slice(&app.stdout).unwrap();
    let api = support::Api {
        base_url,
        api_key: Some(app["api_key"].as_str().unwrap().to_owned()),
        http: reqwest::Client::new(),
    };
    let connector = api
        .post("/v3/connectors", json!({"provider": "imap"}))
        .await;
    assert_eq!(connector.status, 201, "{}", connector.text);
    let settings = support::Testbed::get().settings(USER);
    let (_, password) = support::Testbed::user(USER);
    let grant = api
        .post(
            "/v3/connect/custom",
            json!({"provider": "imap", "settings": settings}),
        )
        .await;
    assert_eq!(grant.status, 201, "{}", grant.text);
    let grant_id = grant.body["data"]["id"].as_str().unwrap();
    // A sync pass has logged in over IMAP once the folders are listed.
    eventually(
        &api,
        &format!("/v3/grants/{grant_id}/folders"),
        "the folders synced",
        |b| b["data"].as_array().is_some_and(|l| !l.is_empty()),
    )
    .await;
    drop(server);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("TRACE"), "the log is at trace level");
    assert!(!log.contains(&password), "the password appears in the log");
}
