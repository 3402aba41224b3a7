//! Why a migration command could not run ([`MigrateError`]), and why one item's step failed
//! ([`StepError`], journaled as the item's last error while the run goes on).

use gymchat_ids::{GymId, IdError};
use gymchat_store::StoreError;
use gymchat_stream::StreamError;

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
    /// An unfinished run covers these gyms with other options: it is not resumed silently.
    #[error(
        "the unfinished run {run_id} covers gyms {run_gyms:?} with {run_options}; this apply asks for gyms {asked_gyms:?} \
         with {asked_options}: finish it with its own options (`gymchat migrate apply --gym-id …` as it was started), \
         roll it back, or end it with `gymchat migrate abandon {run_id}`"
    )]
    RunMismatch {
        /// The unfinished run.
        run_id: String,
        /// Its gyms.
        run_gyms: Vec<i64>,
        /// Its strategy and history.
        run_options: String,
        /// The gyms asked for now.
        asked_gyms: Vec<i64>,
        /// The strategy and history asked for now.
        asked_options: String,
    },
    /// A run being rolled back is finished by running the rollback again, never resumed.
    #[error("run {0} is being rolled back: finish it with `gymchat migrate rollback {0} --yes`")]
    RollingBack(String),
    /// No gym of the plan could be planned whole: nothing to run.
    #[error("no gym could be planned whole: {0}")]
    NothingToRun(String),
    /// The import file could not be written; the run resumes with the same command.
    #[error("the import file could not be written: {0}")]
    ImportFile(String),
    /// Stream's import did not complete (`--history import`): its reasons, or where it stands at
    /// the deadline; the rooms have not switched, and the run resumes with the same command.
    #[error("Stream's import did not complete: {0}")]
    Import(String),
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

/// Why a step of one item failed. The item keeps the step it was in, and the same command
/// repeats it (every step is safe to repeat).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Stream failed or refused.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// The database failed (the lease lost included).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An id in the journal's spec is not one Stream takes.
    #[error(transparent)]
    Id(#[from] IdError),
    /// The journal's spec of the item cannot be read.
    #[error("the journal's spec cannot be read: {0}")]
    Spec(#[from] serde_json::Error),
    /// What Stream holds after the step is not what the step set.
    #[error("{0}")]
    Drift(String),
    /// The item is left alone: moving it would touch something that is not its own.
    #[error("{0}")]
    LeftAlone(String),
    /// Writing a file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The run stopped (its lease was lost, the breaker tripped): the step was not begun.
    #[error("the run stopped before this step: {0}")]
    Stopped(String),
}
