//! Carrying a plan out: a run opened (or the unfinished run of its gyms continued, when it was
//! started with the same options for the same gyms) under the run lock, which is let go once this
//! process has joined the run as its first worker (`work`): each gym its own unit, its users
//! first in batches of 100, then, when they all exist, its rooms' channels (`concurrency` at
//! once) inside the gym's maintenance window, each item journaled step by step (`rebuild`,
//! `in_place`); the import file last (`--history import-file`), or, with `--history import`,
//! Stream's import of the history between the channels' creation and the rest of their move;
//! then the report. A gym that could not be planned whole, or whose users could not be made, is
//! left out and reported; the others go on. Other workers (`gymchat migrate work`) may join the
//! run and share its items.
//!
//! Every step is safe to repeat, so a resumed run redoes the step an item was in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::Utc;
use gymchat_ids::{GymId, RoomId};
use gymchat_store::{ItemKind, ItemState, MigrationRun, NewItem, RunState, Store};
use gymchat_stream::Client;

use super::error::MigrateError;
use super::lock::take_lock;
use super::options::{ApplyOptions, History, RollbackOptions, Strategy};
use super::plan::spec::Plan;
use super::report::{GymSkipped, ImportFile, ItemOutcome, Progress, Report};
use super::work::{RunOptions, end_worker, join, start, work_items};

/// The run to work on: the unfinished run of these gyms when it was started with the same
/// options for the same gyms, else a new one. An unfinished run with other options, or one being
/// rolled back, is never continued silently.
async fn run_for(store: &Store, plan: &Plan, holder: &str) -> Result<(MigrationRun, bool), MigrateError> {
    let gyms: BTreeSet<i64> = plan.gyms.iter().filter(|g| g.complete()).map(|g| g.gym_id).collect();
    let asked: BTreeSet<i64> = plan.gyms.iter().map(|g| g.gym_id).collect();
    let runs = store.session().await?.migration_runs().await?;
    let overlapping = |r: &&MigrationRun| r.gyms.iter().any(|g| asked.contains(g));
    if let Some(r) = runs.iter().filter(overlapping).find(|r| r.state.is_rolling_back()) {
        return Err(MigrateError::RollingBack(r.run_id.clone()));
    }
    if let Some(run) = runs.iter().filter(overlapping).find(|r| r.state.is_unfinished()) {
        let same_gyms = run.gyms.iter().copied().collect::<BTreeSet<_>>() == asked;
        let options = |strategy: &str, history: &str| format!("strategy {strategy}, history {history}");
        let same_options =
            run.strategy == plan.options.strategy.as_str() && run.history == plan.options.history.as_str();
        if !(same_gyms && same_options) {
            return Err(MigrateError::RunMismatch {
                run_id: run.run_id.clone(),
                run_gyms: run.gyms.clone(),
                run_options: options(&run.strategy, &run.history),
                asked_gyms: asked.into_iter().collect(),
                asked_options: options(plan.options.strategy.as_str(), plan.options.history.as_str()),
            });
        }
        return Ok((run.clone(), true));
    }
    if gyms.is_empty() {
        let why: Vec<String> =
            plan.gyms.iter().flat_map(|g| g.problems.iter().map(move |p| format!("gym {}: {p}", g.gym_id))).collect();
        return Err(MigrateError::NothingToRun(why.join("; ")));
    }
    Ok((open_run(store, plan, holder).await?, false))
}

