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
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    metrics_listen: Option<String>,
    log_format: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    secret_key: Option<String>,
    extra_ca_file: Option<PathBuf>,
    allow_insecure_transport: Option<bool>,
    allow_private_hosts: Option<bool>,
    outbound_bind_address: Option<String>,
    dns_server: Option<String>,
    public_url: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    test_oauth_base_url: Option<String>,
    test_oauth_imap: Option<String>,
    test_oauth_smtp: Option<String>,
    provider_timeout_secs: Option<u64>,
    sync_poll_secs: Option<u64>,
    sync_status_poll_millis: Option<u64>,
    max_connections_per_grant: Option<u64>,
    webhook_retry_secs: Option<u64>,
    webhook_give_up_secs: Option<u64>,
    notification_smtp_url: Option<String>,
    notification_from: Option<String>,
    lease_secs: Option<u64>,
    sync_ignore_capabilities: Option<Vec<String>>,
    sync_bodies: Option<String>,
    sync_since: Option<String>,
    sync_body_connections: Option<u64>,
    max_message_bytes: Option<u64>,
    log: Option<String>,
    sign_in_attempts_per_ip_per_minute: Option<u64>,
    sign_in_attempts_per_account_per_minute: Option<u64>,
    sign_in_attempts_per_host_per_minute: Option<u64>,
    sign_in_pages_per_ip_per_minute: Option<u64>,
    sign_in_max_attempts: Option<u64>,
    sign_in_lockout_secs: Option<u64>,
    max_grants_per_application: Option<u64>,
    header_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    request_timeout_secs: Option<u64>,
    max_connections: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    grant_requests_per_second: Option<u64>,
    grant_request_burst: Option<u64>,
    webhook_timeout_secs: Option<u64>,
    webhook_concurrency: Option<u64>,
    webhook_concurrency_per_application: Option<u64>,
    scheduled_send_workers: Option<u64>,
    scheduled_sends_per_application: Option<u64>,
    scheduled_send_timeout_secs: Option<u64>,
    scheduled_send_attempts: Option<u64>,
    scheduled_send_retry_secs: Option<u64>,
    scheduled_sends_per_grant: Option<u64>,
    scheduled_send_bytes_per_grant: Option<u64>,
}

