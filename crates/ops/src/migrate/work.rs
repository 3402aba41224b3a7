//! Working a run's items, as one of any number of workers: what `apply` does once it opened the
//! run, and all that `gymchat migrate work` does, on any machine that reaches the database and
//! Stream.
//!
//! A worker claims its items from the journal (`gymchat_store`'s claims: one gym at a time, each
//! item under a lease of its own, renewed with the worker's heartbeat): the users of a gym in
//! batches of 100, then, once every user of a gym exists, the gym's channels, moved
//! `concurrency` at once in the order of their old channels' last messages. It goes on until
//! nothing is left for it: no item open, or only items that failed in this pass (anywhere) or
//! that wait for users that could not be made. While other workers hold claims, it waits: they
//! finish them, or they die and their claims run out, and it takes them over.
//!
//! The last worker to end sets the run's state from the journal and ends the maintenance windows
//! the run opened.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use gymchat_ids::GymId;
use gymchat_store::{ClaimKind, ItemKind, ItemState, MigrationItem, RunState, Session, Store, StoreError};
use gymchat_stream::Client;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::error::{MigrateError, StepError};
use super::in_place::move_in_place;
use super::lock::holder_name;
use super::options::{ApplyOptions, History, Strategy};
use super::order::LastMessageOrder;
use super::plan::spec::ChannelSpec;
use super::rebuild::{RebuildStep, move_rebuild};
use super::renew::{AbortOnDrop, keep_lease};
use super::report::Progress;
use super::run::Runner;
use super::users::upsert_users;

/// Rooms in progress per place at work: the rooms waiting for a batch freeze beside those at
/// work.
const WAITING_ROOMS: usize = 4;
/// Users per upsert.
const USERS_PER_CALL: i64 = gymchat_stream::limits::BATCH as i64;
/// Channels claimed at once: a gym's, up to this many.
const CHANNELS_PER_CLAIM: i64 = 10_000;
/// How often a worker with nothing to claim asks again while other workers hold claims.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// What one worker did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkReport {
    /// The run.
    pub run_id: String,
    /// Who worked (host, pid, PID namespace).
    pub worker: String,
    /// Items this worker finished.
    pub items_done: i64,
    /// Items whose step failed in its hands.
    pub items_failed: i64,
    /// The run's state as this worker left it: `running` while other workers still work; set
    /// from the journal by the last one.
    pub run_state: RunState,
    /// Why the run or this worker stopped, in words.
    pub message: Option<String>,
}

/// `gymchat migrate work [RUN_ID]`: joins the open run `run_id` (the newest open run when none is
/// given) and works its items until nothing is left for this worker. Of `options`, the
/// concurrency, the maintenance windows, the circuit breaker and the lease apply. A run whose
/// history goes through an import file is worked by `apply` alone (it writes that one file).
pub async fn work(
    store: &Store,
    client: &Client,
    run_id: Option<&str>,
    options: &ApplyOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<WorkReport, MigrateError> {
    let mut s = store.session().await?;
    let run = match run_id {
        Some(id) => {
            s.migration_run(id).await?.ok_or_else(|| MigrateError::NoSuchRun(format!("no migration run {id}")))?
        }
        None => s.migration_runs().await?.into_iter().find(|r| r.state.is_unfinished()).ok_or_else(|| {
            MigrateError::NoSuchRun("no open migration run: start one with `gymchat migrate apply`".into())
        })?,
    };
    let refuse = |reason: String| MigrateError::BadRun { run_id: run.run_id.clone(), reason };
    if !run.state.is_unfinished() {
        return Err(refuse(format!("it is {}: only an open run (running, stopped, incomplete) is worked", run.state)));
    }
    let strategy: Strategy = run.strategy.parse().map_err(refuse)?;
    let history: History = run.history.parse().map_err(refuse)?;
    if matches!(history, History::Import | History::ImportFile) {
        return Err(refuse(format!(
            "its history ({history}) goes through one import file, which only `gymchat migrate apply` writes"
        )));
    }
    let me = holder_name();
    let Some(pass) = join(&mut s, &run.run_id, &me).await? else {
        return Err(refuse("it was finished, rolled back or abandoned meanwhile".into()));
    };
    drop(s);
    let (runner, renewer) = start(store, client, &run.run_id, (me.clone(), pass), options);
    let run_options = RunOptions::new(strategy, history, options);
    let result = work_items(&runner, run_options, progress).await;
    drop(renewer);
    let ending = end_worker(&runner, result.as_ref().err()).await?;
    result?;
    let (items_done, items_failed) = runner.counts();
    Ok(WorkReport {
        run_id: run.run_id,
        worker: me,
        items_done,
        items_failed,
        run_state: ending.state,
        message: ending.message,
    })
}

/// Sets the run `running` again (when it is not finished nor being rolled back) and makes
/// `worker` one of its workers; returns when its pass began (the database's clock), or none when
/// the run is in no state to be worked.
pub(crate) async fn join(s: &mut Session, run_id: &str, worker: &str) -> Result<Option<i64>, StoreError> {
    if !s.resume_migration_run(run_id, worker, Utc::now()).await? {
        return Ok(None);
    }
    Ok(Some(s.join_run(run_id, worker).await?))
}

/// The runner of a worker that joined the run, and the task that keeps its claims, heartbeat and
/// windows alive (aborted when dropped, so a cancelled worker stops renewing them).
pub(crate) fn start(
    store: &Store,
    client: &Client,
    run_id: &str,
    worker: (String, i64),
    options: &ApplyOptions,
) -> (Arc<Runner>, AbortOnDrop) {
    let runner = Arc::new(Runner::for_worker(
        store.clone(),
        client.clone(),
        run_id.to_owned(),
        worker,
        options.lease_ttl,
        options.max_failure_rate,
    ));
    let renewer = keep_lease(runner.clone());
    (runner, renewer)
}

/// How the items of a run are worked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunOptions {
    pub strategy: Strategy,
    pub history: History,
    pub concurrency: usize,
    pub maintenance: bool,
    /// Stream's import has completed: items waiting for it in `copying` go on.
    pub imported: bool,
}

