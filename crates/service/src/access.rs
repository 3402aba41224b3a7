//! Who may touch what, shared by every route: ids from the path, a room loaded only through the
//! request's gym (another gym's room is not found), users that must be active members of it, and
//! the keys that make a pair's, an event's or a gym's General room unique.

use chrono::Utc;
use gymchat_ids::{GymId, RoomId, StreamUserId, UserId};
use gymchat_store::{Room, Session, User};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::params::path_int;
use crate::provision::room::{Outcome, reopen_if_gone, settle};
use crate::state::AppState;

/// A positive integer id from the path, or 422 as FastAPI answers.
pub(crate) fn path_id<T: TryFrom<i64>>(text: &str, name: &str) -> ApiResult<T> {
    let value = path_int(text, name)?;
    T::try_from(value).map_err(|_| {
        ApiError::invalid("greater_than", &["path", name], "Input should be greater than 0", Value::from(value))
    })
}

/// The room of the path, when it belongs to the caller's gym, with the platform's two 404s: one
/// when no room has the id, one when it is another gym's.
pub(crate) async fn room_in_gym(db: &mut Session, gym: GymId, room: &str) -> ApiResult<Room> {
    let id: RoomId = path_id(room, "room_id")?;
    let room = db.room(id).await?.ok_or_else(|| ApiError::not_found(format!("Sala de chat {id} no encontrada")))?;
    if room.gym_id == gym { Ok(room) } else { Err(ApiError::not_found("No tienes acceso a esta sala de chat")) }
}

/// The user, when they are an active member of the gym; otherwise 404.
pub(crate) async fn active_member(db: &mut Session, gym: GymId, user: UserId) -> ApiResult<User> {
    let not_member = || ApiError::not_found(format!("user {user} is not an active member of this gym"));
    let membership = db.membership(user, gym).await?.filter(|m| m.active_at(Utc::now())).ok_or_else(not_member)?;
    let user = db.user(membership.user_id).await?.ok_or_else(not_member)?;
    if user.is_active == Some(false) {
        return Err(not_member());
    }
    Ok(user)
}

/// The room a key points at, when it still exists in the gym; a key whose room is gone is
/// released.
pub(crate) async fn keyed_room(db: &mut Session, gym: GymId, key: &str) -> ApiResult<Option<Room>> {
    let Some(id) = db.room_key(key).await? else { return Ok(None) };
    match db.room(id).await?.filter(|r| r.gym_id == gym) {
        Some(room) => Ok(Some(room)),
        None => {
            db.forget_room_key(key).await?;
            Ok(None)
        }
    }
}

/// An existing room found another way is claimed for the key, unless another request claimed
/// the key first (then theirs is the room).
pub(crate) async fn claim(db: &mut Session, gym: GymId, key: &str, room: Room) -> ApiResult<Room> {
    if db.claim_room_key(key, gym, room.id).await? {
        return Ok(room);
    }
    keyed_room(db, gym, key).await?.ok_or_else(|| ApiError::conflict("the room changed meanwhile; try again"))
}

/// The room [`crate::provision::room::create_room`] made or found, [`usable`].
pub(crate) async fn load_outcome(s: &AppState, gym: GymId, outcome: Outcome, acting: &StreamUserId) -> ApiResult<Room> {
    match outcome {
        Outcome::Created(room) => Ok(room),
        Outcome::Existing(id) => {
            let room = s.store().session().await?.room(id).await?.filter(|r| r.gym_id == gym);
            let room = room.ok_or_else(|| ApiError::not_found(format!("Sala de chat {id} no encontrada")))?;
            usable(s, room, acting).await
        }
    }
}

/// A room found for a pair, an event or the gym's General channel, made usable: finished when
/// another request's creation of it is still pending, and given a new channel when Stream
/// deleted its own. `acting` creates the channel if one has to be made.
pub(crate) async fn usable(s: &AppState, room: Room, acting: &StreamUserId) -> ApiResult<Room> {
    let room = settle(s.store(), s.stream(), room, acting).await?;
    reopen_if_gone(s.store(), s.stream(), room, acting).await
}

/// A per-user change of a channel (hide, show) that Stream refused because the caller's
/// tenant-scoped identity is not in it (a room not migrated yet holds the legacy ids): the
/// database's record, which the room lists follow, is enough. Other failures stop the request.
pub(crate) fn tolerate_legacy(result: Result<(), gymchat_stream::StreamError>, room: &Room) -> ApiResult<()> {
    match result {
        Err(e) if e.status().is_some_and(|s| (400..500).contains(&s) && s != 429) => {
            tracing::info!(room = %room.id, error = %e, "Stream refused a per-user change; the database records it");
            Ok(())
        }
        other => other.map_err(ApiError::from),
    }
}
