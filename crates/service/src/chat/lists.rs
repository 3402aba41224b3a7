//! The apps' room lists: `GET /chat/my-rooms` (this gym's, the app's chat list) and
//! `GET /chat/user-rooms` (every gym's).

use axum::Json;
use axum::extract::{Query, State};

use crate::auth::{Caller, GymCaller, Level};
use crate::docs::{GymHeader, Refusals};
use crate::error::ApiResult;
use crate::identity::Scope;
use crate::params::{QueryMap, query_bool};
use crate::shapes::ChatRoom;
use crate::state::AppState;

fn log_skipped(rows: &gymchat_store::Rows<gymchat_store::Room>, list: &'static str) {
    for bad in &rows.skipped {
        tracing::warn!(table = bad.table, key = %bad.key, reason = %bad.reason, list, "room row left out");
    }
}

/// `GET /chat/my-rooms?include_hidden=false`: the caller's active rooms of this gym, without
/// the ones they hid unless `include_hidden` (a boolean as FastAPI reads one).
#[utoipa::path(get, path = "/api/v1/chat/my-rooms", tag = "chat", params(GymHeader, ("include_hidden" = Option<bool>, Query, description = "also the rooms the caller hid (default false)")), responses((status = 200, description = "done", body = [ChatRoom]), Refusals), security(("bearer" = [])))]
pub(crate) async fn my_rooms(
    State(s): State<AppState>,
    caller: GymCaller,
    Query(q): Query<QueryMap>,
) -> ApiResult<Json<Vec<ChatRoom>>> {
    caller.allow(Level::Member, Scope::Read)?;
    let include_hidden = query_bool(&q, "include_hidden", false)?;
    let mut db = s.store().session().await?;
    let rooms = db.rooms_of_member(caller.gym_id(), caller.user_id(), include_hidden).await?;
    log_skipped(&rooms, "my-rooms");
    Ok(Json(rooms.rows.into_iter().map(ChatRoom::from).collect()))
}

/// `GET /chat/user-rooms`: the caller's active rooms in every gym, hidden ones included; no
/// `X-Gym-ID`.
#[utoipa::path(get, path = "/api/v1/chat/user-rooms", tag = "chat", responses((status = 200, description = "done", body = [ChatRoom]), Refusals), security(("bearer" = [])))]
pub(crate) async fn user_rooms(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ChatRoom>>> {
    let rooms = s.store().session().await?.rooms_of_user(caller.user.id).await?;
    log_skipped(&rooms, "user-rooms");
    Ok(Json(rooms.rows.into_iter().map(ChatRoom::from).collect()))
}
