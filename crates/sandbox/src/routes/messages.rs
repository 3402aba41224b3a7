//! Messages: send (`POST /channels/{type}/{id}/message`, also the `message` of a channel update)
//! and read one (`GET /messages/{id}`).
//!
//! Sends are checked against Stream's documented limits (text ≤ 5,000 characters: 400/20; custom
//! data ≤ 5 KB, ≤ 30 attachments, ≤ 25 mentioned users: 400/4), and a text that starts with one of
//! the built-in slash commands runs it: the message records the command, as Stream's does, and the
//! statistics count it, so a test can prove a copier never runs one.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::{
    ApiResult, body_object, can_see, check_channel_part, check_user_id, created, live_channel, message_json, missing,
    ok,
};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::{App, ChannelRec, MessageRec, UserRec};
use crate::state::{Shared, lock};

/// Message fields that are not custom data.
const MESSAGE_FIELDS: &[&str] =
    &["id", "text", "type", "user", "user_id", "cid", "created_at", "updated_at", "command"];
/// Fields Stream stores beside the text that do not count as custom data.
const STRUCTURED_FIELDS: &[&str] = &[
    "html",
    "attachments",
    "mentioned_users",
    "parent_id",
    "show_in_channel",
    "quoted_message_id",
    "silent",
    "restricted_visibility",
    "pinned",
    "pin_expires",
];
/// The app's default `max_message_length`.
pub const MAX_TEXT_CHARS: usize = 5_000;
/// Custom data per message.
pub const MAX_CUSTOM_BYTES: usize = 5 * 1024;
/// Attachments per message.
pub const MAX_ATTACHMENTS: usize = 30;
/// Mentioned users per message.
pub const MAX_MENTIONS: usize = 25;
/// Slash commands built into Stream's channel types.
pub const COMMANDS: &[&str] = &["giphy", "ban", "unban", "mute", "unmute", "flag"];

/// The sender: the token's user, or `message.user_id` / `message.user.id` server-side. A
/// deleted or deactivated user cannot send; a server-side send as a user who does not exist yet
/// makes them (as Stream does).
pub fn check_sender(app: &mut App, caller: &Caller, message: &Map<String, Value>) -> Result<String, ApiError> {
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
    match app.users.get(&sender) {
        Some(u) if u.deleted_at.is_some() => Err(ApiError::input(format!("user {sender} does not exist"))),
        Some(u) if u.deactivated_at.is_some() => Err(ApiError::forbidden(format!("user {sender} is deactivated"))),
        Some(_) => Ok(sender),
        // A server-side send may name a user who does not exist yet: Stream makes them.
        None if *caller == Caller::Server => {
            check_user_id(&sender, "message.user_id")?;
            let user: UserRec = serde_json::from_value(serde_json::json!({ "id": sender }))
                .map_err(|e| ApiError::input(format!("user {sender}: {e}")))?;
            app.users.insert(sender.clone(), user);
            Ok(sender)
        }
        None => Err(ApiError::input(format!("user {sender} does not exist"))),
    }
}

/// The built-in command a text runs, if it starts with one (`/giphy cats` runs `giphy`).
pub fn command_of(text: &str) -> Option<&'static str> {
    let rest = text.strip_prefix('/')?;
    let name = rest.split(char::is_whitespace).next().unwrap_or_default();
    COMMANDS.iter().copied().find(|c| *c == name)
}

fn array_len(message: &Map<String, Value>, field: &str) -> Result<usize, ApiError> {
    match message.get(field) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Array(items)) => Ok(items.len()),
        Some(_) => Err(ApiError::input_field(field, format!("{field} must be an array"))),
    }
}

/// Stream's limits on one message.
fn check_limits(message: &Map<String, Value>, text: &str, custom: &Map<String, Value>) -> Result<(), ApiError> {
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(ApiError::message_too_long(format!(
            "message is too long: {chars} characters, the maximum is {MAX_TEXT_CHARS}"
        )));
    }
    let custom_bytes = serde_json::to_vec(custom).map_or(0, |v| v.len());
    let own: Map<String, Value> = custom
        .iter()
        .filter(|(k, _)| !STRUCTURED_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let own_bytes = serde_json::to_vec(&own).map_or(custom_bytes, |v| v.len());
    if own_bytes > MAX_CUSTOM_BYTES {
        return Err(ApiError::input(format!(
            "message custom data is {own_bytes} bytes, the maximum is {MAX_CUSTOM_BYTES}"
        )));
    }
    let attachments = array_len(message, "attachments")?;
    if attachments > MAX_ATTACHMENTS {
        return Err(ApiError::input_field(
            "attachments",
            format!("a message can have at most {MAX_ATTACHMENTS} attachments, not {attachments}"),
        ));
    }
    let mentions = array_len(message, "mentioned_users")?;
    if mentions > MAX_MENTIONS {
        return Err(ApiError::input_field(
            "mentioned_users",
            format!("a message can mention at most {MAX_MENTIONS} users, not {mentions}"),
        ));
    }
    Ok(())
}

