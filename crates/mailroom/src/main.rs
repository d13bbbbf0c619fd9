//! `mailroom`: a self-hosted, Nylas-compatible email API server.

mod admin_tokens;
mod app_commands;
mod bench_fill;
mod cli;
mod cluster_nodes;
mod database;
mod grants_status;
mod http_server;
mod key_rotation;
mod metrics_endpoint;
mod notification_objects;
mod readiness;
mod secret_key;
mod serve;
mod settings;
mod sync_bridge;
mod tls_server;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// mimalloc, for Rust's allocations and (by its `override` feature) for SQLite's: a page of
/// rows is allocated on a connection's thread and freed on the runtime's, which glibc's
/// malloc served with arena locks and frequent consolidation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mailroom: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let settings = settings::Settings::load(&cli.global)?;
        let log_format = match &cli.command {
            Command::Serve(args) => args.log_format.as_deref().map(str::parse).transpose()?,
            _ => None,
        };
        init_logging(
            &settings.log_filter,
            log_format.unwrap_or(settings.log_format),
        );
        match cli.command {
            Command::Serve(args) => serve::run(settings, args).await,
            Command::App(command) => app_commands::app(settings, command).await,
            Command::ApiKey(command) => app_commands::api_key(settings, command).await,
            Command::AdminToken(command) => admin_tokens::run(settings, command).await,
            Command::Grants(command) => grants_status::run(settings, command).await,
            Command::Nodes { json } => cluster_nodes::run(settings, json).await,
            Command::Migrate => database::migrate(settings).await,
            Command::BenchFill(args) => bench_fill::run(settings, args).await,
            Command::SecretKey(cli::SecretKeyCommand::Rotate) => {
                key_rotation::rotate(settings).await
            }
        }
    });
    // Tasks still running (a request past the shutdown grace period) are dropped, not
    // awaited.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailroom: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr so that `--json` output on stdout stays machine-readable.
fn init_logging(filter: &str, format: settings::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(wire_safe_filter(filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(wire_safe_filter("info")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        // One object a line: the event's fields beside `message`, and the fields of the
        // span it was logged in (a request's `request_id`, `application_id`,
        // `grant_id`) under `span`.
        settings::LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        // Colours only for a person at a terminal, not in log files.
        settings::LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}

/// Crates that log protocol bytes, LOGIN and AUTHENTICATE included, below `info`.
const WIRE_LOGGING_TARGETS: &[&str] = &["async_imap", "imap_proto"];

/// `filter` with those crates held at `info` whatever level was asked for, so that no
/// setting prints a mailbox password.
fn wire_safe_filter(filter: &str) -> String {
    let mut directives: Vec<String> = filter
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
        .filter(|directive| {
            !WIRE_LOGGING_TARGETS
                .iter()
                .any(|target| directive.starts_with(target))
        })
        .map(str::to_owned)
        .collect();
    directives.extend(WIRE_LOGGING_TARGETS.iter().map(|t| format!("{t}=info")));
    directives.join(",")
}

#[cfg(test)]
mod tests {
    use super::wire_safe_filter;

    #[test]
    fn wire_logging_crates_stay_at_info() {
        assert_eq!(
            wire_safe_filter("trace,async_imap=trace,mailroom_sync=debug"),
            "trace,mailroom_sync=debug,async_imap=info,imap_proto=info"
        );
        assert_eq!(wire_safe_filter(""), "async_imap=info,imap_proto=info");
    }
}
