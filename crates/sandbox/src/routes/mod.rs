//! The Stream endpoints, one file per area, and what they share: request bodies, Stream's id
//! rules, the JSON shapes of users, channels, members and messages, and the tenancy check.

pub mod app;
pub mod batch;
pub mod channels;
pub mod conversation;
pub mod files;
pub mod imports;
pub mod inspect;
pub mod member_state;
pub mod messages;
pub mod paths;
pub mod query;
pub mod removal;
pub mod user_state;
pub mod users;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::{App, ChannelRec, MemberRec, MessageRec, ReactionRec, UserRec, fmt_time};

/// A successful answer; the pipeline adds `duration` and serialises it.
#[derive(Debug, Clone)]
pub struct Reply(pub StatusCode, pub Value);

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// 201, as the sandbox answers every POST.
pub fn created(body: Value) -> Reply {
    Reply(StatusCode::CREATED, body)
}

/// 200.
pub fn ok(body: Value) -> Reply {
    Reply(StatusCode::OK, body)
}

/// Handler result.
pub type ApiResult = Result<Reply, ApiError>;

/// The largest body accepted (Stream answers 413/22 past its limit).
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// A JSON object body; an empty body is `{}`.
pub fn body_object(bytes: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_big(format!("request body is larger than {MAX_BODY_BYTES} bytes")));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::input("request body must be a JSON object")),
        Err(e) => Err(ApiError::input(format!("invalid JSON body: {e}"))),
    }
}

fn word_chars(s: &str, at_allowed: bool) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (at_allowed && c == '@'))
}

/// Stream's user id rule: `^[@\w-]+$`, at most 255 characters.
pub fn check_user_id(id: &str, field: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > 255 || !word_chars(id, true) {
        return Err(ApiError::input_field(
            field,
            format!("user id {id:?} must match ^[@\\w-]+$ and be at most 255 characters"),
        ));
    }
    Ok(())
}

/// Stream's channel id and type rule: `^[\w-]+$`, at most 64 characters. A channel id may also
/// start with the `!` reserved for ids Stream generates (`!members-<hash>`): such channels exist
/// and are addressed like any other, though none can be created with an id of that form.
pub fn check_channel_part(value: &str, field: &str) -> Result<(), ApiError> {
    let rest = if field == "id" { value.strip_prefix('!').unwrap_or(value) } else { value };
    if value.is_empty() || value.len() > 64 || rest.is_empty() || !word_chars(rest, false) {
        return Err(ApiError::input_field(
            field,
            format!("{field} {value:?} must match ^[\\w-]+$ and be at most 64 characters"),
        ));
    }
    Ok(())
}

/// The sandbox's own address as the caller reached it (its `Host`), for the URLs it hands out
/// (uploads, files).
pub fn own_address(headers: &axum::http::HeaderMap) -> &str {
    headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1")
}

/// Refuses user tokens on server-side-only operations.
pub fn server_only(caller: &Caller) -> Result<(), ApiError> {
    match caller {
        Caller::Server => Ok(()),
        Caller::User(_) => Err(ApiError::forbidden("this operation is only allowed server-side")),
    }
}

/// Multi-tenancy: a user-token caller sees a channel only when its team is one of theirs (a
/// channel without team only when they have no team). Server-side calls are unfiltered.
pub fn can_see(app: &App, caller: &Caller, channel: &ChannelRec) -> Result<(), ApiError> {
    let Caller::User(user) = caller else { return Ok(()) };
    if !app.multi_tenant_enabled {
        return Ok(());
    }
    let teams = app.users.get(user).map(|u| u.teams.clone()).unwrap_or_default();
    let allowed = match &channel.team {
        Some(team) => teams.contains(team),
        None => teams.is_empty(),
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "user from teams {teams:?} cannot query a channel for team {:?}",
            channel.team.clone().unwrap_or_default()
        )))
    }
}

/// A user as Stream returns it: custom fields flat.
pub fn user_json(u: &UserRec) -> Value {
    // Built field by field (every member of every channel of a page is one): the custom fields,
    // then the user's own fields over them.
    let mut obj = u.custom.clone();
    obj.insert("id".into(), Value::String(u.id.clone()));
    obj.insert("role".into(), Value::String(u.role.clone()));
    obj.insert("teams".into(), Value::Array(u.teams.iter().cloned().map(Value::String).collect()));
    obj.insert("created_at".into(), Value::String(fmt_time(u.created_at)));
    obj.insert("updated_at".into(), Value::String(fmt_time(u.updated_at)));
    if let Some(d) = u.deleted_at {
        obj.insert("deleted_at".into(), Value::String(fmt_time(d)));
    }
    if let Some(d) = u.deactivated_at {
        obj.insert("deactivated_at".into(), Value::String(fmt_time(d)));
    }
    Value::Object(obj)
}