pub struct Settings {
    pub listen: Option<String>,
    /// Where `/metrics` is served instead of on the API's listener (README.md,
    /// "Monitoring").
    pub metrics_listen: Option<String>,
    /// How log lines are written.
    pub log_format: LogFormat,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub secret_key: Option<String>,
    pub extra_ca_file: Option<PathBuf>,
    pub allow_insecure_transport: bool,
    pub allow_private_hosts: bool,
    pub outbound_bind_address: Option<IpAddr>,
    /// The DNS server mail-server discovery asks (`HOST:PORT`); the system's by default.
    pub dns_server: Option<SocketAddr>,
    /// The URL browsers and OAuth providers reach this server at (`https://…`): the
    /// return address registered at Google, Microsoft and Yahoo is under it.
    pub public_url: Option<String>,
    /// Reverse proxies whose `Forwarded` or `X-Forwarded-For` names the client (README.md).
    pub trusted_proxies: mailroom_api::TrustedProxies,
    /// The PEM certificate chain and key the API serves HTTPS with (`tls_server`);
    /// plain HTTP without them.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Where Google's, Microsoft's and Yahoo's servers are: their own, unless a test
    /// moves them all (`test_oauth_base_url` with `test_oauth_imap`/`test_oauth_smtp`).
    pub providers: mailroom_model::ProviderTable,
    pub provider_timeout: Duration,
    pub sync_poll_interval: Duration,
    /// How long a node's grant leases last without a heartbeat (README.md, "Running a
    /// cluster"): how soon the others take over from a node that died.
    pub lease: Duration,
    /// How often an idle grant's folders are compared by STATUS.
    pub sync_status_poll_interval: Duration,
    /// IMAP connections one grant's sync may hold at once (one while idle).
    pub max_connections_per_grant: usize,
    /// The first retry of a failed webhook delivery waits this long (then doubling).
    pub webhook_retry: Duration,
    /// A notification not delivered by then is given up and its webhook marked failed.
    pub webhook_give_up: Duration,
    /// Where the emails to a failed webhook's `notification_email_addresses` are
    /// submitted (`notification_smtp_url`, `notification_from`); `None`: nowhere, and
    /// webhooks take no such addresses.
    pub notification_mailer: Option<mailroom_webhooks::NotificationMailer>,
    /// IMAP capabilities sync acts as if the server lacked (e.g. `QRESYNC`), for servers
    /// whose extension is broken, and to exercise the fallbacks.
    pub sync_ignore_capabilities: Vec<String>,
    /// Which bodies are read in the background (the rest on demand).
    pub sync_bodies: mailroom_sync::BodySync,
    /// Only mail received on or after this is indexed.
    pub sync_since: Option<mailroom_sync::SyncSince>,
    /// IMAP connections one grant reads bodies over while it has a backlog.
    pub sync_body_connections: usize,
    /// Messages larger than this are indexed from their headers only; their bodies are
    /// never read whole.
    pub max_message_bytes: u64,
    pub log_filter: String,
    /// Throttling of sign-ins and the grant cap (README, "Security model").
    pub sign_in: mailroom_api::SignInSettings,
    pub http: HttpSettings,
    /// How long one webhook delivery may take: reading its object (a body from the mail
    /// server gets half of it, else the notification goes out as `.truncated`) and the
    /// receiver's answer together.
    pub webhook_timeout: Duration,
    /// Webhook deliveries in flight at once, and at once for one application.
    pub webhook_concurrency: usize,
    pub webhook_concurrency_per_application: usize,
    /// Scheduled sends submitted at once, and at once for one application (one per grant).
    pub scheduled_send_workers: usize,
    pub scheduled_sends_per_application: usize,
    /// The longest one scheduled submission may take.
    pub scheduled_send_timeout: Duration,
    /// Tries of a scheduled send refused for now, and the wait before the second (each
    /// later wait three times longer, at most six hours).
    pub scheduled_send_attempts: u32,
    pub scheduled_send_first_retry: Duration,
    /// What one grant may have waiting to be sent: sends and their bytes.
    pub schedule_quota: mailroom_store::ScheduleQuota,
}

/// How log lines are written: for a person (`text`), or one JSON object a line for a
/// log collector (`json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => bail!("log_format '{text}' is neither text nor json"),
        }
    }
}

/// Limits of the HTTP server.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// A request's head must arrive within this; it also closes idle keep-alive
    /// connections, since the wait for the next request is a wait for its head.
    pub header_timeout: Duration,
    /// A request's whole body must arrive within this, counted from its head.
    pub body_timeout: Duration,
    /// A request's whole handling; past it the work is dropped and a 504 answered.
    pub request_timeout: Duration,
    pub max_connections: usize,
    /// After SIGTERM or Ctrl-C, requests in flight get this long before the process exits.
    pub shutdown_grace: Duration,
    /// Requests per second on one grant's routes (0: no limit), and the burst above it.
    pub grant_requests_per_second: u32,
    pub grant_request_burst: u32,
}

