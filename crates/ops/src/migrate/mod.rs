//! `gymchat migrate`: moves gyms from legacy Stream ids to tenant-scoped ids (SYSTEM.md §5).
//!
//! - [`plan`]: reads the database and Stream and says what will happen, with a content hash.
//! - [`estimate`]: calls and least wall time of each strategy under Stream's limits.
//! - [`mod@apply`]: carries a plan out, journaled per item, resumable after a kill at any point,
//!   under one lock per database, stopped by a circuit breaker when too many items fail.
//! - [`mod@rollback`]: puts every switched room back on its old channel.
//! - [`mod@verify`]: checks by a fresh audit that the gyms are fully tenant-scoped.
//!
//! The journal (`gymchat_migration_runs`, `gymchat_migration_items`) is the run's memory: a
//! resumed `apply` reads its items from there, not from a new plan, and every step is safe to
//! repeat (deterministic channel and message ids; updates that read back what they set).

pub mod apply;
pub mod estimate;
mod import;
pub mod plan;
pub mod rollback;
pub mod verify;

use chrono::Duration;
use gymchat_ids::GymId;
use gymchat_store::{Lease, Session, StoreError};
use serde::{Deserialize, Serialize};

pub use apply::{ApplyOptions, ItemOutcome, Report, apply};
pub use plan::{Options, Plan};
pub use rollback::rollback;
pub use verify::{Verification, verify};

/// The lock every run (apply and rollback) takes: one run per database.
pub const LOCK_NAME: &str = "gymchat-migrate";
/// How long a lease lasts unless renewed; the runner renews it every third of that.
pub const LEASE_TTL_SECONDS: i64 = 30;

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
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Strategy::Rebuild => "rebuild",
            Strategy::InPlace => "in-place",
        })
    }
}

impl std::fmt::Display for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            History::None => "none",
            History::Copy => "copy",
            History::ImportFile => "import-file",
        })
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
            other => Err(format!("unknown history mode {other:?}: none, copy or import-file")),
        }
    }
}

/// Why a migration command could not run.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The gym does not exist.
    #[error("gym {0} does not exist in the database")]
    UnknownGym(GymId),
    /// Another run holds the lock.
    #[error("another migration run holds the lock: {holder}, until {until} (it renews while it runs)")]
    Busy {
        /// Who.
        holder: String,
        /// Lease end.
        until: String,
    },
    /// A saved plan no longer matches the world or its own content.
    #[error("{0}")]
    StalePlan(String),
    /// A run's journal names a strategy or history this build does not know.
    #[error("migration run {run_id}: {reason}")]
    BadRun {
        /// The run.
        run_id: String,
        /// Why.
        reason: String,
    },
    /// A run that does not exist or cannot be rolled back.
    #[error("{0}")]
    NoSuchRun(String),
    /// The import file could not be written; the run resumes with the same command.
    #[error("the import file could not be written: {0}")]
    ImportFile(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A journal row could not be understood.
    #[error("journal item {id}: {reason}")]
    BadItem {
        /// Its id.
        id: i64,
        /// Why.
        reason: String,
    },
}

/// Who this process is, for the lock: `host:pid`.
pub fn holder_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}

/// Whether `holder` (`host:pid`) is a process of this host that no longer runs. Only Linux can
/// tell (through /proc); elsewhere a holder is never presumed dead and its lease must run out.
fn holder_is_dead(holder: &str) -> bool {
    let me = holder_name();
    let (Some((host, pid)), Some((my_host, _))) = (holder.rsplit_once(':'), me.rsplit_once(':')) else {
        return false;
    };
    cfg!(target_os = "linux")
        && host == my_host
        && pid.parse::<u32>().is_ok()
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Takes the run lock: free, expired, or held by a dead process of this host; otherwise
/// [`MigrateError::Busy`] naming the holder.
pub(crate) async fn take_lock(s: &mut Session) -> Result<Lease, MigrateError> {
    let me = holder_name();
    let ttl = Duration::seconds(LEASE_TTL_SECONDS);
    match s.acquire_lock(LOCK_NAME, &me, ttl).await {
        Ok(lease) => Ok(lease),
        Err(StoreError::LockHeld { holder, expires_at, .. }) => {
            if holder_is_dead(&holder)
                && let Some(lease) = s.take_over_lock(LOCK_NAME, &holder, &me, ttl).await?
            {
                tracing::warn!(dead = %holder, "took the migration lock over from a process that no longer runs");
                return Ok(lease);
            }
            Err(MigrateError::Busy { holder, until: expires_at.to_rfc3339() })
        }
        Err(e) => Err(e.into()),
    }
}