/// Carries `plan` out, or continues the unfinished run of its gyms.
pub async fn apply(
    store: &Store,
    client: &Client,
    plan: &Plan,
    options: ApplyOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report, MigrateError> {
    let mut s = store.session().await?;
    let lease = take_lock(&mut s, options.lease_ttl).await?;
    let joined = async {
        let (run, resumed) = run_for(store, plan, &lease.holder).await?;
        match join(&mut s, &run.run_id, &lease.holder).await? {
            Some(pass) => Ok((run, resumed, pass)),
            None => Err(MigrateError::BadRun { run_id: run.run_id.clone(), reason: "it cannot be worked now".into() }),
        }
    }
    .await;
    // The lock only makes opening a run and joining it one step; the items' claims fence the rest.
    let _ = s.release_lock(&lease).await;
    drop(s);
    let (run, resumed, pass) = joined?;

    let (runner, renewer) = start(store, client, &run.run_id, (lease.holder.clone(), pass), &options);
    let bad = |reason: String| MigrateError::BadRun { run_id: run.run_id.clone(), reason };
    let strategy: Strategy = run.strategy.parse().map_err(bad)?;
    let history: History = run.history.parse().map_err(bad)?;

    let run_options = RunOptions::new(strategy, history, &options);
    let mut result = work_items(&runner, run_options, progress).await;
    let mut import_file = None;
    let path = options.import_file.clone().unwrap_or_else(|| PathBuf::from(format!("import_{}.jsonl", run.run_id)));
    if result.is_ok() && history == History::ImportFile && !runner.stopped() {
        match super::import::write(&runner.store, &runner.client, &run.run_id, &path, history).await {
            Ok(lines) => import_file = Some(ImportFile { path: path.display().to_string(), lines, import_id: None }),
            Err(e) => result = Err(MigrateError::ImportFile(format!("{}: {e}", path.display()))),
        }
    }
    if result.is_ok() && history == History::Import && !runner.stopped() {
        // The channels wait in `copying` for the import; once it completed, they move on in a
        // second pass.
        result = match super::import::import_through_stream(&runner, &path, options.import_deadline, progress).await {
            Ok(imported) => {
                import_file = imported;
                match runner.start_pass().await {
                    Ok(()) => work_items(&runner, RunOptions { imported: true, ..run_options }, progress).await,
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e),
        };
    }
    drop(renewer);
    let ending = end_worker(&runner, result.as_ref().err()).await?;
    result?;
    let items = store.session().await?.migration_items(&run.run_id).await?;
    // While other workers still work the run, its open items are theirs: only failures count.
    let failed: Vec<ItemOutcome> = items
        .iter()
        .filter(|i| i.kind != ItemKind::Skipped && i.state != ItemState::Done)
        .filter(|i| ending.last || i.last_error.is_some())
        .map(ItemOutcome::from)
        .collect();
    let mut report = Report::from_journal(
        &run,
        resumed,
        ending.state,
        ending.message,
        (strategy, history),
        failed,
        import_file,
        &items,
    );
    report.gyms_skipped = skipped_gyms(plan, &items);
    if runner.tripped() && options.auto_rollback && ending.last {
        let rollback = RollbackOptions { yes: true, lease_ttl: options.lease_ttl };
        report.rolled_back = Some(super::rollback::rollback(store, client, &run.run_id, rollback).await?);
    }
    Ok(report)
}

/// The gyms left out: those that could not be planned whole, and those with users that could
/// not be made (none of their channels was touched).
fn skipped_gyms(plan: &Plan, items: &[gymchat_store::MigrationItem]) -> Vec<GymSkipped> {
    let mut skipped: Vec<GymSkipped> = plan
        .gyms
        .iter()
        .filter(|g| !g.complete())
        .map(|g| GymSkipped { gym_id: g.gym_id, reasons: g.problems.clone() })
        .collect();
    let mut missing: BTreeMap<i64, usize> = BTreeMap::new();
    for u in items.iter().filter(|i| i.kind == ItemKind::User && i.state != ItemState::Done) {
        *missing.entry(u.gym_id).or_default() += 1;
    }
    for (gym, n) in missing {
        let reason = format!("{n} of its users could not be created, so none of its channels was touched");
        skipped.push(GymSkipped { gym_id: gym, reasons: vec![reason] });
    }
    skipped
}

/// Opens a run for the gyms planned whole and journals every item of theirs, in one transaction.
async fn open_run(store: &Store, plan: &Plan, holder: &str) -> Result<MigrationRun, MigrateError> {
    let now = Utc::now();
    let planned: Vec<_> = plan.gyms.iter().filter(|g| g.complete()).collect();
    let run = MigrationRun {
        run_id: format!("migrate-{}", uuid::Uuid::new_v4().simple()),
        gyms: planned.iter().map(|g| g.gym_id).collect(),
        strategy: plan.options.strategy.to_string(),
        history: plan.options.history.to_string(),
        plan_hash: plan.content_hash.clone(),
        state: RunState::Running,
        holder: holder.to_owned(),
        started_at: now,
        updated_at: now,
        finished_at: None,
        message: None,
    };
    let mut tx = store.begin().await?;
    tx.create_migration_run(&run).await?;
    for g in planned {
        let gym = GymId::new(g.gym_id).map_err(|e| MigrateError::StalePlan(e.to_string()))?;
        let mut add = async |kind, room_id, old_id: &str, new_id: &str, state, spec: String| {
            let item = NewItem { gym_id: gym, kind, room_id, old_id, new_id, state, spec: &spec };
            tx.add_migration_item(&run.run_id, &item, now).await.map(|_| ())
        };
        for u in &g.users {
            let spec = serde_json::to_string(u).unwrap_or_default();
            add(ItemKind::User, None, &u.id, &u.id, ItemState::Planned, spec).await?;
        }
        for c in &g.channels {
            let spec = serde_json::to_string(c).unwrap_or_default();
            let room = RoomId::new(c.room_id).ok();
            add(ItemKind::Channel, room, &c.old_cid, &c.new_cid, ItemState::Planned, spec).await?;
        }
        for sk in &g.skipped {
            let spec = serde_json::to_string(sk).unwrap_or_default();
            let old = format!("room {}", sk.room_id);
            add(ItemKind::Skipped, RoomId::new(sk.room_id).ok(), &old, "", ItemState::Skipped, spec).await?;
        }
    }
    tx.commit().await?;
    Ok(run)
}
