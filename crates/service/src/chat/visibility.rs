//! What a member does to their own view of a room (APP_CONTRACT C22–C24, C26): hide a 1:1
//! chat, show a room again, leave a group, and delete a 1:1 conversation for oneself. The answers
//! and refusals are the platform's, texts included; the apps decode them.
//!
//! Hiding and deleting for oneself both hide the channel in Stream with `clear_history` (the
//! caller no longer sees what came before) and write the hidden row; leaving hides the room
//! unless `auto_hide=false`, and closes it when its last member leaves.

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::Utc;
use gymchat_store::{Room, RoomStatus};
use serde::Serialize;

use crate::access::{room_in_gym, tolerate_legacy};
use crate::auth::{GymCaller, Level};
use crate::chat::members::remove_from_room;
use crate::docs::{GymHeader, Refusals};
use crate::error::{ApiError, ApiResult};
use crate::identity::Scope;
use crate::params::{QueryMap, query_bool};
use crate::provision::room_cid;
use crate::state::AppState;

/// The answer of hide and show (`ChatHideResponse`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct HideAnswer {
    success: bool,
    message: &'static str,
    room_id: i64,
    is_hidden: bool,
}

/// The answer of leave (`ChatLeaveGroupResponse`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct LeaveAnswer {
    success: bool,
    message: String,
    room_id: i64,
    remaining_members: usize,
    group_deleted: bool,
    auto_hidden: bool,
}

/// The answer of delete-for-me (`DeleteConversationResponse`). `messages_deleted` (always 0:
/// nothing is deleted for the other member) is the key the apps built before the platform renamed
/// it `history_cleared`; both are sent so either build decodes the answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ConversationAnswer {
    success: bool,
    message: &'static str,
    room_id: i64,
    history_cleared: bool,
    messages_deleted: i64,
}

/// The room's name as the platform quotes it in its messages.
pub(crate) fn quoted_name(room: &Room) -> &str {
    room.name.as_deref().filter(|n| !n.is_empty()).unwrap_or("sin nombre")
}

/// Hides the room for the caller on both sides: Stream with `clear_history`, then the hidden
/// row. False when it was hidden already.
async fn hide_for_caller(s: &AppState, caller: &GymCaller, room: &Room) -> ApiResult<bool> {
    tolerate_legacy(s.stream().hide_channel(&room_cid(room)?, &caller.stream_id(), true).await, room)?;
    Ok(s.store().session().await?.hide_room(caller.user_id(), room.id, Utc::now()).await?)
}

/// `POST /chat/rooms/{room_id}/hide`: a 1:1 chat hidden from the caller's list, its history
/// cleared for them.
#[utoipa::path(post, path = "/api/v1/chat/rooms/{room_id}/hide", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room")), responses((status = 200, description = "done", body = HideAnswer), Refusals), security(("bearer" = [])))]
pub(crate) async fn hide(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
) -> ApiResult<Json<HideAnswer>> {
    caller.allow(Level::Member, Scope::Read)?;
    let mut db = s.store().session().await?;
    let room = room_in_gym(&mut db, caller.gym_id(), &room).await?;
    if !room.is_direct {
        return Err(ApiError::bad_request(
            "Solo puedes ocultar chats directos 1-to-1. Para grupos, debes salir primero usando 'leave group'.",
        ));
    }
    if !db.room_members(room.id).await?.contains(&caller.user_id()) {
        return Err(ApiError::forbidden("No eres miembro de esta sala de chat"));
    }
    drop(db);
    let newly = hide_for_caller(&s, &caller, &room).await?;
    let message = if newly { "Chat ocultado exitosamente" } else { "El chat ya estaba oculto" };
    Ok(Json(HideAnswer { success: true, message, room_id: room.id.get(), is_hidden: true }))
}

