//! gymchat's own records of what the operations did, read by the audit: channels a room moved
//! away from (the migration writes them; the audit reports those channels as archived) and rooms
//! cleanup retired (the audit reports them as retired, not db-only).

use chrono::{DateTime, Utc};
use gymchat_ids::{GymId, RoomId};
use serde::Serialize;
use sqlx::FromRow;

use crate::backend::{Session, on_db};
use crate::error::{Result, StoreError};

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
}
