//! The run lock: one migration run opened, rolled back or abandoned at a time per database, as
//! a lease in `gymchat_locks` that names its holder (`host:pid`) and lapses unless renewed; and
//! the check that no worker of a run is still at work.

use chrono::Duration;
use gymchat_store::{Lease, Session, StoreError};

use super::error::MigrateError;

/// The lock every run (apply and rollback) takes: one run per database.
pub const LOCK_NAME: &str = "gymchat-migrate";
/// How long a lease lasts unless renewed; the runner renews it every third of that.
pub const LEASE_TTL_SECONDS: i64 = 30;

/// The process table this process sees: its PID namespace (`/proc/self/ns/pid`, as
/// `pid:[4026531836]`), or none where that cannot be read. Two containers may share a hostname;
/// they never share a PID namespace.
fn pid_namespace() -> Option<String> {
    let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let text = link.to_string_lossy();
    let inode = text.strip_prefix("pid:[")?.strip_suffix(']')?;
    inode.chars().all(|c| c.is_ascii_digit()).then(|| inode.to_owned())
}

/// Who this process is, for the lock: `host:pid`, and `@pidns` (its PID namespace) where it can
/// be read.
pub fn holder_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned());
    match pid_namespace() {
        Some(ns) => format!("{host}:{}@{ns}", std::process::id()),
        None => format!("{host}:{}", std::process::id()),
    }
}

/// Whether `holder` is a process of this very process table (same host and same PID namespace)
/// that no longer runs. A holder of another namespace, or one that does not name it, is never
/// presumed dead: only its lease's expiry frees the lock (two containers can share a hostname,
/// and a PID means nothing across namespaces).
fn holder_is_dead(holder: &str) -> bool {
    let Some(my_ns) = pid_namespace() else { return false };
    let Some((rest, ns)) = holder.rsplit_once('@') else { return false };
    let Some((host, pid)) = rest.rsplit_once(':') else { return false };
    let me = holder_name();
    let my_host = me.rsplit_once(':').map(|(h, _)| h);
    ns == my_ns
        && Some(host) == my_host
        && pid.parse::<u32>().is_ok()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Takes the run lock for `ttl`: free, expired, or held by a process of this process table that
/// no longer runs; otherwise [`MigrateError::Busy`] naming the holder.
pub(crate) async fn take_lock(s: &mut Session, ttl: Duration) -> Result<Lease, MigrateError> {
    let me = holder_name();
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

/// Refused while a worker of the run (or of any run: its rooms may be the same gyms') is at
/// work: stop the workers first, or wait until their heartbeats are `ttl` old.
pub(crate) async fn no_live_worker(
    s: &mut gymchat_store::Session,
    run_id: &str,
    me: &str,
    ttl: chrono::Duration,
) -> Result<(), MigrateError> {
    let live = s.live_workers(me, ttl).await?;
    match live.into_iter().next() {
        None => Ok(()),
        Some((run, worker)) => Err(MigrateError::Busy {
            holder: format!("{worker} (a worker of run {run})"),
            until: format!("it stops, or its heartbeat is {} s old (run {run_id} waits)", ttl.num_seconds()),
        }),
    }
}
