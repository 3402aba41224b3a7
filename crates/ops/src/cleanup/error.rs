//! Why cleanup could not run.

use gymchat_store::StoreError;

/// Why cleanup could not run.
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit behind the plan could not run.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// An undo named a run that does not exist or was undone already.
    #[error("cleanup run {0} does not exist or was undone already")]
    NoSuchRun(String),
}
