//! Carrying a plan out: a run opened (or the unfinished run of its gyms continued) under the run
//! lock, users first in batches of 100, then every room's channel, `concurrency` at once, each
//! item journaled step by step ([`super::rebuild`], [`super::in_place`]); the import file last
//! (`--history import-file`); then the report.
//!
//! Every step is safe to repeat, so a resumed run redoes the step an item was in.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use gymchat_ids::{GymId, RoomId};
use gymchat_store::{ItemKind, ItemState, MigrationItem, MigrationRun, NewItem, RunState, Store};
use gymchat_stream::Client;
use tokio::task::JoinSet;

use super::error::MigrateError;
use super::in_place::move_in_place;
use super::lock::take_lock;
use super::options::{ApplyOptions, History, Strategy};
use super::plan::spec::{ChannelSpec, Plan, SkippedRoom};
use super::rebuild::move_rebuild;
use super::report::{ImportFile, ItemOutcome, Progress, Report};
use super::run::{Breaker, Runner, keep_lease};
use super::users::upsert_users;

/// Users per upsert.
const USERS_PER_CALL: usize = gymchat_stream::limits::BATCH;

/// Carries `plan` out, or continues the unfinished run of its gyms.
pub async fn apply(
    store: &Store,
    client: &Client,
    plan: &Plan,
    options: ApplyOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report, MigrateError> {
    let mut s = store.session().await?;
    let lease = take_lock(&mut s).await?;
    let gyms: Vec<i64> = plan.gyms.iter().map(|g| g.gym_id).collect();
    let unfinished = s
        .migration_runs()
        .await?
        .into_iter()
        .find(|r| r.state.is_unfinished() && r.gyms.iter().any(|g| gyms.contains(g)));
    let (run, resumed) = match unfinished {
        Some(run) => (run, true),
        None => (open_run(store, plan, &lease.holder).await?, false),
    };
    s.set_migration_run_state(&run.run_id, RunState::Running, &lease.holder, None, false, Utc::now()).await?;
    drop(s);

    let runner = Arc::new(Runner::new(
        store.clone(),
        client.clone(),
        run.run_id.clone(),
        lease,
        Breaker::new(options.max_failure_rate),
    ));
    // Aborted when apply ends or is dropped, so a cancelled apply stops renewing its lease.
    let renewer = keep_lease(runner.clone());
    let bad = |reason: String| MigrateError::BadRun { run_id: run.run_id.clone(), reason };
    let strategy: Strategy = run.strategy.parse().map_err(bad)?;
    let history: History = run.history.parse().map_err(bad)?;

    let mut result = run_items(&runner, strategy, history, &options, progress).await;
    let mut import_file = None;
    if result.is_ok() && history == History::ImportFile && !runner.stopped() {
        let path = options.import_file.clone().unwrap_or_else(|| PathBuf::from(format!("import_{}.jsonl", run.run_id)));
        match super::import::write(&runner.store, &runner.client, &run.run_id, &path).await {
            Ok(lines) => import_file = Some(ImportFile { path: path.display().to_string(), lines }),
            Err(e) => result = Err(MigrateError::ImportFile(format!("{}: {e}", path.display()))),
        }
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
    result?;
    Ok(report(&run, resumed, state, message, strategy, history, failed, import_file, &items))
}

/// The report of a run from its journal.
#[allow(clippy::too_many_arguments, reason = "one field of the report each")]
fn report(
    run: &MigrationRun,
    resumed: bool,
    state: RunState,
    message: Option<String>,
    strategy: Strategy,
    history: History,
    failed: Vec<ItemOutcome>,
    import_file: Option<ImportFile>,
    items: &[MigrationItem],
) -> Report {
    let mut skipped = Vec::new();
    let mut notes = Vec::new();
    for i in items {
        if i.kind == ItemKind::Skipped
            && let Ok(sk) = serde_json::from_str::<SkippedRoom>(&i.spec)
        {
            skipped.push(sk);
        }
        if i.kind == ItemKind::Channel
            && let Ok(spec) = serde_json::from_str::<ChannelSpec>(&i.spec)
            && let Some(note) = spec.note
        {
            notes.push(format!("room {}: {note}", spec.room_id));
        }
    }
    let done = |kind: ItemKind| items.iter().filter(|i| i.kind == kind && i.state == ItemState::Done).count();
    Report {
        run_id: run.run_id.clone(),
        resumed,
        state,
        message,
        gyms: run.gyms.clone(),
        strategy,
        history,
        users_done: done(ItemKind::User),
        channels_done: done(ItemKind::Channel),
        failed,
        skipped,
        notes,
        import_file,
        items: items.iter().filter(|i| i.kind != ItemKind::Skipped).map(ItemOutcome::from).collect(),
    }
}

/// Opens a run and journals every item of the plan, in one transaction.
async fn open_run(store: &Store, plan: &Plan, holder: &str) -> Result<MigrationRun, MigrateError> {
    let now = Utc::now();
    let run = MigrationRun {
        run_id: format!("migrate-{}", uuid::Uuid::new_v4().simple()),
        gyms: plan.gyms.iter().map(|g| g.gym_id).collect(),
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
    for g in &plan.gyms {
        let gym = GymId::new(g.gym_id).map_err(|e| MigrateError::StalePlan(e.to_string()))?;
        if !g.complete() {
            return Err(MigrateError::StalePlan(format!(
                "gym {gym} could not be read whole, so it is not migrated: {}",
                g.problems.join("; ")
            )));
        }
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

/// The users phase, then, once every user is there, the channels.
async fn run_items(
    runner: &Arc<Runner>,
    strategy: Strategy,
    history: History,
    options: &ApplyOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(), MigrateError> {
    let items = runner.store.session().await?.migration_items(&runner.run_id).await?;
    let users: Vec<&MigrationItem> =
        items.iter().filter(|i| i.kind == ItemKind::User && i.state != ItemState::Done).collect();
    progress(Progress::Phase { name: "users", total: users.len() as u64 });
    for batch in users.chunks(USERS_PER_CALL) {
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
    // Channels move only once every user is there: a member who does not exist would fail them.
    let journal = runner.store.session().await?.migration_items(&runner.run_id).await?;
    let missing_users = journal.iter().filter(|i| i.kind == ItemKind::User && i.state != ItemState::Done).count();
    if missing_users > 0 {
        runner.stop(format!("{missing_users} users could not be created; no channel was touched"));
        return Ok(());
    }
    let channels: Vec<MigrationItem> =
        items.into_iter().filter(|i| i.kind == ItemKind::Channel && i.state != ItemState::Done).collect();
    progress(Progress::Phase { name: "channels", total: channels.len() as u64 });
    move_channels(runner, strategy, history, options.concurrency, channels, progress).await;
    Ok(())
}

/// Moves the channels, `concurrency` at once, until done or the run stops.
async fn move_channels(
    runner: &Arc<Runner>,
    strategy: Strategy,
    history: History,
    concurrency: usize,
    channels: Vec<MigrationItem>,
    progress: &(dyn Fn(Progress) + Sync),
) {
    let mut tasks = JoinSet::new();
    let mut queue = channels.into_iter();
    loop {
        while tasks.len() < concurrency.max(1) && !runner.stopped() {
            let Some(item) = queue.next() else { break };
            let runner = runner.clone();
            tasks.spawn(async move {
                let id = item.id;
                let outcome = match strategy {
                    Strategy::Rebuild => move_rebuild(&runner, item, history).await,
                    Strategy::InPlace => move_in_place(&runner, item).await,
                };
                if let Err(e) = &outcome {
                    runner.fail(id, e).await;
                }
                outcome.is_ok()
            });
        }
        match tasks.join_next().await {
            Some(Ok(ok)) => {
                runner.outcome(ok);
                progress(Progress::Item { ok });
            }
            Some(Err(e)) => {
                runner.outcome(false);
                tracing::error!(error = %e, "a channel task ended abnormally");
            }
            None => break,
        }
    }
}
