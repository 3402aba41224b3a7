//! What an apply tells: progress while it runs, and the report at the end (every item with its
//! state, attempts, error and what was done).

use std::collections::{BTreeMap, HashMap};

use gymchat_store::{ItemKind, ItemState, MigrationItem, MigrationRun, RunState};
use serde::Serialize;
use serde_json::Value;

use super::options::{History, Strategy};
use super::plan::spec::{ChannelSpec, SkippedRoom};
use super::rollback::RolledBack;

/// What a phase did, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Stream's import of the run's file is in a new state (`--history import`).
    Import {
        /// The task's id.
        id: String,
        /// Its state (`uploaded`, `analyzing`, `importing`, `completed`, …).
        state: String,
    },
}

/// One item's outcome, as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemOutcome {
    /// What it stands for.
    pub kind: ItemKind,
    /// The gym.
    pub gym_id: i64,
    /// The room (channels).
    pub room_id: Option<i64>,
    /// Old id.
    pub old_id: String,
    /// New id.
    pub new_id: String,
    /// State reached.
    pub state: ItemState,
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
            kind: i.kind,
            gym_id: i.gym_id,
            room_id: i.room_id,
            old_id: i.old_id.clone(),
            new_id: i.new_id.clone(),
            state: i.state,
            attempts: i.attempts,
            error: i.last_error.clone(),
            detail: i.detail.as_deref().and_then(|d| serde_json::from_str(d).ok()),
        }
    }
}

/// An import file written for Stream's import service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportFile {
    /// Where.
    pub path: String,
    /// Lines per item type (`user`, `channel`, `member`, `message`).
    pub lines: BTreeMap<String, usize>,
    /// With `--history import`: Stream's import task that took it, which completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
}

/// The report of an apply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The run.
    pub run_id: String,
    /// Whether an unfinished run was continued.
    pub resumed: bool,
    /// `done`, `incomplete` (some items failed) or `stopped` (breaker or lost lock).
    pub state: RunState,
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
    /// Gyms left out of the run, each with why (it could not be planned whole, or its users could
    /// not be created): the others went on.
    pub gyms_skipped: Vec<GymSkipped>,
    /// What the rollback did when the circuit breaker stopped the run (`--auto-rollback`).
    pub rolled_back: Option<RolledBack>,
}

/// A gym left out of a run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GymSkipped {
    /// The gym.
    pub gym_id: i64,
    /// Why.
    pub reasons: Vec<String>,
}

impl Report {
    /// 0 all done, 1 some items failed or some gyms were left out, 2 the run stopped.
    pub fn exit_code(&self) -> u8 {
        match self.state {
            RunState::Done if self.gyms_skipped.is_empty() => 0,
            // Other workers still work the run: nothing went wrong in this one's hands.
            RunState::Running if self.message.is_none() && self.failed.is_empty() => 0,
            RunState::Done | RunState::Incomplete => 1,
            _ => 2,
        }
    }

    /// What this run's items say they carried into new channels: messages copied (after the
    /// freeze too), reactions and pins.
    pub fn carried(&self) -> BTreeMap<&'static str, u64> {
        let mut carried = BTreeMap::from([("messages", 0), ("reactions", 0), ("pins", 0)]);
        for detail in self.items.iter().filter_map(|i| i.detail.as_ref()) {
            let n = |field: &str| detail.get(field).and_then(Value::as_u64).unwrap_or(0);
            *carried.entry("messages").or_default() += n("copied") + n("copied_after_freeze");
            *carried.entry("reactions").or_default() += n("reactions");
            *carried.entry("pins").or_default() += n("pins");
        }
        carried
    }
}

/// Items by kind and state, for `gymchat migrate status`.
pub fn count_states(items: &[MigrationItem]) -> HashMap<ItemKind, HashMap<ItemState, usize>> {
    let mut counts: HashMap<ItemKind, HashMap<ItemState, usize>> = HashMap::new();
    for i in items {
        *counts.entry(i.kind).or_default().entry(i.state).or_default() += 1;
    }
    counts
}

impl Report {
    /// The report of a run from its journal.
    #[allow(clippy::too_many_arguments, reason = "one field of the report each")]
    pub(crate) fn from_journal(
        run: &MigrationRun,
        resumed: bool,
        state: RunState,
        message: Option<String>,
        (strategy, history): (Strategy, History),
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
            gyms_skipped: Vec::new(),
            rolled_back: None,
        }
    }
}