/// The longest any timeout setting may be: a day. Larger values would serve no purpose
/// and could overflow when added to an instant or doubled.
const MAX_TIMEOUT_SECS: u64 = 86_400;

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
        let sign_in = sign_in_settings(&file)?;
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
            metrics_listen: env("METRICS_LISTEN").or(file.metrics_listen),
            log_format: env("LOG_FORMAT")
                .or(file.log_format)
                .map(|v| v.parse())
                .transpose()?
                .unwrap_or_default(),
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
            public_url: env("PUBLIC_URL")
                .or(file.public_url)
                .map(|url| public_url(&url))
                .transpose()?,
            trusted_proxies: mailroom_api::TrustedProxies::parse(
                &env("TRUSTED_PROXIES")
                    .map(|v| v.split(',').map(|p| p.trim().to_owned()).collect())
                    .or(file.trusted_proxies)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|p: &String| !p.is_empty())
                    .collect::<Vec<String>>(),
            )
            .map_err(anyhow::Error::msg)?,
            tls_cert: env("TLS_CERT").map(PathBuf::from).or(file.tls_cert),
            tls_key: env("TLS_KEY").map(PathBuf::from).or(file.tls_key),
            providers: provider_table(
                env("TEST_OAUTH_BASE_URL").or(file.test_oauth_base_url),
                env("TEST_OAUTH_IMAP").or(file.test_oauth_imap),
                env("TEST_OAUTH_SMTP").or(file.test_oauth_smtp),
            )?,
            // A provider deadline is doubled and added to instants by its users: an hour
            // at most keeps that far from overflow.
            provider_timeout: seconds(
                env_u64("PROVIDER_TIMEOUT_SECS")?.or(file.provider_timeout_secs),
                15,
                3_600,
            ),
            max_message_bytes: env_u64("MAX_MESSAGE_BYTES")?
                .or(file.max_message_bytes)
                .unwrap_or(mailroom_net::DEFAULT_MAX_MESSAGE_BYTES)
                .max(1024),
            sync_poll_interval: seconds(
                env_u64("SYNC_POLL_SECS")?.or(file.sync_poll_secs),
                60,
                MAX_TIMEOUT_SECS,
            ),
            lease: Duration::from_secs(bounded(
                env_u64("LEASE_SECS")?.or(file.lease_secs),
                15,
                2,
                3_600,
            )),
            sync_status_poll_interval: Duration::from_millis(
                env_u64("SYNC_STATUS_POLL_MILLIS")?
                    .or(file.sync_status_poll_millis)
                    .unwrap_or(1_000)
                    .clamp(100, MAX_TIMEOUT_SECS * 1_000),
            ),
            max_connections_per_grant: env_u64("MAX_CONNECTIONS_PER_GRANT")?
                .or(file.max_connections_per_grant)
                .unwrap_or(3)
                .clamp(1, 64) as usize,
            webhook_retry: seconds(
                env_u64("WEBHOOK_RETRY_SECS")?.or(file.webhook_retry_secs),
                10,
                MAX_TIMEOUT_SECS,
            ),
            webhook_give_up: seconds(
                env_u64("WEBHOOK_GIVE_UP_SECS")?.or(file.webhook_give_up_secs),
                72 * 3_600,
                30 * 86_400,
            ),
            notification_mailer: notification_mailer(
                env("NOTIFICATION_SMTP_URL").or(file.notification_smtp_url),
                env("NOTIFICATION_FROM").or(file.notification_from),
            )?,
            sync_ignore_capabilities: env("SYNC_IGNORE_CAPABILITIES")
                .map(|v| v.split(',').map(|c| c.trim().to_owned()).collect())
                .or(file.sync_ignore_capabilities)
                .unwrap_or_default()
                .into_iter()
                .filter(|c| !c.is_empty())
                .collect(),
            sync_bodies: env("SYNC_BODIES")
                .or(file.sync_bodies)
                .map(|v| v.parse().map_err(anyhow::Error::msg))
                .transpose()
                .context("sync_bodies")?
                .unwrap_or_default(),
            sync_since: env("SYNC_SINCE")
                .or(file.sync_since)
                .map(|v| v.parse().map_err(anyhow::Error::msg))
                .transpose()
                .context("sync_since")?,
            sync_body_connections: bounded(
                env_u64("SYNC_BODY_CONNECTIONS")?.or(file.sync_body_connections),
                2,
                1,
                16,
            ) as usize,
            log_filter: env("LOG").or(file.log).unwrap_or_else(|| "info".into()),
            sign_in,
            http: HttpSettings {
                header_timeout: seconds(
                    env_u64("HEADER_TIMEOUT_SECS")?.or(file.header_timeout_secs),
                    10,
                    MAX_TIMEOUT_SECS,
                ),
                body_timeout: seconds(
                    env_u64("BODY_TIMEOUT_SECS")?.or(file.body_timeout_secs),
                    60,
                    MAX_TIMEOUT_SECS,
                ),
                request_timeout: seconds(
                    env_u64("REQUEST_TIMEOUT_SECS")?.or(file.request_timeout_secs),
                    120,
                    MAX_TIMEOUT_SECS,
                ),
                max_connections: bounded(
                    env_u64("MAX_CONNECTIONS")?.or(file.max_connections),
                    1_024,
                    1,
                    1_000_000,
                ) as usize,
                shutdown_grace: seconds(
                    env_u64("SHUTDOWN_GRACE_SECS")?.or(file.shutdown_grace_secs),
                    10,
                    3_600,
                ),
                grant_requests_per_second: bounded(
                    env_u64("GRANT_REQUESTS_PER_SECOND")?.or(file.grant_requests_per_second),
                    100,
                    0,
                    1_000_000,
                ) as u32,
                grant_request_burst: bounded(
                    env_u64("GRANT_REQUEST_BURST")?.or(file.grant_request_burst),
                    300,
                    1,
                    1_000_000,
                ) as u32,
            },
            webhook_timeout: Duration::from_secs(
                env_u64("WEBHOOK_TIMEOUT_SECS")?
                    .or(file.webhook_timeout_secs)
                    .unwrap_or(10)
                    .clamp(1, 3600),
            ),
            webhook_concurrency: count(
                env_u64("WEBHOOK_CONCURRENCY")?.or(file.webhook_concurrency),
                16,
            ),
            webhook_concurrency_per_application: count(
                env_u64("WEBHOOK_CONCURRENCY_PER_APPLICATION")?
                    .or(file.webhook_concurrency_per_application),
                4,
            ),
            scheduled_send_workers: count(
                env_u64("SCHEDULED_SEND_WORKERS")?.or(file.scheduled_send_workers),
                16,
            ),
            scheduled_sends_per_application: count(
                env_u64("SCHEDULED_SENDS_PER_APPLICATION")?
                    .or(file.scheduled_sends_per_application),
                4,
            ),
            scheduled_send_timeout: Duration::from_secs(
                env_u64("SCHEDULED_SEND_TIMEOUT_SECS")?
                    .or(file.scheduled_send_timeout_secs)
                    .unwrap_or(600)
                    .clamp(1, 86_400),
            ),
            scheduled_send_attempts: u32::try_from(
                env_u64("SCHEDULED_SEND_ATTEMPTS")?
                    .or(file.scheduled_send_attempts)
                    .unwrap_or(10)
                    .clamp(1, 100),
            )
            .unwrap_or(10),
            scheduled_send_first_retry: Duration::from_secs(
                env_u64("SCHEDULED_SEND_RETRY_SECS")?
                    .or(file.scheduled_send_retry_secs)
                    .unwrap_or(60)
                    .clamp(1, 86_400),
            ),
            schedule_quota: mailroom_store::ScheduleQuota {
                sends: i64::try_from(
                    env_u64("SCHEDULED_SENDS_PER_GRANT")?
                        .or(file.scheduled_sends_per_grant)
                        .unwrap_or(100),
                )
                .unwrap_or(i64::MAX),
                bytes: i64::try_from(
                    env_u64("SCHEDULED_SEND_BYTES_PER_GRANT")?
                        .or(file.scheduled_send_bytes_per_grant)
                        .unwrap_or(100 * 1024 * 1024),
                )
                .unwrap_or(i64::MAX),
            },
        })
    }

    /// The address to listen on: flag or `MAILROOM_LISTEN`, then the file, then the default.
    /// The certificate and key files to serve HTTPS with, the flags' over the settings';
    /// `None` for plain HTTP. One without the other is refused.
    pub fn tls_files(
        &self,
        cert_flag: Option<&Path>,
        key_flag: Option<&Path>,
    ) -> anyhow::Result<Option<crate::tls_server::TlsFiles>> {
        let cert = cert_flag
            .map(Path::to_path_buf)
            .or_else(|| self.tls_cert.clone());
        let key = key_flag
            .map(Path::to_path_buf)
            .or_else(|| self.tls_key.clone());
        match (cert, key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Ok(Some(crate::tls_server::TlsFiles { cert, key })),
            _ => bail!("tls_cert and tls_key go together: give both for HTTPS, or neither"),
        }
    }

    /// The address to serve `/metrics` on apart from the API: flag or
    /// `MAILROOM_METRICS_LISTEN`, then the file; `None` to serve it on the API's listener.
    pub fn metrics_listen_address(&self, flag: Option<&str>) -> anyhow::Result<Option<SocketAddr>> {
        flag.map(str::to_owned)
            .or_else(|| self.metrics_listen.clone())
            .map(|text| {
                text.parse()
                    .with_context(|| format!("metrics listen address '{text}' is not HOST:PORT"))
            })
            .transpose()
    }

    pub fn listen_address(&self, flag: Option<&str>) -> anyhow::Result<SocketAddr> {
        let text = flag
            .map(str::to_owned)
            .or_else(|| self.listen.clone())
            .unwrap_or_else(|| DEFAULT_LISTEN.into());
        text.parse()
            .with_context(|| format!("listen address '{text}' is not HOST:PORT"))
    }
}

