//! Rooms made by hand (APP_CONTRACT C2, C25): `POST /chat/rooms` creates a group (or, with
//! `is_direct` or `event_id`, finds or makes that 1:1 or event room), `DELETE /chat/rooms/{id}`
//! closes an empty group.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::Utc;
use gymchat_ids::{EventId, UserId};
use gymchat_store::{GymRole, RoomStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::{active_member, load_outcome, room_in_gym};
use crate::auth::{GymCaller, Level};
use crate::chat::direct::direct_room;
use crate::chat::event::event_room;
use crate::chat::visibility::quoted_name;
use crate::docs::{GymHeader, Refusals};
use crate::error::{ApiError, ApiResult};
use crate::identity::Scope;
use crate::params::{QueryMap, body, query_bool};
use crate::provision::room::{RoomSpec, create_room};
use crate::provision::{self, room_cid};
use crate::shapes::ChatRoom;
use crate::state::AppState;

/// The body of `POST /chat/rooms` (`ChatRoomCreate`).
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewRoomBody {
    /// Internal ids of the members; the caller is added when missing. Each must be an active
    /// member of the gym.
    member_ids: Vec<i64>,
    /// Display name (a group without one is named `Sala-<UTC time>`).
    #[serde(default)]
    name: Option<String>,
    /// A 1:1 chat of the caller and the one other member.
    #[serde(default)]
    is_direct: bool,
    /// The event whose room this is.
    #[serde(default)]
    event_id: Option<i64>,
}

/// `POST /chat/rooms` (TRAINER and above, `resource:write`): 201 with the room, also when an
/// existing one is returned.
#[utoipa::path(post, path = "/api/v1/chat/rooms", tag = "chat", params(GymHeader), request_body = NewRoomBody, responses((status = 201, description = "created or found", body = ChatRoom), Refusals), security(("bearer" = [])))]
pub(crate) async fn create_group(
    State(s): State<AppState>,
    caller: GymCaller,
    raw: Result<Json<Value>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ChatRoom>)> {
    caller.allow(Level::Trainer, Scope::Write)?;
    let request: NewRoomBody = body(raw)?;
    let gym = caller.gym_id();
    let mut db = s.store().session().await?;
    let mut members = vec![caller.user.clone()];
    let mut seen = BTreeSet::from([caller.user_id()]);
    for raw in request.member_ids {
        let not_member = || {
            ApiError::invalid(
                "value_error",
                &["body", "member_ids"],
                &format!("Value error, user {raw} is not an active member of this gym"),
                Value::from(raw),
            )
        };
        let id = UserId::try_from(raw).map_err(|_| not_member())?;
        if seen.insert(id) {
            members.push(active_member(&mut db, gym, id).await.map_err(|_| not_member())?);
        }
    }
    drop(db);
    if let Some(event) = request.event_id {
        let event = EventId::try_from(event).map_err(|_| ApiError::not_found(format!("Event {event} not found")))?;
        let room = event_room(&s, gym, event, &caller.user).await?;
        return Ok((StatusCode::CREATED, Json(room.into())));
    }
    if request.is_direct && members.len() == 2 {
        let room = direct_room(&s, &caller, members[1].id).await?;
        return Ok((StatusCode::CREATED, Json(room.into())));
    }
    let name = request
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("Sala-{}", Utc::now().format("%Y%m%d%H%M%S")));
    let spec = RoomSpec {
        key: None,
        gym,
        name,
        channel_id: None,
        event_id: None,
        is_direct: false,
        members,
        creator: caller.stream_id(),
    };
    let outcome = create_room(s.store(), s.stream(), &spec).await?;
    let room = load_outcome(&s, gym, outcome, &caller.stream_id()).await?;
    Ok((StatusCode::CREATED, Json(room.into())))
}

/// The answer of `DELETE /chat/rooms/{room_id}` (`ChatDeleteGroupResponse`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DeleteAnswer {
    success: bool,
    message: String,
    room_id: i64,
    deleted_from_stream: bool,
}

/// `DELETE /chat/rooms/{room_id}?hard_delete=false` (`resource:write`; ADMIN, OWNER, or the
/// TRAINER who created the group): an empty group room is CLOSED; with `hard_delete=true` its
/// channel is truncated and deleted in Stream too.
#[utoipa::path(delete, path = "/api/v1/chat/rooms/{room_id}", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room"), ("hard_delete" = Option<bool>, Query, description = "also truncate and delete the channel (default false)")), responses((status = 200, description = "done", body = DeleteAnswer), Refusals), security(("bearer" = [])))]
pub(crate) async fn delete_group(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
    Query(q): Query<QueryMap>,
) -> ApiResult<Json<DeleteAnswer>> {
    caller.allow(Level::Member, Scope::Write)?;
    let hard_delete = query_bool(&q, "hard_delete", false)?;
    let mut db = s.store().session().await?;
    let room = room_in_gym(&mut db, caller.gym_id(), &room).await?;
    if room.is_direct {
        return Err(ApiError::bad_request(
            "No puedes eliminar un chat directo 1-to-1. Usa la opción 'ocultar' en su lugar.",
        ));
    }
    if room.event_id.is_some() {
        return Err(ApiError::not_found(
            "Los chats de eventos se eliminan automáticamente. Usa el endpoint de limpieza de canales si eres administrador.",
        ));
    }
    if !caller.has_role(GymRole::Admin) {
        if !caller.has_role(GymRole::Trainer) {
            return Err(ApiError::forbidden(
                "No tienes permisos para eliminar este grupo. Solo administradores y creadores pueden hacerlo.",
            ));
        }
        // The platform took the earliest member row for the creator, which an empty room has
        // not; the channel records who created it.
        let cid = room_cid(&room)?;
        let creator = provision::stream_channel(s.stream(), &cid).await?.and_then(|c| c.created_by).map(|u| u.id);
        if creator.as_ref() != Some(&caller.stream_id()) {
            return Err(ApiError::forbidden(
                "Los entrenadores solo pueden eliminar grupos que ellos crearon. Contacta a un administrador para eliminar este grupo.",
            ));
        }
    }
    let remaining = db.room_members(room.id).await?.len();
    if remaining > 0 {
        return Err(ApiError::bad_request(format!(
            "Debes remover a todos los miembros ({remaining} restantes) antes de eliminar el grupo."
        )));
    }
    let mut deleted_from_stream = false;
    if hard_delete && room.stream_channel_id.is_some() {
        let cid = room_cid(&room)?;
        let removed = async {
            s.stream().truncate_channel(&cid, Utc::now()).await?;
            s.stream().delete_channel(&cid, true).await
        };
        match removed.await {
            Ok(_) => deleted_from_stream = true,
            Err(e) => tracing::warn!(%cid, error = %e, "the group's channel could not be deleted; the room is closed"),
        }
    }
    db.set_room_status(room.id, RoomStatus::Closed, Utc::now()).await?;
    Ok(Json(DeleteAnswer {
        success: true,
        message: format!("Grupo '{}' eliminado exitosamente", quoted_name(&room)),
        room_id: room.id.get(),
        deleted_from_stream,
    }))
}
