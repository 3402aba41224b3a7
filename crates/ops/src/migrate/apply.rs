//! Carrying a plan out: users first, then channels, each item journaled step by step.
//!
//! A channel of `rebuild` goes through these states:
//!
//! `planned → creating → copying → verifying → freezing_old → switched → finishing → done`
//!
//! Each is written before the call it guards; the write that starts a step also records that the
//! previous one succeeded (one write where two would say the same), so an item's state is always
//! the step under way, whose call may or may not have happened, and every step before it is done.
//!
//! - create: the target channel with members, team, creator and custom fields (`migrated_from`
//!   names the old cid, so a channel with that id not made from this room is refused);
//! - copy: every message of the old channel the new one lacks, oldest first, under a
//!   deterministic id, sender mapped, `skip_push` and `skip_enrich_url`;
//! - verify: members, team, `gym_id`, and every old message's copy present;
//! - freeze old: one read-modify-write full update that freezes it and posts a system note
//!   saying where the conversation went; then the messages written meanwhile are copied;
//! - switch: one transaction holds the lease check, the room's new `stream_channel_id`, the
//!   channel move (the audit's "archived") and the item's state;
//! - finish: the new channel is frozen when the old one was or the room's event is over.
//!
//! `in-place`: `planned → updating → verifying → done`: one full update sets team and
//! `gym_id` while adding the target members and removing the legacy ones.
//!
//! Every step is safe to repeat, so a resumed run redoes the step an item was in.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use gymchat_ids::{Cid, GymId, RoomId, StreamUserId, Team};
use gymchat_store::{ChannelMove, Lease, MigrationItem, MigrationRun, NewItem, Store};
use gymchat_stream::model::{ChannelData, ChannelUpdate, Message, NewMessage, SendOptions, User, UserPatch};
use gymchat_stream::rules::{Breach, MAX_ATTACHMENTS, MAX_MENTIONS, MAX_TEXT_CHARS, check_message, inert_text};
use gymchat_stream::{Client, StreamError};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use super::plan::{ChannelSpec, MIGRATED_FROM, NOTE_PREFIX, Plan, SkippedRoom, UserSpec};
use super::{History, LEASE_TTL_SECONDS, MigrateError, Strategy, take_lock};

/// How an apply runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyOptions {
    /// Stop when the share of failed items over the last [`BREAKER_WINDOW`] passes this.
    pub max_failure_rate: f64,
    /// Channels moved at once.
    pub concurrency: usize,
    /// Where `--history import-file` writes the import file (default `import_{run_id}.jsonl`).
    pub import_file: Option<PathBuf>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self { max_failure_rate: 0.2, concurrency: 32, import_file: None }
    }
}

/// Item outcomes the circuit breaker looks at.
pub const BREAKER_WINDOW: usize = 50;
/// Outcomes it needs before it may trip.
const BREAKER_MIN: usize = 10;
/// Users per upsert.
const USERS_PER_CALL: usize = 100;
/// Members per update.
const MEMBERS_PER_UPDATE: usize = 100;

/// What a phase did, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A phase starts with this many items to do.
    Phase {
        /// `users` or `channels`.
        name: &'static str,
        /// Items.
        total: u64,
    },
    /// An item of the phase ended.
    Item {
        /// Whether it succeeded.
        ok: bool,
    },
}

/// One item's outcome, as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemOutcome {
    /// `user` or `channel`.
    pub kind: String,
    /// The gym.
    pub gym_id: i64,
    /// The room (channels).
    pub room_id: Option<i64>,
    /// Old id.
    pub old_id: String,
    /// New id.
    pub new_id: String,
    /// State reached.
    pub state: String,
    /// Attempts.
    pub attempts: i64,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// What was done (copied messages, altered messages, …).
    pub detail: Option<Value>,
}

impl From<&MigrationItem> for ItemOutcome {
    fn from(i: &MigrationItem) -> Self {
        ItemOutcome {
            kind: i.kind.clone(),
            gym_id: i.gym_id,
            room_id: i.room_id,
            old_id: i.old_id.clone(),
            new_id: i.new_id.clone(),
            state: i.state.clone(),
            attempts: i.attempts,
            error: i.last_error.clone(),
            detail: i.detail.as_deref().and_then(|d| serde_json::from_str(d).ok()),
        }
    }
}

