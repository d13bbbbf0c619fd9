//! The `mailroom` command line and its configuration: flags over environment over the
//! TOML file over defaults; applications and keys managed beside a running server.

use std::process::{Command, Stdio};

use crate::support::{Mailroom, mailroom_command, wait_for};
use serde_json::Value;

#[tokio::test]
async fn app_create_prints_one_json_object_while_a_server_runs() {
    let server = Mailroom::start_with(vec![]);
    let output = server.cli(&[
        "app",
        "create",
        "--name",
        "cli app",
        "--callback-uri",
        "https://example.com/callback",
        "--json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let object: Value = serde_json::from_str(stdout.trim()).expect("exactly one JSON value");
    for field in ["application_id", "client_id", "client_secret", "api_key"] {
        assert!(
            object[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field}: {stdout}"
        );
    }
    assert_eq!(stdout.trim().lines().count(), 1);

    let api = server.client(object["api_key"].as_str().unwrap());
    let application = api.get("/v3/applications").await;
    assert_eq!(application.status, 200);
    assert_eq!(
        application.body["data"]["callback_uris"][0]["url"],
        "https://example.com/callback"
    );

    let list = server.cli(&["app", "list", "--json"]);
    let apps: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert!(
        apps.as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "cli app")
    );

    // Secrets are kept only as hashes.
    let database = server.database_text();
    assert!(
        database.contains("cli app"),
        "the dump holds the application"
    );
    assert!(!database.contains(object["api_key"].as_str().unwrap()));
    assert!(!database.contains(object["client_secret"].as_str().unwrap()));
}

#[tokio::test]
async fn api_keys_can_be_added_and_revoked() {
    let server = Mailroom::start_with(vec![]);
    let app = server.create_app("keys");
    let output = server.cli(&["api-key", "create", "--app", &app.application_id, "--json"]);
    assert!(output.status.success(), "{output:?}");
    let created: Value = serde_json::from_slice(&output.stdout).unwrap();
    let second_key = created["api_key"].as_str().unwrap();
    assert_ne!(second_key, app.api_key);
    assert_eq!(
        server
            .client(second_key)
            .get("/v3/applications")
            .await
            .status,
        200
    );

    let revoke = server.cli(&["api-key", "revoke", &app.api_key_id]);
    assert!(revoke.status.success(), "{revoke:?}");
    assert_eq!(
        server
            .client(&app.api_key)
            .get("/v3/applications")
            .await
            .status,
        401
    );
    assert_eq!(
        server
            .client(second_key)
            .get("/v3/applications")
            .await
            .status,
        200
    );

    let again = server.cli(&["api-key", "revoke", &app.api_key_id]);
    assert!(!again.status.success());
    let unknown_app = server.cli(&["api-key", "create", "--app", "no-such-app"]);
    assert!(!unknown_app.status.success());
    assert!(String::from_utf8_lossy(&unknown_app.stderr).contains("no application"));
}

// This test and the next are about mailroom's defaults, and the default database is
// the data dir's `mailroom.db` (README, Configuration): they run on SQLite whatever
// MAILROOM_TEST_DATABASE says (`mailroom_command` passes no database URL).
#[test]
fn serve_prints_how_to_create_the_first_application_and_makes_a_private_key_file() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = mailroom_command(data_dir.path(), &[])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = read_lines_until(stdout, "app create");
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines.contains("listening on http://127.0.0.1:"), "{lines}");
    assert!(lines.contains("app create --name"), "{lines}");

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data_dir.path().join("secret.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(data_dir.path().join("mailroom.db").exists());
}

/// Reads stdout lines until one contains `marker` (or the stream ends).
fn read_lines_until(stdout: std::process::ChildStdout, marker: &str) -> String {
    use std::io::{BufRead, BufReader};
    let mut seen = String::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(marker) {
            break;
        }
    }
    seen
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn healthy(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[test]
fn settings_come_from_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file_data = dir.path().join("from-file");
    let env_data = dir.path().join("from-env");
    let (file_port, env_port, flag_port) = (free_port(), free_port(), free_port());
    let config = dir.path().join("mailroom.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{file_port}\"\ndata_dir = \"{}\"\nprovider_timeout_secs = 5\n",
            file_data.display()
        ),
    )
    .unwrap();

    let run = |envs: &[(&str, String)], args: &[String]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mailroom"));
        for (key, _) in std::env::vars() {
            if key.starts_with("MAILROOM_") {
                command.env_remove(key);
            }
        }
        command
            .arg("--config")
            .arg(&config)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in envs {
            command.env(k, v);
        }
        command.spawn().unwrap()
    };

    // The file alone.
    let mut child = run(&[], &["serve".into()]);
    wait_for(
        "file listen address",
        std::time::Duration::from_secs(20),
        || healthy(file_port).then_some(()),
    );
    assert!(file_data.join("mailroom.db").exists());
    let _ = child.kill();
    let _ = child.wait();

    // The environment over the file.
    let mut child = run(
        &[
            ("MAILROOM_LISTEN", format!("127.0.0.1:{env_port}")),
            ("MAILROOM_DATA_DIR", env_data.display().to_string()),
        ],
        &["serve".into()],
    );
    wait_for(
        "env listen address",
        std::time::Duration::from_secs(20),
        || healthy(env_port).then_some(()),
    );
    assert!(env_data.join("mailroom.db").exists());
    let _ = child.kill();
    let _ = child.wait();

    // A flag over the environment.
    let mut child = run(
        &[("MAILROOM_LISTEN", format!("127.0.0.1:{env_port}"))],
        &[
            "serve".into(),
            "--listen".into(),
            format!("127.0.0.1:{flag_port}"),
        ],
    );
    wait_for(
        "flag listen address",
        std::time::Duration::from_secs(20),
        || healthy(flag_port).then_some(()),
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn bad_configuration_is_reported_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nlisten_port = 9\n").unwrap();
    let output = mailroom_command(dir.path(), &[])
        .arg("--config")
        .arg(&config)
        .args(["app", "list"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("listen_port"), "{stderr}");

    let output = mailroom_command(
        dir.path(),
        &[("MAILROOM_ALLOW_PRIVATE_HOSTS".into(), "perhaps".into())],
    )
    .args(["app", "list"])
    .output()
    .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("MAILROOM_ALLOW_PRIVATE_HOSTS"));

    let output = mailroom_command(
        dir.path(),
        &[("MAILROOM_SECRET_KEY".into(), "short".into())],
    )
    .args(["app", "list"])
    .output()
    .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("32 bytes"));
}