fn sign_in_settings(file: &FileSettings) -> anyhow::Result<mailroom_api::SignInSettings> {
    let defaults = mailroom_api::SignInSettings::default();
    // Each limit is at least one and at most what its type holds.
    let count = |name: &str, from_file: Option<u64>, default: u32| -> anyhow::Result<u32> {
        Ok(env_u64(name)?
            .or(from_file)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX).max(1))
            .unwrap_or(default))
    };
    let long = |name: &str, from_file: Option<u64>, default: i64| -> anyhow::Result<i64> {
        Ok(env_u64(name)?
            .or(from_file)
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX).max(1))
            .unwrap_or(default))
    };
    Ok(mailroom_api::SignInSettings {
        attempts_per_ip_per_minute: count(
            "SIGN_IN_ATTEMPTS_PER_IP_PER_MINUTE",
            file.sign_in_attempts_per_ip_per_minute,
            defaults.attempts_per_ip_per_minute,
        )?,
        attempts_per_account_per_minute: count(
            "SIGN_IN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE",
            file.sign_in_attempts_per_account_per_minute,
            defaults.attempts_per_account_per_minute,
        )?,
        attempts_per_host_per_minute: count(
            "SIGN_IN_ATTEMPTS_PER_HOST_PER_MINUTE",
            file.sign_in_attempts_per_host_per_minute,
            defaults.attempts_per_host_per_minute,
        )?,
        pages_per_ip_per_minute: count(
            "SIGN_IN_PAGES_PER_IP_PER_MINUTE",
            file.sign_in_pages_per_ip_per_minute,
            defaults.pages_per_ip_per_minute,
        )?,
        max_attempts: long(
            "SIGN_IN_MAX_ATTEMPTS",
            file.sign_in_max_attempts,
            defaults.max_attempts,
        )?,
        lockout_secs: long(
            "SIGN_IN_LOCKOUT_SECS",
            file.sign_in_lockout_secs,
            defaults.lockout_secs,
        )?,
        max_grants_per_application: long(
            "MAX_GRANTS_PER_APPLICATION",
            file.max_grants_per_application,
            defaults.max_grants_per_application,
        )?,
    })
}

