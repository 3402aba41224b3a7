//! Why an audit could not run at all (as opposed to running with incomplete reads).

use gymchat_ids::GymId;
use gymchat_store::StoreError;

/// Why an audit could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The gym does not exist in the database.
    #[error("gym {0} does not exist in the database")]
    UnknownGym(GymId),
    /// The database could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}
