//! `PUT /channels/batch {"operation", "filter", "members"?, "data"?}`: one operation on many
//! channels as a task (answer `{"task_id"}`, polled with `GET /tasks/{id}`), as Stream's batch
//! channel update. The filter must use explicit operators: `{"cids": {"$in": [...]}}` (or
//! `$eq`) or `{"types": {"$in": [...]}}`. Operations: `updateData` (sets only the properties
//! given: `frozen`, `disabled`, `team`, and the `custom` fields), `addMembers`, `removeMembers`,
//! `addModerators`, `demoteModerators`, `assignRoles`, `hide`, `show`.
//!
//! Sandbox choices where Stream documents nothing: at most 100 cids a call, 60 calls a minute
//! (`UpdateChannelsBatch`), the task applied when it is created (its first poll answers
//! `running`, the next the per-channel result), `archive`, `unarchive` and `inviteMembers`
//! refused (the sandbox keeps neither archives nor invites), and with `--task-fail-rate` a task
//! that ends `error` having applied nothing.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::{ApiResult, body_object, created, server_only};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::{ChannelRec, MemberRec, TaskRec};
use crate::state::{Shared, lock};

/// The most cids one call may name.
pub const MAX_BATCH_CIDS: usize = 100;
/// Operations Stream documents that the sandbox does not implement.
const NOT_IMPLEMENTED: &[&str] = &["archive", "unarchive", "inviteMembers"];
const OPERATIONS: &[&str] =
    &["updateData", "addMembers", "removeMembers", "addModerators", "demoteModerators", "assignRoles", "hide", "show"];

