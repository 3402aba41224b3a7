//! Keeping a run alive: its fence (the lock's lease, or the worker's claims with its heartbeat)
//! and the maintenance windows it holds are renewed in the background every third of the
//! lease's life; a lost lease stops the run.

use std::sync::Arc;

use gymchat_store::StoreError;

use super::run::{MAINTENANCE_TTL, Runner};

/// Aborts its task when dropped.
pub(crate) struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the fence and the maintenance windows the run holds every third of the lease's life
/// until aborted; a lost lease stops the run.
pub(crate) fn keep_lease(runner: Arc<Runner>) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        let every = (runner.lease_ttl() / 3).to_std().unwrap_or_default().max(std::time::Duration::from_millis(100));
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = runner.renew_fence().await {
                if let StoreError::LockLost { .. } = e {
                    runner.stop("the migration lock was taken by another run; this one stopped".into());
                    return;
                }
                tracing::warn!(error = %e, "could not renew the migration lease or claims; will try again");
            }
            for gym in runner.held_gyms() {
                let renewed = match runner.store.session().await {
                    Ok(mut s) => s.renew_maintenance(gym, MAINTENANCE_TTL, &runner.run_id).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = renewed {
                    tracing::warn!(%gym, error = %e, "could not renew the maintenance window; will try again");
                }
            }
        }
    }))
}
