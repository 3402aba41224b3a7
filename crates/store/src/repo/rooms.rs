//! Chat rooms, their members and hidden rows (`chat_rooms`, `chat_members`, `chat_member_hidden`).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use gymchat_ids::{GymId, RoomId, UserId};
use sqlx::{AssertSqlSafe, FromRow};

use super::rows::{IDS_PER_QUERY, RawRow, Rows, collect_rows, one_row, opt_id, placeholders, req_id, stream_rows};
use crate::backend::{Session, on_db};
use crate::error::{Result, StoreError};
use crate::model::{Hidden, Room, RoomStatus, RoomWithMembers};
use crate::value::{DbInt, DbText, DbTime};

#[derive(FromRow)]
pub(super) struct RoomRow {
    id: Option<DbInt>,
    stream_channel_id: Option<String>,
    stream_channel_type: Option<String>,
    name: Option<String>,
    gym_id: Option<DbInt>,
    event_id: Option<DbInt>,
    is_direct: Option<bool>,
    status: Option<DbText>,
    created_at: Option<DbTime>,
    updated_at: Option<DbTime>,
}

impl RawRow for RoomRow {
    type Out = Room;
    const TABLE: &'static str = "chat_rooms";
    const KEY: &'static str = "id";
    fn key(&self) -> String {
        format!("id = {}", self.id.map_or(-1, |v| v.0))
    }
    fn convert(self) -> Result<Room, String> {
        Ok(Room {
            id: req_id(self.id, "id")?,
            stream_channel_id: self.stream_channel_id,
            stream_channel_type: self.stream_channel_type.unwrap_or_else(|| "messaging".to_owned()),
            name: self.name,
            gym_id: req_id(self.gym_id, "gym_id")?,
            event_id: opt_id(self.event_id, "event_id")?,
            is_direct: self.is_direct.unwrap_or(false),
            status: self.status.map(|s| RoomStatus::from_db(&s.0)).transpose()?,
            created_at: self.created_at.map(|t| t.0),
            updated_at: self.updated_at.map(|t| t.0),
        })
    }
}

/// A member row of a room: `(room_id, user_id)`.
#[derive(FromRow)]
struct MemberPairRow {
    id: Option<DbInt>,
    room_id: Option<DbInt>,
    user_id: Option<DbInt>,
}

impl RawRow for MemberPairRow {
    type Out = (RoomId, UserId);
    const TABLE: &'static str = "chat_members";
    const KEY: &'static str = "id";
    fn key(&self) -> String {
        format!("id = {}", self.id.map_or(-1, |v| v.0))
    }
    fn convert(self) -> Result<(RoomId, UserId), String> {
        Ok((req_id(self.room_id, "room_id")?, req_id(self.user_id, "user_id")?))
    }
}

#[derive(FromRow)]
struct HiddenRow {
    user_id: Option<DbInt>,
    room_id: Option<DbInt>,
    hidden_at: Option<DbTime>,
}

impl RawRow for HiddenRow {
    type Out = Hidden;
    const TABLE: &'static str = "chat_member_hidden";
    const KEY: &'static str = "user_id";
    fn key(&self) -> String {
        format!("user_id = {}, room_id = {}", self.user_id.map_or(-1, |v| v.0), self.room_id.map_or(-1, |v| v.0))
    }
    fn convert(self) -> Result<Hidden, String> {
        Ok(Hidden {
            user_id: req_id(self.user_id, "user_id")?,
            room_id: req_id(self.room_id, "room_id")?,
            hidden_at: self.hidden_at.map(|t| t.0),
        })
    }
}

pub(super) const SELECT_ROOMS: &str = "SELECT id, stream_channel_id, stream_channel_type, name, gym_id, event_id, is_direct, \
                            status, created_at, updated_at FROM chat_rooms";

impl Session {
    /// The room with this id, in whichever gym it is; callers check the gym.
    pub async fn room(&mut self, id: RoomId) -> Result<Option<Room>> {
        let sql = format!("{SELECT_ROOMS} WHERE id = $1");
        let rows = on_db!(self.db(), c => sqlx::query(AssertSqlSafe(sql.as_str())).bind(id.get()).fetch_all(&mut *c).await
            .map(collect_rows::<_, RoomRow>))?;
        one_row(rows)
    }

    /// Every room of the gym with its members, by room id, in two queries whatever the gym's
    /// size. Member rows with a NULL room (their room was deleted) belong to no room and
    /// duplicate (room, user) rows count once, both as found in production.
    pub async fn rooms_with_members(&mut self, gym: GymId) -> Result<Rows<RoomWithMembers>> {
        let sql = format!("{SELECT_ROOMS} WHERE gym_id = $1 ORDER BY id");
        // Both reads are streamed: a gym of 100,000 rooms never holds its raw rows at once.
        let rooms = on_db!(self.db(), c => stream_rows::<_, RoomRow>(
            sqlx::query(AssertSqlSafe(sql.as_str())).bind(gym.get()).fetch(&mut *c)).await)?;
        let sql = "SELECT m.id, m.room_id, m.user_id FROM chat_members m JOIN chat_rooms r ON r.id = m.room_id \
                   WHERE r.gym_id = $1";
        let pairs = on_db!(self.db(), c => stream_rows::<_, MemberPairRow>(
            sqlx::query(sql).bind(gym.get()).fetch(&mut *c)).await)?;
        let mut members: HashMap<RoomId, Vec<UserId>> = HashMap::with_capacity(rooms.rows.len());
        for (room, user) in pairs.rows {
            members.entry(room).or_default().push(user);
        }
        let mut skipped = rooms.skipped;
        skipped.extend(pairs.skipped);
        let rows = rooms
            .rows
            .into_iter()
            .map(|room| {
                let mut members = members.remove(&room.id).unwrap_or_default();
                members.sort_unstable();
                members.dedup();
                RoomWithMembers { room, members }
            })
            .collect();
        Ok(Rows { rows, skipped })
    }

