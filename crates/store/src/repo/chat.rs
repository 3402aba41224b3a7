//! What the chat service reads and writes per request: a member's rooms, the one room of a
//! direct pair or an event (claimed through `gymchat_room_keys`), member rows, hiding for
//! everyone, processed webhooks (`gymchat_webhooks`), and an event's status.
//!
//! Each read is one statement, whatever the gym's size, so a request stays within a few queries.

use chrono::{DateTime, Utc};
use gymchat_ids::{EventId, GymId, RoomId, UserId};
use sqlx::AssertSqlSafe;

use super::rooms::{RoomRow, SELECT_ROOMS};
use super::rows::{Rows, collect_rows};
use crate::backend::{DbRef, Session, on_db};
use crate::error::{Result, StoreError};
use crate::model::{EventStatus, Room, RoomStatus};
use crate::value::DbInt;

/// A room the chat service creates; it is ACTIVE, created and updated now.
#[derive(Debug, Clone)]
pub struct NewRoom<'a> {
    /// The gym.
    pub gym_id: GymId,
    /// Display name.
    pub name: Option<&'a str>,
    /// The bare Stream channel id (a target id); `None` when it depends on the room's id (a
    /// group's `room_{G}_{R}`) and is set in the same transaction once the id is known.
    pub stream_channel_id: Option<&'a str>,
    /// The channel type.
    pub stream_channel_type: &'a str,
    /// The event it is the chat of.
    pub event_id: Option<EventId>,
    /// A 1:1 chat.
    pub is_direct: bool,
}

/// The key that makes a direct pair's room unique in a gym, whichever way round the pair is named.
pub fn direct_room_key(gym: GymId, a: UserId, b: UserId) -> String {
    let (low, high) = if a.get() <= b.get() { (a, b) } else { (b, a) };
    format!("direct:{}:{}:{}", gym.get(), low.get(), high.get())
}

/// The key that makes an event's room unique.
pub fn event_room_key(gym: GymId, event: EventId) -> String {
    format!("event:{}:{}", gym.get(), event.get())
}

/// The key that makes a gym's General room unique.
pub fn general_room_key(gym: GymId) -> String {
    format!("general:{}", gym.get())
}

/// `WHERE` condition: the room is not CLOSED (NULL counts as active, SYSTEM.md §4).
const ROOM_IS_ACTIVE: &str = "COALESCE(CAST(status AS TEXT), 'ACTIVE') <> 'CLOSED'";
/// A room whose channel is confirmed: not reserved and waiting (see `repo::pending`).
const ROOM_IS_SETTLED: &str = "id NOT IN (SELECT room_id FROM gymchat_pending_rooms)";

