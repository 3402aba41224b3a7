//! Named leases in `gymchat_locks`: one migration run at a time per database.
//!
//! A lease names its holder and runs out unless renewed, so a holder that dies (killed, crashed,
//! lost its host) frees the lock by itself. Time is the database's clock, never the caller's, so
//! holders on machines whose clocks disagree still agree on when a lease ends.
//!
//! Each lease carries a fencing token: a number that grows by one whenever the lock passes to a
//! new holder (the row is kept on release, so the number never goes back). A holder that stalled
//! past its lease and was taken over still believes it holds the lock; [`Session::guard_lease`]
//! refuses its writes, because its token is no longer the lock's. Run the guard inside the
//! transaction of the write it protects: it writes the lock row, which holds the row (Postgres) or
//! the database (SQLite) until commit, so a takeover cannot slip in between check and commit.

use chrono::{DateTime, Duration, Utc};

use crate::backend::{Backend, Session, on_db};
use crate::error::{Result, StoreError};

/// A held lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Lock name.
    pub name: String,
    /// Who holds it (host, pid, run id: whatever lets an operator find it).
    pub holder: String,
    /// The fencing token: larger than every earlier holder's.
    pub fence: i64,
    /// When it runs out unless renewed, by the database's clock.
    pub expires_at: DateTime<Utc>,
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Session {
    /// The database's clock in Unix milliseconds, as an SQL expression.
    pub(crate) fn db_now_ms(&self) -> &'static str {
        match self.backend() {
            Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        }
    }

    /// Takes the lock for `ttl`, or renews it when `holder` already has it. Fails with
    /// [`StoreError::LockHeld`] naming the other holder while their lease lasts. Taking the lock
    /// from another holder (whose lease ran out) gives a larger fencing token.
    pub async fn acquire_lock(&mut self, name: &str, holder: &str, ttl: Duration) -> Result<Lease> {
        let now = self.db_now_ms();
        // Only the clock expression is spliced in; values travel as parameters.
        let take = format!(
            "INSERT INTO gymchat_locks (name, holder, acquired_at_ms, expires_at_ms, fence) \
             VALUES ($1, $2, {now}, {now} + $3, 1) \
             ON CONFLICT (name) DO UPDATE SET \
                 fence = CASE WHEN gymchat_locks.holder = excluded.holder THEN gymchat_locks.fence \
                              ELSE gymchat_locks.fence + 1 END, \
                 acquired_at_ms = CASE WHEN gymchat_locks.holder = excluded.holder THEN gymchat_locks.acquired_at_ms \
                                       ELSE excluded.acquired_at_ms END, \
                 holder = excluded.holder, \
                 expires_at_ms = excluded.expires_at_ms \
             WHERE gymchat_locks.holder = excluded.holder OR gymchat_locks.expires_at_ms <= excluded.acquired_at_ms \
             RETURNING fence, expires_at_ms"
        );
        let taken: Option<(i64, i64)> = on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(take.as_str()))
            .bind(name)
            .bind(holder)
            .bind(ttl.num_milliseconds())
            .fetch_optional(&mut *c)
            .await)?;
        if let Some((fence, expires_ms)) = taken {
            return Ok(Lease {
                name: name.to_owned(),
                holder: holder.to_owned(),
                fence,
                expires_at: from_ms(expires_ms),
            });
        }
        let current = "SELECT holder, expires_at_ms FROM gymchat_locks WHERE name = $1";
        let row: Option<(String, i64)> =
            on_db!(self.db(), c => sqlx::query_as(current).bind(name).fetch_optional(&mut *c).await)?;
        match row {
            Some((other, until)) => {
                Err(StoreError::LockHeld { name: name.to_owned(), holder: other, expires_at: from_ms(until) })
            }
            // Changed hands between the two statements: the caller may simply try again.
            None => Err(StoreError::LockLost { name: name.to_owned(), holder: holder.to_owned() }),
        }
    }

    /// Extends a lease this holder still has (same fencing token, even if it ran out meanwhile
    /// and nobody took it); [`StoreError::LockLost`] when another holder took it.
    pub async fn renew_lock(&mut self, lease: &Lease, ttl: Duration) -> Result<Lease> {
        let now = self.db_now_ms();
        let sql = format!(
            "UPDATE gymchat_locks SET expires_at_ms = {now} + $1 WHERE name = $2 AND holder = $3 AND fence = $4 \
             RETURNING expires_at_ms"
        );
        let renewed: Option<(i64,)> = on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(ttl.num_milliseconds())
            .bind(&lease.name)
            .bind(&lease.holder)
            .bind(lease.fence)
            .fetch_optional(&mut *c)
            .await)?;
        match renewed {
            Some((expires_ms,)) => Ok(Lease { expires_at: from_ms(expires_ms), ..lease.clone() }),
            None => Err(StoreError::LockLost { name: lease.name.clone(), holder: lease.holder.clone() }),
        }
    }

    /// The fencing check for a write made under `lease`: succeeds only while the lease is
    /// unexpired and its token is still the lock's. Call it in the write's own transaction, before
    /// the write; on [`StoreError::LockLost`] roll back.
    pub async fn guard_lease(&mut self, lease: &Lease) -> Result<()> {
        let now = self.db_now_ms();
        // A no-op update, so that the lock row stays locked until this transaction ends.
        let sql = format!(
            "UPDATE gymchat_locks SET fence = fence WHERE name = $1 AND holder = $2 AND fence = $3 \
             AND expires_at_ms > {now}"
        );
        let n = on_db!(self.db(), c => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&lease.name)
            .bind(&lease.holder)
            .bind(lease.fence)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::LockLost { name: lease.name.clone(), holder: lease.holder.clone() });
        }
        Ok(())
    }

    /// Gives the lock up; the row and its fencing token stay. Returns false when this lease was no
    /// longer the lock's.
    pub async fn release_lock(&mut self, lease: &Lease) -> Result<bool> {
        let sql = "UPDATE gymchat_locks SET expires_at_ms = 0 WHERE name = $1 AND holder = $2 AND fence = $3";
        let n = on_db!(self.db(), c => sqlx::query(sql)
            .bind(&lease.name)
            .bind(&lease.holder)
            .bind(lease.fence)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Takes the lock from `dead_holder`, whom the caller knows to be dead (a process of this
    /// host that no longer runs), without waiting for its lease to run out. Succeeds only while
    /// `dead_holder` still holds it; the fencing token grows as with any new holder.
    pub async fn take_over_lock(
        &mut self,
        name: &str,
        dead_holder: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>> {
        let now = self.db_now_ms();
        let sql = format!(
            "UPDATE gymchat_locks SET holder = $1, fence = fence + 1, acquired_at_ms = {now}, expires_at_ms = {now} + $2 \
             WHERE name = $3 AND holder = $4 RETURNING fence, expires_at_ms"
        );
        let taken: Option<(i64, i64)> = on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(holder)
            .bind(ttl.num_milliseconds())
            .bind(name)
            .bind(dead_holder)
            .fetch_optional(&mut *c)
            .await)?;
        Ok(taken.map(|(fence, expires_ms)| Lease {
            name: name.to_owned(),
            holder: holder.to_owned(),
            fence,
            expires_at: from_ms(expires_ms),
        }))
    }
}
