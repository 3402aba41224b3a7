//! Rooms the chat service has reserved and whose Stream channel is not confirmed yet
//! (`gymchat_pending_rooms`): the room row and its members are committed before Stream is called,
//! so no connection is held across Stream; the mark says "not finished". The request that made
//! it, or a later one that takes it over, confirms it once the channel exists or removes it when
//! the channel cannot be made. Room lists leave pending rooms out.

use chrono::{DateTime, Duration, Utc};
use gymchat_ids::{GymId, RoomId};

use crate::backend::{Session, on_db};
use crate::error::Result;

/// A reserved room waiting for its channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRoom {
    /// The room.
    pub room_id: RoomId,
    /// Its gym.
    pub gym_id: GymId,
    /// The channel it will point at (`type:id`).
    pub cid: String,
    /// The request that owns the reservation now.
    pub request_id: String,
    /// When it was reserved.
    pub created_at: DateTime<Utc>,
}

type PendingRow = (i64, i64, String, String, i64);

fn pending(row: PendingRow) -> Option<PendingRoom> {
    Some(PendingRoom {
        room_id: RoomId::new(row.0).ok()?,
        gym_id: GymId::new(row.1).ok()?,
        cid: row.2,
        request_id: row.3,
        created_at: DateTime::from_timestamp_millis(row.4)?,
    })
}

impl Session {
    /// Marks the room as reserved by `request_id` (in the transaction that writes the room).
    pub async fn reserve_room(
        &mut self,
        room: RoomId,
        gym: GymId,
        cid: &str,
        request_id: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "INSERT INTO gymchat_pending_rooms (room_id, gym_id, cid, request_id, created_at_ms) \
                   VALUES ($1, $2, $3, $4, $5)";
        on_db!(self.db(), c => sqlx::query(sql)
            .bind(room.get()).bind(gym.get()).bind(cid).bind(request_id).bind(at.timestamp_millis())
            .execute(&mut *c).await.map(|_| ()))?;
        Ok(())
    }

    /// The room's reservation, while it is pending.
    pub async fn pending_room(&mut self, room: RoomId) -> Result<Option<PendingRoom>> {
        let sql =
            "SELECT room_id, gym_id, cid, request_id, created_at_ms FROM gymchat_pending_rooms WHERE room_id = $1";
        let row: Option<PendingRow> =
            on_db!(self.db(), c => sqlx::query_as(sql).bind(room.get()).fetch_optional(&mut *c).await)?;
        Ok(row.and_then(pending))
    }

    /// Makes `request_id` the owner of the room's reservation (a later request finishing it).
    /// False when the room is not pending any more.
    pub async fn take_over_room(&mut self, room: RoomId, request_id: &str) -> Result<bool> {
        let sql = "UPDATE gymchat_pending_rooms SET request_id = $2 WHERE room_id = $1";
        let n = on_db!(self.db(), c => sqlx::query(sql).bind(room.get()).bind(request_id).execute(&mut *c).await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Confirms the room: its channel exists. True when this call ended the reservation (another
    /// request may have confirmed it first; the room is confirmed either way).
    pub async fn confirm_room(&mut self, room: RoomId) -> Result<bool> {
        let sql = "DELETE FROM gymchat_pending_rooms WHERE room_id = $1";
        let n = on_db!(self.db(), c => sqlx::query(sql).bind(room.get()).execute(&mut *c).await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Ends the reservation and deletes the room with its members, hidden rows and key, in one
    /// transaction, but only while `request_id` still owns it. False (and nothing changed) when
    /// another request took it over or it was confirmed.
    pub async fn abandon_room(&mut self, room: RoomId, request_id: &str) -> Result<bool> {
        let sql = "DELETE FROM gymchat_pending_rooms WHERE room_id = $1 AND request_id = $2";
        let n = on_db!(self.db(), c => sqlx::query(sql).bind(room.get()).bind(request_id).execute(&mut *c).await
            .map(|r| r.rows_affected()))?;
        if n == 0 {
            return Ok(false);
        }
        self.delete_room(room).await?;
        Ok(true)
    }

    /// Reservations older than `age` by the database's clock: their requests are over, so a
    /// sweeper settles them.
    pub async fn stale_pending_rooms(&mut self, age: Duration, limit: i64) -> Result<Vec<PendingRoom>> {
        let now = self.db_now_ms();
        let sql = format!(
            "SELECT room_id, gym_id, cid, request_id, created_at_ms FROM gymchat_pending_rooms \
             WHERE created_at_ms < {now} - $1 ORDER BY created_at_ms LIMIT $2"
        );
        let rows: Vec<PendingRow> = on_db!(self.db(), c => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(age.num_milliseconds()).bind(limit).fetch_all(&mut *c).await)?;
        Ok(rows.into_iter().filter_map(pending).collect())
    }
}