impl Session {
    /// Inserts an ACTIVE room and returns its id. Fails with [`StoreError::ChannelIdTaken`] when
    /// another room points at the channel.
    pub async fn insert_room(&mut self, room: &NewRoom<'_>, now: DateTime<Utc>) -> Result<RoomId> {
        // Only the status placeholder (with its enum cast) is spliced in.
        let sql = format!(
            "INSERT INTO chat_rooms (stream_channel_id, stream_channel_type, name, gym_id, event_id, is_direct, \
             status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, {}, $8, $8) RETURNING id",
            self.catalog.param("chat_rooms", "status", 7)
        );
        let inserted: std::result::Result<DbInt, sqlx::Error> = on_db!(self.db(), c => sqlx::query_scalar(AssertSqlSafe(sql.as_str()))
            .bind(room.stream_channel_id)
            .bind(room.stream_channel_type)
            .bind(room.name)
            .bind(room.gym_id.get())
            .bind(room.event_id.map(EventId::get))
            .bind(room.is_direct)
            .bind(RoomStatus::Active.as_str())
            .bind(now)
            .fetch_one(&mut *c)
            .await);
        match inserted {
            Ok(id) => RoomId::new(id.0).map_err(|e| StoreError::BadRow {
                table: "chat_rooms",
                key: format!("id = {}", id.0),
                reason: e.to_string(),
            }),
            Err(e) if e.as_database_error().is_some_and(|d| d.is_unique_violation()) => {
                Err(StoreError::ChannelIdTaken { channel_id: room.stream_channel_id.unwrap_or_default().to_owned() })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The room a key was claimed for, if any.
    pub async fn room_key(&mut self, key: &str) -> Result<Option<RoomId>> {
        let sql = "SELECT room_id FROM gymchat_room_keys WHERE room_key = $1";
        let id: Option<DbInt> =
            on_db!(self.db(), c => sqlx::query_scalar(sql).bind(key).fetch_optional(&mut *c).await)?;
        Ok(id.and_then(|v| RoomId::new(v.0).ok()))
    }

    /// Claims `key` for `room`. False when it is claimed already: in a transaction, a concurrent
    /// claim waits for the other transaction and then finds the key taken.
    pub async fn claim_room_key(&mut self, key: &str, gym: GymId, room: RoomId) -> Result<bool> {
        let sql = "INSERT INTO gymchat_room_keys (room_key, gym_id, room_id) VALUES ($1, $2, $3) \
                   ON CONFLICT (room_key) DO NOTHING";
        let n = on_db!(self.db(), c => sqlx::query(sql).bind(key).bind(gym.get()).bind(room.get()).execute(&mut *c).await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Releases a key whose room no longer exists.
    pub async fn forget_room_key(&mut self, key: &str) -> Result<()> {
        on_db!(self.db(), c => sqlx::query("DELETE FROM gymchat_room_keys WHERE room_key = $1").bind(key).execute(&mut *c).await
            .map(|_| ()))?;
        Ok(())
    }

    /// The room's members, ascending, each once (production holds duplicate rows).
    pub async fn room_members(&mut self, room: RoomId) -> Result<Vec<UserId>> {
        let sql = "SELECT DISTINCT user_id FROM chat_members WHERE room_id = $1 ORDER BY user_id";
        let ids: Vec<DbInt> =
            on_db!(self.db(), c => sqlx::query_scalar(sql).bind(room.get()).fetch_all(&mut *c).await)?;
        Ok(ids.into_iter().filter_map(|v| UserId::new(v.0).ok()).collect())
    }

    /// Adds a member row unless the user is a member already (never a duplicate). True when added.
    pub async fn add_room_member(&mut self, room: RoomId, user: UserId, at: DateTime<Utc>) -> Result<bool> {
        let sql = "INSERT INTO chat_members (room_id, user_id, joined_at) SELECT $1, $2, $3 \
                   WHERE NOT EXISTS (SELECT 1 FROM chat_members WHERE room_id = $1 AND user_id = $2)";
        let n = match self.db() {
            // chat_members has no unique key (production's schema is adopted as it is), and under
            // READ COMMITTED two concurrent inserts both see no row: adds to one room wait for each
            // other on a transaction-scoped advisory lock, so the second sees the first's row.
            DbRef::Postgres(c) => {
                let mut tx = sqlx::Connection::begin(&mut *c).await?;
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext('gymchat.chat_members'), CAST($1 AS INTEGER))")
                    .bind(room.get())
                    .execute(&mut *tx)
                    .await?;
                let n = sqlx::query(sql)
                    .bind(room.get())
                    .bind(user.get())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                n
            }
            // SQLite runs one write at a time, and this statement is one write.
            DbRef::Sqlite(c) => {
                sqlx::query(sql).bind(room.get()).bind(user.get()).bind(at).execute(&mut *c).await?.rows_affected()
            }
        };
        Ok(n > 0)
    }

    /// Removes the user's member rows of the room (duplicates included). True when there were any.
    pub async fn remove_room_member(&mut self, room: RoomId, user: UserId) -> Result<bool> {
        let sql = "DELETE FROM chat_members WHERE room_id = $1 AND user_id = $2";
        let n = on_db!(self.db(), c => sqlx::query(sql).bind(room.get()).bind(user.get()).execute(&mut *c).await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// The gym's active rooms the user is a member of, newest activity first; hidden ones only
    /// with `include_hidden`. One statement.
    pub async fn rooms_of_member(&mut self, gym: GymId, user: UserId, include_hidden: bool) -> Result<Rows<Room>> {
        let hidden = if include_hidden {
            ""
        } else {
            " AND id NOT IN (SELECT room_id FROM chat_member_hidden WHERE user_id = $2)"
        };
        // Only fixed fragments are spliced in.
        let sql = format!(
            "{SELECT_ROOMS} WHERE gym_id = $1 AND {ROOM_IS_ACTIVE} AND {ROOM_IS_SETTLED} \
             AND id IN (SELECT room_id FROM chat_members WHERE user_id = $2){hidden} \
             ORDER BY COALESCE(updated_at, created_at) DESC, id DESC"
        );
        Ok(
            on_db!(self.db(), c => sqlx::query(AssertSqlSafe(sql.as_str())).bind(gym.get()).bind(user.get()).fetch_all(&mut *c).await
            .map(collect_rows::<_, RoomRow>))?,
        )
    }

    /// The user's active rooms in every gym (`GET /chat/user-rooms`), hidden ones included.
    pub async fn rooms_of_user(&mut self, user: UserId) -> Result<Rows<Room>> {
        let sql = format!(
            "{SELECT_ROOMS} WHERE {ROOM_IS_ACTIVE} AND {ROOM_IS_SETTLED} \
             AND id IN (SELECT room_id FROM chat_members WHERE user_id = $1) ORDER BY id"
        );
        Ok(on_db!(self.db(), c => sqlx::query(AssertSqlSafe(sql.as_str())).bind(user.get()).fetch_all(&mut *c).await
            .map(collect_rows::<_, RoomRow>))?)
    }

    /// The gym's active 1:1 rooms that both users are members of, oldest first: the rooms the
    /// platform made before gymchat, found through the DB and never by recomputing a legacy id.
    pub async fn direct_rooms_of_pair(&mut self, gym: GymId, a: UserId, b: UserId) -> Result<Rows<Room>> {
        let sql = format!(
            "{SELECT_ROOMS} WHERE gym_id = $1 AND is_direct = $4 AND {ROOM_IS_ACTIVE} \
             AND id IN (SELECT room_id FROM chat_members WHERE user_id = $2) \
             AND id IN (SELECT room_id FROM chat_members WHERE user_id = $3) ORDER BY id"
        );
        Ok(on_db!(self.db(), c => sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(gym.get()).bind(a.get()).bind(b.get()).bind(true).fetch_all(&mut *c).await
            .map(collect_rows::<_, RoomRow>))?)
    }

    /// The gym's rooms of the event, oldest first, closed ones included.
    pub async fn rooms_of_event(&mut self, gym: GymId, event: EventId) -> Result<Rows<Room>> {
        let sql = format!("{SELECT_ROOMS} WHERE gym_id = $1 AND event_id = $2 ORDER BY id");
        Ok(
            on_db!(self.db(), c => sqlx::query(AssertSqlSafe(sql.as_str())).bind(gym.get()).bind(event.get()).fetch_all(&mut *c).await
            .map(collect_rows::<_, RoomRow>))?,
        )
    }

    /// The gym's active group rooms named `name` (the platform's General rooms), oldest first.
    pub async fn general_rooms(&mut self, gym: GymId, name: &str) -> Result<Rows<Room>> {
        let sql = format!(
            "{SELECT_ROOMS} WHERE gym_id = $1 AND name = $2 AND event_id IS NULL AND {ROOM_IS_ACTIVE} \
             AND COALESCE(is_direct, $3) = $3 ORDER BY id"
        );
        Ok(
            on_db!(self.db(), c => sqlx::query(AssertSqlSafe(sql.as_str())).bind(gym.get()).bind(name).bind(false).fetch_all(&mut *c).await
            .map(collect_rows::<_, RoomRow>))?,
        )
    }

    /// Shows the room again to everyone who hid it (a new message arrived). Returns how many.
    pub async fn show_room_to_all(&mut self, room: RoomId) -> Result<u64> {
        let sql = "DELETE FROM chat_member_hidden WHERE room_id = $1";
        Ok(on_db!(self.db(), c => sqlx::query(sql).bind(room.get()).execute(&mut *c).await.map(|r| r.rows_affected()))?)
    }

    /// Touches the room's `updated_at`. False when no such room exists.
    pub async fn touch_room(&mut self, room: RoomId, now: DateTime<Utc>) -> Result<bool> {
        let sql = "UPDATE chat_rooms SET updated_at = $1 WHERE id = $2";
        let n = on_db!(self.db(), c => sqlx::query(sql).bind(now).bind(room.get()).execute(&mut *c).await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Deletes a room with its member and hidden rows and its keys. True when it existed.
    pub async fn delete_room(&mut self, room: RoomId) -> Result<bool> {
        for sql in [
            "DELETE FROM chat_member_hidden WHERE room_id = $1",
            "DELETE FROM chat_members WHERE room_id = $1",
            "DELETE FROM gymchat_room_keys WHERE room_id = $1",
        ] {
            on_db!(self.db(), c => sqlx::query(sql).bind(room.get()).execute(&mut *c).await.map(|_| ()))?;
        }
        let n = on_db!(self.db(), c => sqlx::query("DELETE FROM chat_rooms WHERE id = $1").bind(room.get()).execute(&mut *c).await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Checks that the database answers.
    pub async fn ping(&mut self) -> Result<()> {
        self.execute_sql("SELECT 1").await
    }

    /// Sets an event's status. False when no such event exists.
    pub async fn set_event_status(&mut self, event: EventId, status: EventStatus) -> Result<bool> {
        // Only the placeholder (with its enum cast) is spliced in.
        let sql = format!("UPDATE events SET status = {} WHERE id = $2", self.catalog.param("events", "status", 1));
        let n = on_db!(self.db(), c => sqlx::query(AssertSqlSafe(sql.as_str())).bind(status.as_str()).bind(event.get()).execute(&mut *c).await
            .map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_has_one_key_whichever_way_round() {
        let g = GymId::new(4).unwrap();
        let (a, b) = (UserId::new(10).unwrap(), UserId::new(8).unwrap());
        assert_eq!(direct_room_key(g, a, b), direct_room_key(g, b, a));
        assert_eq!(direct_room_key(g, a, b), "direct:4:8:10");
        assert_ne!(direct_room_key(GymId::new(5).unwrap(), a, b), direct_room_key(g, a, b));
    }
}
