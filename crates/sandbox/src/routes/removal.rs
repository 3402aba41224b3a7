//! Removing channels: delete one (soft or hard), delete many (a task), and truncate (remove
//! the messages up to a time).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::channels::{MAX_PER_CALL, cid_of};
use super::{ApiResult, body_object, channel_json, created, live_channel, missing, ok, server_only};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::{App, ChannelRec, TaskRec};
use crate::state::{Shared, lock};

fn delete_channel(app: &mut App, cid: &str, hard: bool) -> Option<ChannelRec> {
    if app.channels.get(cid).is_none_or(|c| c.deleted_at.is_some()) {
        return None;
    }
    let now = Utc::now();
    if hard {
        let mut c = app.remove_channel(cid)?;
        for m in &c.messages {
            app.message_ids.remove(&m.id);
        }
        c.deleted_at = Some(now);
        return Some(c);
    }
    let c = app.channels.get_mut(cid)?;
    c.deleted_at = Some(now);
    Some(c.clone())
}

/// `DELETE /channels/{type}/{id}?hard_delete=`.
pub async fn delete_one(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((kind, id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult {
    let cid = cid_of(&kind, &id)?;
    let mut app = lock(&s.app);
    live_channel(&mut app, &caller, &cid)?;
    let hard = params.get("hard_delete").is_some_and(|v| v == "true");
    let deleted = delete_channel(&mut app, &cid, hard).ok_or_else(|| missing(&cid))?;
    Ok(ok(json!({ "channel": channel_json(&deleted) })))
}

/// `POST /channels/delete {"cids": [1..100], "hard_delete"}` → a task.
pub async fn delete_many(State(s): State<Arc<Shared>>, Extension(caller): Extension<Caller>, body: Bytes) -> ApiResult {
    server_only(&caller)?;
    let body = body_object(&body)?;
    let cids: Vec<String> = body
        .get("cids")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if cids.is_empty() || cids.len() > MAX_PER_CALL {
        return Err(ApiError::input_field("cids", format!("send between 1 and {MAX_PER_CALL} cids")));
    }
    let hard = body.get("hard_delete").and_then(Value::as_bool).unwrap_or(false);
    let mut app = lock(&s.app);
    if !cids.iter().any(|cid| app.channels.get(cid).is_some_and(|c| c.deleted_at.is_none())) {
        return Err(ApiError::not_found("channels not found"));
    }
    let outcome = if s.task_fails() {
        Err("the task failed (injected): nothing was deleted".to_owned())
    } else {
        let mut result = Map::new();
        for cid in cids {
            let status = if delete_channel(&mut app, &cid, hard).is_some() {
                json!({"status": "ok"})
            } else {
                json!({"status": "error", "error": "channel not found"})
            };
            result.insert(cid, status);
        }
        Ok(result)
    };
    let task_id = uuid::Uuid::new_v4().to_string();
    app.tasks.insert(task_id.clone(), TaskRec { created_at: Utc::now(), polls: 0, outcome });
    Ok(created(json!({ "task_id": task_id })))
}

/// `POST /channels/{type}/{id}/truncate {"truncated_at"?}`: removes every message sent at or
/// before `truncated_at` (default now), so a repeat with the same time removes nothing newer.
/// Removed messages keep their ids taken.
pub async fn truncate(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let cid = cid_of(&kind, &id)?;
    let body = body_object(&body)?;
    let until = match body.get("truncated_at") {
        None | Some(Value::Null) => Utc::now(),
        Some(v) => v
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| ApiError::input_field("truncated_at", "truncated_at must be an RFC 3339 time"))?,
    };
    let mut app = lock(&s.app);
    let channel = live_channel(&mut app, &caller, &cid)?;
    channel.messages.retain(|m| m.created_at > until);
    channel.updated_at = Utc::now();
    Ok(created(json!({ "channel": channel_json(channel) })))
}
