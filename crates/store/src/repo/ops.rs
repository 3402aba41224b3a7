//! gymchat's own records of what the operations did: channels a room moved away from (the
//! migration writes them; the audit reports those channels as archived), rooms cleanup retired,
//! and cleanup runs with their journal of actions (what a database change replaced, for undo).

use chrono::{DateTime, Utc};
use gymchat_ids::{GymId, RoomId};
use serde::Serialize;
use sqlx::FromRow;

use crate::backend::{Session, on_db};
use crate::error::{Result, StoreError};
use crate::states::{ActionKind, ActionState, UnknownLabel};

/// A room that moved from one Stream channel to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelMove {
    /// The room.
    pub room_id: RoomId,
    /// Its gym.
    pub gym_id: GymId,
    /// The cid it pointed at before: now archived.
    pub old_cid: String,
    /// The cid it points at since.
    pub new_cid: String,
    /// The migration run that moved it.
    pub run_id: String,
    /// When.
    pub moved_at: DateTime<Utc>,
}

/// A room cleanup retired: its channel is gone and the operator accepted that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetiredRoom {
    /// The room.
    pub room_id: RoomId,
    /// Its gym.
    pub gym_id: GymId,
    /// The cid its channel had.
    pub cid: Option<String>,
    /// The cleanup run.
    pub run_id: String,
    /// When.
    pub retired_at: DateTime<Utc>,
}

/// One journaled cleanup action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CleanupAction {
    /// Journal row id.
    pub id: i64,
    /// The run.
    pub run_id: String,
    /// The gym acted on.
    pub gym_id: i64,
    /// What was done.
    pub kind: ActionKind,
    /// On what (a cid, a room id).
    pub target: String,
    /// Where it is.
    pub state: ActionState,
    /// What a database change replaced (JSON), for undo.
    pub before_json: Option<String>,
    /// The outcome, in words.
    pub detail: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct MoveRow {
    room_id: i64,
    gym_id: i64,
    old_cid: String,
    new_cid: String,
    run_id: String,
    moved_at_ms: i64,
}

#[derive(FromRow)]
struct RetiredRow {
    room_id: i64,
    gym_id: i64,
    cid: Option<String>,
    run_id: String,
    retired_at_ms: i64,
}

