//! `mailroom`: a self-hosted, Nylas-compatible email API server.

mod app_commands;
mod cli;
mod database;
mod grants_status;
mod notification_objects;
mod secret_key;
mod serve;
mod settings;
mod sync_bridge;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

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
        init_logging(&settings.log_filter);
        match cli.command {
            Command::Serve(args) => serve::run(settings, args).await,
            Command::App(command) => app_commands::app(settings, command).await,
            Command::ApiKey(command) => app_commands::api_key(settings, command).await,
            Command::Grants(command) => grants_status::run(settings, command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailroom: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr so that `--json` output on stdout stays machine-readable.
fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal, not in log files.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colours)
        .try_init();
}
