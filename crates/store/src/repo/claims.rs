//! Several workers on one migration run: each journal item is worked under a claim of its own
//! (a lease with a fencing token, by the database's clock), and each worker keeps a row saying
//! it is alive (`gymchat_migration_workers`).
//!
//! - **Claims.** A worker claims the open items of one gym at a time (`FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL, so two workers never wait for each other's rows; SQLite serialises writers
//!   anyway). A claim lasts until renewed or let go; one that runs out (its worker died) is taken
//!   by the next worker that asks, with a larger fencing token, and the dead worker's writes
//!   would be refused ([`Session::guard_claim`]).
//! - **Passes.** A worker's pass begins at a time of the database's clock, and never takes an
//!   item that some worker let go after that: what failed in this pass, anywhere, is retried by
//!   the next `apply` or `work`, not in a loop between workers.
//! - **Order.** A gym's channels are claimed only once every user of the gym exists.

use chrono::{DateTime, Duration};
use serde::Serialize;
use sqlx::FromRow;

use crate::backend::{Backend, Session, on_db};
use crate::error::{Result, StoreError};
use crate::repo::journal::{ITEM_COLUMNS, ItemRow, MigrationItem, time};

/// One worker of a run, as it last said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationWorker {
    /// The run.
    pub run_id: String,
    /// Who (host, pid, PID namespace).
    pub worker: String,
    /// When it joined.
    pub started_at: DateTime<chrono::Utc>,
    /// Its last heartbeat, by the database's clock.
    pub heartbeat_at: DateTime<chrono::Utc>,
    /// Milliseconds since that heartbeat when read.
    pub heartbeat_age_ms: i64,
    /// Items it finished.
    pub items_done: i64,
    /// Items whose step failed in its hands.
    pub items_failed: i64,
    /// `working`, `finished` or `stopped`.
    pub state: String,
    /// Why it stopped, in words.
    pub message: Option<String>,
}

#[derive(FromRow)]
struct WorkerRow {
    run_id: String,
    worker: String,
    started_at_ms: i64,
    heartbeat_ms: i64,
    age_ms: i64,
    items_done: i64,
    items_failed: i64,
    state: String,
    message: Option<String>,
}

/// Which of a run's items a claim asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// Users of one gym.
    Users,
    /// Channels of one gym whose users all exist.
    Channels,
}

