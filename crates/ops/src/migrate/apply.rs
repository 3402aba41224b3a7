//! Carrying a plan out: a run opened (or the unfinished run of its gyms continued, when it was
//! started with the same options for the same gyms) under the run lock; each gym its own unit:
//! its users first in batches of 100, then, when they all exist, its rooms' channels
//! (`concurrency` at once) inside the gym's maintenance window, each item journaled step by step
//! (`rebuild`, `in_place`); the import file last (`--history import-file`), or, with
//! `--history import`, Stream's import of the history between the channels' creation and the
//! rest of their move;
//! then the report. A gym that could not be planned whole, or whose users could not be made, is
//! left out and reported; the others go on.
//!
//! Every step is safe to repeat, so a resumed run redoes the step an item was in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use gymchat_ids::{GymId, RoomId};
use gymchat_store::{ItemKind, ItemState, MigrationItem, MigrationRun, NewItem, RunState, Store};
use gymchat_stream::Client;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::error::MigrateError;
use super::in_place::move_in_place;
use super::lock::take_lock;
use super::options::{ApplyOptions, History, RollbackOptions, Strategy};
use super::order::LastMessageOrder;
use super::plan::spec::{ChannelSpec, Plan};
use super::rebuild::{RebuildStep, move_rebuild};
use super::report::{GymSkipped, ImportFile, ItemOutcome, Progress, Report};
use super::run::{Breaker, Runner, keep_lease};
use super::users::upsert_users;

/// Rooms in progress per place at work: the rooms waiting for a batch freeze beside those at
/// work.
const WAITING_ROOMS: usize = 4;

/// Users per upsert.
const USERS_PER_CALL: usize = gymchat_stream::limits::BATCH;

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
    let (run, resumed) = match run_for(store, plan, &lease.holder).await {
        Ok(found) => found,
        Err(e) => {
            let _ = s.release_lock(&lease).await;
            return Err(e);
        }
    };
    s.set_migration_run_state(&run.run_id, RunState::Running, &lease.holder, None, false, Utc::now()).await?;
    drop(s);

    let breaker = Breaker::new(options.max_failure_rate);
    let runner =
        Arc::new(Runner::new(store.clone(), client.clone(), run.run_id.clone(), lease, options.lease_ttl, breaker));
    // Aborted when apply ends or is dropped, so a cancelled apply stops renewing its lease.
    let renewer = keep_lease(runner.clone());
    let bad = |reason: String| MigrateError::BadRun { run_id: run.run_id.clone(), reason };
    let strategy: Strategy = run.strategy.parse().map_err(bad)?;
    let history: History = run.history.parse().map_err(bad)?;

    let mut gyms_skipped: Vec<GymSkipped> = plan
        .gyms
        .iter()
        .filter(|g| !g.complete())
        .map(|g| GymSkipped { gym_id: g.gym_id, reasons: g.problems.clone() })
        .collect();
    let run_options = RunOptions {
        strategy,
        history,
        concurrency: options.concurrency,
        maintenance: options.maintenance,
        imported: false,
    };
    let mut result = run_items(&runner, run_options, progress, &mut gyms_skipped).await;
    runner.end_maintenance().await;
    let mut import_file = None;
    let path = options.import_file.clone().unwrap_or_else(|| PathBuf::from(format!("import_{}.jsonl", run.run_id)));
    if result.is_ok() && history == History::ImportFile && !runner.stopped() {
        match super::import::write(&runner.store, &runner.client, &run.run_id, &path, history).await {
            Ok(lines) => import_file = Some(ImportFile { path: path.display().to_string(), lines, import_id: None }),
            Err(e) => result = Err(MigrateError::ImportFile(format!("{}: {e}", path.display()))),
        }
    }
    if result.is_ok() && history == History::Import && !runner.stopped() {
        // The channels wait in `copying` for the import; once it completed, they move on.
        result = match super::import::import_through_stream(&runner, &path, options.import_deadline, progress).await {
            Ok(imported) => {
                import_file = imported;
                let run_options = RunOptions { imported: true, ..run_options };
                let moved = run_items(&runner, run_options, progress, &mut gyms_skipped).await;
                runner.end_maintenance().await;
                moved
            }
            Err(e) => Err(e),
        };
    }
    drop(renewer);
    let mut s = store.session().await?;
    let items = s.migration_items(&run.run_id).await?;
    let lease = runner.lease();
    let why = runner.why();
    let failed: Vec<ItemOutcome> = items
        .iter()
        .filter(|i| i.kind != ItemKind::Skipped && i.state != ItemState::Done)
        .map(ItemOutcome::from)
        .collect();
    let state = match (&result, &why, failed.is_empty()) {
        (Err(_), _, _) | (_, Some(_), _) => RunState::Stopped,
        (Ok(()), None, true) => RunState::Done,
        (Ok(()), None, false) => RunState::Incomplete,
    };
    let message = match &result {
        Err(e) => Some(e.to_string()),
        Ok(()) => why,
    };
    let finished = state != RunState::Stopped;
    s.set_migration_run_state(&run.run_id, state, &lease.holder, message.as_deref(), finished, Utc::now()).await?;
    let _ = s.release_lock(&lease).await;
    drop(s);
    result?;
    let mut report =
        Report::from_journal(&run, resumed, state, message, (strategy, history), failed, import_file, &items);
    report.gyms_skipped = gyms_skipped;
    if runner.tripped() && options.auto_rollback {
        let rollback = RollbackOptions { yes: true, lease_ttl: options.lease_ttl };
        report.rolled_back = Some(super::rollback::rollback(store, client, &run.run_id, rollback).await?);
    }
    Ok(report)
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

