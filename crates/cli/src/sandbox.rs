//! `gymchat sandbox`: runs the Stream stand-in until Ctrl-C or SIGTERM.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use gymchat_sandbox::{Config, InitialState, parse_limits};
use serde_json::json;
use tokio::net::TcpListener;

use crate::args::SandboxArgs;

/// Serves until a stop signal; returns the final report.
pub async fn run(args: &SandboxArgs) -> Result<serde_json::Value> {
    let key = args.key.clone().context("--key (or STREAM_KEY) is required")?;
    let secret = args.secret.clone().context("--secret (or STREAM_SECRET) is required")?;
    ensure!((0.0..=1.0).contains(&args.fail_rate), "--fail-rate must be between 0 and 1");
    ensure!((0.0..=1.0).contains(&args.task_fail_rate), "--task-fail-rate must be between 0 and 1");
    ensure!((0.0..=1.0).contains(&args.live_traffic), "--live-traffic must be between 0 and 1");
    ensure!(args.time_scale > 0.0, "--time-scale must be positive");

    let mut config = Config::new(key, secret);
    config.limits = parse_limits(&args.rate_limits)?;
    config.time_scale = args.time_scale;
    config.latency = Duration::from_millis(args.latency_ms);
    config.fail_rate = args.fail_rate;
    config.seed = args.seed;
    config.stall = Duration::from_millis(args.stall_ms);
    config.strict_team_members = args.strict_team_members;
    config.shuffle_ties = args.shuffle_ties;
    config.task_fail_rate = args.task_fail_rate;
    config.live_traffic = args.live_traffic;
    config.save_to = args.state.clone();
    config.initial = match (&args.state, &args.fixture) {
        (Some(state), _) if state.exists() => InitialState::File(state.clone()),
        (_, Some(fixture)) => InitialState::File(fixture.clone()),
        _ => InitialState::Empty,
    };

    let listener = TcpListener::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    // One line on stdout once the initial state is loaded and calls are answered at once, for
    // scripts (and benchmarks) waiting on it.
    let announce = || println!("{}", json!({ "url": url }));
    gymchat_sandbox::run_and_tell(listener, config, stop_signal(), announce).await?;
    Ok(json!({ "stopped": true, "url": url, "saved": args.state.as_ref().map(|p| p.display().to_string()) }))
}

/// Completes on Ctrl-C or SIGTERM.
pub(crate) async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