    /// The rooms, of any gym, that point at these bare channel ids; bound in chunks.
    pub async fn rooms_by_channel_ids(&mut self, channel_ids: &[String]) -> Result<Rows<Room>> {
        let mut out = Rows::default();
        for chunk in channel_ids.chunks(IDS_PER_QUERY) {
            // Only `$n` placeholders are spliced in.
            let sql =
                format!("{SELECT_ROOMS} WHERE stream_channel_id IN ({}) ORDER BY id", placeholders(chunk.len(), 0));
            let rows = on_db!(self.db(), c => {
                let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(&mut *c).await.map(collect_rows::<_, RoomRow>)
            })?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Which of these room ids exist, in any gym (ids bound a thousand at a time).
    pub async fn existing_room_ids(&mut self, ids: &[RoomId]) -> Result<BTreeSet<RoomId>> {
        let mut out = BTreeSet::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            // Only `$n` placeholders are spliced in.
            let sql = format!("SELECT id FROM chat_rooms WHERE id IN ({})", placeholders(chunk.len(), 0));
            let found: Vec<(DbInt,)> = on_db!(self.db(), c => {
                let mut q = sqlx::query_as(AssertSqlSafe(sql.as_str()));
                for id in chunk {
                    q = q.bind(id.get());
                }
                q.fetch_all(&mut *c).await
            })?;
            out.extend(found.into_iter().filter_map(|(id,)| RoomId::new(id.0).ok()));
        }
        Ok(out)
    }

    /// Member rows whose room was deleted (`room_id` NULL) of users who belong to the gym:
    /// `(row id, user id)`. Such a row belongs to no room; the audit reports them.
    pub async fn roomless_member_rows(&mut self, gym: GymId) -> Result<Vec<(i64, i64)>> {
        let sql = "SELECT m.id, m.user_id FROM chat_members m JOIN user_gyms ug ON ug.user_id = m.user_id \
                   WHERE m.room_id IS NULL AND ug.gym_id = $1 ORDER BY m.id";
        let rows: Vec<(DbInt, DbInt)> =
            on_db!(self.db(), c => sqlx::query_as(sql).bind(gym.get()).fetch_all(&mut *c).await)?;
        Ok(rows.into_iter().map(|(a, b)| (a.0, b.0)).collect())
    }

    /// Sets only the room's status (NULL included), leaving every other column as it is: what
    /// cleanup's retire and its undo change. Returns false when no such room exists.
    pub async fn set_room_status_only(&mut self, room: RoomId, status: Option<RoomStatus>) -> Result<bool> {
        // Only the placeholder (with its enum cast) is spliced in.
        let sql =
            format!("UPDATE chat_rooms SET status = {} WHERE id = $2", self.catalog.param("chat_rooms", "status", 1));
        let n = on_db!(self.db(), c => sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(status.map(|s| s.as_str()))
            .bind(room.get())
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
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
            self.catalog.param("chat_rooms", "status", 1)
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
    pub async fn hidden_rooms(&mut self, user: UserId) -> Result<Rows<Hidden>> {
        let sql = "SELECT user_id, room_id, hidden_at FROM chat_member_hidden WHERE user_id = $1 ORDER BY room_id";
        Ok(on_db!(self.db(), c => sqlx::query(sql).bind(user.get()).fetch_all(&mut *c).await
            .map(collect_rows::<_, HiddenRow>))?)
    }

    /// Who has hidden the room, and when: one per user, the latest time of their rows (the
    /// platform's hide also clears the member's history up to then). Rows that cannot be read
    /// are set aside, and a row without a time counts as hidden at no known time.
    pub async fn room_hidden_by(&mut self, room: RoomId) -> Result<Rows<Hidden>> {
        let sql = "SELECT user_id, room_id, hidden_at FROM chat_member_hidden WHERE room_id = $1 ORDER BY user_id";
        let mut read = on_db!(self.db(), c => sqlx::query(sql).bind(room.get()).fetch_all(&mut *c).await
            .map(collect_rows::<_, HiddenRow>))?;
        let mut latest: std::collections::BTreeMap<UserId, Hidden> = std::collections::BTreeMap::new();
        for row in read.rows.drain(..) {
            let entry = latest.entry(row.user_id).or_insert_with(|| row.clone());
            entry.hidden_at = entry.hidden_at.max(row.hidden_at);
        }
        read.rows = latest.into_values().collect();
        Ok(read)
    }

    /// Hides the room for the user. Hiding again, even concurrently, keeps the first time: the
    /// unique key on (user, room) decides and the second insert does nothing. Returns false when
    /// it was hidden already.
    pub async fn hide_room(&mut self, user: UserId, room: RoomId, at: DateTime<Utc>) -> Result<bool> {
        let sql = "INSERT INTO chat_member_hidden (user_id, room_id, hidden_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (user_id, room_id) DO NOTHING";
        let n = on_db!(self.db(), c => sqlx::query(sql)
            .bind(user.get())
            .bind(room.get())
            .bind(at)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
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
