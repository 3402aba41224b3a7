//! A gym's General channel (`/api/v1/chat/general-channel/…`, APP_CONTRACT C13–C17): one per
//! gym, `general_{G}`, created on first use (by any of the routes, `info` included, as the
//! platform does) with every active member of the gym; each POST takes out members whose gym
//! membership lapsed. A gym
//! that had a General room before gymchat (a group room named "General", as the platform made
//! them) keeps it: it is found and claimed under the gym's key.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use gymchat_ids::{GymId, StreamUserId, UserId};
use gymchat_store::{Room, Session, User, general_room_key};
use gymchat_stream::model::ChannelUpdate;
use gymchat_tenant::Purpose;
use serde_json::{Value, json};

use crate::access::{active_member, claim, keyed_room, load_outcome, path_id, usable};
use crate::auth::{GymCaller, Level};
use crate::chat::members::{join_room, remove_from_room};
use crate::docs::{GymHeader, Refusals};
use crate::error::{ApiError, ApiResult};
use crate::identity::Scope;
use crate::maintenance::refuse_during_maintenance;
use crate::provision::room::{RoomSpec, create_room};
use crate::provision::room_cid;
use crate::shapes::naive;
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

/// `GET /chat/general-channel/info`: the gym's General room (created when missing) and its
/// member count.
#[utoipa::path(get, path = "/api/v1/chat/general-channel/info", tag = "chat", params(GymHeader), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn info(State(s): State<AppState>, caller: GymCaller) -> ApiResult<Json<Value>> {
    caller.allow(Level::Member, Scope::Read)?;
    let room = find_or_create(&s, &caller).await.map_err(|e| {
        tracing::warn!(error = %e.detail, "the General channel could not be found or made");
        ApiError::not_found("Canal general no encontrado para este gimnasio")
    })?;
    let members = s.store().session().await?.room_members(room.id).await?;
    Ok(Json(json!({
        "id": room.id.get(),
        "name": room.name.as_deref().unwrap_or(GENERAL),
        "stream_channel_id": room.stream_channel_id,
        "stream_channel_type": room.stream_channel_type,
        "member_count": members.len(),
        "created_at": room.created_at.map(naive),
        "updated_at": room.updated_at.map(naive),
    })))
}

/// `POST /chat/general-channel/join`: the caller joins (the room is created on first use).
#[utoipa::path(post, path = "/api/v1/chat/general-channel/join", tag = "chat", params(GymHeader), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn join_self(State(s): State<AppState>, caller: GymCaller) -> ApiResult<Json<Value>> {
    caller.allow(Level::Member, Scope::Read)?;
    let room = find_or_create(&s, &caller).await?;
    drop_lapsed(&s, caller.gym_id(), &room).await?;
    join(&s, caller.gym_id(), &room, &caller.user).await?;
    Ok(Json(json!({ "message": "Te has unido exitosamente al canal general" })))
}

/// `DELETE /chat/general-channel/leave`: also 200 when the caller was not in it.
#[utoipa::path(delete, path = "/api/v1/chat/general-channel/leave", tag = "chat", params(GymHeader), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn leave_self(State(s): State<AppState>, caller: GymCaller) -> ApiResult<Json<Value>> {
    caller.allow(Level::Member, Scope::Read)?;
    let mut db = s.store().session().await?;
    if let Some(room) = find(&mut db, caller.gym_id()).await?
        && db.room_members(room.id).await?.contains(&caller.user_id())
    {
        remove_from_room(&s, &mut db, caller.gym_id(), &room, caller.user_id()).await?;
    }
    Ok(Json(json!({ "message": "Has salido del canal general" })))
}

/// `POST /chat/general-channel/add-member/{user_id}` (ADMIN and OWNER).
#[utoipa::path(post, path = "/api/v1/chat/general-channel/add-member/{user_id}", tag = "chat", params(GymHeader, ("user_id" = i64, Path, description = "an internal user id")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn add_member(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(user): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.allow(Level::Admin, Scope::Admin)?;
    let user: UserId = path_id(&user, "user_id")?;
    let member = active_member(&mut s.store().session().await?, caller.gym_id(), user)
        .await
        .map_err(|_| ApiError::not_found("El usuario no pertenece a este gimnasio"))?;
    let room = find_or_create(&s, &caller).await?;
    drop_lapsed(&s, caller.gym_id(), &room).await?;
    join(&s, caller.gym_id(), &room, &member).await?;
    Ok(Json(json!({ "message": format!("Usuario {user} agregado al canal general") })))
}

/// `DELETE /chat/general-channel/remove-member/{user_id}` (ADMIN and OWNER): also 200 when the
/// user was not in it.
#[utoipa::path(delete, path = "/api/v1/chat/general-channel/remove-member/{user_id}", tag = "chat", params(GymHeader, ("user_id" = i64, Path, description = "an internal user id")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn remove_member(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(user): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.allow(Level::Admin, Scope::Admin)?;
    let user: UserId = path_id(&user, "user_id")?;
    let mut db = s.store().session().await?;
    if let Some(room) = find(&mut db, caller.gym_id()).await?
        && db.room_members(room.id).await?.contains(&user)
    {
        remove_from_room(&s, &mut db, caller.gym_id(), &room, user).await?;
    }
    Ok(Json(json!({ "message": format!("Usuario {user} removido del canal general") })))
}
