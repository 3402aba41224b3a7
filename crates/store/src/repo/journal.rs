//! The migration's journal: runs (`gymchat_migration_runs`) and their items
//! (`gymchat_migration_items`, one per Stream user to create and per room to move). The
//! workers' claims on items, and the workers themselves, are in `claims`.
//!
//! An item's `state` is the last step it completed, or the step it is in (`creating`, …) when
//! the call that step guards may or may not have happened; `last_error` holds why its last
//! attempt failed and is cleared when a step succeeds. `spec` is what the plan said to do (JSON,
//! never changed); `detail` is what was done (JSON, for the report).

use chrono::{DateTime, Utc};
use gymchat_ids::{GymId, RoomId};
use serde::Serialize;
use sqlx::FromRow;

use crate::backend::{Session, on_db};
use crate::error::{Result, StoreError};
use crate::states::{ItemKind, ItemState, RunState, UnknownLabel};

/// A migration run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationRun {
    /// Its id.
    pub run_id: String,
    /// The gyms it covers.
    pub gyms: Vec<i64>,
    /// `rebuild` or `in-place`.
    pub strategy: String,
    /// `none`, `copy` or `import-file`.
    pub history: String,
    /// The hash of what its plan read.
    pub plan_hash: String,
    /// Where it is.
    pub state: RunState,
    /// Who ran it last (host, pid).
    pub holder: String,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Finished (done, failed or rolled back).
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it stopped, in words.
    pub message: Option<String>,
}

/// One journaled item of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationItem {
    /// Journal row id.
    pub id: i64,
    /// The run.
    pub run_id: String,
    /// The gym.
    pub gym_id: i64,
    /// What it stands for.
    pub kind: ItemKind,
    /// The room moved (channels).
    pub room_id: Option<i64>,
    /// Legacy id (user) or old cid (channel).
    pub old_id: String,
    /// Target id (user) or new cid (channel).
    pub new_id: String,
    /// The last step completed, or the one under way.
    pub state: ItemState,
    /// How many times a step was started.
    pub attempts: i64,
    /// Why the last attempt failed; cleared by a step that succeeds.
    pub last_error: Option<String>,
    /// What the plan said to do (JSON).
    pub spec: String,
    /// What was done (JSON).
    pub detail: Option<String>,
    /// First step started.
    pub started_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The worker whose claim it is under, if any (it may have run out).
    pub claimed_by: Option<String>,
    /// The claim's fencing token: grows with every claim.
    pub claim_fence: i64,
}

/// A new item: what the plan gives.
#[derive(Debug, Clone)]
pub struct NewItem<'a> {
    /// The gym.
    pub gym_id: GymId,
    /// What it stands for.
    pub kind: ItemKind,
    /// The room (channels).
    pub room_id: Option<RoomId>,
    /// Old id.
    pub old_id: &'a str,
    /// New id.
    pub new_id: &'a str,
    /// First state.
    pub state: ItemState,
    /// The plan's spec (JSON).
    pub spec: &'a str,
}

#[derive(FromRow)]
struct RunRow {
    run_id: String,
    gyms: String,
    strategy: String,
    history: String,
    plan_hash: String,
    state: String,
    holder: String,
    started_at_ms: i64,
    updated_at_ms: i64,
    finished_at_ms: Option<i64>,
    message: Option<String>,
}

#[derive(FromRow)]
pub(crate) struct ItemRow {
    id: i64,
    run_id: String,
    gym_id: i64,
    kind: String,
    room_id: Option<i64>,
    old_id: String,
    new_id: String,
    state: String,
    attempts: i64,
    last_error: Option<String>,
    spec: String,
    detail: Option<String>,
    started_at_ms: Option<i64>,
    updated_at_ms: i64,
    claimed_by: Option<String>,
    claim_fence: i64,
}

pub(crate) fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn label<T>(parsed: std::result::Result<T, UnknownLabel>, table: &'static str, key: &str) -> Result<T> {
    parsed.map_err(|e| StoreError::BadRow { table, key: key.to_owned(), reason: e.to_string() })
}