impl RunOptions {
    /// The first pass of a run of this strategy and history, as `options` say.
    pub(crate) fn new(strategy: Strategy, history: History, options: &ApplyOptions) -> Self {
        Self { strategy, history, concurrency: options.concurrency, maintenance: options.maintenance, imported: false }
    }
}

/// Works the run's items until nothing is left for this worker's pass, or the run stops.
pub(crate) async fn work_items(
    runner: &Arc<Runner>,
    options: RunOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(), MigrateError> {
    runner.count_workers().await;
    let open = runner.store.session().await?.migration_items(&runner.run_id).await?;
    let count = |kind: ItemKind| open.iter().filter(|i| i.kind == kind && i.state != ItemState::Done).count() as u64;
    let (users, channels) = (count(ItemKind::User), count(ItemKind::Channel));
    drop(open);
    progress(Progress::Phase { name: "users", total: users });
    let mut announced = false;
    let announce = |announced: &mut bool| {
        if !std::mem::replace(announced, true) {
            progress(Progress::Phase { name: "channels", total: channels });
        }
    };

    let order = Arc::new(LastMessageOrder::new([]));
    let mut left: BTreeMap<i64, usize> = BTreeMap::new();
    let places = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let in_progress = options.concurrency.max(1) * WAITING_ROOMS;
    let mut tasks = JoinSet::new();
    let mut items_of: BTreeMap<tokio::task::Id, i64> = BTreeMap::new();
    let mut queue: VecDeque<MigrationItem> = VecDeque::new();
    let mut next_claim = Instant::now();
    loop {
        if queue.is_empty() && !runner.stopped() && tasks.len() < in_progress && Instant::now() >= next_claim {
            make_users(runner, progress).await?;
            let claimed = if runner.stopped() {
                Vec::new()
            } else {
                runner.claim(ClaimKind::Channels, CHANNELS_PER_CLAIM).await?
            };
            if claimed.is_empty() {
                let elsewhere =
                    runner.store.session().await?.claimed_elsewhere(&runner.run_id, &runner.worker(), None).await?;
                if tasks.is_empty() && elsewhere == 0 {
                    break;
                }
                next_claim = Instant::now() + IDLE_POLL;
            } else {
                announce(&mut announced);
                queue.extend(in_start_order(&order, claimed, &mut left));
            }
        }
        let can_start = tasks.len() < in_progress && !runner.stopped() && !queue.is_empty();
        if !can_start && tasks.is_empty() {
            if runner.stopped() {
                break;
            }
            tokio::time::sleep_until(next_claim).await;
            continue;
        }
        tokio::select! {
            place = places.clone().acquire_owned(), if can_start => {
                let (Ok(place), Some(item)) = (place, queue.pop_front()) else { break };
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
                    // A step the run's stop kept from starting was not tried: another worker may.
                    runner.release(id, !matches!(outcome, Err(StepError::Stopped(_)))).await;
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
                        runner.release(*item, true).await;
                    }
                    runner.outcome(false);
                    tracing::error!(error = %e, "a channel task ended abnormally");
                }
                None => {}
            },
            () = tokio::time::sleep_until(next_claim), if queue.is_empty() && !runner.stopped() => {}
            else => break,
        }
    }
    Ok(())
}