/// How the items of a run are worked.
#[derive(Debug, Clone, Copy)]
struct RunOptions {
    strategy: Strategy,
    history: History,
    concurrency: usize,
    maintenance: bool,
    /// Stream's import has completed: items waiting for it in `copying` go on.
    imported: bool,
}

/// The users phase, then the channels of every gym whose users all exist (the others are left
/// out, with why).
async fn run_items(
    runner: &Arc<Runner>,
    options: RunOptions,
    progress: &(dyn Fn(Progress) + Sync),
    gyms_skipped: &mut Vec<GymSkipped>,
) -> Result<(), MigrateError> {
    let items = runner.store.session().await?.migration_items(&runner.run_id).await?;
    let users: Vec<&MigrationItem> =
        items.iter().filter(|i| i.kind == ItemKind::User && i.state != ItemState::Done).collect();
    progress(Progress::Phase { name: "users", total: users.len() as u64 });
    // Batches never mix gyms: a failed batch blocks only its own gym's channels.
    let mut by_gym: BTreeMap<i64, Vec<&MigrationItem>> = BTreeMap::new();
    for u in users {
        by_gym.entry(u.gym_id).or_default().push(u);
    }
    for batch in by_gym.values().flat_map(|items| items.chunks(USERS_PER_CALL)) {
        if runner.stopped() {
            return Ok(());
        }
        let ok = upsert_users(runner, batch).await?;
        for _ in batch {
            runner.outcome(ok);
            progress(Progress::Item { ok });
        }
    }
    if runner.stopped() {
        return Ok(());
    }
    // A gym's channels move only once every one of its users is there: a member who does not
    // exist would fail them.
    let journal = runner.store.session().await?.migration_items(&runner.run_id).await?;
    let mut missing: BTreeMap<i64, usize> = BTreeMap::new();
    for u in journal.iter().filter(|i| i.kind == ItemKind::User && i.state != ItemState::Done) {
        *missing.entry(u.gym_id).or_default() += 1;
    }
    for (gym, n) in &missing {
        let reason = format!("{n} of its users could not be created, so none of its channels was touched");
        gyms_skipped.push(GymSkipped { gym_id: *gym, reasons: vec![reason] });
    }
    let mut channels: Vec<MigrationItem> = items
        .into_iter()
        .filter(|i| i.kind == ItemKind::Channel && i.state != ItemState::Done && !missing.contains_key(&i.gym_id))
        .collect();
    let order = LastMessageOrder::new(channels.iter().map(|i| {
        let last = serde_json::from_str::<ChannelSpec>(&i.spec).ok().and_then(|s| s.last_message_at);
        (i.gym_id, i.id, last)
    }));
    let rank: BTreeMap<i64, usize> = order.start_order().into_iter().enumerate().map(|(at, id)| (id, at)).collect();
    channels.sort_by_key(|i| rank.get(&i.id).copied());
    progress(Progress::Phase { name: "channels", total: channels.len() as u64 });
    move_channels(runner, options, channels, Arc::new(order), progress).await
}