/// `value` (or `default`) seconds, at least one and at most `max`.
fn seconds(value: Option<u64>, default: u64, max: u64) -> Duration {
    Duration::from_secs(bounded(value, default, 1, max))
}

fn bounded(value: Option<u64>, default: u64, min: u64, max: u64) -> u64 {
    value.unwrap_or(default).clamp(min, max)
}

/// A count of workers or slots: at least one, at most 1024.
fn count(value: Option<u64>, default: usize) -> usize {
    value
        .and_then(|v| usize::try_from(v).ok())
        .unwrap_or(default)
        .clamp(1, 1024)
}

fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("mailroom.db").display())
}

/// `public_url`: an absolute http(s) URL with no query, kept without a trailing slash.
fn public_url(text: &str) -> anyhow::Result<String> {
    let parsed = url::Url::parse(text.trim())
        .with_context(|| format!("public_url '{text}' is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host().is_none()
        || parsed.query().is_some()
    {
        bail!("public_url '{text}' must be an http:// or https:// URL without a query");
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// The notification mailer from `notification_smtp_url` (`smtp://`, `smtps://` or
/// `smtp+starttls://`, with `user:password@` where the server wants a login) and
/// `notification_from`. The URL's text is never repeated in an error: it may hold a
/// password.
fn notification_mailer(
    url: Option<String>,
    from: Option<String>,
) -> anyhow::Result<Option<mailroom_webhooks::NotificationMailer>> {
    use mailroom_smtp::SmtpTls;
    let Some(url) = url else {
        if from.is_some() {
            bail!("notification_from needs notification_smtp_url");
        }
        return Ok(None);
    };
    let Some(from) = from else {
        bail!("notification_smtp_url needs notification_from: the address notices come from");
    };
    let from = mailroom_model::EmailAddress::parse(from.trim())
        .map_err(|e| anyhow::anyhow!("notification_from: {e}"))?
        .as_str()
        .to_owned();
    let hidden = "its text is not repeated here, as it may hold a password";
    let parsed = url::Url::parse(url.trim())
        .map_err(|e| anyhow::anyhow!("notification_smtp_url is not a URL ({e}; {hidden})"))?;
    let (tls, default_port) = match parsed.scheme() {
        "smtp" => (SmtpTls::Plain, 25),
        "smtps" => (SmtpTls::Implicit, 465),
        "smtp+starttls" => (SmtpTls::StartTls, 587),
        other => bail!(
            "notification_smtp_url must start smtp://, smtps:// or smtp+starttls://, not {other}://"
        ),
    };
    let host = match parsed.host() {
        Some(url::Host::Domain(name)) if !name.is_empty() => name.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        _ => bail!("notification_smtp_url names no host ({hidden})"),
    };
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() || parsed.fragment().is_some()
    {
        bail!("notification_smtp_url takes no path, query or fragment ({hidden})");
    }
    let login = match (parsed.username(), parsed.password()) {
        ("", None) => None,
        ("", Some(_)) => bail!("notification_smtp_url has a password without a user ({hidden})"),
        (user, password) => Some((
            percent_decoded(user).context("notification_smtp_url: the user")?,
            percent_decoded(password.unwrap_or_default()).map_err(|_| {
                anyhow::anyhow!("notification_smtp_url: the password is not UTF-8 once decoded")
            })?,
        )),
    };
    Ok(Some(mailroom_webhooks::NotificationMailer {
        host,
        port: parsed.port().unwrap_or(default_port),
        tls,
        login,
        from,
    }))
}

/// `%XX` escapes (RFC 3986 §2.1) decoded, as a URL's user and password are written.
fn percent_decoded(text: &str) -> anyhow::Result<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                at += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8(decoded).map_err(|_| anyhow::anyhow!("not UTF-8 once decoded"))
}

/// The providers' table: their own servers, or (tests only) all of them moved to the
/// testbed: `test_oauth_base_url` and both mail servers as `HOST:PORT:SECURITY`.
fn provider_table(
    base_url: Option<String>,
    imap: Option<String>,
    smtp: Option<String>,
) -> anyhow::Result<mailroom_model::ProviderTable> {
    use mailroom_model::{MovedProviders, ProviderMailServer, ProviderTable};
    let server = |name: &str, text: &str| -> anyhow::Result<ProviderMailServer> {
        let mut parts = text.rsplitn(3, ':');
        let (security, port, host) = (parts.next(), parts.next(), parts.next());
        let (Some(security), Some(port), Some(host)) = (security, port, host) else {
            bail!("{name} '{text}' is not HOST:PORT:SECURITY");
        };
        Ok(ProviderMailServer {
            host: host.to_owned(),
            port: port
                .parse()
                .with_context(|| format!("{name} '{text}': the port"))?,
            security: security.parse().map_err(|_| {
                anyhow::anyhow!("{name} '{text}': security is ssl, starttls or none")
            })?,
        })
    };
    match (base_url, imap, smtp) {
        (None, None, None) => Ok(ProviderTable::real()),
        (Some(base_url), Some(imap), Some(smtp)) => Ok(ProviderTable::moved(MovedProviders {
            base_url,
            imap: server("test_oauth_imap", &imap)?,
            smtp: server("test_oauth_smtp", &smtp)?,
        })),
        _ => bail!(
            "test_oauth_base_url, test_oauth_imap and test_oauth_smtp go together (tests only)"
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_formats_are_text_or_json() {
        assert_eq!("json".parse::<LogFormat>().ok(), Some(LogFormat::Json));
        assert_eq!(" Text ".parse::<LogFormat>().ok(), Some(LogFormat::Text));
        assert!("yaml".parse::<LogFormat>().is_err());
        assert_eq!(LogFormat::default(), LogFormat::Text);
    }

    #[test]
    fn the_notification_mailer_is_read_from_its_url_and_never_shows_the_password() {
        let mailer = |url: &str| {
            notification_mailer(Some(url.to_owned()), Some("mailroom@example.test".into()))
        };
        let plain = mailer("smtp://127.0.0.1:31025").unwrap().unwrap();
        assert_eq!(
            (
                plain.host.as_str(),
                plain.port,
                plain.tls,
                plain.login.is_none()
            ),
            ("127.0.0.1", 31025, mailroom_smtp::SmtpTls::Plain, true)
        );
        let secure = mailer("smtps://notices%40example.test:p%40ss%3Aword@mail.example.test")
            .unwrap()
            .unwrap();
        assert_eq!(
            (secure.port, secure.tls),
            (465, mailroom_smtp::SmtpTls::Implicit)
        );
        assert_eq!(
            secure.login,
            Some(("notices@example.test".into(), "p@ss:word".into()))
        );
        assert!(!format!("{secure:?}").contains("p@ss"), "{secure:?}");
        let starttls = mailer("smtp+starttls://u:secret-pw@mail.example.test")
            .unwrap()
            .unwrap();
        assert_eq!(
            (starttls.port, starttls.tls),
            (587, mailroom_smtp::SmtpTls::StartTls)
        );
        assert_eq!(starttls.from, "mailroom@example.test");
        for bad in [
            "http://u:secret-pw@mail.example.test",
            "smtp://u:secret-pw@mail.example.test/path",
            "smtp://u:secret-pw@mail.example.test?x=1",
            "smtp://:secret-pw@mail.example.test",
            "not a url secret-pw",
        ] {
            let error = format!("{:#}", mailer(bad).unwrap_err());
            assert!(!error.contains("secret-pw"), "{bad}: {error}");
        }
        assert!(notification_mailer(Some("smtp://h".into()), None).is_err());
        assert!(notification_mailer(None, Some("a@example.test".into())).is_err());
        assert!(notification_mailer(Some("smtp://h".into()), Some("nobody".into())).is_err());
        assert!(notification_mailer(None, None).unwrap().is_none());
    }

    #[test]
    fn the_metrics_address_is_the_flags_then_the_settings() {
        let mut settings = Settings::load(&GlobalArgs::default()).expect("defaults load");
        assert_eq!(settings.metrics_listen_address(None).ok(), Some(None));
        settings.metrics_listen = Some("127.0.0.1:9100".into());
        assert_eq!(
            settings.metrics_listen_address(None).ok(),
            Some(Some(SocketAddr::from(([127, 0, 0, 1], 9100))))
        );
        assert_eq!(
            settings.metrics_listen_address(Some("0.0.0.0:9200")).ok(),
            Some(Some(SocketAddr::from(([0, 0, 0, 0], 9200))))
        );
        assert!(settings.metrics_listen_address(Some("nowhere")).is_err());
    }
}