#[derive(FromRow)]
struct ActionRow {
    id: i64,
    run_id: String,
    gym_id: i64,
    kind: String,
    target: String,
    state: String,
    before_json: Option<String>,
    detail: Option<String>,
    updated_at_ms: i64,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn ids<T: TryFrom<i64>>(v: i64, what: &'static str) -> Result<T> {
    T::try_from(v).map_err(|_| StoreError::BadRow { table: what, key: v.to_string(), reason: "not a valid id".into() })
}

impl Session {
    /// Records that a room moved away from a channel. Recording the same move again does nothing.
    pub async fn record_channel_move(&mut self, m: &ChannelMove) -> Result<()> {
        let sql = "INSERT INTO gymchat_channel_moves (room_id, gym_id, old_cid, new_cid, run_id, moved_at_ms) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (room_id, old_cid) DO NOTHING";
        on_db!(self.db(), c => sqlx::query(sql)
            .bind(m.room_id.get())
            .bind(m.gym_id.get())
            .bind(&m.old_cid)
            .bind(&m.new_cid)
            .bind(&m.run_id)
            .bind(ms(m.moved_at))
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Every channel move of the gym's rooms.
    pub async fn channel_moves(&mut self, gym: GymId) -> Result<Vec<ChannelMove>> {
        let sql = "SELECT room_id, gym_id, old_cid, new_cid, run_id, moved_at_ms FROM gymchat_channel_moves \
                   WHERE gym_id = $1 ORDER BY room_id, moved_at_ms";
        let rows: Vec<MoveRow> = on_db!(self.db(), c => sqlx::query_as(sql).bind(gym.get()).fetch_all(&mut *c).await)?;
        rows.into_iter()
            .map(|r| {
                Ok(ChannelMove {
                    room_id: ids(r.room_id, "gymchat_channel_moves")?,
                    gym_id: ids(r.gym_id, "gymchat_channel_moves")?,
                    old_cid: r.old_cid,
                    new_cid: r.new_cid,
                    run_id: r.run_id,
                    moved_at: time(r.moved_at_ms),
                })
            })
            .collect()
    }

    /// Records a retired room. Retiring it again does nothing.
    pub async fn record_retired_room(&mut self, r: &RetiredRoom) -> Result<()> {
        let sql = "INSERT INTO gymchat_retired_rooms (room_id, gym_id, cid, run_id, retired_at_ms) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room_id) DO NOTHING";
        on_db!(self.db(), c => sqlx::query(sql)
            .bind(r.room_id.get())
            .bind(r.gym_id.get())
            .bind(&r.cid)
            .bind(&r.run_id)
            .bind(ms(r.retired_at))
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Forgets that a room was retired (undo).
    pub async fn forget_retired_room(&mut self, room: RoomId) -> Result<()> {
        let sql = "DELETE FROM gymchat_retired_rooms WHERE room_id = $1";
        on_db!(self.db(), c => sqlx::query(sql).bind(room.get()).execute(&mut *c).await.map(|_| ()))?;
        Ok(())
    }

    /// The gym's retired rooms.
    pub async fn retired_rooms(&mut self, gym: GymId) -> Result<Vec<RetiredRoom>> {
        let sql = "SELECT room_id, gym_id, cid, run_id, retired_at_ms FROM gymchat_retired_rooms \
                   WHERE gym_id = $1 ORDER BY room_id";
        let rows: Vec<RetiredRow> =
            on_db!(self.db(), c => sqlx::query_as(sql).bind(gym.get()).fetch_all(&mut *c).await)?;
        rows.into_iter()
            .map(|r| {
                Ok(RetiredRoom {
                    room_id: ids(r.room_id, "gymchat_retired_rooms")?,
                    gym_id: ids(r.gym_id, "gymchat_retired_rooms")?,
                    cid: r.cid,
                    run_id: r.run_id,
                    retired_at: time(r.retired_at_ms),
                })
            })
            .collect()
    }

    /// Opens a cleanup run.
    pub async fn start_cleanup_run(&mut self, run_id: &str, at: DateTime<Utc>) -> Result<()> {
        let sql = "INSERT INTO gymchat_cleanup_runs (run_id, started_at_ms) VALUES ($1, $2)";
        on_db!(self.db(), c => sqlx::query(sql).bind(run_id).bind(ms(at)).execute(&mut *c).await.map(|_| ()))?;
        Ok(())
    }

    /// Closes a cleanup run with its summary (JSON).
    pub async fn finish_cleanup_run(&mut self, run_id: &str, at: DateTime<Utc>, summary: &str) -> Result<()> {
        let sql = "UPDATE gymchat_cleanup_runs SET finished_at_ms = $1, summary = $2 WHERE run_id = $3";
        on_db!(self.db(), c => sqlx::query(sql).bind(ms(at)).bind(summary).bind(run_id).execute(&mut *c).await.map(|_| ()))?;
        Ok(())
    }

    /// Marks a cleanup run undone; false when it does not exist or was undone already.
    pub async fn mark_cleanup_undone(&mut self, run_id: &str, at: DateTime<Utc>) -> Result<bool> {
        let sql = "UPDATE gymchat_cleanup_runs SET undone_at_ms = $1 WHERE run_id = $2 AND undone_at_ms IS NULL";
        let n = on_db!(self.db(), c => sqlx::query(sql).bind(ms(at)).bind(run_id).execute(&mut *c).await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Whether a cleanup run exists, and whether it was undone.
    pub async fn cleanup_run_undone(&mut self, run_id: &str) -> Result<Option<bool>> {
        let sql = "SELECT undone_at_ms FROM gymchat_cleanup_runs WHERE run_id = $1";
        let row: Option<(Option<i64>,)> =
            on_db!(self.db(), c => sqlx::query_as(sql).bind(run_id).fetch_optional(&mut *c).await)?;
        Ok(row.map(|(undone,)| undone.is_some()))
    }

    /// Journals an action in its first state; returns its journal id.
    #[allow(clippy::too_many_arguments, reason = "one column each")]
    pub async fn journal_action(
        &mut self,
        run_id: &str,
        gym: GymId,
        kind: ActionKind,
        target: &str,
        state: ActionState,
        before_json: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<i64> {
        let sql = "INSERT INTO gymchat_cleanup_actions (run_id, gym_id, kind, target, state, before_json, updated_at_ms) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
        let (id,): (i64,) = on_db!(self.db(), c => sqlx::query_as(sql)
            .bind(run_id)
            .bind(gym.get())
            .bind(kind.as_str())
            .bind(target)
            .bind(state.as_str())
            .bind(before_json)
            .bind(ms(at))
            .fetch_one(&mut *c)
            .await)?;
        Ok(id)
    }

    /// Moves a journaled action to a new state, with what happened.
    pub async fn update_action(&mut self, id: i64, state: ActionState, detail: &str, at: DateTime<Utc>) -> Result<()> {
        let sql = "UPDATE gymchat_cleanup_actions SET state = $1, detail = $2, updated_at_ms = $3 WHERE id = $4";
        on_db!(self.db(), c => sqlx::query(sql).bind(state.as_str()).bind(detail).bind(ms(at)).bind(id).execute(&mut *c).await
            .map(|_| ()))?;
        Ok(())
    }

    /// A run's journal, in the order the actions were taken.
    pub async fn cleanup_actions(&mut self, run_id: &str) -> Result<Vec<CleanupAction>> {
        let sql = "SELECT id, run_id, gym_id, kind, target, state, before_json, detail, updated_at_ms \
                   FROM gymchat_cleanup_actions WHERE run_id = $1 ORDER BY id";
        let rows: Vec<ActionRow> = on_db!(self.db(), c => sqlx::query_as(sql).bind(run_id).fetch_all(&mut *c).await)?;
        rows.into_iter()
            .map(|r| {
                let bad = |e: UnknownLabel| StoreError::BadRow {
                    table: "gymchat_cleanup_actions",
                    key: format!("id = {}", r.id),
                    reason: e.to_string(),
                };
                Ok(CleanupAction {
                    id: r.id,
                    kind: ActionKind::parse(&r.kind).map_err(bad)?,
                    state: ActionState::parse(&r.state).map_err(bad)?,
                    run_id: r.run_id,
                    gym_id: r.gym_id,
                    target: r.target,
                    before_json: r.before_json,
                    detail: r.detail,
                    updated_at: time(r.updated_at_ms),
                })
            })
            .collect()
    }
}