/// Moves the channels, `concurrency` at work at once, gym after gym, in the order of their old
/// channels' last messages, until done or the run stops. A rebuilt room waiting for the batch
/// freeze of its old channel gives its place to the next room (up to [`WAITING_ROOMS`] times
/// `concurrency` rooms in progress): a batch's task takes longer than one full update, and the
/// batch is fuller. Places are taken in the rooms' order, and a room that gave its place up
/// never needs it back, so a room waiting for its turn in the channel-list order always has the
/// rooms before it at work or done. A gym's maintenance window is opened before its first
/// channel starts and ended after its last one finished.
async fn move_channels(
    runner: &Arc<Runner>,
    options: RunOptions,
    channels: Vec<MigrationItem>,
    order: Arc<LastMessageOrder>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(), MigrateError> {
    let mut left: BTreeMap<i64, usize> = BTreeMap::new();
    for c in &channels {
        *left.entry(c.gym_id).or_default() += 1;
    }
    let places = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let in_progress = options.concurrency.max(1) * WAITING_ROOMS;
    let mut tasks = JoinSet::new();
    let mut items_of: BTreeMap<tokio::task::Id, i64> = BTreeMap::new();
    let mut queue = channels.into_iter().peekable();
    loop {
        let can_start = tasks.len() < in_progress && !runner.stopped() && queue.peek().is_some();
        tokio::select! {
            place = places.clone().acquire_owned(), if can_start => {
                let (Ok(place), Some(item)) = (place, queue.next()) else { break };
                let gym = item.gym_id;
                if options.maintenance
                    && let Ok(gym_id) = GymId::new(gym)
                {
                    runner.hold_maintenance(gym_id).await?;
                }
                let runner = runner.clone();
                let (order, id) = (order.clone(), item.id);
                let task = tasks.spawn(async move {
                    let outcome = match (options.strategy, repairs(&item)) {
                        (_, true) | (Strategy::InPlace, _) => move_in_place(&runner, item).await,
                        (Strategy::Rebuild, false) => {
                            let step = RebuildStep { history: options.history, imported: options.imported, place };
                            move_rebuild(&runner, item, &order, step).await
                        }
                    };
                    // However it ended, it no longer holds up the channels after it.
                    order.pass(id);
                    if let Err(e) = &outcome {
                        runner.fail(id, e).await;
                    }
                    (gym, outcome.is_ok())
                });
                items_of.insert(task.id(), id);
            }
            joined = tasks.join_next_with_id(), if !tasks.is_empty() => match joined {
                Some(Ok((_, (gym, ok)))) => {
                    runner.outcome(ok);
                    progress(Progress::Item { ok });
                    let remaining = left.entry(gym).or_default();
                    *remaining = remaining.saturating_sub(1);
                    if *remaining == 0
                        && let Ok(gym_id) = GymId::new(gym)
                    {
                        runner.end_maintenance_of(gym_id).await;
                    }
                }
                Some(Err(e)) => {
                    if let Some(item) = items_of.get(&e.id()) {
                        order.pass(*item);
                    }
                    runner.outcome(false);
                    tracing::error!(error = %e, "a channel task ended abnormally");
                }
                None => {}
            },
            else => break,
        }
    }
    Ok(())
}

/// Whether a channel item repairs its room's own channel in place (whatever the strategy).
fn repairs(item: &MigrationItem) -> bool {
    serde_json::from_str::<ChannelSpec>(&item.spec).is_ok_and(|s| s.repair)
}
