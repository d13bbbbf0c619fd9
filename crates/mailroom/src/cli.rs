//! Command-line interface. Every flag also reads a `MAILROOM_*` environment variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "mailroom",
    version,
    about = "A self-hosted, Nylas-compatible email API server"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone, Default)]
pub struct GlobalArgs {
    /// TOML configuration file; every setting in it can also be given as `MAILROOM_<NAME>`.
    #[arg(long, global = true, env = "MAILROOM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where mailroom keeps its SQLite database and secret key [default: ./mailroom-data].
    #[arg(long, global = true, env = "MAILROOM_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://… [default: sqlite in the data dir].
    #[arg(long, global = true, env = "MAILROOM_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the API server.
    Serve(ServeArgs),
    /// Manage applications.
    #[command(subcommand)]
    App(AppCommand),
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Manage the operator dashboard's admin tokens (`/admin`).
    #[command(subcommand, name = "admin-token")]
    AdminToken(AdminTokenCommand),
    /// Inspect grants.
    #[command(subcommand)]
    Grants(GrantsCommand),
    /// The `mailroom serve` processes on this database, their grants and heartbeats.
    Nodes {
        #[arg(long)]
        json: bool,
    },
    /// Bring the database schema up to date (`serve` also does this when it starts).
    Migrate,
    /// Manage the secret key that seals mailbox passwords and webhook secrets.
    #[command(subcommand, name = "secret-key")]
    SecretKey(SecretKeyCommand),
    /// Fill the store with a large generated mailbox (for bench/list_latency.py).
    #[command(hide = true, name = "bench-fill")]
    BenchFill(BenchFillArgs),
}

#[derive(Args)]
pub struct BenchFillArgs {
    /// How many messages to generate.
    #[arg(long, default_value_t = 100_000)]
    pub messages: u64,
    /// Seed of the generator: the same seed makes the same mailbox.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Subcommand)]
pub enum SecretKeyCommand {
    /// Seal every secret again under a new key, in one transaction, and put the new key
    /// in place. Stop every `mailroom serve` on this database first.
    Rotate,
}

#[derive(Subcommand)]
pub enum GrantsCommand {
    /// Sync progress of every grant, with a progress bar, and the node that syncs it.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "MAILROOM_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// PEM certificate chain to serve HTTPS with (with --tls-key; reloaded on SIGHUP
    /// and when the file changes).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Serve /metrics on this address (plain HTTP) instead of on the API's listener.
    #[arg(long, env = "MAILROOM_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// How log lines are written: text or json (one object a line) [default: text].
    #[arg(long, env = "MAILROOM_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
}

#[derive(Subcommand)]
pub enum AppCommand {
    /// Create an application with its client secret and a first API key (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// A redirect URI allowed for hosted authentication (repeatable).
        #[arg(long = "callback-uri", value_name = "URI")]
        callback_uris: Vec<String>,
        /// Let hosted sign-in use mail servers that do not belong to the email's domain
        /// (typed under "Advanced"); off by default.
        #[arg(long)]
        allow_custom_servers: bool,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Change an application's settings.
    Update {
        /// The application id.
        #[arg(long = "app", value_name = "ID")]
        application_id: String,
        /// Whether hosted sign-in may use mail servers outside the email's domain.
        #[arg(long, value_name = "true|false")]
        allow_custom_servers: Option<bool>,
    },
    /// List applications.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Manage an application's redirect (callback) URIs.
    #[command(subcommand, name = "callback-uri")]
    CallbackUri(CallbackUriCommand),
}

#[derive(Subcommand)]
pub enum CallbackUriCommand {
    /// Allow another redirect URI for hosted authentication.
    Add {
        /// The application id.
        #[arg(long = "app", value_name = "ID")]
        application_id: String,
        #[arg(value_name = "URI")]
        url: String,
        /// web, desktop, js, ios or android.
        #[arg(long, default_value = "web")]
        platform: String,
        #[arg(long)]
        json: bool,
    },
    /// List an application's redirect URIs.
    List {
        /// The application id.
        #[arg(long = "app", value_name = "ID")]
        application_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a redirect URI by its id.
    Remove {
        /// The application id.
        #[arg(long = "app", value_name = "ID")]
        application_id: String,
        #[arg(value_name = "CALLBACK_URI_ID")]
        id: String,
    },
}

#[derive(Subcommand)]
pub enum AdminTokenCommand {
    /// Create an admin token for the dashboard (shown once).
    Create {
        #[arg(long)]
        json: bool,
    },
    /// List the admin tokens (their ids, never the tokens).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke an admin token by its id; its dashboard sessions end.
    Revoke {
        #[arg(value_name = "TOKEN_ID")]
        id: String,
    },
}

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Create another API key for an application (shown once).
    Create {
        /// The application id.
        #[arg(long = "app", value_name = "ID")]
        application_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API key by its id.
    Revoke {
        #[arg(value_name = "KEY_ID")]
        key_id: String,
    },
}
