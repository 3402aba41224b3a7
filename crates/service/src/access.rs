//! Who may touch what, shared by every route: ids from the path, a room loaded only through the
//! request's gym (another gym's room is not found), users that must be active members of it, a
//! room's members, and the keys that make a pair's, an event's or a gym's General room unique.

use chrono::Utc;
use gymchat_ids::{GymId, RoomId, StreamUserId, UserId};
use gymchat_store::{GymRole, Room, Session, User};

use crate::auth::GymCaller;
use crate::error::{ApiError, ApiResult};
use crate::provision::room::{Outcome, reopen_if_gone, settle};
use crate::state::AppState;

/// A positive integer id from the path, or 400.
pub(crate) fn path_id<T: TryFrom<i64>>(text: &str, what: &str) -> ApiResult<T> {
    text.trim()
        .parse::<i64>()
        .ok()
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| ApiError::bad_request(format!("{what} must be a positive integer, not {text:?}")))
}

/// The room, when it belongs to the caller's gym; otherwise 404, whether it exists elsewhere or not.
pub(crate) async fn room_in_gym(db: &mut Session, gym: GymId, room: RoomId) -> ApiResult<Room> {
    db.room(room)
        .await?
        .filter(|r| r.gym_id == gym)
        .ok_or_else(|| ApiError::not_found(format!("room {room} not found")))
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

/// 404 unless the caller is a member of the room (SUPER_ADMIN, OWNER and ADMIN of the gym see
/// every room of it).
pub(crate) async fn require_member(db: &mut Session, caller: &GymCaller, room: &Room) -> ApiResult<Vec<UserId>> {
    let members = db.room_members(room.id).await?;
    if members.contains(&caller.user_id()) || caller.has_role(GymRole::Admin) {
        Ok(members)
    } else {
        Err(ApiError::not_found(format!("room {} not found", room.id)))
    }
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
            let room = room_in_gym(&mut s.store().session().await?, gym, id).await?;
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

/// The session and the room of a per-member route (hide, show), checked: the room is this gym's
/// and the caller is in it ([`require_member`]).
pub(crate) async fn member_room(s: &AppState, caller: &GymCaller, room: &str) -> ApiResult<(Session, Room)> {
    let room: RoomId = path_id(room, "room_id")?;
    let mut db = s.store().session().await?;
    let room = room_in_gym(&mut db, caller.gym_id(), room).await?;
    require_member(&mut db, caller, &room).await?;
    Ok((db, room))
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
