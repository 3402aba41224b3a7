//! The `gymchat` binary: parses arguments, starts logging, runs one subcommand.
//!
//! Machine output is JSON on stdout; logs and errors go to stderr. Exit codes: 0 done, 2 could
//! not run (bad input, unreachable database, refused fixture), as documented in the README.

mod audit;
mod cleanup;
mod config;
mod db;
mod demo;
mod generate;
mod migrate;
mod sandbox;
mod serve;
mod stream;

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use gymchat_store::redact_url;
use serde_json::json;

use config::{Cli, Command};

/// mimalloc: the service and the sandbox allocate many small JSON values per request, where it
/// is markedly faster than the system allocator and fragments less (see the sandbox benchmark).
/// Built without transparent huge pages (`no_thp`): it asked the kernel for them, and every
/// 2 MiB page it touched again after giving memory back was zeroed whole (a quarter of the
/// 100,000-room audit's CPU time went to zeroing pages).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // The demo writes into a database only when it is named on the command line.
    let demo_database = (matches.value_source("database_url") == Some(ValueSource::CommandLine))
        .then(|| cli.global.database_url.clone());
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    match run(&cli, demo_database.as_deref()).await {
        Ok((report, code)) => {
            println!("{report:#}");
            ExitCode::from(code)
        }
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes joined by ": ", leaving out a cause whose text the line already holds
/// (drivers often repeat their inner error in their own message).
fn error_chain(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

/// Runs the command; returns its JSON for stdout and the exit code.
async fn run(cli: &Cli, demo_database: Option<&str>) -> anyhow::Result<(serde_json::Value, u8)> {
    match &cli.command {
        Command::Db(command) => db::run(&cli.global, command).await.map(|v| (v, 0)),
        Command::Sandbox(args) => match &args.command {
            Some(config::SandboxCommand::Generate(generate)) => generate::run(generate).map(|v| (v, 0)),
            None => sandbox::run(&cli.global, args).await.map(|v| (v, 0)),
        },
        Command::Audit(args) => audit::run(&cli.global, args).await,
        Command::Cleanup(args) => cleanup::run(&cli.global, args).await,
        Command::Migrate(command) => migrate::run(&cli.global, command).await,
        Command::Serve(args) => serve::run(&cli.global, args).await.map(|v| (v, 0)),
        Command::Demo(_) => demo::run(&cli.global, demo_database).await,
        Command::Config => {
            let g = &cli.global;
            Ok((
                json!({
                    "database_url": redact_url(&g.database_url),
                    "stream_url": g.stream_url,
                    "stream_key": g.stream_key,
                    "stream_secret_sha256_prefix": g.stream_secret.as_ref().map(|s| s.fingerprint()),
                    "rate_budget": g.rate_budget,
                    "rate_window_seconds": g.rate_window,
                }),
                0,
            ))
        }
    }
}
