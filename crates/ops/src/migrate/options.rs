//! What the operator chooses: how channels move ([`Strategy`]), what happens to their history
//! ([`History`]), and how an apply runs ([`ApplyOptions`]).

use std::path::PathBuf;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::lock::LEASE_TTL_SECONDS;

/// How channels move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// A new channel with the target id; the room switches to it; the old one is frozen.
    Rebuild,
    /// The channel keeps its id; members, team and `gym_id` change on it.
    InPlace,
}

/// What happens to the history of a rebuilt channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum History {
    /// Not copied: the old channel stays readable, frozen.
    None,
    /// Copied message by message, oldest first.
    Copy,
    /// Written to a file in Stream's import format (JSON Lines) for Stream's import service,
    /// which keeps the original timestamps; the channels move as with `none`.
    ImportFile,
    /// Imported through Stream's import service with the original timestamps: the new channels
    /// are made, the file is uploaded and imported, and only then do the rooms switch (what was
    /// written meanwhile is copied after the old channel froze).
    Import,
}

impl Strategy {
    /// The name the command line and the journal use.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Rebuild => "rebuild",
            Strategy::InPlace => "in-place",
        }
    }
}

impl History {
    /// The name the command line and the journal use.
    pub fn as_str(self) -> &'static str {
        match self {
            History::None => "none",
            History::Copy => "copy",
            History::ImportFile => "import-file",
            History::Import => "import",
        }
    }

    /// Whether the new channels get the old ones' messages during the run (copied or imported):
    /// then each member's read position and cleared history are carried, and verify compares
    /// the conversations.
    pub fn moves_messages(self) -> bool {
        matches!(self, History::Copy | History::Import)
    }

    /// Whether the plan reads the old channels' history (to count it, and to move it).
    pub fn reads_history(self) -> bool {
        self != History::None
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rebuild" => Ok(Strategy::Rebuild),
            "in-place" => Ok(Strategy::InPlace),
            other => Err(format!("unknown strategy {other:?}: rebuild or in-place")),
        }
    }
}

impl std::str::FromStr for History {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(History::None),
            "copy" => Ok(History::Copy),
            "import-file" => Ok(History::ImportFile),
            "import" => Ok(History::Import),
            other => Err(format!("unknown history mode {other:?}: none, copy, import or import-file")),
        }
    }
}

/// What the operator chose for a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// How channels move.
    pub strategy: Strategy,
    /// What happens to history (rebuild only).
    pub history: History,
    /// Upload attachments on Stream's CDN to the new channels (rebuild with history).
    #[serde(default)]
    pub rehost_attachments: bool,
}

/// How long an import may take by default: Stream says one "typically completes within a few
/// hours".
pub const IMPORT_DEADLINE_SECONDS: u64 = 6 * 3600;

/// How an apply runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyOptions {
    /// Stop when the share of failed items (of the recent ones, or of the whole run) passes this.
    pub max_failure_rate: f64,
    /// Channels moved at once.
    pub concurrency: usize,
    /// Where `--history import-file` and `import` write the import file (default
    /// `import_{run_id}.jsonl`).
    pub import_file: Option<PathBuf>,
    /// How long `--history import` waits for Stream's import to end before the run stops (a
    /// later apply waits again).
    pub import_deadline: std::time::Duration,
    /// When the circuit breaker stops the run, also roll it back (the runbook's rule).
    pub auto_rollback: bool,
    /// Hold each gym's maintenance window while its channels move (the default).
    pub maintenance: bool,
    /// How long the run's lease lasts unless renewed (renewed every third of it).
    pub lease_ttl: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            max_failure_rate: 0.2,
            concurrency: 32,
            import_file: None,
            import_deadline: std::time::Duration::from_secs(IMPORT_DEADLINE_SECONDS),
            auto_rollback: false,
            maintenance: true,
            lease_ttl: Duration::seconds(LEASE_TTL_SECONDS),
        }
    }
}

/// How a rollback runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollbackOptions {
    /// Carry it out (without it, say what it would do).
    pub yes: bool,
    /// How long the rollback's lease lasts unless renewed (renewed every third of it).
    pub lease_ttl: Duration,
}

impl Default for RollbackOptions {
    fn default() -> Self {
        Self { yes: false, lease_ttl: Duration::seconds(LEASE_TTL_SECONDS) }
    }
}
