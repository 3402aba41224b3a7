//! Group rooms: `POST /chat/rooms` creates one, `DELETE /chat/rooms/{room_id}` deletes an empty
//! one with its channel.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use gymchat_ids::{RoomId, UserId};
use gymchat_store::GymRole;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::{active_member, load_outcome, path_id, room_in_gym};
use crate::auth::GymCaller;
use crate::docs::{GymHeader, Refusals};
use crate::error::{ApiError, ApiResult};
use crate::provision::room::{RoomSpec, create_room};
use crate::provision::{self, room_cid};
use crate::shapes::ChatRoom;
use crate::state::AppState;

/// The body of `POST /chat/rooms`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewGroup {
    /// Display name, 1 to 255 characters.
    name: String,
    /// Internal ids of the other members, each an active member of the gym.
    #[serde(default)]
    member_ids: Vec<i64>,
}

/// `POST /chat/rooms` (TRAINER and above): a group room of the caller and the named members.
#[utoipa::path(post, path = "/api/v1/chat/rooms", tag = "chat", params(GymHeader), request_body = NewGroup, responses((status = 200, description = "done", body = ChatRoom), Refusals), security(("bearer" = [])))]
pub(crate) async fn create_group(
    State(s): State<AppState>,
    caller: GymCaller,
    body: Result<Json<NewGroup>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<ChatRoom>> {
    let Json(body) = body.map_err(|e| ApiError::unprocessable(e.body_text()))?;
    caller.require(GymRole::Trainer)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(ApiError::unprocessable("name must be 1 to 255 characters"));
    }
    let gym = caller.gym_id();
    let mut db = s.store().session().await?;
    let mut members = vec![caller.user.clone()];
    let mut seen = BTreeSet::from([caller.user_id()]);
    for raw in body.member_ids {
        let id = UserId::try_from(raw).map_err(|_| ApiError::unprocessable(format!("member id {raw} is not valid")))?;
        if seen.insert(id) {
            members.push(
                active_member(&mut db, gym, id)
                    .await
                    .map_err(|_| ApiError::unprocessable(format!("user {id} is not an active member of this gym")))?,
            );
        }
    }
    drop(db);
    let spec = RoomSpec {
        key: None,
        gym,
        name: name.to_owned(),
        channel_id: None,
        event_id: None,
        is_direct: false,
        members,
        creator: caller.stream_id(),
    };
    let outcome = create_room(s.store(), s.stream(), &spec).await?;
    Ok(Json(load_outcome(&s, gym, outcome, &caller.stream_id()).await?.into()))
}

/// `DELETE /chat/rooms/{room_id}` (ADMIN, OWNER, or the room's creator): deletes an empty group
/// room and its channel (soft, so Stream keeps it recoverable).
#[utoipa::path(delete, path = "/api/v1/chat/rooms/{room_id}", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn delete_group(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
) -> ApiResult<Json<Value>> {
    let room: RoomId = path_id(&room, "room_id")?;
    let mut db = s.store().session().await?;
    let room = room_in_gym(&mut db, caller.gym_id(), room).await?;
    if !caller.has_role(GymRole::Admin) {
        // The room's creator may delete it too; the channel records who that is.
        let cid = room_cid(&room)?;
        let creator = provision::stream_channel(s.stream(), &cid).await?.and_then(|c| c.created_by).map(|u| u.id);
        if creator.as_ref() != Some(&caller.stream_id()) {
            return Err(ApiError::forbidden("only the gym's ADMIN and OWNER, and the room's creator, may delete it"));
        }
    }
    if room.is_direct || room.event_id.is_some() {
        return Err(ApiError::conflict("only group rooms can be deleted"));
    }
    let members = db.room_members(room.id).await?;
    if !members.is_empty() {
        return Err(ApiError::conflict(format!("the group still has {} members; remove them first", members.len())));
    }
    if room.stream_channel_id.is_some() {
        s.stream().delete_channel(&room_cid(&room)?, false).await?;
    }
    db.delete_room(room.id).await?;
    Ok(Json(json!({ "room_id": room.id.get(), "deleted": true })))
}