impl Session {
    /// The database's clock, in Unix milliseconds.
    pub async fn db_clock_ms(&mut self) -> Result<i64> {
        let sql = format!("SELECT {}", self.db_now_ms());
        let (now,): (i64,) =
            on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_one(&mut *c).await)?;
        Ok(now)
    }

    /// Claims for `holder`, until `ttl` from now, up to `max` open items of `kind` of one gym (the
    /// lowest gym id that has any): items not done, of the run while it is `running`, claimed by
    /// nobody (or by a claim that ran out), and not let go since `pass_started_ms`. Returns them
    /// with their new fencing tokens, in journal order; none when nothing is open for this pass.
    pub async fn claim_items(
        &mut self,
        run_id: &str,
        holder: &str,
        kind: ClaimKind,
        pass_started_ms: i64,
        ttl: Duration,
        max: i64,
    ) -> Result<Vec<MigrationItem>> {
        let now = self.db_now_ms();
        let (kind_label, users_exist) = match kind {
            ClaimKind::Users => ("user", ""),
            ClaimKind::Channels => (
                "channel",
                " AND NOT EXISTS (SELECT 1 FROM gymchat_migration_items u WHERE u.run_id = i.run_id \
                 AND u.kind = 'user' AND u.gym_id = i.gym_id AND u.state <> 'done')",
            ),
        };
        let open = format!(
            "i.run_id = $1 AND i.kind = '{kind_label}' AND i.state <> 'done' \
             AND (i.claimed_by IS NULL OR i.claim_until_ms <= {now}) \
             AND (i.released_at_ms IS NULL OR i.released_at_ms < $3){users_exist}"
        );
        let skip_locked = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE gymchat_migration_items SET claimed_by = $2, claim_fence = claim_fence + 1, \
             claim_until_ms = {now} + $4 \
             WHERE id IN (SELECT i.id FROM gymchat_migration_items i WHERE {open} \
                 AND i.gym_id = (SELECT MIN(i.gym_id) FROM gymchat_migration_items i WHERE {open}) \
                 ORDER BY i.id LIMIT $5{skip_locked}) \
             AND EXISTS (SELECT 1 FROM gymchat_migration_runs r WHERE r.run_id = $1 AND r.state = 'running') \
             RETURNING {ITEM_COLUMNS}"
        );
        let rows: Vec<ItemRow> = on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(run_id)
            .bind(holder)
            .bind(pass_started_ms)
            .bind(ttl.num_milliseconds())
            .bind(max)
            .fetch_all(&mut *c)
            .await)?;
        let mut items = rows.into_iter().map(MigrationItem::try_from).collect::<Result<Vec<_>>>()?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    /// Extends every claim `holder` has on the run's items; returns how many.
    pub async fn renew_claims(&mut self, run_id: &str, holder: &str, ttl: Duration) -> Result<u64> {
        let sql = format!(
            "UPDATE gymchat_migration_items SET claim_until_ms = {} + $1 WHERE run_id = $2 AND claimed_by = $3",
            self.db_now_ms()
        );
        let n = on_db!(self.db(), c => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(ttl.num_milliseconds())
            .bind(run_id)
            .bind(holder)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n)
    }

    /// The fencing check for a write to item `id` under the claim (`holder`, `fence`): succeeds
    /// only while that claim is the item's and unexpired, and the item's run is `running` (a
    /// rollback or abandon fences every worker out). Call it in the write's own transaction,
    /// before the write; it holds the item's row until commit.
    pub async fn guard_claim(&mut self, id: i64, holder: &str, fence: i64) -> Result<()> {
        let sql = format!(
            "UPDATE gymchat_migration_items SET claim_fence = claim_fence WHERE id = $1 AND claimed_by = $2 \
             AND claim_fence = $3 AND claim_until_ms > {} AND EXISTS (SELECT 1 FROM gymchat_migration_runs r \
             WHERE r.run_id = gymchat_migration_items.run_id AND r.state = 'running')",
            self.db_now_ms()
        );
        let n = on_db!(self.db(), c => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .bind(holder)
            .bind(fence)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(StoreError::LockLost { name: format!("migration item {id}"), holder: holder.to_owned() });
        }
        Ok(())
    }

    /// Lets item `id` go (only while the claim is still `holder`'s with `fence`). `worked`: a
    /// step was tried, so no worker's current pass takes it again.
    pub async fn release_claim(&mut self, id: i64, holder: &str, fence: i64, worked: bool) -> Result<()> {
        let sql = format!(
            "UPDATE gymchat_migration_items SET claimed_by = NULL, claim_until_ms = NULL, \
             released_at_ms = CASE WHEN $4 THEN {} ELSE released_at_ms END \
             WHERE id = $1 AND claimed_by = $2 AND claim_fence = $3",
            self.db_now_ms()
        );
        on_db!(self.db(), c => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .bind(holder)
            .bind(fence)
            .bind(worked)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Lets the items `ids` go at once (a batch of users), those whose claim is still `holder`'s;
    /// `worked` as for [`Session::release_claim`].
    pub async fn release_items(&mut self, run_id: &str, holder: &str, ids: &[i64], worked: bool) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // Only integers are spliced in.
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "UPDATE gymchat_migration_items SET claimed_by = NULL, claim_until_ms = NULL, \
             released_at_ms = CASE WHEN $3 THEN {} ELSE released_at_ms END \
             WHERE run_id = $1 AND claimed_by = $2 AND id IN ({list})",
            self.db_now_ms()
        );
        on_db!(self.db(), c => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(run_id)
            .bind(holder)
            .bind(worked)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Lets go of every claim `holder` still has on the run (items it never started).
    pub async fn release_claims(&mut self, run_id: &str, holder: &str) -> Result<u64> {
        let sql = "UPDATE gymchat_migration_items SET claimed_by = NULL, claim_until_ms = NULL \
                   WHERE run_id = $1 AND claimed_by = $2";
        let n = on_db!(self.db(), c => sqlx::query(sql)
            .bind(run_id)
            .bind(holder)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n)
    }

    /// The run's open items (of `gym`, when given) under a live claim of another worker: while
    /// there are some, a worker with nothing to claim waits (they are finished, or come free when
    /// that worker dies), and the gym's maintenance window stays open.
    pub async fn claimed_elsewhere(&mut self, run_id: &str, holder: &str, gym: Option<i64>) -> Result<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM gymchat_migration_items WHERE run_id = $1 AND state <> 'done' \
             AND claimed_by IS NOT NULL AND claimed_by <> $2 AND claim_until_ms > {} \
             AND ($3 IS NULL OR gym_id = $3)",
            self.db_now_ms()
        );
        let (n,): (i64,) = on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(run_id)
            .bind(holder)
            .bind(gym)
            .fetch_one(&mut *c)
            .await)?;
        Ok(n)
    }

    /// Sets a run that is not finished nor being rolled back `running` again, for `holder`; false
    /// when the run is in no state to be worked.
    pub async fn resume_migration_run(
        &mut self,
        run_id: &str,
        holder: &str,
        at: DateTime<chrono::Utc>,
    ) -> Result<bool> {
        let sql = "UPDATE gymchat_migration_runs SET state = 'running', holder = $1, message = NULL, \
                   updated_at_ms = $2, finished_at_ms = NULL \
                   WHERE run_id = $3 AND state IN ('running', 'stopped', 'incomplete')";
        let n = on_db!(self.db(), c => sqlx::query(sql)
            .bind(holder)
            .bind(at.timestamp_millis())
            .bind(run_id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// `worker` joins the run (or joins again): `working`, its counts at zero, its heartbeat now.
    /// Returns when its pass began, by the database's clock.
    pub async fn join_run(&mut self, run_id: &str, worker: &str) -> Result<i64> {
        let now = self.db_clock_ms().await?;
        let sql = "INSERT INTO gymchat_migration_workers (run_id, worker, started_at_ms, heartbeat_ms, items_done, \
                   items_failed, state) VALUES ($1, $2, $3, $3, 0, 0, 'working') \
                   ON CONFLICT (run_id, worker) DO UPDATE SET started_at_ms = excluded.started_at_ms, \
                   heartbeat_ms = excluded.heartbeat_ms, items_done = 0, items_failed = 0, state = 'working', \
                   message = NULL";
        on_db!(self.db(), c => sqlx::query(sql)
            .bind(run_id)
            .bind(worker)
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(now)
    }

    /// The worker's heartbeat, with its counts; with `state` and `message` when it ends.
    pub async fn worker_beat(
        &mut self,
        run_id: &str,
        worker: &str,
        (done, failed): (i64, i64),
        end: Option<(&str, Option<&str>)>,
    ) -> Result<()> {
        let (state, message) = end.unwrap_or(("working", None));
        let sql = format!(
            "UPDATE gymchat_migration_workers SET heartbeat_ms = {}, items_done = $1, items_failed = $2, \
             state = $3, message = COALESCE($4, message) WHERE run_id = $5 AND worker = $6",
            self.db_now_ms()
        );
        on_db!(self.db(), c => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(done)
            .bind(failed)
            .bind(state)
            .bind(message)
            .bind(run_id)
            .bind(worker)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The run's workers, first joined first.
    pub async fn migration_workers(&mut self, run_id: &str) -> Result<Vec<MigrationWorker>> {
        let sql = format!(
            "SELECT run_id, worker, started_at_ms, heartbeat_ms, {} - heartbeat_ms AS age_ms, items_done, \
             items_failed, state, message FROM gymchat_migration_workers WHERE run_id = $1 \
             ORDER BY started_at_ms, worker",
            self.db_now_ms()
        );
        let rows: Vec<WorkerRow> = on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(run_id)
            .fetch_all(&mut *c)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|r| MigrationWorker {
                run_id: r.run_id,
                worker: r.worker,
                started_at: time(r.started_at_ms),
                heartbeat_at: time(r.heartbeat_ms),
                heartbeat_age_ms: r.age_ms,
                items_done: r.items_done,
                items_failed: r.items_failed,
                state: r.state,
                message: r.message,
            })
            .collect())
    }

    /// Workers of any run still `working` with a heartbeat younger than `ttl`, other than
    /// `except`: a rollback or abandon waits for them.
    pub async fn live_workers(&mut self, except: &str, ttl: Duration) -> Result<Vec<(String, String)>> {
        let sql = format!(
            "SELECT run_id, worker FROM gymchat_migration_workers WHERE state = 'working' AND worker <> $1 \
             AND heartbeat_ms > {} - $2 ORDER BY run_id, worker",
            self.db_now_ms()
        );
        let rows: Vec<(String, String)> = on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(except)
            .bind(ttl.num_milliseconds())
            .fetch_all(&mut *c)
            .await)?;
        Ok(rows)
    }
}
