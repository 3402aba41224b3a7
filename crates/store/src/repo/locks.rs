//! Named leases in `gymchat_locks`: one migration run at a time per database.
//!
//! A lease names its holder and runs out unless renewed, so a holder that dies (killed, crashed,
//! lost its host) frees the lock by itself. Times are Unix milliseconds so that comparisons are
//! plain integer comparisons on both backends.

use chrono::{DateTime, Duration, Utc};

use crate::backend::{Session, on_db};
use crate::error::{Result, StoreError};

/// A held lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Lock name.
    pub name: String,
    /// Who holds it (host, pid, run id: whatever lets an operator find it).
    pub holder: String,
    /// When it runs out unless renewed.
    pub expires_at: DateTime<Utc>,
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Session {
    /// Takes the lock for `ttl`, or renews it when `holder` already has it. Fails with
    /// [`StoreError::LockHeld`] naming the other holder while their lease lasts.
    pub async fn acquire_lock(&mut self, name: &str, holder: &str, ttl: Duration, now: DateTime<Utc>) -> Result<Lease> {
        let (now_ms, expires_ms) = (now.timestamp_millis(), (now + ttl).timestamp_millis());
        let expired = "DELETE FROM gymchat_locks WHERE name = $1 AND expires_at_ms <= $2";
        on_db!(self.db(), c => sqlx::query(expired).bind(name).bind(now_ms).execute(&mut *c).await.map(|_| ()))?;
        let take = "INSERT INTO gymchat_locks (name, holder, acquired_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4) \
                    ON CONFLICT (name) DO UPDATE SET expires_at_ms = excluded.expires_at_ms \
                    WHERE gymchat_locks.holder = excluded.holder";
        let taken = on_db!(self.db(), c => sqlx::query(take)
            .bind(name)
            .bind(holder)
            .bind(now_ms)
            .bind(expires_ms)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        if taken > 0 {
            return Ok(Lease { name: name.to_owned(), holder: holder.to_owned(), expires_at: from_ms(expires_ms) });
        }
        let current = "SELECT holder, expires_at_ms FROM gymchat_locks WHERE name = $1";
        let row: Option<(String, i64)> =
            on_db!(self.db(), c => sqlx::query_as(current).bind(name).fetch_optional(&mut *c).await)?;
        match row {
            Some((other, until)) => {
                Err(StoreError::LockHeld { name: name.to_owned(), holder: other, expires_at: from_ms(until) })
            }
            // Released between the insert and the read: the caller may simply try again.
            None => Err(StoreError::LockLost { name: name.to_owned(), holder: holder.to_owned() }),
        }
    }

    /// Extends a lease this holder still has; [`StoreError::LockLost`] when it ran out and was taken.
    pub async fn renew_lock(&mut self, name: &str, holder: &str, ttl: Duration, now: DateTime<Utc>) -> Result<Lease> {
        let expires_ms = (now + ttl).timestamp_millis();
        let sql = "UPDATE gymchat_locks SET expires_at_ms = $1 WHERE name = $2 AND holder = $3";
        let n = on_db!(self.db(), c => sqlx::query(sql)
            .bind(expires_ms)
            .bind(name)
            .bind(holder)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::LockLost { name: name.to_owned(), holder: holder.to_owned() });
        }
        Ok(Lease { name: name.to_owned(), holder: holder.to_owned(), expires_at: from_ms(expires_ms) })
    }

    /// Gives the lock up. Returns false when this holder did not have it.
    pub async fn release_lock(&mut self, name: &str, holder: &str) -> Result<bool> {
        let sql = "DELETE FROM gymchat_locks WHERE name = $1 AND holder = $2";
        let n = on_db!(self.db(), c => sqlx::query(sql)
            .bind(name)
            .bind(holder)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }
}