impl TryFrom<RunRow> for MigrationRun {
    type Error = StoreError;
    fn try_from(r: RunRow) -> Result<Self> {
        let state = label(RunState::parse(&r.state), "gymchat_migration_runs", &r.run_id)?;
        Ok(MigrationRun {
            run_id: r.run_id,
            gyms: serde_json::from_str(&r.gyms).unwrap_or_default(),
            strategy: r.strategy,
            history: r.history,
            plan_hash: r.plan_hash,
            state,
            holder: r.holder,
            started_at: time(r.started_at_ms),
            updated_at: time(r.updated_at_ms),
            finished_at: r.finished_at_ms.map(time),
            message: r.message,
        })
    }
}

impl TryFrom<ItemRow> for MigrationItem {
    type Error = StoreError;
    fn try_from(r: ItemRow) -> Result<Self> {
        let key = format!("id = {}", r.id);
        let kind = label(ItemKind::parse(&r.kind), "gymchat_migration_items", &key)?;
        let state = label(ItemState::parse(&r.state), "gymchat_migration_items", &key)?;
        Ok(MigrationItem {
            id: r.id,
            run_id: r.run_id,
            gym_id: r.gym_id,
            kind,
            room_id: r.room_id,
            old_id: r.old_id,
            new_id: r.new_id,
            state,
            attempts: r.attempts,
            last_error: r.last_error,
            spec: r.spec,
            detail: r.detail,
            started_at: r.started_at_ms.map(time),
            updated_at: time(r.updated_at_ms),
            claimed_by: r.claimed_by,
            claim_fence: r.claim_fence,
        })
    }
}

const RUN_COLUMNS: &str = "run_id, gyms, strategy, history, plan_hash, state, holder, started_at_ms, updated_at_ms, \
                           finished_at_ms, message";
pub(crate) const ITEM_COLUMNS: &str = "id, run_id, gym_id, kind, room_id, old_id, new_id, state, attempts, \
                                       last_error, spec, detail, started_at_ms, updated_at_ms, claimed_by, claim_fence";

impl Session {
    /// Opens a run.
    pub async fn create_migration_run(&mut self, run: &MigrationRun) -> Result<()> {
        let sql = "INSERT INTO gymchat_migration_runs (run_id, gyms, strategy, history, plan_hash, state, holder, \
                   started_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)";
        let gyms = serde_json::to_string(&run.gyms).unwrap_or_else(|_| "[]".to_owned());
        on_db!(self.db(), c => sqlx::query(sql)
            .bind(&run.run_id)
            .bind(&gyms)
            .bind(&run.strategy)
            .bind(&run.history)
            .bind(&run.plan_hash)
            .bind(run.state.as_str())
            .bind(&run.holder)
            .bind(run.started_at.timestamp_millis())
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Moves a run to `state` with a message; `finished` stamps its end.
    pub async fn set_migration_run_state(
        &mut self,
        run_id: &str,
        state: RunState,
        holder: &str,
        message: Option<&str>,
        finished: bool,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "UPDATE gymchat_migration_runs SET state = $1, holder = $2, message = $3, updated_at_ms = $4, \
                   finished_at_ms = CASE WHEN $5 THEN $4 ELSE NULL END WHERE run_id = $6";
        on_db!(self.db(), c => sqlx::query(sql)
            .bind(state.as_str())
            .bind(holder)
            .bind(message)
            .bind(at.timestamp_millis())
            .bind(finished)
            .bind(run_id)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// One run.
    pub async fn migration_run(&mut self, run_id: &str) -> Result<Option<MigrationRun>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM gymchat_migration_runs WHERE run_id = $1");
        let row: Option<RunRow> = on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(run_id)
            .fetch_optional(&mut *c)
            .await)?;
        row.map(MigrationRun::try_from).transpose()
    }

    /// Every run, newest first.
    pub async fn migration_runs(&mut self) -> Result<Vec<MigrationRun>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM gymchat_migration_runs ORDER BY started_at_ms DESC, run_id");
        let rows: Vec<RunRow> =
            on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(&mut *c).await)?;
        rows.into_iter().map(MigrationRun::try_from).collect()
    }

