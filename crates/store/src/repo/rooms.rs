//! Chat rooms, their members and hidden rows (`chat_rooms`, `chat_members`, `chat_member_hidden`).

use chrono::{DateTime, Utc};
use gymchat_ids::{GymId, RoomId, UserId};
use sqlx::{AssertSqlSafe, FromRow};

use super::{label, to_id, to_opt_id};
use crate::backend::{Session, on_db};
use crate::error::{Result, StoreError};
use crate::model::{Hidden, Room, RoomStatus, RoomWithMembers};
use crate::value::{DbInt, DbText, DbTime};

#[derive(FromRow)]
struct RoomRow {
    id: DbInt,
    stream_channel_id: Option<String>,
    stream_channel_type: Option<String>,
    name: Option<String>,
    gym_id: DbInt,
    event_id: Option<DbInt>,
    is_direct: Option<bool>,
    status: DbText,
    created_at: DbTime,
    updated_at: DbTime,
}

impl TryFrom<RoomRow> for Room {
    type Error = StoreError;
    fn try_from(r: RoomRow) -> Result<Room> {
        Ok(Room {
            id: to_id(r.id, "chat_rooms", "id")?,
            stream_channel_id: r.stream_channel_id,
            stream_channel_type: r.stream_channel_type.unwrap_or_else(|| "messaging".to_owned()),
            name: r.name,
            gym_id: to_id(r.gym_id, "chat_rooms", "gym_id")?,
            event_id: to_opt_id(r.event_id, "chat_rooms", "event_id")?,
            is_direct: r.is_direct.unwrap_or(false),
            status: RoomStatus::from_db(&label(r.status), "chat_rooms", "status")?,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        })
    }
}

/// A room row joined with one of its member rows (none when the room has no members).
#[derive(FromRow)]
struct RoomMemberRow {
    #[sqlx(flatten)]
    room: RoomRow,
    member_id: Option<DbInt>,
}

#[derive(FromRow)]
struct HiddenRow {
    user_id: DbInt,
    room_id: DbInt,
    hidden_at: DbTime,
}

macro_rules! select_rooms {
    ($rest:literal) => {
        concat!(
            "SELECT r.id, r.stream_channel_id, r.stream_channel_type, r.name, r.gym_id, r.event_id, ",
            "r.is_direct, r.status, r.created_at, r.updated_at",
            $rest
        )
    };
}

impl Session {
    /// The room with this id, in whichever gym it is; callers check the gym.
    pub async fn room(&mut self, id: RoomId) -> Result<Option<Room>> {
        let sql = select_rooms!(" FROM chat_rooms r WHERE r.id = $1");
        let row: Option<RoomRow> =
            on_db!(self.db(), c => sqlx::query_as(sql).bind(id.get()).fetch_optional(&mut *c).await)?;
        row.map(Room::try_from).transpose()
    }

    /// Every room of the gym with its members, in one query. Member rows with a NULL room and
    /// duplicate (room, user) rows, both found in production, are ignored.
    pub async fn rooms_with_members(&mut self, gym: GymId) -> Result<Vec<RoomWithMembers>> {
        let sql = select_rooms!(
            ", m.user_id AS member_id FROM chat_rooms r LEFT JOIN chat_members m ON m.room_id = r.id \
             WHERE r.gym_id = $1 ORDER BY r.id, m.user_id"
        );
        let rows: Vec<RoomMemberRow> =
            on_db!(self.db(), c => sqlx::query_as(sql).bind(gym.get()).fetch_all(&mut *c).await)?;
        let mut rooms: Vec<RoomWithMembers> = Vec::new();
        for row in rows {
            let member: Option<UserId> = to_opt_id(row.member_id, "chat_members", "user_id")?;
            let room_id: RoomId = to_id(row.room.id, "chat_rooms", "id")?;
            if rooms.last().is_none_or(|last| last.room.id != room_id) {
                rooms.push(RoomWithMembers { room: Room::try_from(row.room)?, members: Vec::new() });
            }
            if let (Some(last), Some(member)) = (rooms.last_mut(), member)
                && last.members.last() != Some(&member)
            {
                last.members.push(member);
            }
        }
        Ok(rooms)
    }

    /// Points the room at a Stream channel (bare id) and touches `updated_at`. Returns false when
    /// no such room exists; fails with [`StoreError::ChannelIdTaken`] when another room has it.
    pub async fn set_room_stream_channel_id(
        &mut self,
        room: RoomId,
        channel_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let sql = "UPDATE chat_rooms SET stream_channel_id = $1, updated_at = $2 WHERE id = $3";
        let outcome = on_db!(self.db(), c => sqlx::query(sql)
            .bind(channel_id)
            .bind(now)
            .bind(room.get())
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()));
        match outcome {
            Ok(n) => Ok(n > 0),
            Err(e) if e.as_database_error().is_some_and(|d| d.is_unique_violation()) => {
                Err(StoreError::ChannelIdTaken { channel_id: channel_id.to_owned() })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sets the room's status and touches `updated_at`. Returns false when no such room exists.
    pub async fn set_room_status(&mut self, room: RoomId, status: RoomStatus, now: DateTime<Utc>) -> Result<bool> {
        // Only the placeholder (with its enum cast) is spliced in.
        let sql = format!(
            "UPDATE chat_rooms SET status = {}, updated_at = $2 WHERE id = $3",
            self.casts.param("chat_rooms", "status", 1)
        );
        let n = on_db!(self.db(), c => sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(status.as_str())
            .bind(now)
            .bind(room.get())
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// The rooms the user has hidden, by room id.
    pub async fn hidden_rooms(&mut self, user: UserId) -> Result<Vec<Hidden>> {
        let sql = "SELECT user_id, room_id, hidden_at FROM chat_member_hidden WHERE user_id = $1 ORDER BY room_id";
        let rows: Vec<HiddenRow> =
            on_db!(self.db(), c => sqlx::query_as(sql).bind(user.get()).fetch_all(&mut *c).await)?;
        rows.into_iter()
            .map(|r| {
                Ok(Hidden {
                    user_id: to_id(r.user_id, "chat_member_hidden", "user_id")?,
                    room_id: to_id(r.room_id, "chat_member_hidden", "room_id")?,
                    hidden_at: r.hidden_at.0,
                })
            })
            .collect()
    }

    /// Hides the room for the user. Hiding twice keeps the first time (no duplicate row).
    pub async fn hide_room(&mut self, user: UserId, room: RoomId, at: DateTime<Utc>) -> Result<()> {
        let sql = "INSERT INTO chat_member_hidden (user_id, room_id, hidden_at) SELECT $1, $2, $3 \
                   WHERE NOT EXISTS (SELECT 1 FROM chat_member_hidden WHERE user_id = $1 AND room_id = $2)";
        on_db!(self.db(), c => sqlx::query(sql)
            .bind(user.get())
            .bind(room.get())
            .bind(at)
            .execute(&mut *c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Shows the room to the user again. Returns false when it was not hidden.
    pub async fn show_room(&mut self, user: UserId, room: RoomId) -> Result<bool> {
        let sql = "DELETE FROM chat_member_hidden WHERE user_id = $1 AND room_id = $2";
        let n = on_db!(self.db(), c => sqlx::query(sql)
            .bind(user.get())
            .bind(room.get())
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }
}
