//! `GET /chat/rooms/direct/{other_user_id}`: the one 1:1 room of two members of a gym.

use axum::Json;
use axum::extract::{Path, State};
use gymchat_ids::UserId;
use gymchat_store::{Room, direct_room_key};
use gymchat_tenant::Purpose;

use crate::access::{active_member, claim, keyed_room, load_outcome, path_id, usable};
use crate::auth::{GymCaller, Level};
use crate::docs::{GymHeader, Refusals};
use crate::error::{ApiError, ApiResult};
use crate::identity::Scope;
use crate::provision::room::{RoomSpec, create_room};
use crate::shapes::ChatRoom;
use crate::state::AppState;

/// `GET /chat/rooms/direct/{other_user_id}`: the one 1:1 room of the caller and the other user
/// in this gym, created on first use. Found through the database, never by recomputing an id.
/// Opening it shows it to the caller again if they had hidden it.
#[utoipa::path(get, path = "/api/v1/chat/rooms/direct/{other_user_id}", tag = "chat", params(GymHeader, ("other_user_id" = i64, Path, description = "the other member's internal user id")), responses((status = 200, description = "done", body = ChatRoom), Refusals), security(("bearer" = [])))]
pub(crate) async fn direct(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(other): Path<String>,
) -> ApiResult<Json<ChatRoom>> {
    caller.allow(Level::Member, Scope::Read)?;
    let other: UserId = path_id(&other, "other_user_id")?;
    Ok(Json(direct_room(&s, &caller, other).await?.into()))
}

/// The 1:1 room of the caller and `other` in the request's gym, found or created, and shown to
/// the caller again (their hidden row removed, the channel shown in Stream).
pub(crate) async fn direct_room(s: &AppState, caller: &GymCaller, other: UserId) -> ApiResult<Room> {
    let room = find_or_create(s, caller, other).await?;
    let mut db = s.store().session().await?;
    if db.show_room(caller.user_id(), room.id).await? {
        let shown = s.stream().show_channel(&crate::provision::room_cid(&room)?, &caller.stream_id()).await;
        crate::access::tolerate_legacy(shown, &room)?;
    }
    Ok(room)
}

async fn find_or_create(s: &AppState, caller: &GymCaller, other: UserId) -> ApiResult<Room> {
    if other == caller.user_id() {
        return Err(ApiError::bad_request("Cannot create a direct chat with yourself"));
    }
    let gym = caller.gym_id();
    let mut db = s.store().session().await?;
    // Only members of the request's gym: the platform looked for any shared gym, gymchat keeps
    // each request inside its own.
    let other = active_member(&mut db, gym, other)
        .await
        .map_err(|_| ApiError::forbidden("No compartes ningún gimnasio con este usuario"))?;
    let key = direct_room_key(gym, caller.user_id(), other.id);
    if let Some(room) = keyed_room(&mut db, gym, &key).await? {
        drop(db);
        return usable(s, room, &caller.stream_id()).await;
    }
    if let Some(room) = db.direct_rooms_of_pair(gym, caller.user_id(), other.id).await?.rows.into_iter().next() {
        let room = claim(&mut db, gym, &key, room).await?;
        drop(db);
        return usable(s, room, &caller.stream_id()).await;
    }
    drop(db);
    let name = format!(
        "Chat {} - {}",
        caller.user.display_name().unwrap_or_else(|| format!("Usuario {}", caller.user_id())),
        other.display_name().unwrap_or_else(|| format!("Usuario {}", other.id))
    );
    let spec = RoomSpec {
        key: Some(key),
        gym,
        name,
        channel_id: Some(
            Purpose::Direct(caller.user_id(), other.id)
                .channel_id(gym)
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
        ),
        event_id: None,
        is_direct: true,
        members: vec![caller.user.clone(), other],
        creator: caller.stream_id(),
    };
    let outcome = create_room(s.store(), s.stream(), &spec).await?;
    load_outcome(s, gym, outcome, &caller.stream_id()).await
}