pub(crate) fn user_ref(app: &App, id: &str) -> Value {
    app.users.get(id).map(user_json).unwrap_or_else(|| json!({ "id": id }))
}

/// A channel object.
pub fn channel_json(c: &ChannelRec) -> Value {
    let mut obj = c.custom.clone();
    obj.insert("id".into(), json!(c.id));
    obj.insert("type".into(), json!(c.kind));
    obj.insert("cid".into(), json!(c.cid()));
    obj.insert("frozen".into(), json!(c.frozen));
    obj.insert("created_at".into(), json!(fmt_time(c.created_at)));
    obj.insert("updated_at".into(), json!(fmt_time(c.updated_at)));
    obj.insert("member_count".into(), json!(c.members.len()));
    if let Some(team) = &c.team {
        obj.insert("team".into(), json!(team));
    }
    if let Some(by) = &c.created_by_id {
        obj.insert("created_by".into(), json!({ "id": by }));
    }
    if let Some(t) = c.last_message_at() {
        obj.insert("last_message_at".into(), json!(fmt_time(t)));
    }
    if let Some(t) = c.deleted_at {
        obj.insert("deleted_at".into(), json!(fmt_time(t)));
    }
    Value::Object(obj)
}

/// A JSON object of these fields, taking the values as they are (`json!` would copy each value
/// it is given once more, which matters for whole pages of channels).
pub fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// A member object.
pub fn member_json(app: &App, m: &MemberRec) -> Value {
    let created_at = fmt_time(m.created_at);
    object([
        ("user_id", Value::String(m.user_id.clone())),
        ("user", user_ref(app, &m.user_id)),
        ("channel_role", Value::String(m.channel_role.clone())),
        ("updated_at", Value::String(created_at.clone())),
        ("created_at", Value::String(created_at)),
    ])
}

/// Reactions a message carries inline (`latest_reactions`), newest first.
const LATEST_REACTIONS: usize = 10;
/// Pinned messages channel state carries, most recently pinned first.
const PINNED_IN_STATE: usize = 10;

/// A message object: with its thread's `reply_count`, the message it quotes, and its reactions
/// (`latest_reactions`, `reaction_counts`, `reaction_scores`).
pub fn message_json(app: &App, c: &ChannelRec, m: &MessageRec) -> Value {
    let mut obj = bare_message_json(app, c, m);
    let replies = c.messages.iter().filter(|r| r.parent_id() == Some(m.id.as_str())).count();
    obj.insert("reply_count".into(), json!(replies));
    if let Some(quoted) = m.custom.get("quoted_message_id").and_then(Value::as_str)
        && let Some(q) = c.messages.iter().find(|q| q.id == quoted)
    {
        obj.insert("quoted_message".into(), Value::Object(bare_message_json(app, c, q)));
    }
    let mut counts = Map::new();
    let mut scores = Map::new();
    for r in &m.reactions {
        let n = counts.entry(r.kind.clone()).or_insert(json!(0));
        *n = json!(n.as_u64().unwrap_or(0) + 1);
        let sc = scores.entry(r.kind.clone()).or_insert(json!(0));
        *sc = json!(sc.as_u64().unwrap_or(0) + r.score);
    }
    let latest: Vec<Value> =
        m.reactions.iter().rev().take(LATEST_REACTIONS).map(|r| reaction_json(app, m, r)).collect();
    obj.insert("latest_reactions".into(), Value::Array(latest));
    obj.insert("reaction_counts".into(), Value::Object(counts));
    obj.insert("reaction_scores".into(), Value::Object(scores));
    if !obj.contains_key("pinned") {
        obj.insert("pinned".into(), json!(false));
    }
    Value::Object(obj)
}

/// A message's own fields, without what is worked out from the rest of the channel.
fn bare_message_json(app: &App, c: &ChannelRec, m: &MessageRec) -> Map<String, Value> {
    let mut obj = m.custom.clone();
    obj.insert("id".into(), json!(m.id));
    obj.insert("text".into(), json!(m.text));
    obj.insert("type".into(), json!(m.kind));
    obj.insert("user".into(), user_ref(app, &m.user_id));
    obj.insert("cid".into(), json!(c.cid()));
    obj.insert("created_at".into(), json!(fmt_time(m.created_at)));
    obj.insert("updated_at".into(), json!(fmt_time(m.created_at)));
    if let Some(command) = &m.command {
        obj.insert("command".into(), json!(command));
    }
    obj
}

/// A reaction object.
pub fn reaction_json(app: &App, m: &MessageRec, r: &ReactionRec) -> Value {
    let mut obj = r.custom.clone();
    obj.insert("message_id".into(), json!(m.id));
    obj.insert("type".into(), json!(r.kind));
    obj.insert("user_id".into(), json!(r.user_id));
    obj.insert("user".into(), user_ref(app, &r.user_id));
    obj.insert("score".into(), json!(r.score));
    obj.insert("created_at".into(), json!(fmt_time(r.created_at)));
    obj.insert("updated_at".into(), json!(fmt_time(r.created_at)));
    Value::Object(obj)
}

