//! `gymchat migrate plan|apply|work|status|verify|rollback|abandon`: the commands around the migration engine
//! of `gymchat_ops::migrate`, with progress bars on a terminal, a human summary on stderr and JSON
//! on stdout.

use std::io::IsTerminal;
use std::sync::Mutex;

use anyhow::{Context, Result, bail, ensure};
use chrono::Utc;
use gymchat_ids::GymId;
use gymchat_ops::migrate::{
    self, ApplyOptions, History, ImportFile, Options, Plan, Progress, RollbackOptions, Strategy, count_states,
};
use gymchat_store::Store;
use gymchat_stream::Client;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::args::MigrateCommand;
use crate::options::OpsOpts;

/// Runs a migrate subcommand; returns the JSON for stdout and the exit code.
pub async fn run(command: &MigrateCommand) -> Result<(Value, u8)> {
    let ops = match command {
        MigrateCommand::Status { db, run_id } => {
            let store = db.open().await?;
            let out = status(&store, run_id.as_deref()).await;
            store.close().await;
            return out;
        }
        MigrateCommand::Abandon { db, run_id } => {
            let store = db.open().await?;
            let run = migrate::abandon(&store, run_id).await;
            store.close().await;
            let run = run?;
            eprintln!("{}: {} ({})", run.run_id, run.state, run.message.as_deref().unwrap_or_default());
            return Ok((json!({ "run": run }), 0));
        }
        MigrateCommand::Plan { ops, .. }
        | MigrateCommand::Apply { ops, .. }
        | MigrateCommand::Work { ops, .. }
        | MigrateCommand::Verify { ops, .. }
        | MigrateCommand::Rollback { ops, .. } => ops,
    };
    let store = ops.db.open().await?;
    let out = with_stream(&store, ops, command).await;
    store.close().await;
    out
}

/// The subcommands that read Stream.
async fn with_stream(store: &Store, ops: &OpsOpts, command: &MigrateCommand) -> Result<(Value, u8)> {
    let stream = ops.client()?;
    let budget = ops.pacing.rate_budget;
    let out = match command {
        MigrateCommand::Plan { gyms: choice, options, out, .. } => {
            let gyms = choice.resolve(store).await?;
            let options = Options {
                strategy: options.strategy,
                history: options.history,
                rehost_attachments: options.rehost_attachments,
            };
            let plan = migrate::plan::plan(store, &stream, &gyms, options, Utc::now()).await?;
            eprint!("{}", plan_summary(&plan, budget));
            let code = if plan.gyms.iter().all(|g| g.complete()) { 0 } else { 2 };
            match out {
                Some(path) => {
                    std::fs::write(path, serde_json::to_string_pretty(&plan)?)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    (json!({ "plan": path.display().to_string(), "content_hash": plan.content_hash }), code)
                }
                None => (serde_json::to_value(&plan)?, code),
            }
        }
        MigrateCommand::Apply {
            gyms: choice,
            plan,
            options,
            yes,
            dry_run,
            max_failure_rate,
            concurrency,
            import_file,
            import_deadline,
            auto_rollback,
            no_maintenance,
            lease_seconds,
            ..
        } => {
            ensure!((0.0..=1.0).contains(max_failure_rate), "--max-failure-rate must be between 0 and 1");
            let plan = match plan {
                Some(path) => saved_plan(store, &stream, path).await?,
                None => {
                    let gyms = choice.resolve(store).await?;
                    let options = Options {
                        strategy: options.strategy,
                        history: options.history,
                        rehost_attachments: options.rehost_attachments,
                    };
                    migrate::plan::plan(store, &stream, &gyms, options, Utc::now()).await?
                }
            };
            eprint!("{}", plan_summary(&plan, budget));
            if *dry_run || !*yes {
                eprintln!("nothing changed: {}", if *dry_run { "--dry-run" } else { "add --yes to carry it out" });
                (serde_json::to_value(&plan)?, 0)
            } else {
                let options = ApplyOptions {
                    max_failure_rate: *max_failure_rate,
                    concurrency: *concurrency,
                    import_file: import_file.clone(),
                    import_deadline: std::time::Duration::from_secs(*import_deadline),
                    auto_rollback: *auto_rollback,
                    maintenance: !*no_maintenance,
                    lease_ttl: chrono::Duration::seconds(i64::from(*lease_seconds)),
                };
                // Every worker of the run takes its calls from the one budget in the database,
                // through connections of its own (never waiting behind the journal's writes).
                let budget = ops.db.open().await?;
                let stream = stream.with_shared_budget(migrate::shared_budget(&budget));
                apply(store, &stream, &plan, options).await?
            }
        }
        MigrateCommand::Work { run_id, max_failure_rate, concurrency, no_maintenance, lease_seconds, .. } => {
            ensure!((0.0..=1.0).contains(max_failure_rate), "--max-failure-rate must be between 0 and 1");
            let options = ApplyOptions {
                max_failure_rate: *max_failure_rate,
                concurrency: *concurrency,
                maintenance: !*no_maintenance,
                lease_ttl: chrono::Duration::seconds(i64::from(*lease_seconds)),
                ..ApplyOptions::default()
            };
            let budget = ops.db.open().await?;
            let stream = stream.with_shared_budget(migrate::shared_budget(&budget));
            let bars = Bars::new();
            let worked = migrate::work(store, &stream, run_id.as_deref(), &options, &|p| bars.show(p)).await;
            bars.finish();
            let report = worked?;
            eprintln!(
                "{} worked {}: {} items done, {} failed; the run is {}{}",
                report.worker,
                report.run_id,
                report.items_done,
                report.items_failed,
                report.run_state,
                report.message.as_ref().map(|m| format!(" — {m}")).unwrap_or_default()
            );
            let code = match (&report.message, report.items_failed) {
                (Some(_), _) => 2,
                (None, 0) => 0,
                (None, _) => 1,
            };
            (serde_json::to_value(&report)?, code)
        }
        MigrateCommand::Verify { gyms: choice, .. } => {
            let gyms = choice.resolve(store).await?;
            let verified = migrate::verify(store, &stream, &gyms).await?;
            for g in &verified.gyms {
                eprintln!(
                    "gym {}: {}{}",
                    g.gym_id,
                    if g.problems.is_empty() {
                        "every room on a tenant-scoped channel".to_owned()
                    } else {
                        format!("{} problems", g.problems.len())
                    },
                    if g.complete { "" } else { " (INCOMPLETE read)" }
                );
            }
            let code = verified.exit_code();
            (serde_json::to_value(&verified)?, code)
        }
        MigrateCommand::Rollback { run_id, yes, lease_seconds, .. } => {
            let options =
                RollbackOptions { yes: *yes, lease_ttl: chrono::Duration::seconds(i64::from(*lease_seconds)) };
            let done = migrate::rollback(store, &stream, run_id, options).await?;
            eprintln!(
                "{}: {} items {}, {} rooms back on their old channel, {} failed",
                run_id,
                done.restored.len(),
                if done.dry_run { "would be rolled back (add --yes)" } else { "rolled back" },
                done.rooms_restored.len(),
                done.failed.len()
            );
            let code = if done.failed.is_empty() { 0 } else { 1 };
            (serde_json::to_value(&done)?, code)
        }
        MigrateCommand::Status { .. } | MigrateCommand::Abandon { .. } => bail!("this command reads no Stream"),
    };
    Ok(out)
}

