//! A gym's General channel (`/api/v1/chat/general-channel/…`): one per gym, `general_{G}`,
//! created on first use by a POST (never by a GET) with every active member of the gym; each
//! POST takes out members whose gym membership lapsed. A gym
//! that had a General room before gymchat (a group room named "General", as the platform made
//! them) keeps it: it is found and claimed under the gym's key.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use gymchat_ids::{GymId, StreamUserId, UserId};
use gymchat_store::{GymRole, Room, Session, User, general_room_key};
use gymchat_stream::model::ChannelUpdate;
use gymchat_tenant::Purpose;
use serde_json::{Value, json};

use crate::access::{active_member, claim, keyed_room, load_outcome, path_id, usable};
use crate::auth::GymCaller;
use crate::chat::members::{join_room, remove_from_room};
use crate::docs::{GymHeader, Refusals};
use crate::error::{ApiError, ApiResult};
use crate::maintenance::refuse_during_maintenance;
use crate::provision::room::{RoomSpec, create_room};
use crate::provision::room_cid;
use crate::shapes::ChatRoom;
use crate::state::AppState;

/// The name the platform gives General rooms.
const GENERAL: &str = "General";

/// The gym's General room, if it exists.
async fn find(db: &mut Session, gym: GymId) -> ApiResult<Option<Room>> {
    let key = general_room_key(gym);
    if let Some(room) = keyed_room(db, gym, &key).await? {
        return Ok(Some(room));
    }
    let legacy = db.general_rooms(gym, GENERAL).await?.rows.into_iter().next();
    match legacy {
        Some(room) => Ok(Some(claim(db, gym, &key, room).await?)),
        None => Ok(None),
    }
}

/// The gym's General room, created with every active member when it does not exist yet.
async fn find_or_create(s: &AppState, caller: &GymCaller) -> ApiResult<Room> {
    let gym = caller.gym_id();
    let mut db = s.store().session().await?;
    if let Some(room) = find(&mut db, gym).await? {
        drop(db);
        return usable(s, room, &caller.stream_id()).await;
    }
    let now = Utc::now();
    let active: Vec<UserId> =
        db.memberships_of_gym(gym).await?.rows.into_iter().filter(|m| m.active_at(now)).map(|m| m.user_id).collect();
    let members: Vec<User> = db.users(&active).await?.rows.into_iter().filter(|u| u.is_active != Some(false)).collect();
    drop(db);
    let spec = RoomSpec {
        key: Some(general_room_key(gym)),
        gym,
        name: GENERAL.to_owned(),
        channel_id: Some(Purpose::General.channel_id(gym)?),
        event_id: None,
        is_direct: false,
        members,
        creator: caller.stream_id(),
    };
    let outcome = create_room(s.store(), s.stream(), &spec).await?;
    load_outcome(s, gym, outcome, &caller.stream_id()).await
}

/// Members follow gym membership: whoever is in the General room without an active membership
/// (it ran out, was deactivated, or the person left the gym) is taken out on both sides. Nobody
/// is put back in: leaving the General channel is a member's own choice.
async fn drop_lapsed(s: &AppState, gym: GymId, room: &Room) -> ApiResult<()> {
    let mut db = s.store().session().await?;
    let now = Utc::now();
    let active: BTreeSet<UserId> =
        db.memberships_of_gym(gym).await?.rows.into_iter().filter(|m| m.active_at(now)).map(|m| m.user_id).collect();
    let lapsed: Vec<UserId> = db.room_members(room.id).await?.into_iter().filter(|m| !active.contains(m)).collect();
    if lapsed.is_empty() {
        return Ok(());
    }
    refuse_during_maintenance(&mut db, gym).await?;
    let update = ChannelUpdate {
        remove_members: lapsed.iter().map(|u| StreamUserId::for_member(gym, *u)).collect(),
        ..ChannelUpdate::default()
    };
    s.stream().update_channel(&room_cid(room)?, &update).await?;
    for user in lapsed {
        db.remove_room_member(room.id, user).await?;
    }
    Ok(())
}