/// The report of an apply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The run.
    pub run_id: String,
    /// Whether an unfinished run was continued.
    pub resumed: bool,
    /// `done`, `incomplete` (some items failed) or `stopped` (breaker or lost lock).
    pub state: String,
    /// Why it stopped, when it did.
    pub message: Option<String>,
    /// The gyms.
    pub gyms: Vec<i64>,
    /// Strategy.
    pub strategy: Strategy,
    /// History.
    pub history: History,
    /// Counts.
    pub users_done: usize,
    /// Counts.
    pub channels_done: usize,
    /// Items that did not finish, with their errors.
    pub failed: Vec<ItemOutcome>,
    /// Rooms left alone, with why.
    pub skipped: Vec<SkippedRoom>,
    /// Rooms that did not take the id their kind gives (several rooms for one event or pair).
    pub notes: Vec<String>,
    /// The import file written (`--history import-file`), and its lines.
    pub import_file: Option<ImportFile>,
    /// Every item.
    pub items: Vec<ItemOutcome>,
}

/// An import file written for Stream's import service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportFile {
    /// Where.
    pub path: String,
    /// Lines per item type (`user`, `channel`, `member`, `message`).
    pub lines: std::collections::BTreeMap<String, usize>,
}

impl Report {
    /// 0 all done, 1 some items failed, 2 the run stopped.
    pub fn exit_code(&self) -> u8 {
        match self.state.as_str() {
            "done" => 0,
            "incomplete" => 1,
            _ => 2,
        }
    }
}

/// The circuit breaker: a sliding window of item outcomes.
struct Breaker {
    window: VecDeque<bool>,
    max_rate: f64,
}

impl Breaker {
    /// Records an outcome; true when the breaker trips.
    fn record(&mut self, ok: bool) -> bool {
        self.window.push_back(ok);
        if self.window.len() > BREAKER_WINDOW {
            self.window.pop_front();
        }
        let failed = self.window.iter().filter(|ok| !**ok).count();
        self.window.len() >= BREAKER_MIN && failed as f64 / self.window.len() as f64 > self.max_rate
    }
}

/// What every task of a run shares.
struct Runner {
    store: Store,
    client: Client,
    lease: Mutex<Lease>,
    stop: AtomicBool,
    why: Mutex<Option<String>>,
    breaker: Mutex<Breaker>,
    run_id: String,
}

