//! A room's members on both sides (APP_CONTRACT C5, C6): `POST`/`DELETE
//! /chat/rooms/{room_id}/members/{user_id}`, and joining and leaving that other routes share.

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use gymchat_ids::{GymId, RoomId, StreamUserId, UserId};
use gymchat_store::{Room, Session, User};
use gymchat_stream::model::ChannelUpdate;
use serde_json::{Value, json};

use crate::access::{active_member, path_id};
use crate::auth::{GymCaller, Level};
use crate::docs::{GymHeader, Refusals};
use crate::error::{ApiError, ApiResult};
use crate::identity::Scope;
use crate::maintenance::refuse_during_maintenance;
use crate::provision::{self, room_cid};
use crate::state::AppState;

/// `POST /chat/rooms/{room_id}/members/{user_id}` (ADMIN and OWNER).
#[utoipa::path(post, path = "/api/v1/chat/rooms/{room_id}/members/{user_id}", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room"), ("user_id" = i64, Path, description = "an internal user id")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn add_member(
    State(s): State<AppState>,
    caller: GymCaller,
    Path((room, user)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (mut db, room, user) = members_route(&s, &caller, &room, &user).await?;
    let member = active_member(&mut db, caller.gym_id(), user)
        .await
        .map_err(|_| ApiError::not_found(format!("Usuario con ID interno {user} no encontrado")))?;
    join_room(&s, &mut db, caller.gym_id(), &room, &member).await?;
    Ok(Json(json!({ "status": "User added successfully" })))
}

/// The session, room and user of a members route, checked: ADMIN or OWNER with
/// `resource:admin`, the room is this gym's (another gym's does not exist here), and it is not a
/// 1:1 chat (which has exactly its two members).
async fn members_route(s: &AppState, caller: &GymCaller, room: &str, user: &str) -> ApiResult<(Session, Room, UserId)> {
    caller.allow(Level::Admin, Scope::Admin)?;
    let (room, user): (RoomId, UserId) = (path_id(room, "room_id")?, path_id(user, "user_id")?);
    let mut db = s.store().session().await?;
    let room = db
        .room(room)
        .await?
        .filter(|r| r.gym_id == caller.gym_id())
        .ok_or_else(|| ApiError::not_found(format!("No existe sala de chat con ID {room}")))?;
    if room.is_direct {
        return Err(ApiError::bad_request("Un chat directo 1-to-1 tiene exactamente sus dos miembros."));
    }
    Ok((db, room, user))
}

/// Adds `user` to the room on both sides: their identity upserted, the channel's member, the
/// member row. True when the row was new.
pub(crate) async fn join_room(s: &AppState, db: &mut Session, gym: GymId, room: &Room, user: &User) -> ApiResult<bool> {
    refuse_during_maintenance(db, gym).await?;
    let cid = room_cid(room)?;
    provision::ensure_users(s.stream(), gym, std::slice::from_ref(user)).await?;
    provision::add_members(s.stream(), &cid, &[StreamUserId::for_member(gym, user.id)]).await?;
    Ok(db.add_room_member(room.id, user.id, Utc::now()).await?)
}

/// `DELETE /chat/rooms/{room_id}/members/{user_id}` (ADMIN and OWNER): also 200 when the user
/// was not a member.
#[utoipa::path(delete, path = "/api/v1/chat/rooms/{room_id}/members/{user_id}", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room"), ("user_id" = i64, Path, description = "an internal user id")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn remove_member(
    State(s): State<AppState>,
    caller: GymCaller,
    Path((room, user)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (mut db, room, user) = members_route(&s, &caller, &room, &user).await?;
    if db.room_members(room.id).await?.contains(&user) {
        remove_from_room(&s, &mut db, caller.gym_id(), &room, user).await?;
    }
    Ok(Json(json!({ "status": "User removed successfully" })))
}

/// Takes `user` out of the room on both sides (and un-hides it for them, so it shows if they
/// come back).
pub(crate) async fn remove_from_room(
    s: &AppState,
    db: &mut Session,
    gym: GymId,
    room: &Room,
    user: UserId,
) -> ApiResult<()> {
    refuse_during_maintenance(db, gym).await?;
    let cid = room_cid(room)?;
    let update =
        ChannelUpdate { remove_members: vec![StreamUserId::for_member(gym, user)], ..ChannelUpdate::default() };
    s.stream().update_channel(&cid, &update).await?;
    db.remove_room_member(room.id, user).await?;
    db.show_room(user, room.id).await?;
    Ok(())
}