/// Adds `user` to the General room on both sides.
async fn join(s: &AppState, gym: GymId, room: &Room, user: &User) -> ApiResult<bool> {
    join_room(s, &mut s.store().session().await?, gym, room, user).await
}

/// `GET /chat/general-channel/info`: the room (null until someone joins), whether the caller is
/// in it, and how many members it has.
#[utoipa::path(get, path = "/api/v1/chat/general-channel/info", tag = "chat", params(GymHeader), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn info(State(s): State<AppState>, caller: GymCaller) -> ApiResult<Json<Value>> {
    let mut db = s.store().session().await?;
    let Some(room) = find(&mut db, caller.gym_id()).await? else {
        return Ok(Json(json!({ "room": null, "is_member": false, "member_count": 0 })));
    };
    let members = db.room_members(room.id).await?;
    Ok(Json(json!({
        "room": ChatRoom::from(room),
        "is_member": members.contains(&caller.user_id()),
        "member_count": members.len(),
    })))
}

/// `POST /chat/general-channel/join`: the caller joins (the room is created on first use).
#[utoipa::path(post, path = "/api/v1/chat/general-channel/join", tag = "chat", params(GymHeader), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn join_self(State(s): State<AppState>, caller: GymCaller) -> ApiResult<Json<Value>> {
    let room = find_or_create(&s, &caller).await?;
    drop_lapsed(&s, caller.gym_id(), &room).await?;
    join(&s, caller.gym_id(), &room, &caller.user).await?;
    Ok(Json(json!({ "room": ChatRoom::from(room), "is_member": true })))
}

/// `DELETE /chat/general-channel/leave`.
#[utoipa::path(delete, path = "/api/v1/chat/general-channel/leave", tag = "chat", params(GymHeader), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn leave_self(State(s): State<AppState>, caller: GymCaller) -> ApiResult<Json<Value>> {
    let mut db = s.store().session().await?;
    let room = find(&mut db, caller.gym_id())
        .await?
        .ok_or_else(|| ApiError::not_found("this gym has no General channel yet"))?;
    if db.room_members(room.id).await?.contains(&caller.user_id()) {
        remove_from_room(&s, &mut db, caller.gym_id(), &room, caller.user_id()).await?;
    }
    Ok(Json(json!({ "room_id": room.id.get(), "is_member": false })))
}

/// `POST /chat/general-channel/add-member/{user_id}` (ADMIN and OWNER).
#[utoipa::path(post, path = "/api/v1/chat/general-channel/add-member/{user_id}", tag = "chat", params(GymHeader, ("user_id" = i64, Path, description = "an internal user id")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn add_member(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(user): Path<String>,
) -> ApiResult<Json<Value>> {
    let user: UserId = path_id(&user, "user_id")?;
    caller.require(GymRole::Admin)?;
    let member = active_member(&mut s.store().session().await?, caller.gym_id(), user).await?;
    let room = find_or_create(&s, &caller).await?;
    drop_lapsed(&s, caller.gym_id(), &room).await?;
    let added = join(&s, caller.gym_id(), &room, &member).await?;
    Ok(Json(json!({ "room_id": room.id.get(), "user_id": user.get(), "added": added })))
}

/// `DELETE /chat/general-channel/remove-member/{user_id}` (ADMIN and OWNER).
#[utoipa::path(delete, path = "/api/v1/chat/general-channel/remove-member/{user_id}", tag = "chat", params(GymHeader, ("user_id" = i64, Path, description = "an internal user id")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn remove_member(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(user): Path<String>,
) -> ApiResult<Json<Value>> {
    let user: UserId = path_id(&user, "user_id")?;
    caller.require(GymRole::Admin)?;
    let mut db = s.store().session().await?;
    let room = find(&mut db, caller.gym_id())
        .await?
        .ok_or_else(|| ApiError::not_found("this gym has no General channel yet"))?;
    if !db.room_members(room.id).await?.contains(&user) {
        return Err(ApiError::not_found(format!("user {user} is not in the General channel")));
    }
    remove_from_room(&s, &mut db, caller.gym_id(), &room, user).await?;
    Ok(Json(json!({ "room_id": room.id.get(), "user_id": user.get(), "removed": true })))
}