/// A saved plan, checked against its own hash and against a fresh plan of the same gyms.
async fn saved_plan(store: &Store, stream: &Client, path: &std::path::Path) -> Result<Plan> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let saved: Plan =
        serde_json::from_str(&text).with_context(|| format!("{} is not a migration plan", path.display()))?;
    if !saved.hash_holds() {
        bail!("{}: its content does not match its hash (edited or cut); make a new plan", path.display());
    }
    let gyms: Vec<GymId> = saved.gyms.iter().map(|g| GymId::new(g.gym_id)).collect::<Result<_, _>>()?;
    let fresh = migrate::plan::plan(store, stream, &gyms, saved.options, Utc::now()).await?;
    if fresh.content_hash != saved.content_hash {
        return Err(migrate::MigrateError::StalePlan(format!(
            "the world changed since {} was made (hash {} then, {} now): make a new plan",
            path.display(),
            saved.content_hash,
            fresh.content_hash
        ))
        .into());
    }
    Ok(fresh)
}

/// Per gym and strategy, what the plan holds and what it costs.
pub fn plan_summary(plan: &Plan, budget: f64) -> String {
    let mut s = String::new();
    for g in &plan.gyms {
        let messages: usize = g.channels.iter().map(|c| c.messages).sum();
        s.push_str(&format!(
            "gym {}: {} users to create, {} rooms to move ({} messages), {} rooms left alone{}\n",
            g.gym_id,
            g.users.len(),
            g.channels.len(),
            messages,
            g.skipped.len(),
            if g.complete() { String::new() } else { format!("; NOT READ WHOLE: {}", g.problems.join("; ")) }
        ));
        for c in &g.channels {
            s.push_str(&format!(
                "  room {}: {} → {}{}\n",
                c.room_id,
                c.old_cid,
                c.new_cid,
                c.note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()
            ));
            let files = c.conversation.cdn_attachments;
            if files > 0 {
                let fate = if c.rehost_attachments {
                    "uploaded to the new channel"
                } else {
                    "new members may not read them; --rehost-attachments uploads them to the new channel"
                };
                s.push_str(&format!(
                    "    {files} attachment files on Stream's CDN, signed for the old channel: {fate}\n"
                ));
            }
        }
    }
    let messages: usize = plan.gyms.iter().flat_map(|g| &g.channels).filter(|c| !c.repair).map(|c| c.messages).sum();
    if plan.options.strategy == Strategy::Rebuild && plan.options.history == History::None && messages > 0 {
        s.push_str(&format!(
            "history none: members will NOT see the {messages} messages of their moved rooms in the app (the old \
             channels refuse their new ids); --history copy (the default) carries them\n"
        ));
    }
    if !plan.estimates.is_empty() {
        s.push_str(&format!("estimates at {}:\n", plan.limits.source));
    }
    for e in &plan.estimates {
        let calls: u64 = e.users_calls.values().chain(e.channel_calls.values()).sum();
        s.push_str(&format!(
            "  {} / history {}: {} calls, at least {:.1} s at rate budget {budget} (bottleneck {})\n",
            e.strategy,
            e.history,
            calls,
            e.min_wall_seconds_full_budget / budget,
            e.bottleneck.as_deref().unwrap_or("-"),
        ));
    }
    s
}

