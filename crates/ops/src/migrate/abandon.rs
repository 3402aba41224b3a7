//! `gymchat migrate abandon RUN_ID`: ends an unfinished run on purpose, so that another apply of
//! its gyms (with other options, say) starts a new run instead of being refused. Nothing is undone:
//! its switched rooms stay switched, and its items keep the state they reached (the journal says
//! what was done). The run's end is journaled with who ended it.

use chrono::Utc;
use gymchat_store::{MigrationRun, RunState, Store};

use super::error::MigrateError;
use super::lock::{LEASE_TTL_SECONDS, no_live_worker, take_lock};

/// Ends the unfinished run `run_id`; refused while another process works on it (it holds the
/// lock, or a worker's heartbeat is fresh), or when the run is finished or being rolled back.
pub async fn abandon(store: &Store, run_id: &str) -> Result<MigrationRun, MigrateError> {
    let mut s = store.session().await?;
    let run =
        s.migration_run(run_id).await?.ok_or_else(|| MigrateError::NoSuchRun(format!("no migration run {run_id}")))?;
    if !run.state.is_unfinished() {
        let why = format!(
            "run {run_id} is {}: only an unfinished run (running, stopped, incomplete) is abandoned",
            run.state
        );
        return Err(MigrateError::NoSuchRun(why));
    }
    let ttl = chrono::Duration::seconds(LEASE_TTL_SECONDS);
    let lease = take_lock(&mut s, ttl).await?;
    if let Err(e) = no_live_worker(&mut s, run_id, &lease.holder, ttl).await {
        let _ = s.release_lock(&lease).await;
        return Err(e);
    }
    let message = format!("abandoned by {} (was {}); its switched rooms stay switched", lease.holder, run.state);
    let ended =
        s.set_migration_run_state(run_id, RunState::Abandoned, &lease.holder, Some(&message), true, Utc::now()).await;
    let _ = s.release_lock(&lease).await;
    ended?;
    s.migration_run(run_id).await?.ok_or_else(|| MigrateError::NoSuchRun(format!("no migration run {run_id}")))
}
