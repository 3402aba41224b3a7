//! What each member has of a channel: hiding and showing it (`POST …/hide {"user_id",
//! "clear_history"?}`, `POST …/show`), and reading it (`POST …/read {"user_id", "message_id"?}`,
//! and the `read` list of channel state: last read time, the last message read, unread count).
//! A member who hid a channel with `clear_history` no longer sees what came before; a new
//! message shows the channel again to everyone who hid it unless it is sent with
//! `keep_channel_hidden`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::channels::cid_of;
use super::{ApiResult, body_object, created, live_channel, user_ref};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::fmt_time;
use crate::state::{Shared, lock};

/// The user a hide/show acts for: the token's user, or `user_id` server-side.
fn acting_user(caller: &Caller, body: &Map<String, Value>) -> Result<String, ApiError> {
    match caller {
        Caller::User(me) => Ok(me.clone()),
        Caller::Server => body
            .get("user_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ApiError::input_field("user_id", "user_id is required when using server side auth")),
    }
}

/// `POST …/hide` and `POST …/show`.
async fn set_hidden(s: Arc<Shared>, caller: Caller, kind: String, id: String, body: Bytes, hidden: bool) -> ApiResult {
    let cid = cid_of(&kind, &id)?;
    let body = body_object(&body)?;
    let user = acting_user(&caller, &body)?;
    let mut app = lock(&s.app);
    let channel = live_channel(&mut app, &caller, &cid)?;
    if !channel.has_member(&user) {
        return Err(ApiError::input(format!("user {user} is not a member of channel {cid}")));
    }
    if hidden && body.get("clear_history").and_then(Value::as_bool) == Some(true) {
        let now = Utc::now();
        if let Some(member) = channel.members.iter_mut().find(|m| m.user_id == user) {
            member.hide_messages_before = Some(now);
        }
    }
    if hidden {
        channel.hidden_for.insert(user);
    } else {
        channel.hidden_for.remove(&user);
    }
    Ok(created(json!({})))
}

/// `POST /channels/{type}/{id}/hide {"user_id", "clear_history"?}`.
pub async fn hide(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    set_hidden(s, caller, kind, id, body, true).await
}

/// `POST /channels/{type}/{id}/show {"user_id"}`.
pub async fn show(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    set_hidden(s, caller, kind, id, body, false).await
}

/// `POST /channels/{type}/{id}/read {"user_id", "message_id"?}`: the member has read up to that
/// message (it must be in the channel), or up to now.
pub async fn mark_read(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let cid = cid_of(&kind, &id)?;
    let body = body_object(&body)?;
    let user = acting_user(&caller, &body)?;
    let mut guard = lock(&s.app);
    let app = &mut *guard;
    let channel = live_channel(app, &caller, &cid)?;
    let (read_at, message_id) = match body.get("message_id").and_then(Value::as_str) {
        Some(message) => {
            let found = channel.messages.iter().find(|m| m.id == message);
            let found = found.ok_or_else(|| {
                ApiError::input_field("message_id", format!("message {message} is not in channel {cid}"))
            })?;
            (found.created_at, Some(found.id.clone()))
        }
        None => (Utc::now(), channel.messages.last().map(|m| m.id.clone())),
    };
    let member = channel.members.iter_mut().find(|m| m.user_id == user);
    let member = member.ok_or_else(|| ApiError::input(format!("user {user} is not a member of channel {cid}")))?;
    member.last_read = Some(read_at);
    member.last_read_message_id = message_id;
    let user_json = user_ref(app, &user);
    Ok(created(
        json!({ "event": { "type": "message.read", "cid": cid, "user": user_json, "created_at": fmt_time(Utc::now()) } }),
    ))
}