/// Applies with progress bars (on a terminal) and a summary.
pub async fn apply(store: &Store, stream: &Client, plan: &Plan, options: ApplyOptions) -> Result<(Value, u8)> {
    let bars = Bars::new();
    let report = migrate::apply(store, stream, plan, options, &|p| bars.show(p)).await;
    bars.finish();
    let report = report?;
    eprintln!(
        "{} {}: {} users, {} channels done; {} failed; {} rooms left alone{}",
        report.run_id,
        report.state,
        report.users_done,
        report.channels_done,
        report.failed.len(),
        report.skipped.len(),
        report.message.as_ref().map(|m| format!(" — {m}")).unwrap_or_default()
    );
    if report.state == gymchat_store::RunState::Running {
        eprintln!("  other workers still work the run: `gymchat migrate status {}` shows them", report.run_id);
    }
    match &report.import_file {
        Some(file @ ImportFile { import_id: Some(id), .. }) => {
            eprintln!("  imported {} through Stream's import {id}: {:?}", file.path, file.lines);
        }
        Some(file) => {
            eprintln!("  import file {}: {:?} (upload it with Stream's import, mode upsert)", file.path, file.lines)
        }
        None => {}
    }
    for f in &report.failed {
        eprintln!("  failed {} {} → {}: {}", f.kind, f.old_id, f.new_id, f.error.as_deref().unwrap_or("not finished"));
    }
    for g in &report.gyms_skipped {
        eprintln!("  gym {} left out: {}", g.gym_id, g.reasons.join("; "));
    }
    if let Some(back) = &report.rolled_back {
        eprintln!(
            "  rolled back (--auto-rollback): {} rooms back on their old channel, {} failed",
            back.rooms_restored.len(),
            back.failed.len()
        );
    }
    let code = report.exit_code();
    Ok((serde_json::to_value(&report)?, code))
}

/// Progress bars on a terminal, one per phase; Stream's import's states as lines.
struct Bars {
    bars: Option<MultiProgress>,
    current: Mutex<Option<ProgressBar>>,
}

impl Bars {
    fn new() -> Self {
        Self { bars: std::io::stderr().is_terminal().then(MultiProgress::new), current: Mutex::new(None) }
    }

    fn show(&self, p: Progress) {
        if let Progress::Import { id, state } = &p {
            eprintln!("  Stream's import {id}: {state}");
        }
        let Some(bars) = &self.bars else { return };
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match p {
            Progress::Phase { name, total } => {
                if let Some(done) = current.take() {
                    done.finish();
                }
                let bar = bars.add(ProgressBar::new(total));
                if let Ok(style) = ProgressStyle::with_template("{prefix:>8} {bar:30} {pos}/{len} {elapsed}") {
                    bar.set_style(style);
                }
                bar.set_prefix(name);
                *current = Some(bar);
            }
            Progress::Item { .. } => {
                if let Some(bar) = current.as_ref() {
                    bar.inc(1);
                }
            }
            Progress::Import { .. } => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.current.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish();
        }
    }
}

async fn status(store: &Store, run_id: Option<&str>) -> Result<(Value, u8)> {
    let mut s = store.session().await?;
    match run_id {
        None => {
            let runs = s.migration_runs().await?;
            for r in &runs {
                eprintln!(
                    "{} {} gyms {:?} {}/{} started {}",
                    r.run_id, r.state, r.gyms, r.strategy, r.history, r.started_at
                );
            }
            Ok((json!({ "runs": runs }), 0))
        }
        Some(id) => {
            let run = s.migration_run(id).await?.with_context(|| format!("no migration run {id}"))?;
            let items = s.migration_items(id).await?;
            let failed: Vec<_> = items
                .iter()
                .filter(|i| i.last_error.is_some() && i.state != gymchat_store::ItemState::Done)
                .map(|i| json!({ "kind": i.kind, "old_id": i.old_id, "new_id": i.new_id, "state": i.state, "attempts": i.attempts, "error": i.last_error }))
                .collect();
            eprintln!("{} {}: {:?}", run.run_id, run.state, count_states(&items));
            let workers = s.migration_workers(id).await?;
            for w in &workers {
                eprintln!(
                    "  worker {} {}: {} done, {} failed, last heartbeat {:.1} s ago{}",
                    w.worker,
                    w.state,
                    w.items_done,
                    w.items_failed,
                    w.heartbeat_age_ms as f64 / 1000.0,
                    w.message.as_ref().map(|m| format!(" — {m}")).unwrap_or_default()
                );
            }
            let body =
                json!({ "run": run, "items_by_state": count_states(&items), "failed": failed, "workers": workers });
            Ok((body, 0))
        }
    }
}
