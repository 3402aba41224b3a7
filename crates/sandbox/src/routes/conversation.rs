//! A message's conversation beyond its text: its thread (`GET /messages/{id}/replies`, paged back
//! with `id_lt` like history), its reactions (`POST /messages/{id}/reaction`,
//! `GET /messages/{id}/reactions`, `DELETE /messages/{id}/reaction/{type}`; one per user and
//! type, refused in a frozen channel), and a
//! partial update (`PUT /messages/{id} {"set", "unset", "user_id"}`), which pins and unpins:
//! `pinned: true` records `pinned_at` and `pinned_by`, and `pin_expires` is kept; and its
//! deletion (`DELETE /messages/{id}?hard=`): soft leaves a `deleted` placeholder, hard removes
//! it (its id stays taken).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::{ApiResult, body_object, bounded, clamped, created, live_channel, message_json, ok, reaction_json};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::{App, ChannelRec, MessageRec, ReactionRec, fmt_time};
use crate::state::{Shared, lock};

/// Message fields a partial update may not touch.
const OWNED: &[&str] = &["id", "cid", "type", "user", "user_id", "created_at", "updated_at", "parent_id"];

/// The channel holding message `id`, checked for the caller, and the message's position in it.
fn find<'a>(app: &'a mut App, caller: &Caller, id: &str) -> Result<(&'a mut ChannelRec, usize), ApiError> {
    let not_found = || ApiError::not_found(format!("message with id {id} not found"));
    let cid = app.message_ids.get(id).cloned().ok_or_else(not_found)?;
    let channel = live_channel(app, caller, &cid).map_err(|_| not_found())?;
    let at = channel.messages.iter().position(|m| m.id == id).ok_or_else(not_found)?;
    Ok((channel, at))
}

/// The acting user of a server-side call: `user_id` (or `user.id`) of `object`, which must exist.
fn acting(app: &App, caller: &Caller, object: &Map<String, Value>) -> Result<String, ApiError> {
    let named = object
        .get("user_id")
        .and_then(Value::as_str)
        .or_else(|| object.get("user").and_then(|u| u.get("id")).and_then(Value::as_str));
    let user = match (caller, named) {
        (Caller::User(me), _) => me.clone(),
        (Caller::Server, Some(named)) => named.to_owned(),
        (Caller::Server, None) => {
            return Err(ApiError::input_field("user_id", "user_id is required when using server side auth"));
        }
    };
    if app.users.get(&user).is_none_or(|u| u.deleted_at.is_some()) {
        return Err(ApiError::input(format!("user {user} does not exist")));
    }
    Ok(user)
}

/// `GET /messages/{id}/replies?limit&id_lt`: the thread's replies, oldest first; `id_lt` pages
/// back.
pub async fn replies(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let limit =
        clamped(query.get("limit").map(|l| json!(l.parse::<u64>().unwrap_or(u64::MAX))).as_ref(), "limit", 25, 300)?;
    let mut app = lock(&s.app);
    let (channel, _) = find(&mut app, &caller, &id)?;
    let channel = channel.clone();
    let thread: Vec<&MessageRec> = channel.messages.iter().filter(|m| m.parent_id() == Some(id.as_str())).collect();
    let end = match query.get("id_lt") {
        Some(before) => thread
            .iter()
            .position(|m| m.id == *before)
            .ok_or_else(|| ApiError::input_field("id_lt", format!("message {before} is not a reply of {id}")))?,
        None => thread.len(),
    };
    let page = thread[end.saturating_sub(limit)..end].iter().map(|m| message_json(&app, &channel, m));
    Ok(ok(json!({ "messages": page.collect::<Vec<_>>() })))
}

