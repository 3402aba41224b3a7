//! `gymchat demo`: the whole job on one machine with nothing configured. A fresh SQLite database
//! in a temporary directory (or `--database-url` given on the command line), the sandbox started
//! in this process on 127.0.0.1 with the reference scenario compiled into the binary, then
//! audit → plan → apply (rebuild, history copied) → verify → cleanup → audit, over real HTTP.
//! Exits 0 only when the final audit of gym 4 is fully synced.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use chrono::Utc;
use gymchat_ids::GymId;
use gymchat_ops::audit::{self, AuditReport};
use gymchat_ops::cleanup;
use gymchat_ops::migrate::{self, ApplyOptions, History, Options, Strategy};
use gymchat_sandbox::{Config, InitialState, LimitMode, Snapshot};
use gymchat_store::{DbFixture, Store, redact_url};
use gymchat_stream::{Client, ClientConfig};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::args::DemoArgs;

/// The reference scenario, as the repository ships it.
const SCENARIO: &str = include_str!("../../../fixtures/gym4.json");
/// The demo's gym.
const GYM: i64 = 4;
/// The in-process sandbox's time scale: Stream's one-minute windows last a second.
const TIME_SCALE: f64 = 60.0;

/// Runs the demo.
pub async fn run(args: &DemoArgs) -> Result<(Value, u8)> {
    let scenario: Value = serde_json::from_str(SCENARIO).context("the embedded scenario is not JSON")?;
    let gym = GymId::new(GYM)?;

    // The database.
    let tmp = tempfile::tempdir().context("cannot make a temporary directory")?;
    let url = match &args.database_url {
        Some(url) => url.expose_secret().to_owned(),
        None => format!("sqlite://{}", tmp.path().join("demo.db").display()),
    };
    let store = Store::open(&url).await.with_context(|| format!("cannot open database {}", redact_url(&url)))?;
    let fixture = DbFixture::from_json(SCENARIO)?;
    store.load_fixture(&fixture).await.context("cannot load the reference scenario into the database")?;
    eprintln!("database: {} (reference scenario loaded)", redact_url(&url));

    // The sandbox, in this process, over real HTTP.
    let snapshot: Snapshot =
        serde_json::from_value(scenario["stream"].clone()).context("the scenario's stream part")?;
    let mut config = Config::new("demo-key", "demo-secret");
    config.limits = LimitMode::stream_defaults();
    config.time_scale = TIME_SCALE;
    config.initial = InitialState::Snapshot(snapshot);
    let listener = TcpListener::bind("127.0.0.1:0").await.context("cannot listen on 127.0.0.1")?;
    let sandbox_url = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let sandbox = tokio::spawn(gymchat_sandbox::run(listener, config, async {
        let _ = stop_rx.await;
    }));
    eprintln!("sandbox: {sandbox_url} (Stream's default limits, 60× faster windows)");
    let mut client_config = ClientConfig::new(&sandbox_url, "demo-key", "demo-secret");
    client_config.budget_share = args.rate_budget;
    // The demo knows its sandbox's windows; the client need not learn them.
    client_config.rate_window = Duration::from_secs_f64(60.0 / TIME_SCALE);
    let client = Client::new(client_config)?;

    let outcome = steps(&store, &client, gym).await;
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), sandbox).await;
    store.close().await;
    let (report, ok) = outcome?;
    eprintln!("{}", if ok { "demo: gym 4 is fully synced" } else { "demo: gym 4 is NOT fully synced" });
    Ok((report, if ok { 0 } else { 1 }))
}

fn line(report: &AuditReport) -> String {
    let g = &report.gyms[0];
    let m = &g.summary;
    format!(
        "{} synced, {} stream-only, {} db-only, {} archived, {} retired; legacy member ids {:?}; {} findings",
        m.synced,
        m.stream_only,
        m.db_only,
        m.archived,
        m.retired,
        m.legacy_member_ids,
        g.findings.len()
    )
}

async fn steps(store: &Store, client: &Client, gym: GymId) -> Result<(Value, bool)> {
    let before = audit::audit(store, client, &[gym], &|_| {}).await?;
    eprintln!("1. audit before:  {}", line(&before));

    let options = Options { strategy: Strategy::Rebuild, history: History::Copy, rehost_attachments: false };
    let plan = migrate::plan::plan(store, client, &[gym], options, Utc::now()).await?;
    eprintln!(
        "2. plan:          {} users, {} rooms to move, {} rooms left alone",
        plan.gyms[0].users.len(),
        plan.gyms[0].channels.len(),
        plan.gyms[0].skipped.len()
    );
    for c in &plan.gyms[0].channels {
        eprintln!("                   room {}: {} → {} ({} messages)", c.room_id, c.old_cid, c.new_cid, c.messages);
    }

    let applied = migrate::apply(store, client, &plan, ApplyOptions::default(), &|_| {}).await?;
    eprintln!(
        "3. apply:         {} {}: {} users, {} channels; {} failed",
        applied.run_id,
        applied.state,
        applied.users_done,
        applied.channels_done,
        applied.failed.len()
    );
    ensure!(applied.exit_code() == 0, "the migration did not finish: {:?}", applied.failed);
    let carried = applied.carried();
    eprintln!(
        "                   carried: {} messages, {} reactions, {} pins; read positions, roles and hidden chats",
        carried["messages"], carried["reactions"], carried["pins"]
    );

    let verified = migrate::verify(store, client, &[gym]).await?;
    eprintln!("4. verify:        {} problems", verified.gyms[0].problems.len());

    let fresh = audit::audit(store, client, &[gym], &|_| {}).await?;
    let cleanup_plan = cleanup::plan::plan(&fresh, cleanup::Options::default());
    let cleaned = cleanup::apply(store, client, &cleanup_plan, cleanup::Options::default()).await?;
    eprintln!(
        "5. cleanup:       {} actions, {} refused ({})",
        cleaned.outcomes.len(),
        cleaned.refused.len(),
        cleaned.run_id
    );

    let after = audit::audit(store, client, &[gym], &|_| {}).await?;
    eprintln!("6. audit after:   {}", line(&after));
    let ok = after.exit_code() == 0 && verified.exit_code() == 0;
    Ok((
        json!({
            "audit_before": before.gyms[0].summary,
            "migration_run": applied.run_id,
            "channels_moved": applied.channels_done,
            "carried": carried,
            "cleanup_run": cleaned.run_id,
            "audit_after": after.gyms[0].summary,
            "exit_code_after": after.exit_code(),
        }),
        ok,
    ))
}