/// Makes the users of every gym this worker can claim users of, a batch of 100 at a time.
async fn make_users(runner: &Runner, progress: &(dyn Fn(Progress) + Sync)) -> Result<(), MigrateError> {
    while !runner.stopped() {
        let batch = runner.claim(ClaimKind::Users, USERS_PER_CALL).await?;
        if batch.is_empty() {
            break;
        }
        let refs: Vec<&MigrationItem> = batch.iter().collect();
        let made = upsert_users(runner, &refs).await;
        runner.release_all(&batch.iter().map(|i| i.id).collect::<Vec<_>>(), true).await;
        let ok = made?;
        for _ in &batch {
            runner.outcome(ok);
            progress(Progress::Item { ok });
        }
    }
    Ok(())
}

/// A gym's claimed channels, in the order they start (their old channels' last messages).
fn in_start_order(
    order: &LastMessageOrder,
    claimed: Vec<MigrationItem>,
    left: &mut BTreeMap<i64, usize>,
) -> Vec<MigrationItem> {
    let ids = order.add(claimed.iter().map(|i| {
        let last = serde_json::from_str::<ChannelSpec>(&i.spec).ok().and_then(|s| s.last_message_at);
        (i.gym_id, i.id, last)
    }));
    let mut by_id: BTreeMap<i64, MigrationItem> = claimed.into_iter().map(|i| (i.id, i)).collect();
    let sorted: Vec<MigrationItem> = ids.into_iter().filter_map(|id| by_id.remove(&id)).collect();
    for item in &sorted {
        *left.entry(item.gym_id).or_default() += 1;
    }
    sorted
}

/// Whether a channel item repairs its room's own channel in place (whatever the strategy).
fn repairs(item: &MigrationItem) -> bool {
    serde_json::from_str::<ChannelSpec>(&item.spec).is_ok_and(|s| s.repair)
}

/// How a worker's end left the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ending {
    /// The run's state: set from the journal by the last worker to end; `running` while others
    /// still work.
    pub state: RunState,
    /// Why the run (or this worker) stopped, in words.
    pub message: Option<String>,
    /// This worker was the last: it set the state.
    pub last: bool,
}

/// Ends this worker: lets go of the items it never started, says it ended, and, when no other
/// worker of the run is at work any more, sets the run's state from the journal and ends every
/// maintenance window the run opened.
pub(crate) async fn end_worker(runner: &Runner, error: Option<&MigrateError>) -> Result<Ending, MigrateError> {
    let me = runner.worker();
    let why = error.map(ToString::to_string).or_else(|| runner.why());
    let mut s = runner.store.session().await?;
    s.release_claims(&runner.run_id, &me).await?;
    let now = s.db_clock_ms().await?;
    s.prune_rate_budget(now).await?;
    let state = if why.is_some() { "stopped" } else { "finished" };
    s.worker_beat(&runner.run_id, &me, runner.counts(), Some((state, why.as_deref()))).await?;
    // Another worker still at work finishes the run, unless it holds nothing: then it is about
    // to end too (and both may set the same state) or it died, and its heartbeat lapses soon.
    let deadline = Instant::now() + runner.lease_ttl().to_std().unwrap_or_default() * 2;
    loop {
        let others = s.live_workers(&me, runner.lease_ttl()).await?;
        if !others.iter().any(|(run, _)| *run == runner.run_id) {
            break;
        }
        if s.claimed_elsewhere(&runner.run_id, &me, None).await? > 0 || Instant::now() >= deadline {
            return Ok(Ending { state: RunState::Running, message: why, last: false });
        }
        tokio::time::sleep(IDLE_POLL).await;
    }
    let items = s.migration_items(&runner.run_id).await?;
    let open = items.iter().any(|i| i.kind != ItemKind::Skipped && i.state != ItemState::Done);
    let state = match (&why, open) {
        (Some(_), _) => RunState::Stopped,
        (None, false) => RunState::Done,
        (None, true) => RunState::Incomplete,
    };
    let finished = state != RunState::Stopped;
    s.set_migration_run_state(&runner.run_id, state, &me, why.as_deref(), finished, Utc::now()).await?;
    drop(s);
    runner.end_all_maintenance().await;
    Ok(Ending { state, message: why, last: true })
}