impl Runner {
    fn stop(&self, why: String) {
        if !self.stop.swap(true, Ordering::SeqCst) {
            *self.why.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn lease(&self) -> Lease {
        self.lease.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn outcome(&self, ok: bool) {
        let (tripped, rate) = {
            let mut breaker = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
            (breaker.record(ok), breaker.max_rate)
        };
        if tripped {
            self.stop(format!(
                "circuit breaker: more than {:.0}% of the last items failed; the run is kept and resumes with the same \
                 command once the cause is fixed",
                rate * 100.0
            ));
        }
    }

    /// The previous step succeeded (with `detail`, when given) and the step `state` starts.
    async fn advance(&self, id: i64, state: &str, detail: Option<&Value>) -> Result<(), String> {
        let mut s = self.store.session().await.map_err(|e| e.to_string())?;
        let detail = detail.map(Value::to_string);
        s.advance_item(id, state, detail.as_deref(), Utc::now()).await.map_err(|e| e.to_string())
    }

    async fn done(&self, id: i64, state: &str, detail: Option<&Value>) -> Result<(), String> {
        let mut s = self.store.session().await.map_err(|e| e.to_string())?;
        let detail = detail.map(Value::to_string);
        s.finish_item_step(id, state, detail.as_deref(), Utc::now()).await.map_err(|e| e.to_string())
    }
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
    let lease = take_lock(&mut s).await?;
    let gyms: Vec<i64> = plan.gyms.iter().map(|g| g.gym_id).collect();
    let unfinished = s.migration_runs().await?.into_iter().find(|r| {
        ["running", "stopped", "incomplete"].contains(&r.state.as_str()) && r.gyms.iter().any(|g| gyms.contains(g))
    });
    let (run, resumed) = match unfinished {
        Some(run) => (run, true),
        None => (open_run(store, plan, &lease.holder).await?, false),
    };
    s.set_migration_run_state(&run.run_id, "running", &lease.holder, None, false, Utc::now()).await?;
    drop(s);

    let runner = Arc::new(Runner {
        store: store.clone(),
        client: client.clone(),
        lease: Mutex::new(lease),
        stop: AtomicBool::new(false),
        why: Mutex::new(None),
        breaker: Mutex::new(Breaker { window: VecDeque::new(), max_rate: options.max_failure_rate }),
        run_id: run.run_id.clone(),
    });
    // Aborted when apply ends or is dropped, so a cancelled apply stops renewing its lease.
    let renewer = AbortOnDrop(tokio::spawn(renew(runner.clone())));
    let bad = |reason: String| MigrateError::BadRun { run_id: run.run_id.clone(), reason };
    let strategy: Strategy = run.strategy.parse().map_err(bad)?;
    let history: History = run.history.parse().map_err(bad)?;

    let mut result = run_items(&runner, strategy, history, options.clone(), progress).await;
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
    let why = runner.why.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let failed: Vec<ItemOutcome> =
        items.iter().filter(|i| i.kind != "skipped" && i.state != "done").map(ItemOutcome::from).collect();
    let state = match (&result, &why, failed.is_empty()) {
        (Err(_), _, _) | (_, Some(_), _) => "stopped",
        (Ok(()), None, true) => "done",
        (Ok(()), None, false) => "incomplete",
    };
    let message = match &result {
        Err(e) => Some(e.to_string()),
        Ok(()) => why,
    };
    s.set_migration_run_state(&run.run_id, state, &lease.holder, message.as_deref(), state != "stopped", Utc::now())
        .await?;
    let _ = s.release_lock(&lease).await;
    result?;

    let mut skipped = Vec::new();
    let mut notes = Vec::new();
    for i in &items {
        if i.kind == "skipped"
            && let Ok(sk) = serde_json::from_str::<SkippedRoom>(&i.spec)
        {
            skipped.push(sk);
        }
        if i.kind == "channel"
            && let Ok(spec) = serde_json::from_str::<ChannelSpec>(&i.spec)
            && let Some(note) = spec.note
        {
            notes.push(format!("room {}: {note}", spec.room_id));
        }
    }
    Ok(Report {
        run_id: run.run_id.clone(),
        resumed,
        state: state.to_owned(),
        message,
        gyms: run.gyms.clone(),
        strategy,
        history,
        users_done: items.iter().filter(|i| i.kind == "user" && i.state == "done").count(),
        channels_done: items.iter().filter(|i| i.kind == "channel" && i.state == "done").count(),
        failed,
        skipped,
        notes,
        import_file,
        items: items.iter().filter(|i| i.kind != "skipped").map(ItemOutcome::from).collect(),
    })
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
        state: "running".to_owned(),
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
        for u in &g.users {
            let spec = serde_json::to_string(u).unwrap_or_default();
            let item = NewItem {
                gym_id: gym,
                kind: "user",
                room_id: None,
                old_id: &u.id,
                new_id: &u.id,
                state: "planned",
                spec: &spec,
            };
            tx.add_migration_item(&run.run_id, &item, now).await?;
        }
        for c in &g.channels {
            let spec = serde_json::to_string(c).unwrap_or_default();
            let room = RoomId::new(c.room_id).ok();
            let item = NewItem {
                gym_id: gym,
                kind: "channel",
                room_id: room,
                old_id: &c.old_cid,
                new_id: &c.new_cid,
                state: "planned",
                spec: &spec,
            };
            tx.add_migration_item(&run.run_id, &item, now).await?;
        }
        for sk in &g.skipped {
            let spec = serde_json::to_string(sk).unwrap_or_default();
            let old = format!("room {}", sk.room_id);
            let item = NewItem {
                gym_id: gym,
                kind: "skipped",
                room_id: RoomId::new(sk.room_id).ok(),
                old_id: &old,
                new_id: "",
                state: "skipped",
                spec: &spec,
            };
            tx.add_migration_item(&run.run_id, &item, now).await?;
        }
    }
    tx.commit().await?;
    Ok(run)
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the lease every third of its life; a lost lease stops the run.
async fn renew(runner: Arc<Runner>) {
    let every = std::time::Duration::from_secs((LEASE_TTL_SECONDS / 3).max(1) as u64);
    loop {
        tokio::time::sleep(every).await;
        let lease = runner.lease();
        let renewed = match runner.store.session().await {
            Ok(mut s) => s.renew_lock(&lease, chrono::Duration::seconds(LEASE_TTL_SECONDS)).await,
            Err(e) => Err(e),
        };
        match renewed {
            Ok(l) => *runner.lease.lock().unwrap_or_else(|e| e.into_inner()) = l,
            Err(gymchat_store::StoreError::LockLost { .. }) => {
                runner.stop("the migration lock was taken by another run; this one stopped".into());
                return;
            }
            Err(e) => tracing::warn!(error = %e, "could not renew the migration lease; will try again"),
        }
    }
}

async fn run_items(
    runner: &Arc<Runner>,
    strategy: Strategy,
    history: History,
    options: ApplyOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(), MigrateError> {
    let items = runner.store.session().await?.migration_items(&runner.run_id).await?;
    let users: Vec<&MigrationItem> = items.iter().filter(|i| i.kind == "user" && i.state != "done").collect();
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
    let missing_users = runner
        .store
        .session()
        .await?
        .migration_items(&runner.run_id)
        .await?
        .iter()
        .filter(|i| i.kind == "user" && i.state != "done")
        .count();
    if missing_users > 0 {
        runner.stop(format!("{missing_users} users could not be created; no channel was touched"));
        return Ok(());
    }

    let channels: Vec<MigrationItem> = items.into_iter().filter(|i| i.kind == "channel" && i.state != "done").collect();
    progress(Progress::Phase { name: "channels", total: channels.len() as u64 });
    let mut tasks = JoinSet::new();
    let mut queue = channels.into_iter();
    loop {
        while tasks.len() < options.concurrency.max(1) && !runner.stopped() {
            let Some(item) = queue.next() else { break };
            let runner = runner.clone();
            tasks.spawn(async move {
                let id = item.id;
                let outcome = match strategy {
                    Strategy::Rebuild => move_rebuild(&runner, item, history).await,
                    Strategy::InPlace => move_in_place(&runner, item).await,
                };
                if let Err(e) = &outcome
                    && let Ok(mut s) = runner.store.session().await
                {
                    let _ = s.fail_item(id, e, Utc::now()).await;
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
    Ok(())
}

/// Phase 1: one upsert for the new users of a batch, one partial update for those that only
/// need the team. Journaled before and after.
async fn upsert_users(runner: &Runner, batch: &[&MigrationItem]) -> Result<bool, MigrateError> {
    let mut s = runner.store.session().await?;
    let now = Utc::now();
    let mut new = Vec::new();
    let mut patches = Vec::new();
    for item in batch {
        let spec: UserSpec = serde_json::from_str(&item.spec)
            .map_err(|e| MigrateError::BadItem { id: item.id, reason: e.to_string() })?;
        let (Ok(id), Ok(team)) = (StreamUserId::parse(&spec.id), Team::parse(&spec.team)) else {
            return Err(MigrateError::BadItem { id: item.id, reason: "not a Stream user id or team".into() });
        };
        s.start_item_step(item.id, "upserting", now).await?;
        if spec.exists {
            let mut set = Map::new();
            set.insert("teams".into(), json!([team]));
            patches.push(UserPatch { id, set, unset: Vec::new() });
        } else {
            let mut user = User::new(id);
            user.name = spec.name.clone();
            user.image = spec.image.clone();
            user.teams = vec![team];
            if !spec.legacy_ids.is_empty() {
                user.custom.insert("legacy_ids".into(), json!(spec.legacy_ids));
            }
            new.push(user);
        }
    }
    let mut result: Result<(), StreamError> = Ok(());
    if !new.is_empty() {
        result = runner.client.upsert_users(&new).await.map(|_| ());
    }
    if result.is_ok() && !patches.is_empty() {
        result = runner.client.update_users_partial(&patches).await.map(|_| ());
    }
    let now = Utc::now();
    for item in batch {
        match &result {
            Ok(()) => s.finish_item_step(item.id, "done", None, now).await?,
            Err(e) => s.fail_item(item.id, &e.to_string(), now).await?,
        }
    }
    Ok(result.is_ok())
}

/// The order of a rebuild item's states.
const REBUILD_STATES: &[&str] =
    &["planned", "creating", "copying", "verifying", "freezing_old", "switched", "finishing", "done"];

/// Position of a state; an unknown state starts over (every step is safe to repeat).
pub(crate) fn rank(state: &str) -> usize {
    REBUILD_STATES.iter().position(|s| *s == state).unwrap_or(0)
}

fn parse_spec(item: &MigrationItem) -> Result<(ChannelSpec, Cid, Cid), String> {
    let spec: ChannelSpec = serde_json::from_str(&item.spec).map_err(|e| format!("journal spec: {e}"))?;
    let old = Cid::parse(&spec.old_cid).map_err(|e| e.to_string())?;
    let new = Cid::parse(&spec.new_cid).map_err(|e| e.to_string())?;
    Ok((spec, old, new))
}

fn users(ids: &[String]) -> Result<Vec<StreamUserId>, String> {
    ids.iter().map(|u| StreamUserId::parse(u).map_err(|e| e.to_string())).collect()
}

fn err(e: StreamError) -> String {
    e.to_string()
}

/// Moves one room by rebuilding its channel, from whatever state the journal holds.
async fn move_rebuild(runner: &Runner, item: MigrationItem, history: History) -> Result<(), String> {
    let (spec, old, new) = parse_spec(&item)?;
    let id = item.id;
    let at = rank(&item.state);
    let mut detail = item.detail.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()).unwrap_or(json!({}));

    if at < rank("copying") {
        runner.advance(id, "creating", None).await?;
        create_channel(runner, &spec, &new).await?;
    }
    if at < rank("verifying") {
        runner.advance(id, "copying", None).await?;
        if history == History::Copy {
            let copied = sync_history(runner, &spec, &old, &new, true).await?;
            detail["copied"] = json!(copied.sent);
            detail["messages"] = json!(copied.expected);
            detail["altered"] = json!(copied.altered);
        }
    }
    if at < rank("freezing_old") {
        runner.advance(id, "verifying", Some(&detail)).await?;
        verify_channel(runner, &spec, &new).await?;
        if history == History::Copy {
            let check = sync_history(runner, &spec, &old, &new, false).await?;
            if check.missing > 0 {
                return Err(format!("{new} lacks {} of the old channel's {} messages", check.missing, check.expected));
            }
        }
    }
    if at < rank("switched") {
        runner.advance(id, "freezing_old", None).await?;
        freeze_old(runner, &spec, &old, &new).await?;
        if history == History::Copy {
            // Messages written to the old channel between the copy and the freeze.
            let late = sync_history(runner, &spec, &old, &new, true).await?;
            if late.sent > 0 {
                detail["copied_after_freeze"] = json!(late.sent);
            }
            detail["messages"] = json!(late.expected);
            if !late.altered.is_empty()
                && let Some(list) = detail["altered"].as_array_mut()
            {
                list.extend(late.altered);
            }
        }
        switch_room(runner, &item, &spec, &old, &new, &detail).await?;
    }
    if at < rank("done") {
        runner.advance(id, "finishing", None).await?;
        if spec.frozen_after {
            runner
                .client
                .update_channel_data(
                    &new,
                    |d| {
                        d.insert("frozen".into(), json!(true));
                    },
                    ChannelUpdate::default(),
                )
                .await
                .map_err(err)?;
        }
        runner.done(id, "done", None).await?;
    }
    Ok(())
}

/// Creates the target channel (or finds the one an earlier attempt made) with every member.
async fn create_channel(runner: &Runner, spec: &ChannelSpec, new: &Cid) -> Result<(), String> {
    let members = users(&spec.members)?;
    let data = ChannelData {
        created_by_id: Some(StreamUserId::parse(&spec.created_by).map_err(|e| e.to_string())?),
        team: Some(Team::parse(&spec.team).map_err(|e| e.to_string())?),
        members: members.iter().take(MEMBERS_PER_UPDATE).cloned().collect(),
        frozen: None,
        custom: spec.custom.clone(),
    };
    let state = runner.client.get_or_create_channel(new, Some(&data), 0, None).await.map_err(err)?.body;
    if state.channel.custom.get(MIGRATED_FROM) != Some(&json!(spec.old_cid)) {
        return Err(format!("{new} exists and was not made from {}: left alone", spec.old_cid));
    }
    // The answer carries a page of members; read them all when there are more than a page.
    let present: HashSet<StreamUserId> = if members.len() > MEMBERS_PER_UPDATE {
        runner.client.channel_members(new).await.map_err(err)?.into_iter().collect()
    } else {
        state.members.into_iter().map(|m| m.user_id).collect()
    };
    add_members(runner, new, members.into_iter().filter(|m| !present.contains(m)).collect()).await
}

async fn add_members(runner: &Runner, cid: &Cid, members: Vec<StreamUserId>) -> Result<(), String> {
    for chunk in members.chunks(MEMBERS_PER_UPDATE) {
        let update = ChannelUpdate { add_members: chunk.to_vec(), ..ChannelUpdate::default() };
        runner.client.update_channel(cid, &update).await.map_err(err)?;
    }
    Ok(())
}

/// Checks the new channel: team, `gym_id`, and exactly the planned members.
async fn verify_channel(runner: &Runner, spec: &ChannelSpec, cid: &Cid) -> Result<(), String> {
    let state = runner.client.get_or_create_channel(cid, None, 0, None).await.map_err(err)?.body;
    if state.channel.team.as_ref().map(|t| t.as_str()) != Some(spec.team.as_str()) {
        return Err(format!("{cid} has team {:?}, not {}", state.channel.team, spec.team));
    }
    if state.channel.custom.get("gym_id") != spec.custom.get("gym_id") {
        return Err(format!(
            "{cid} has gym_id {:?}, not {:?}",
            state.channel.custom.get("gym_id"),
            spec.custom.get("gym_id")
        ));
    }
    let members: BTreeSet<String> =
        runner.client.channel_members(cid).await.map_err(err)?.into_iter().map(|m| m.to_string()).collect();
    let want: BTreeSet<String> = spec.members.iter().cloned().collect();
    if members != want {
        let missing: Vec<&String> = want.difference(&members).collect();
        let extra: Vec<&String> = members.difference(&want).collect();
        return Err(format!("{cid} members differ from the room's: missing {missing:?}, extra {extra:?}"));
    }
    Ok(())
}

/// The result of bringing the new channel's history up to the old one's.
struct Synced {
    /// Messages of the old channel to be copied.
    expected: usize,
    /// Sent now.
    sent: usize,
    /// Still missing (when not sending).
    missing: usize,
    /// Copies that had to differ from the original, and why.
    altered: Vec<Value>,
}

/// The id of a message's copy: the same for every attempt, unique per channel and message.
pub(crate) fn copy_id(new: &Cid, original: &str) -> String {
    let digest = Sha256::digest(format!("{new}\n{original}").as_bytes());
    format!("gm-{}", &hex::encode(digest)[..40])
}

/// The id of the note posted in the old channel.
pub(crate) fn note_id(old: &Cid) -> String {
    let digest = Sha256::digest(old.to_string().as_bytes());
    format!("{NOTE_PREFIX}{}", &hex::encode(digest)[..40])
}

/// Kinds of message that are copied; others (deleted, ephemeral, error) are not history.
pub(crate) const COPIED_KINDS: &[&str] = &["regular", "system", "reply", ""];

/// Sends, oldest first, every message of `old` whose copy `new` lacks (or, with `send` false,
/// counts them).
async fn sync_history(runner: &Runner, spec: &ChannelSpec, old: &Cid, new: &Cid, send: bool) -> Result<Synced, String> {
    let originals: Vec<Message> = runner
        .client
        .channel_history(old)
        .await
        .map_err(err)?
        .into_iter()
        .filter(|m| !m.id.starts_with(NOTE_PREFIX) && COPIED_KINDS.contains(&m.kind.as_str()))
        .collect();
    let present: HashSet<String> =
        runner.client.channel_history(new).await.map_err(err)?.into_iter().map(|m| m.id).collect();
    let mut synced = Synced { expected: originals.len(), sent: 0, missing: 0, altered: Vec::new() };
    for original in &originals {
        let id = copy_id(new, &original.id);
        if present.contains(&id) {
            continue;
        }
        if !send {
            synced.missing += 1;
            continue;
        }
        let (message, changes) = copy_of(spec, original, id)?;
        if !changes.is_empty() {
            synced.altered.push(json!({ "original_id": original.id, "copy_id": message.id, "changes": changes }));
        }
        runner.client.send_message(new, &message, SendOptions::copy()).await.map_err(err)?;
        synced.sent += 1;
    }
    Ok(synced)
}

/// The copy of a message, and what had to change for Stream to take it without running it.
pub(crate) fn copy_of(spec: &ChannelSpec, original: &Message, id: String) -> Result<(NewMessage, Vec<String>), String> {
    // A sender the plan did not see (a late message) or who has no person: the gym's bot.
    let gym_bot = spec.gym_bot();
    let sender_old = original.user.as_ref().map(|u| u.id.to_string()).unwrap_or_default();
    let sender = spec.senders.get(&sender_old).cloned().unwrap_or(gym_bot);
    let sender = StreamUserId::parse(&sender).map_err(|e| e.to_string())?;
    let mut message = NewMessage::new(id, sender, original.text.clone());
    if original.kind == "system" {
        message = message.system();
    }
    if let Some(Value::Array(a)) = original.custom.get("attachments") {
        message.attachments = a.clone();
    }
    if let Some(Value::Array(m)) = original.custom.get("mentioned_users") {
        message.mentioned_users = m
            .iter()
            .filter_map(|u| u.get("id").and_then(Value::as_str).or(u.as_str()))
            .filter_map(|u| spec.senders.get(u))
            .filter_map(|u| StreamUserId::parse(u).ok())
            .collect();
    }
    message.custom.insert("original_id".into(), json!(original.id));
    message.custom.insert("original_created_at".into(), json!(original.created_at));
    message.custom.insert("original_user_id".into(), json!(sender_old));
    message.custom.insert("gymchat_copy".into(), json!(true));
    let mut changes = Vec::new();
    for breach in check_message(&message) {
        changes.push(breach.to_string());
        match breach {
            Breach::RunsCommand { .. } => message.text = inert_text(&message.text),
            Breach::TextTooLong { chars } => {
                let kept: String = message.text.chars().take(MAX_TEXT_CHARS - 40).collect();
                message.text = format!("{kept} […cut: the original had {chars} characters]");
            }
            Breach::TooManyAttachments { .. } => message.attachments.truncate(MAX_ATTACHMENTS),
            Breach::TooManyMentions { .. } => message.mentioned_users.truncate(MAX_MENTIONS),
            Breach::CustomTooLarge { .. } => {
                message.custom.retain(|k, _| {
                    ["original_id", "original_created_at", "original_user_id", "gymchat_copy"].contains(&k.as_str())
                });
            }
        }
    }
    Ok((message, changes))
}

impl ChannelSpec {
    /// The gym's bot, stand-in for senders without a person.
    pub(crate) fn gym_bot(&self) -> String {
        self.team.strip_prefix("gym_").map_or_else(|| "system".to_owned(), |g| format!("gym_{g}_bot"))
    }
}

/// Freezes the old channel in one read-modify-write full update that posts where it moved.
async fn freeze_old(runner: &Runner, spec: &ChannelSpec, old: &Cid, new: &Cid) -> Result<(), String> {
    let bot = StreamUserId::parse(&spec.gym_bot()).map_err(|e| e.to_string())?;
    let text = format!(
        "This conversation moved to a new channel ({new}). Update the app to keep writing; this one stays readable."
    );
    let note = NewMessage::new(note_id(old), bot, text).system();
    let rest = ChannelUpdate { message: Some(note), skip_push: true, ..ChannelUpdate::default() };
    runner
        .client
        .update_channel_data(
            old,
            |d| {
                d.insert("frozen".into(), json!(true));
            },
            rest,
        )
        .await
        .map_err(err)?;
    Ok(())
}

/// Points the room at the new channel: the lease check, the pointer, the channel move and the
/// item's state in one transaction.
async fn switch_room(
    runner: &Runner,
    item: &MigrationItem,
    spec: &ChannelSpec,
    old: &Cid,
    new: &Cid,
    detail: &Value,
) -> Result<(), String> {
    let room = RoomId::new(spec.room_id).map_err(|e| e.to_string())?;
    let gym = GymId::new(item.gym_id).map_err(|e| e.to_string())?;
    let lease = runner.lease();
    let now: DateTime<Utc> = Utc::now();
    let mut tx = runner.store.begin().await.map_err(|e| e.to_string())?;
    tx.guard_lease(&lease).await.map_err(|e| e.to_string())?;
    let current =
        tx.room(room).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("room {room} no longer exists"))?;
    let pointed = current.stream_channel_id.as_deref().unwrap_or_default();
    if pointed != old.id().as_str() && pointed != new.id().as_str() {
        return Err(format!("room {room} points at {pointed:?} now, not at {old}: left alone"));
    }
    tx.set_room_stream_channel_id(room, new.id().as_str(), now).await.map_err(|e| e.to_string())?;
    tx.record_channel_move(&ChannelMove {
        room_id: room,
        gym_id: gym,
        old_cid: old.to_string(),
        new_cid: new.to_string(),
        run_id: runner.run_id.clone(),
        moved_at: now,
    })
    .await
    .map_err(|e| e.to_string())?;
    tx.finish_item_step(item.id, "switched", Some(&detail.to_string()), now).await.map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}

/// The order of an in-place item's states.
const IN_PLACE_STATES: &[&str] = &["planned", "updating", "verifying", "done"];

/// Moves one room in place: its channel gets the target members, team and `gym_id`.
async fn move_in_place(runner: &Runner, item: MigrationItem) -> Result<(), String> {
    let (spec, cid, _) = parse_spec(&item)?;
    let at = IN_PLACE_STATES.iter().position(|s| *s == item.state).unwrap_or(0);
    let want: BTreeSet<&String> = spec.members.iter().collect();
    if at < 2 {
        runner.advance(item.id, "updating", None).await?;
        let add = users(&spec.members)?;
        let remove: Vec<StreamUserId> =
            users(&spec.old_members.iter().filter(|m| !want.contains(m)).cloned().collect::<Vec<_>>())?;
        let (team, frozen) = (spec.team.clone(), spec.frozen_after);
        let gym_id = spec.custom.get("gym_id").cloned().unwrap_or(Value::Null);
        let edit = move |d: &mut Map<String, Value>| {
            d.insert("team".into(), json!(team));
            d.insert("gym_id".into(), gym_id);
            if frozen {
                d.insert("frozen".into(), json!(true));
            }
        };
        update_data_and_members(&runner.client, &cid, edit, &add, &remove).await?;
    }
    runner.advance(item.id, "verifying", None).await?;
    verify_channel(runner, &spec, &cid).await?;
    runner.done(item.id, "done", None).await
}

/// One read-modify-write full update with `edit` applied and the first 100 members added and
/// removed, then updates of 100 more each until every member is added and removed.
pub(crate) async fn update_data_and_members(
    client: &Client,
    cid: &Cid,
    edit: impl FnOnce(&mut Map<String, Value>),
    add: &[StreamUserId],
    remove: &[StreamUserId],
) -> Result<(), String> {
    let page = |v: &[StreamUserId], i: usize| {
        v.iter().skip(i * MEMBERS_PER_UPDATE).take(MEMBERS_PER_UPDATE).cloned().collect()
    };
    let updates = add.len().max(remove.len()).div_ceil(MEMBERS_PER_UPDATE).max(1);
    let first =
        ChannelUpdate { add_members: page(add, 0), remove_members: page(remove, 0), ..ChannelUpdate::default() };
    client.update_channel_data(cid, edit, first).await.map_err(err)?;
    for i in 1..updates {
        let update =
            ChannelUpdate { add_members: page(add, i), remove_members: page(remove, i), ..ChannelUpdate::default() };
        client.update_channel(cid, &update).await.map_err(err)?;
    }
    Ok(())
}

/// Items by state, for `gymchat migrate status`.
pub fn count_states(items: &[MigrationItem]) -> HashMap<String, HashMap<String, usize>> {
    let mut counts: HashMap<String, HashMap<String, usize>> = HashMap::new();
    for i in items {
        *counts.entry(i.kind.clone()).or_default().entry(i.state.clone()).or_default() += 1;
    }
    counts
}