/// Validates and appends a message; ids are unique across the app. The message records the
/// slash command its text ran, if any.
pub fn append_message(
    app_message_ids: &mut HashMap<String, String>,
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
    if app_message_ids.contains_key(&id) {
        return Err(ApiError::input(format!("a message with ID {id} already exists")));
    }
    // Stream's Go SDK always sends the key: an empty type is a regular message.
    let kind = message.get("type").and_then(Value::as_str).filter(|k| !k.is_empty()).unwrap_or("regular");
    if !["regular", "system", "reply"].contains(&kind) {
        return Err(ApiError::input_field("type", format!("message type {kind:?} cannot be sent")));
    }
    let in_channel = |field: &str| -> Result<Option<&MessageRec>, ApiError> {
        let Some(id) = message.get(field).and_then(Value::as_str) else { return Ok(None) };
        match channel.messages.iter().find(|m| m.id == id) {
            Some(found) => Ok(Some(found)),
            None => Err(ApiError::input_field(field, format!("message {id} is not in channel {}", channel.cid()))),
        }
    };
    if let Some(parent) = in_channel("parent_id")?
        && parent.parent_id().is_some()
    {
        return Err(ApiError::input_field("parent_id", "a reply cannot have replies of its own"));
    }
    in_channel("quoted_message_id")?;
    let kind = if message.get("parent_id").and_then(Value::as_str).is_some() { "reply" } else { kind };
    let text = message.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
    let custom: Map<String, Value> = message
        .iter()
        .filter(|(k, _)| !MESSAGE_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    check_limits(message, &text, &custom)?;
    let command = if kind == "regular" { command_of(&text).map(str::to_owned) } else { None };
    let rec = MessageRec {
        id: id.clone(),
        user_id: sender.to_owned(),
        text,
        kind: kind.to_owned(),
        created_at: Utc::now(),
        command,
        reactions: Vec::new(),
        custom,
    };
    app_message_ids.insert(id, channel.cid());
    channel.messages.push(rec.clone());
    Ok(rec)
}

/// `POST /channels/{type}/{id}/message {"message": {…}, "skip_push"?, "skip_enrich_url"?,
/// "keep_channel_hidden"?}`.
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
    let flag = |name: &str| body.get(name).and_then(Value::as_bool).unwrap_or(false);
    s.count_send(true, flag("skip_push"), flag("skip_enrich_url"));
    let mut guard = lock(&s.app);
    let app = &mut *guard;
    let channel = app.channels.get(&cid).filter(|c| c.deleted_at.is_none()).ok_or_else(|| missing(&cid))?;
    can_see(app, &caller, channel)?;
    let sender = check_sender(app, &caller, message)?;
    let channel = app.channels.get(&cid).ok_or_else(|| missing(&cid))?;
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
    // A new message shows the channel again to whoever hid it, unless the send says otherwise.
    if !flag("keep_channel_hidden") {
        channel.hidden_for.clear();
    }
    if sent.command.is_some() {
        s.count_command();
    }
    let channel = app.channels.get(&cid).ok_or_else(|| missing(&cid))?;
    Ok(created(json!({ "message": message_json(app, channel, &sent) })))
}

/// `GET /messages/{id}`: one message, wherever it is (ids are unique across the app).
pub async fn get_one(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    let not_found = || ApiError::not_found(format!("message with id {id} not found"));
    let mut app = lock(&s.app);
    let cid = app.message_ids.get(&id).cloned().ok_or_else(not_found)?;
    let channel = live_channel(&mut app, &caller, &cid).map_err(|_| not_found())?.clone();
    let message = channel.messages.iter().find(|m| m.id == id).ok_or_else(not_found)?;
    Ok(ok(json!({ "message": message_json(&app, &channel, message) })))
}
