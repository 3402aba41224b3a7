//! `POST /channels/{type}/{id}/message`: send a message.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::channels::missing;
use super::{ApiResult, body_object, can_see, check_channel_part, created, message_json};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::{App, ChannelRec, MessageRec};
use crate::state::{Shared, lock};

/// Message fields that are not custom data.
const MESSAGE_FIELDS: &[&str] = &["id", "text", "type", "user", "user_id", "cid", "created_at", "updated_at"];

/// The sender: the token's user, or `message.user_id` / `message.user.id` server-side. The user
/// must exist.
pub fn check_sender(app: &App, caller: &Caller, message: &Map<String, Value>) -> Result<String, ApiError> {
    let named = message
        .get("user_id")
        .and_then(Value::as_str)
        .or_else(|| message.get("user").and_then(|u| u.get("id")).and_then(Value::as_str))
        .map(str::to_owned);
    let sender = match (caller, named) {
        (Caller::User(me), Some(named)) if *me != named => {
            return Err(ApiError::forbidden("a user token can only send as its own user"));
        }
        (Caller::User(me), _) => me.clone(),
        (Caller::Server, Some(named)) => named,
        (Caller::Server, None) => {
            return Err(ApiError::input("message.user or message.user_id is required when using server side auth"));
        }
    };
    if app.users.get(&sender).is_none_or(|u| u.deleted_at.is_some()) {
        return Err(ApiError::input(format!("user {sender} does not exist")));
    }
    Ok(sender)
}

/// Validates and appends a message; ids are unique across the app.
pub fn append_message(
    message_ids: &mut HashSet<String>,
    channel: &mut ChannelRec,
    sender: &str,
    message: &Map<String, Value>,
) -> Result<MessageRec, ApiError> {
    if message.contains_key("created_at") {
        return Err(ApiError::input_field("created_at", "created_at cannot be set on a new message"));
    }
    let id = match message.get("id") {
        None | Some(Value::Null) => uuid::Uuid::new_v4().to_string(),
        Some(Value::String(id)) if !id.is_empty() && id.len() <= 255 && !id.contains([',', '%']) => id.clone(),
        Some(_) => {
            return Err(ApiError::input_field("id", "message id must be 1 to 255 characters without ',' or '%'"));
        }
    };
    if message_ids.contains(&id) {
        return Err(ApiError::input(format!("a message with ID {id} already exists")));
    }
    let kind = message.get("type").and_then(Value::as_str).unwrap_or("regular");
    if !["regular", "system"].contains(&kind) {
        return Err(ApiError::input_field("type", format!("message type {kind:?} cannot be sent")));
    }
    let custom: Map<String, Value> = message
        .iter()
        .filter(|(k, _)| !MESSAGE_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let rec = MessageRec {
        id: id.clone(),
        user_id: sender.to_owned(),
        text: message.get("text").and_then(Value::as_str).unwrap_or_default().to_owned(),
        kind: kind.to_owned(),
        created_at: Utc::now(),
        custom,
    };
    message_ids.insert(id);
    channel.messages.push(rec.clone());
    Ok(rec)
}

/// `POST /channels/{type}/{id}/message {"message": {…}, "skip_push"?}`.
pub async fn send(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    check_channel_part(&kind, "type")?;
    check_channel_part(&id, "id")?;
    let cid = format!("{kind}:{id}");
    let body = body_object(&body)?;
    let message = body
        .get("message")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::input_field("message", "message is required"))?;
    let mut guard = lock(&s.app);
    let app = &mut *guard;
    let channel = app.channels.get(&cid).filter(|c| c.deleted_at.is_none()).ok_or_else(|| missing(&cid))?;
    can_see(app, &caller, channel)?;
    let sender = check_sender(app, &caller, message)?;
    if let Caller::User(me) = &caller {
        if channel.frozen {
            return Err(ApiError::forbidden("channel is frozen"));
        }
        if !channel.has_member(me) {
            return Err(ApiError::forbidden(format!("user {me} is not a member of channel {cid}")));
        }
    }
    let channel = app.channels.get_mut(&cid).ok_or_else(|| missing(&cid))?;
    let sent = append_message(&mut app.message_ids, channel, &sender, message)?;
    let channel = app.channels.get(&cid).ok_or_else(|| missing(&cid))?;
    Ok(created(json!({ "message": message_json(app, channel, &sent) })))
}
