//! Settings, from lowest to highest precedence: defaults, the TOML file, `MAILROOM_*`
//! environment variables, command-line flags.

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::cli::GlobalArgs;

/// The TOML file. Each key may also be set as `MAILROOM_<KEY>` (upper case).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    secret_key: Option<String>,
    extra_ca_file: Option<PathBuf>,
    allow_insecure_transport: Option<bool>,
    allow_private_hosts: Option<bool>,
    outbound_bind_address: Option<String>,
    dns_server: Option<String>,
    provider_timeout_secs: Option<u64>,
    sync_poll_secs: Option<u64>,
    webhook_retry_secs: Option<u64>,
    sync_ignore_capabilities: Option<Vec<String>>,
    max_message_bytes: Option<u64>,
    log: Option<String>,
}

pub struct Settings {
    pub listen: Option<String>,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub secret_key: Option<String>,
    pub extra_ca_file: Option<PathBuf>,
    pub allow_insecure_transport: bool,
    pub allow_private_hosts: bool,
    pub outbound_bind_address: Option<IpAddr>,
    /// The DNS server mail-server discovery asks (`HOST:PORT`); the system's by default.
    pub dns_server: Option<SocketAddr>,
    pub provider_timeout: Duration,
    pub sync_poll_interval: Duration,
    /// The first retry of a failed webhook delivery waits this long (then doubling).
    pub webhook_retry: Duration,
    /// IMAP capabilities sync acts as if the server lacked (e.g. `QRESYNC`), for servers
    /// whose extension is broken, and to exercise the fallbacks.
    pub sync_ignore_capabilities: Vec<String>,
    /// Messages larger than this are indexed from their headers only; their bodies are
    /// never read whole.
    pub max_message_bytes: u64,
    pub log_filter: String,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl Settings {
    pub fn load(args: &GlobalArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str::<FileSettings>(&text)
                    .with_context(|| format!("config file {} is invalid", path.display()))?
            }
            None => FileSettings::default(),
        };
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./mailroom-data"));
        let database_url = match args.database_url.clone().or(file.database_url) {
            Some(url) => url,
            None => sqlite_url(&data_dir),
        };
        Ok(Self {
            listen: env("LISTEN").or(file.listen),
            data_dir,
            database_url,
            secret_key: env("SECRET_KEY").or(file.secret_key),
            extra_ca_file: env("EXTRA_CA_FILE")
                .map(PathBuf::from)
                .or(file.extra_ca_file),
            allow_insecure_transport: env_bool("ALLOW_INSECURE_TRANSPORT")?
                .or(file.allow_insecure_transport)
                .unwrap_or(false),
            allow_private_hosts: env_bool("ALLOW_PRIVATE_HOSTS")?
                .or(file.allow_private_hosts)
                .unwrap_or(false),
            outbound_bind_address: env("OUTBOUND_BIND_ADDRESS")
                .or(file.outbound_bind_address)
                .map(|a| {
                    a.parse::<IpAddr>().with_context(|| {
                        format!("outbound_bind_address '{a}' is not an IP address")
                    })
                })
                .transpose()?,
            dns_server: env("DNS_SERVER")
                .or(file.dns_server)
                .map(|a| {
                    a.parse::<SocketAddr>()
                        .with_context(|| format!("dns_server '{a}' is not IP:PORT"))
                })
                .transpose()?,
            provider_timeout: Duration::from_secs(
                env_u64("PROVIDER_TIMEOUT_SECS")?
                    .or(file.provider_timeout_secs)
                    .unwrap_or(15)
                    .max(1),
            ),
            max_message_bytes: env_u64("MAX_MESSAGE_BYTES")?
                .or(file.max_message_bytes)
                .unwrap_or(mailroom_net::DEFAULT_MAX_MESSAGE_BYTES)
                .max(1024),
            sync_poll_interval: Duration::from_secs(
                env_u64("SYNC_POLL_SECS")?
                    .or(file.sync_poll_secs)
                    .unwrap_or(60)
                    .max(1),
            ),
            webhook_retry: Duration::from_secs(
                env_u64("WEBHOOK_RETRY_SECS")?
                    .or(file.webhook_retry_secs)
                    .unwrap_or(10)
                    .max(1),
            ),
            sync_ignore_capabilities: env("SYNC_IGNORE_CAPABILITIES")
                .map(|v| v.split(',').map(|c| c.trim().to_owned()).collect())
                .or(file.sync_ignore_capabilities)
                .unwrap_or_default()
                .into_iter()
                .filter(|c| !c.is_empty())
                .collect(),
            log_filter: env("LOG").or(file.log).unwrap_or_else(|| "info".into()),
        })
    }

    /// The address to listen on: flag or `MAILROOM_LISTEN`, then the file, then the default.
    pub fn listen_address(&self, flag: Option<&str>) -> anyhow::Result<SocketAddr> {
        let text = flag
            .map(str::to_owned)
            .or_else(|| self.listen.clone())
            .unwrap_or_else(|| DEFAULT_LISTEN.into());
        text.parse()
            .with_context(|| format!("listen address '{text}' is not HOST:PORT"))
    }
}

fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("mailroom.db").display())
}

fn env(name: &str) -> Option<String> {
    std::env::var(format!("MAILROOM_{name}"))
        .ok()
        .filter(|v| !v.trim().is_empty())
}

fn env_bool(name: &str) -> anyhow::Result<Option<bool>> {
    match env(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(Some(true)),
        Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(Some(false)),
        Some(v) => bail!("MAILROOM_{name}='{v}' is not true or false"),
    }
}

fn env_u64(name: &str) -> anyhow::Result<Option<u64>> {
    env(name)
        .map(|v| {
            v.trim()
                .parse()
                .with_context(|| format!("MAILROOM_{name}='{v}' is not a whole number"))
        })
        .transpose()
}