/// `POST /messages/{id}/reaction {"reaction": {"type", "user_id", "score"?, …}, "skip_push"?}`.
pub async fn send_reaction(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body = body_object(&body)?;
    let reaction = body
        .get("reaction")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::input_field("reaction", "reaction is required"))?;
    let kind = reaction.get("type").and_then(Value::as_str).filter(|k| !k.is_empty());
    let kind = kind.ok_or_else(|| ApiError::input_field("reaction.type", "reaction.type is required"))?.to_owned();
    s.count_send(false, body.get("skip_push").and_then(Value::as_bool).unwrap_or(false), false);
    let mut guard = lock(&s.app);
    let app = &mut *guard;
    let user = acting(app, &caller, reaction)?;
    let (channel, at) = find(app, &caller, &id)?;
    if channel.frozen {
        return Err(ApiError::forbidden("channel is frozen"));
    }
    let score = reaction.get("score").and_then(Value::as_u64).unwrap_or(1);
    let custom: Map<String, Value> = reaction
        .iter()
        .filter(|(k, _)| {
            !["type", "user_id", "user", "score", "message_id", "created_at", "updated_at"].contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let rec = ReactionRec { kind: kind.clone(), user_id: user.clone(), score, created_at: Utc::now(), custom };
    let message = &mut channel.messages[at];
    // One reaction per user and type: a repeat replaces it.
    message.reactions.retain(|r| !(r.kind == kind && r.user_id == user));
    message.reactions.push(rec.clone());
    let channel = channel.clone();
    let message = &channel.messages[at];
    Ok(created(
        json!({ "message": message_json(app, &channel, message), "reaction": reaction_json(app, message, &rec) }),
    ))
}

/// `GET /messages/{id}/reactions?limit&offset`: oldest first.
pub async fn reactions(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let number = |name: &str| query.get(name).map(|v| json!(v.parse::<u64>().unwrap_or(u64::MAX)));
    let limit = bounded(number("limit").as_ref(), "limit", 25, 300)?;
    let offset = bounded(number("offset").as_ref(), "offset", 0, 1_000)?;
    let mut app = lock(&s.app);
    let (channel, at) = find(&mut app, &caller, &id)?;
    let message = channel.messages[at].clone();
    let page = message.reactions.iter().skip(offset).take(limit).map(|r| reaction_json(&app, &message, r));
    Ok(ok(json!({ "reactions": page.collect::<Vec<_>>() })))
}

/// `PUT /messages/{id} {"set"?, "unset"?, "user_id"}`: a partial update; pinning records who and
/// when.
pub async fn update_partial(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body = body_object(&body)?;
    let set = body.get("set").and_then(Value::as_object).cloned().unwrap_or_default();
    let unset: Vec<String> = body
        .get("unset")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if let Some(field) = set.keys().chain(unset.iter()).find(|k| OWNED.contains(&k.as_str())) {
        return Err(ApiError::input_field(field, format!("{field} cannot be changed")));
    }
    let mut guard = lock(&s.app);
    let app = &mut *guard;
    let user = acting(app, &caller, &body)?;
    let (channel, at) = find(app, &caller, &id)?;
    let message = &mut channel.messages[at];
    for field in &unset {
        message.custom.remove(field);
    }
    for (k, v) in set {
        if k == "text" {
            message.text = v.as_str().unwrap_or_default().to_owned();
        } else {
            message.custom.insert(k, v);
        }
    }
    let pinning = body.get("set").and_then(|s| s.get("pinned")).and_then(Value::as_bool);
    if pinning == Some(true) {
        message.custom.insert("pinned_at".into(), json!(fmt_time(Utc::now())));
        message.custom.insert("pinned_by".into(), json!({ "id": user }));
    } else if message.custom.get("pinned").and_then(Value::as_bool) != Some(true) {
        for field in ["pinned", "pinned_at", "pinned_by", "pin_expires"] {
            message.custom.remove(field);
        }
    }
    let channel = channel.clone();
    Ok(ok(json!({ "message": message_json(app, &channel, &channel.messages[at]) })))
}

/// `DELETE /messages/{id}?hard=`: soft (the default) turns it into a placeholder of type
/// `deleted` with `deleted_at`, which stays in the channel; hard removes it. Deleting a
/// placeholder softly again changes nothing.
pub async fn delete_one(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let hard = query.get("hard").is_some_and(|h| h == "true" || h == "1");
    let mut guard = lock(&s.app);
    let app = &mut *guard;
    let (channel, at) = find(app, &caller, &id)?;
    if let Caller::User(me) = &caller
        && channel.messages[at].user_id != *me
    {
        return Err(ApiError::forbidden(format!("user {me} may not delete message {id}")));
    }
    let mut message = if hard { channel.messages.remove(at) } else { channel.messages[at].clone() };
    if message.kind != "deleted" {
        message.kind = "deleted".to_owned();
        message.custom.insert("deleted_at".into(), json!(fmt_time(Utc::now())));
    }
    if !hard {
        channel.messages[at] = message.clone();
    }
    let channel = channel.clone();
    Ok(ok(json!({ "message": message_json(app, &channel, &message) })))
}

/// `DELETE /messages/{id}/reaction/{type}?user_id=`: removes that user's reaction of that type;
/// removing one that is not there changes nothing.
pub async fn delete_reaction(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((id, kind)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let mut guard = lock(&s.app);
    let app = &mut *guard;
    let named: Map<String, Value> =
        query.get("user_id").map(|u| ("user_id".to_owned(), json!(u))).into_iter().collect();
    let user = acting(app, &caller, &named)?;
    let (channel, at) = find(app, &caller, &id)?;
    if channel.frozen {
        return Err(ApiError::forbidden("channel is frozen"));
    }
    channel.messages[at].reactions.retain(|r| !(r.kind == kind && r.user_id == user));
    let channel = channel.clone();
    Ok(ok(json!({ "message": message_json(app, &channel, &channel.messages[at]) })))
}
