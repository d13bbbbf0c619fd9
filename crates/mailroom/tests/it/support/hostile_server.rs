//! `testbed/hostile-mail-server` for a test: an IMAP + SMTP server on 127.0.0.1 that
//! accepts any login and misbehaves in the mode asked for (see testbed/README.md).
//! Killed on drop.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
};

use serde_json::Value;

use super::{Testbed, repo_root};

pub struct HostileServer {
    pub imap_port: u16,
    pub smtp_port: u16,
    /// With TLS: implicit-TLS ports, certificate signed by the testbed CA.
    pub imaps_port: Option<u16>,
    pub smtps_port: Option<u16>,
    dir: tempfile::TempDir,
    child: Child,
}

impl HostileServer {
    /// Starts a server whose default mode is `mode`, with `messages` in its INBOX.
    pub fn start(mode: &str, messages: u32) -> Self {
        Self::start_with(mode, messages, false)
    }

    /// The same with implicit-TLS ports too.
    pub fn start_tls(mode: &str, messages: u32) -> Self {
        Self::start_with(mode, messages, true)
    }

    fn start_with(mode: &str, messages: u32, tls: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(repo_root().join("testbed/hostile-mail-server"));
        command
            .args(["--mode", mode, "--messages", &messages.to_string()])
            .arg("--log")
            .arg(dir.path().join("commands.log"))
            .arg("--control")
            .arg(dir.path().join("control"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if tls {
            command.arg("--tls").env("TESTBED_DIR", &Testbed::get().dir);
        }
        let mut child = command.spawn().expect("start testbed/hostile-mail-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut ports = std::collections::HashMap::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("hostile server stdout");
            if line == "READY" {
                break;
            }
            if let Some((key, value)) = line.split_once('=') {
                ports.insert(key.to_owned(), value.parse::<u16>().expect("port"));
            }
        }
        let port = |key: &str| ports.get(key).copied();
        HostileServer {
            imap_port: port("HOSTILE_IMAP_PORT").expect("hostile server printed no IMAP port"),
            smtp_port: port("HOSTILE_SMTP_PORT").expect("hostile server printed no SMTP port"),
            imaps_port: port("HOSTILE_IMAPS_PORT"),
            smtps_port: port("HOSTILE_SMTPS_PORT"),
            dir,
            child,
        }
    }

    /// Custom-auth settings for a grant on this server (plain IMAP and SMTP).
    pub fn settings(&self, username: &str, password: &str) -> Value {
        serde_json::json!({
            "imap_username": username,
            "imap_password": password,
            "imap_host": "127.0.0.1",
            "imap_port": self.imap_port,
            "imap_security": "none",
            "smtp_host": "127.0.0.1",
            "smtp_port": self.smtp_port,
            "smtp_security": "none",
        })
    }

    /// Custom-auth settings over implicit TLS (a server started with `start_tls`).
    pub fn tls_settings(&self, username: &str, password: &str) -> Value {
        serde_json::json!({
            "imap_username": username,
            "imap_password": password,
            "imap_host": "localhost",
            "imap_port": self.imaps_port.expect("started with start_tls"),
            "imap_security": "ssl",
            "smtp_host": "localhost",
            "smtp_port": self.smtps_port.expect("started with start_tls"),
            "smtp_security": "ssl",
        })
    }

    /// Switches every connection (new and open) to `mode` from its next command on.
    pub fn set_mode(&self, mode: &str) {
        self.write_control("mode", mode);
    }

    /// Sets the number of messages in the INBOX (idling sessions get `* N EXISTS`).
    pub fn set_messages(&self, messages: u32) {
        self.write_control("messages", &messages.to_string());
    }

    /// Sets the size of the literal mode `bigliteral` announces (2 GiB by default).
    pub fn set_big_literal(&self, bytes: u64) {
        self.write_control("literal", &bytes.to_string());
    }

    /// Pads every message to about `bytes` (their RFC822.SIZE says so too).
    pub fn set_message_size(&self, bytes: u64) {
        self.write_control("size", &bytes.to_string());
    }

    fn write_control(&self, key: &str, value: &str) {
        let path = self.dir.path().join("control");
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        let prefix = format!("{key}=");
        let mut lines: Vec<String> = old
            .lines()
            .filter(|l| !l.starts_with(&prefix))
            .map(str::to_owned)
            .collect();
        lines.push(format!("{prefix}{value}"));
        let staged = path.with_extension("staged");
        std::fs::write(&staged, lines.join("\n") + "\n").expect("write control file");
        std::fs::rename(&staged, &path).expect("replace control file");
    }

    /// Every command received so far, one line each (see testbed/README.md).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("commands.log")
    }

    /// How many logged lines contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
