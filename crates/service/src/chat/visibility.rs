//! What a member sees of their rooms: `GET /chat/my-rooms`, hide, show, leave, and clearing a
//! 1:1 conversation for oneself.

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::Utc;
use gymchat_ids::RoomId;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::{member_room, path_id, room_in_gym, tolerate_legacy};
use crate::auth::GymCaller;
use crate::chat::members::remove_from_room;
use crate::docs::{GymHeader, Refusals};
use crate::error::{ApiError, ApiResult};
use crate::provision::room_cid;
use crate::shapes::ChatRoom;
use crate::state::AppState;

/// The query of `GET /chat/my-rooms`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct MyRoomsQuery {
    /// Also the rooms the caller hid (default false).
    #[serde(default)]
    include_hidden: bool,
}

/// `GET /chat/my-rooms?include_hidden=false`: the caller's active rooms of this gym.
#[utoipa::path(get, path = "/api/v1/chat/my-rooms", tag = "chat", params(GymHeader, MyRoomsQuery), responses((status = 200, description = "done", body = [ChatRoom]), Refusals), security(("bearer" = [])))]
pub(crate) async fn my_rooms(
    State(s): State<AppState>,
    caller: GymCaller,
    Query(q): Query<MyRoomsQuery>,
) -> ApiResult<Json<Vec<ChatRoom>>> {
    let mut db = s.store().session().await?;
    let rooms = db.rooms_of_member(caller.gym_id(), caller.user_id(), q.include_hidden).await?;
    for bad in &rooms.skipped {
        tracing::warn!(table = bad.table, key = %bad.key, reason = %bad.reason, "room row left out of my-rooms");
    }
    Ok(Json(rooms.rows.into_iter().map(ChatRoom::from).collect()))
}

/// `POST /chat/rooms/{room_id}/hide`: hidden from the caller's list until a new message arrives;
/// the history stays.
#[utoipa::path(post, path = "/api/v1/chat/rooms/{room_id}/hide", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn hide(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
) -> ApiResult<Json<Value>> {
    let (mut db, room) = member_room(&s, &caller, &room).await?;
    tolerate_legacy(s.stream().hide_channel(&room_cid(&room)?, &caller.stream_id(), false).await, &room)?;
    db.hide_room(caller.user_id(), room.id, Utc::now()).await?;
    Ok(Json(json!({ "room_id": room.id.get(), "hidden": true })))
}

/// `POST /chat/rooms/{room_id}/show`.
#[utoipa::path(post, path = "/api/v1/chat/rooms/{room_id}/show", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn show(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
) -> ApiResult<Json<Value>> {
    let (mut db, room) = member_room(&s, &caller, &room).await?;
    tolerate_legacy(s.stream().show_channel(&room_cid(&room)?, &caller.stream_id()).await, &room)?;
    db.show_room(caller.user_id(), room.id).await?;
    Ok(Json(json!({ "room_id": room.id.get(), "hidden": false })))
}

/// `POST /chat/rooms/{room_id}/leave`: the caller leaves a group or event room.
#[utoipa::path(post, path = "/api/v1/chat/rooms/{room_id}/leave", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn leave(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
) -> ApiResult<Json<Value>> {
    let room: RoomId = path_id(&room, "room_id")?;
    let gym = caller.gym_id();
    let mut db = s.store().session().await?;
    let room = room_in_gym(&mut db, gym, room).await?;
    if room.is_direct {
        return Err(ApiError::conflict("a direct chat cannot be left; hide it instead"));
    }
    if !db.room_members(room.id).await?.contains(&caller.user_id()) {
        return Err(ApiError::not_found(format!("room {} not found", room.id)));
    }
    remove_from_room(&s, &mut db, gym, &room, caller.user_id()).await?;
    Ok(Json(json!({ "room_id": room.id.get(), "left": true })))
}

/// `DELETE /chat/rooms/{room_id}/conversation`: clears a 1:1 chat's history for the caller
/// only (the other member keeps it) and hides it until a new message arrives.
#[utoipa::path(delete, path = "/api/v1/chat/rooms/{room_id}/conversation", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn clear_conversation(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
) -> ApiResult<Json<Value>> {
    let room: RoomId = path_id(&room, "room_id")?;
    let mut db = s.store().session().await?;
    let room = room_in_gym(&mut db, caller.gym_id(), room).await?;
    if !room.is_direct {
        return Err(ApiError::conflict("only a direct chat's conversation can be cleared"));
    }
    if !db.room_members(room.id).await?.contains(&caller.user_id()) {
        return Err(ApiError::not_found(format!("room {} not found", room.id)));
    }
    s.stream().hide_channel(&room_cid(&room)?, &caller.stream_id(), true).await?;
    db.hide_room(caller.user_id(), room.id, Utc::now()).await?;
    Ok(Json(json!({ "room_id": room.id.get(), "cleared": true })))
}