/// A non-negative integer option that Stream clamps to `max` rather than refusing; absent means
/// `default`.
pub fn clamped(value: Option<&Value>, field: &str, default: usize, max: usize) -> Result<usize, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .map(|n| (n as usize).min(max))
            .ok_or_else(|| ApiError::input_field(field, format!("{field} must be a non-negative integer"))),
    }
}

/// A non-negative integer option with a maximum; absent means `default`.
pub fn bounded(value: Option<&Value>, field: &str, default: usize, max: usize) -> Result<usize, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_u64() {
            Some(n) if (n as usize) <= max => Ok(n as usize),
            _ => Err(ApiError::input_field(field, format!("{field} must be an integer between 0 and {max}"))),
        },
    }
}

/// `Can't find channel with id type:id`, Stream's 404.
pub fn missing(cid: &str) -> ApiError {
    ApiError::not_found(format!("Can't find channel with id {cid}"))
}

/// The live (not soft-deleted) channel, checked for the caller's teams.
pub fn live_channel<'a>(app: &'a mut App, caller: &Caller, cid: &str) -> Result<&'a mut ChannelRec, ApiError> {
    let visible = match app.channels.get(cid) {
        Some(c) if c.deleted_at.is_none() => can_see(app, caller, c),
        _ => return Err(missing(cid)),
    };
    visible?;
    app.channels.get_mut(cid).ok_or_else(|| missing(cid))
}

/// Members whose read state a channel's state carries, as Stream's does.
const READ_STATES: usize = 100;

/// The `read` list of a channel's state: the first hundred members' read positions.
pub fn read_json(app: &App, c: &ChannelRec) -> Value {
    let reads = c.members.iter().take(READ_STATES).map(|m| {
        let mut read = Map::new();
        read.insert("user".into(), user_ref(app, &m.user_id));
        read.insert("last_read".into(), json!(fmt_time(m.last_read.unwrap_or(m.created_at))));
        read.insert("unread_messages".into(), json!(c.unread_for(m)));
        if let Some(id) = &m.last_read_message_id {
            read.insert("last_read_message_id".into(), json!(id));
        }
        Value::Object(read)
    });
    Value::Array(reads.collect())
}

/// Channel state: members, most recently added first (`limit` ≤ 300, `offset` ≤ 10,000), and
/// messages, oldest first (`limit` clamped to 300 as Stream does, default 25, `id_lt` to page
/// back); for a user token only the messages that user sees.
pub fn state_json(
    app: &App,
    caller: &Caller,
    c: &ChannelRec,
    messages: Option<&Value>,
    members: Option<&Value>,
) -> Result<Value, ApiError> {
    let msg_limit = clamped(messages.and_then(|m| m.get("limit")), "messages.limit", 25, 300)?;
    // Thread replies are read through their parent, unless also sent to the channel.
    let shown: Vec<&MessageRec> = c
        .messages
        .iter()
        .filter(|m| m.shown_in_channel())
        .filter(|m| match caller {
            Caller::User(me) => c.seen_by(m, me),
            Caller::Server => true,
        })
        .collect();
    let end = match messages.and_then(|m| m.get("id_lt")).and_then(Value::as_str) {
        Some(id) => shown
            .iter()
            .position(|m| m.id == id)
            .ok_or_else(|| ApiError::input_field("messages.id_lt", format!("message {id} is not in this channel")))?,
        None => shown.len(),
    };
    let start = end.saturating_sub(msg_limit);
    let member_limit = bounded(members.and_then(|m| m.get("limit")), "members.limit", 100, 300)?;
    let member_offset = bounded(members.and_then(|m| m.get("offset")), "members.offset", 0, 10_000)?;
    let members = c.members.iter().rev().skip(member_offset).take(member_limit).map(|m| member_json(app, m));
    let messages = shown[start..end].iter().map(|m| message_json(app, c, m));
    let now = chrono::Utc::now();
    let mut pinned: Vec<&MessageRec> = c.messages.iter().filter(|m| m.is_pinned(now)).collect();
    pinned.sort_by_key(|m| {
        std::cmp::Reverse(m.custom.get("pinned_at").and_then(Value::as_str).unwrap_or_default().to_owned())
    });
    let pinned = pinned.into_iter().take(PINNED_IN_STATE).map(|m| message_json(app, c, m));
    Ok(object([
        ("channel", channel_json(c)),
        ("members", Value::Array(members.collect())),
        ("messages", Value::Array(messages.collect())),
        ("pinned_messages", Value::Array(pinned.collect())),
        ("read", read_json(app, c)),
        ("watcher_count", Value::from(0)),
    ]))
}