/// `POST /chat/rooms/{room_id}/show`: any room of the gym shown to the caller again.
#[utoipa::path(post, path = "/api/v1/chat/rooms/{room_id}/show", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room")), responses((status = 200, description = "done", body = HideAnswer), Refusals), security(("bearer" = [])))]
pub(crate) async fn show(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
) -> ApiResult<Json<HideAnswer>> {
    caller.allow(Level::Member, Scope::Read)?;
    let mut db = s.store().session().await?;
    let room = room_in_gym(&mut db, caller.gym_id(), &room).await?;
    tolerate_legacy(s.stream().show_channel(&room_cid(&room)?, &caller.stream_id()).await, &room)?;
    let was_hidden = db.show_room(caller.user_id(), room.id).await?;
    let message = if was_hidden { "Chat mostrado exitosamente" } else { "El chat ya estaba visible" };
    Ok(Json(HideAnswer { success: true, message, room_id: room.id.get(), is_hidden: false }))
}

/// `POST /chat/rooms/{room_id}/leave?auto_hide=true`: the caller leaves a group room on both
/// sides; it is hidden for them unless `auto_hide=false`, and CLOSED when nobody is left.
#[utoipa::path(post, path = "/api/v1/chat/rooms/{room_id}/leave", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room"), ("auto_hide" = Option<bool>, Query, description = "hide the room for the caller (default true)")), responses((status = 200, description = "done", body = LeaveAnswer), Refusals), security(("bearer" = [])))]
pub(crate) async fn leave(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
    Query(q): Query<QueryMap>,
) -> ApiResult<Json<LeaveAnswer>> {
    caller.allow(Level::Member, Scope::Read)?;
    let auto_hide = query_bool(&q, "auto_hide", true)?;
    let gym = caller.gym_id();
    let mut db = s.store().session().await?;
    let room = room_in_gym(&mut db, gym, &room).await?;
    if room.is_direct {
        return Err(ApiError::bad_request(
            "No puedes salir de un chat directo 1-to-1. Usa la opción 'ocultar' en su lugar.",
        ));
    }
    if room.event_id.is_some() {
        return Err(ApiError::bad_request(
            "No puedes salir manualmente de un chat de evento. El chat se cerrará automáticamente cuando finalice el evento.",
        ));
    }
    if !db.room_members(room.id).await?.contains(&caller.user_id()) {
        return Err(ApiError::forbidden("No eres miembro de esta sala de chat"));
    }
    remove_from_room(&s, &mut db, gym, &room, caller.user_id()).await?;
    if auto_hide {
        db.hide_room(caller.user_id(), room.id, Utc::now()).await?;
    }
    let remaining = db.room_members(room.id).await?.len();
    if remaining == 0 {
        db.set_room_status(room.id, RoomStatus::Closed, Utc::now()).await?;
    }
    Ok(Json(LeaveAnswer {
        success: true,
        message: format!("Has salido del grupo '{}'", quoted_name(&room)),
        room_id: room.id.get(),
        remaining_members: remaining,
        group_deleted: remaining == 0,
        auto_hidden: auto_hide,
    }))
}

/// `DELETE /chat/rooms/{room_id}/conversation`: a 1:1 chat's history deleted for the caller only
/// (the other member keeps it) and the chat hidden until a new message arrives.
#[utoipa::path(delete, path = "/api/v1/chat/rooms/{room_id}/conversation", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room")), responses((status = 200, description = "done", body = ConversationAnswer), Refusals), security(("bearer" = [])))]
pub(crate) async fn clear_conversation(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
) -> ApiResult<Json<ConversationAnswer>> {
    caller.allow(Level::Member, Scope::Write)?;
    let mut db = s.store().session().await?;
    let room = room_in_gym(&mut db, caller.gym_id(), &room).await?;
    if !room.is_direct {
        return Err(ApiError::bad_request(
            "Solo puedes eliminar conversaciones 1-to-1. Para grupos, usa la opción 'salir del grupo'.",
        ));
    }
    if !db.room_members(room.id).await?.contains(&caller.user_id()) {
        return Err(ApiError::forbidden("No eres miembro de esta conversación"));
    }
    drop(db);
    hide_for_caller(&s, &caller, &room).await?;
    Ok(Json(ConversationAnswer {
        success: true,
        message: "Conversación eliminada para ti. Solo verás mensajes nuevos. El otro usuario mantiene su historial.",
        room_id: room.id.get(),
        history_cleared: true,
        messages_deleted: 0,
    }))
}