    /// Journals an item; an item the run holds already (same kind and old id) is kept as it is.
    /// Returns the item's id either way.
    pub async fn add_migration_item(&mut self, run_id: &str, item: &NewItem<'_>, at: DateTime<Utc>) -> Result<i64> {
        let insert = "INSERT INTO gymchat_migration_items (run_id, gym_id, kind, room_id, old_id, new_id, state, spec, \
                      updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                      ON CONFLICT (run_id, kind, old_id) DO NOTHING";
        on_db!(self.db(), c => sqlx::query(insert)
            .bind(run_id)
            .bind(item.gym_id.get())
            .bind(item.kind.as_str())
            .bind(item.room_id.map(RoomId::get))
            .bind(item.old_id)
            .bind(item.new_id)
            .bind(item.state.as_str())
            .bind(item.spec)
            .bind(at.timestamp_millis())
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        let select = "SELECT id FROM gymchat_migration_items WHERE run_id = $1 AND kind = $2 AND old_id = $3";
        let (id,): (i64,) = on_db!(self.db(), c => sqlx::query_as(select)
            .bind(run_id)
            .bind(item.kind.as_str())
            .bind(item.old_id)
            .fetch_one(&mut *c)
            .await)?;
        Ok(id)
    }

    /// A run's items, in the order they were journaled.
    pub async fn migration_items(&mut self, run_id: &str) -> Result<Vec<MigrationItem>> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM gymchat_migration_items WHERE run_id = $1 ORDER BY id");
        let rows: Vec<ItemRow> = on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(run_id)
            .fetch_all(&mut *c)
            .await)?;
        rows.into_iter().map(MigrationItem::try_from).collect()
    }

    /// Records that a step of the item starts (before its call): the state, one more attempt.
    pub async fn start_item_step(&mut self, id: i64, state: ItemState, at: DateTime<Utc>) -> Result<()> {
        let sql = "UPDATE gymchat_migration_items SET state = $1, attempts = attempts + 1, \
                   started_at_ms = COALESCE(started_at_ms, $2), updated_at_ms = $2 WHERE id = $3";
        on_db!(self.db(), c => sqlx::query(sql)
            .bind(state.as_str())
            .bind(at.timestamp_millis())
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Records that a step of the item ended (after its call): the state reached, and what was
    /// done when given; clears the last error.
    pub async fn finish_item_step(
        &mut self,
        id: i64,
        state: ItemState,
        detail: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "UPDATE gymchat_migration_items SET state = $1, last_error = NULL, detail = COALESCE($2, detail), \
                   updated_at_ms = $3 WHERE id = $4";
        on_db!(self.db(), c => sqlx::query(sql)
            .bind(state.as_str())
            .bind(detail)
            .bind(at.timestamp_millis())
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Records, in one write, that the item's previous step succeeded (with what was done, when
    /// given) and that its next step starts: the state of the next step, one more attempt, the
    /// last error cleared.
    pub async fn advance_item(
        &mut self,
        id: i64,
        state: ItemState,
        detail: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "UPDATE gymchat_migration_items SET state = $1, attempts = attempts + 1, last_error = NULL, \
                   detail = COALESCE($2, detail), started_at_ms = COALESCE(started_at_ms, $3), updated_at_ms = $3 \
                   WHERE id = $4";
        on_db!(self.db(), c => sqlx::query(sql)
            .bind(state.as_str())
            .bind(detail)
            .bind(at.timestamp_millis())
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Records why the item's last attempt failed; its state stays where it was.
    pub async fn fail_item(&mut self, id: i64, error: &str, at: DateTime<Utc>) -> Result<()> {
        let sql = "UPDATE gymchat_migration_items SET last_error = $1, updated_at_ms = $2 WHERE id = $3";
        on_db!(self.db(), c => sqlx::query(sql)
            .bind(error)
            .bind(at.timestamp_millis())
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Forgets a channel move (rollback). Returns false when it was not recorded.
    pub async fn forget_channel_move(&mut self, room: RoomId, old_cid: &str) -> Result<bool> {
        let sql = "DELETE FROM gymchat_channel_moves WHERE room_id = $1 AND old_cid = $2";
        let n = on_db!(self.db(), c => sqlx::query(sql)
            .bind(room.get())
            .bind(old_cid)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }
}
