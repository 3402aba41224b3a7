//! The run lock: one migration run (apply or rollback) per database, as a lease in
//! `gymchat_locks` that names its holder (`host:pid`) and lapses unless renewed.

use chrono::Duration;
use gymchat_store::{Lease, Session, StoreError};

use super::error::MigrateError;

/// The lock every run (apply and rollback) takes: one run per database.
pub const LOCK_NAME: &str = "gymchat-migrate";
/// How long a lease lasts unless renewed; the runner renews it every third of that.
pub const LEASE_TTL_SECONDS: i64 = 30;

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