/// The values of a filter field with an explicit operator.
fn operand(filter: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, ApiError> {
    let Some(condition) = filter.get(field) else { return Ok(None) };
    let bad = || {
        ApiError::input_field(
            "filter",
            format!("filter.{field} needs an explicit operator: {{\"$in\": [...]}} or {{\"$eq\": ...}}"),
        )
    };
    let condition = condition.as_object().ok_or_else(bad)?;
    let values = match (condition.get("$in"), condition.get("$eq")) {
        (Some(Value::Array(list)), None) => {
            list.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>()
        }
        (None, Some(Value::String(one))) => Some(vec![one.clone()]),
        _ => None,
    };
    values.map(Some).ok_or_else(bad)
}

/// The members an operation names: `{"user_id", "channel_role"?}` objects.
fn members(body: &Map<String, Value>) -> Result<Vec<(String, Option<String>)>, ApiError> {
    let Some(list) = body.get("members") else { return Ok(Vec::new()) };
    let list =
        list.as_array().ok_or_else(|| ApiError::input_field("members", "members must be an array of objects"))?;
    list.iter()
        .map(|m| {
            let user = m.get("user_id").and_then(Value::as_str).filter(|u| !u.is_empty());
            let user = user.ok_or_else(|| ApiError::input_field("members", "each member needs a user_id"))?;
            Ok((user.to_owned(), m.get("channel_role").and_then(Value::as_str).map(str::to_owned)))
        })
        .collect()
}

/// Applies `operation` to one channel.
fn apply(channel: &mut ChannelRec, operation: &str, members: &[(String, Option<String>)], data: &Map<String, Value>) {
    let now = Utc::now();
    match operation {
        "updateData" => {
            if let Some(frozen) = data.get("frozen").and_then(Value::as_bool) {
                channel.frozen = frozen;
            }
            if let Some(disabled) = data.get("disabled").and_then(Value::as_bool) {
                channel.custom.insert("disabled".into(), json!(disabled));
            }
            if let Some(team) = data.get("team") {
                channel.team = team.as_str().map(str::to_owned);
            }
            if let Some(Value::Object(custom)) = data.get("custom") {
                channel.custom.extend(custom.clone());
            }
        }
        "addMembers" => {
            for (user, role) in members {
                if !channel.has_member(user) {
                    let role = role.clone().unwrap_or_else(|| "channel_member".into());
                    channel.members.push(MemberRec::new(user.clone(), role, now));
                }
            }
        }
        "removeMembers" => {
            channel.members.retain(|m| !members.iter().any(|(u, _)| *u == m.user_id));
            channel.hidden_for.retain(|u| !members.iter().any(|(m, _)| m == u));
        }
        "hide" | "show" => {
            let named: Vec<&String> = members.iter().map(|(u, _)| u).filter(|u| channel.has_member(u)).collect();
            for user in named {
                if operation == "hide" {
                    channel.hidden_for.insert(user.clone());
                } else {
                    channel.hidden_for.remove(user);
                }
            }
        }
        _ => {
            for m in channel.members.iter_mut() {
                if let Some((_, role)) = members.iter().find(|(u, _)| *u == m.user_id) {
                    m.channel_role = match (operation, role) {
                        ("addModerators", _) => "channel_moderator".into(),
                        ("demoteModerators", _) => "channel_member".into(),
                        (_, Some(role)) => role.clone(),
                        (_, None) => m.channel_role.clone(),
                    };
                }
            }
        }
    }
    channel.updated_at = now;
}

/// `PUT /channels/batch`.
pub async fn update(State(s): State<Arc<Shared>>, Extension(caller): Extension<Caller>, body: Bytes) -> ApiResult {
    server_only(&caller)?;
    let body = body_object(&body)?;
    let operation = body.get("operation").and_then(Value::as_str).unwrap_or_default();
    if NOT_IMPLEMENTED.contains(&operation) {
        return Err(ApiError::input_field("operation", format!("{operation} is not implemented by the sandbox")));
    }
    if !OPERATIONS.contains(&operation) {
        return Err(ApiError::input_field(
            "operation",
            format!("operation {operation:?} is not one of {OPERATIONS:?}"),
        ));
    }
    let filter = body
        .get("filter")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::input_field("filter", "filter is required"))?;
    let (cids, types) = (operand(filter, "cids")?, operand(filter, "types")?);
    if let Some(cids) = &cids
        && (cids.is_empty() || cids.len() > MAX_BATCH_CIDS)
    {
        return Err(ApiError::input_field("filter", format!("name between 1 and {MAX_BATCH_CIDS} cids")));
    }
    if cids.is_none() && types.is_none() {
        return Err(ApiError::input_field("filter", "filter needs cids or types"));
    }
    let members = members(&body)?;
    let data = body.get("data").and_then(Value::as_object).cloned().unwrap_or_default();
    if operation == "updateData" && data.is_empty() {
        return Err(ApiError::input_field("data", "updateData needs data"));
    }
    if operation != "updateData" && members.is_empty() {
        return Err(ApiError::input_field("members", format!("{operation} needs members")));
    }
    let mut guard = lock(&s.app);
    let app = &mut *guard;
    let targets: Vec<String> = match (&cids, &types) {
        (Some(cids), _) => cids.clone(),
        (None, Some(types)) => {
            let mut all: Vec<String> = app
                .channels
                .values()
                .filter(|c| types.contains(&c.kind) && c.deleted_at.is_none())
                .map(ChannelRec::cid)
                .collect();
            all.sort();
            all
        }
        (None, None) => Vec::new(),
    };
    let outcome = if s.task_fails() {
        Err("the task failed (injected): nothing was updated".to_owned())
    } else {
        let mut result = Map::new();
        for cid in targets {
            let status = match app.channels.get(&cid).filter(|c| c.deleted_at.is_none()).cloned() {
                Some(mut channel) => {
                    apply(&mut channel, operation, &members, &data);
                    app.insert_channel(channel);
                    json!({ "status": "ok" })
                }
                None => json!({ "status": "error", "error": "channel not found" }),
            };
            result.insert(cid, status);
        }
        Ok(result)
    };
    let task_id = uuid::Uuid::new_v4().to_string();
    app.tasks.insert(task_id.clone(), TaskRec { created_at: Utc::now(), polls: 0, outcome });
    Ok(created(json!({ "task_id": task_id })))
}
