//! The `gymchat` binary: parses arguments, starts logging, runs one subcommand.
//!
//! Machine output is JSON on stdout; logs and errors go to stderr. Exit codes: 0 done, 2 could
//! not run (bad input, unreachable database, refused fixture), as documented in the README.

mod args;
mod audit;
mod cleanup;
mod config;
mod db;
mod demo;
mod doctor;
mod generate;
mod maintenance;
mod migrate;
mod options;
mod sandbox;
mod serve;

use std::process::ExitCode;

use clap::Parser;
use secrecy::ExposeSecret;
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
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    match run(&cli).await {
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
async fn run(cli: &Cli) -> anyhow::Result<(serde_json::Value, u8)> {
    match &cli.command {
        Command::Db(command) => db::run(command).await.map(|v| (v, 0)),
        Command::Sandbox(args) => match &args.command {
            Some(args::SandboxCommand::Generate(generate)) => generate::run(generate).map(|v| (v, 0)),
            None => sandbox::run(args).await.map(|v| (v, 0)),
        },
        Command::Audit(args) => audit::run(args).await,
        Command::Doctor(args) => doctor::run(args).await,
        Command::Cleanup(args) => cleanup::run(args).await,
        Command::Migrate(command) => migrate::run(command).await,
        Command::Maintenance(command) => maintenance::run(command).await.map(|v| (v, 0)),
        Command::Serve(args) => serve::run(args).await.map(|v| (v, 0)),
        Command::Demo(args) => demo::run(args).await,
        Command::Config(c) => Ok((
            json!({
                "database_url": c.db.shown(),
                "stream_url": c.stream.stream_url,
                "stream_key": c.stream.stream_key,
                "stream_secret_set": c.stream.stream_secret.as_ref().is_some_and(|s| !s.expose_secret().is_empty()),
                "rate_budget": c.pacing.rate_budget,
                "rate_window_seconds": c.pacing.rate_window,
            }),
            0,
        )),
    }
}
