//! `GET /app`, `PATCH /app`, `GET /rate_limits` and `GET /tasks/{id}`.

use std::sync::Arc;

use axum::Extension;
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::messages::COMMANDS;
use super::{ApiResult, body_object, ok, server_only};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::fmt_time;
use crate::state::{Shared, lock};

/// `GET /app`.
pub async fn get_app(State(s): State<Arc<Shared>>, Extension(caller): Extension<Caller>) -> ApiResult {
    server_only(&caller)?;
    let app = lock(&s.app);
    // The channel type the sandbox serves, as Stream's app settings describe one: read events on,
    // and the built-in slash commands.
    let commands: Vec<_> = COMMANDS.iter().map(|c| json!({ "name": c })).collect();
    let messaging = json!({ "name": "messaging", "read_events": true, "commands": commands });
    Ok(ok(json!({ "app": {
        "name": "gymchat-sandbox",
        "multi_tenant_enabled": app.multi_tenant_enabled,
        "webhook_url": app.webhook_url,
        "channel_configs": { "messaging": messaging },
    } })))
}

/// `GET /rate_limits?server_side=true[&endpoints=A,B]`: each limited operation's per-minute
/// `limit`, the `remaining` calls of the current window and its `reset` (Unix seconds), under
/// `server_side` (the sandbox has no client-side limits); empty when limits are off.
pub async fn rate_limits(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    server_only(&caller)?;
    let wanted: Option<Vec<&str>> = query.get("endpoints").map(|e| e.split(',').map(str::trim).collect());
    let now = u64::try_from(Utc::now().timestamp_millis()).unwrap_or_default();
    let limits: Map<String, Value> = lock(&s.limiter)
        .limits(now)
        .into_iter()
        .filter(|(op, _)| wanted.as_ref().is_none_or(|w| w.contains(&op.as_str())))
        .map(|(op, v)| (op, json!({ "limit": v.limit, "remaining": v.remaining, "reset": v.reset })))
        .collect();
    Ok(ok(json!({ "server_side": limits })))
}

/// `PATCH /app` with `multi_tenant_enabled` and `webhook_url`.
pub async fn update_app(State(s): State<Arc<Shared>>, Extension(caller): Extension<Caller>, body: Bytes) -> ApiResult {
    server_only(&caller)?;
    let body = body_object(&body)?;
    let mut app = lock(&s.app);
    if let Some(v) = body.get("multi_tenant_enabled") {
        app.multi_tenant_enabled =
            v.as_bool().ok_or_else(|| ApiError::input_field("multi_tenant_enabled", "must be a boolean"))?;
    }
    if let Some(v) = body.get("webhook_url") {
        let url = v.as_str().ok_or_else(|| ApiError::input_field("webhook_url", "must be a string"))?;
        app.webhook_url = url.to_owned();
    }
    Ok(ok(json!({})))
}

/// `GET /tasks/{id}`: the first poll answers `running`, later ones `completed` with the result,
/// or `error` for a task that failed.
pub async fn get_task(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    server_only(&caller)?;
    let mut app = lock(&s.app);
    let task = app.tasks.get_mut(&id).ok_or_else(|| ApiError::not_found(format!("task {id} not found")))?;
    task.polls += 1;
    let done = task.polls > 1;
    let status = match (&task.outcome, done) {
        (_, false) => "running",
        (Ok(_), true) => "completed",
        (Err(_), true) => "error",
    };
    let mut body = json!({
        "task_id": id,
        "status": status,
        "created_at": fmt_time(task.created_at),
        "updated_at": fmt_time(task.created_at),
    });
    match (&task.outcome, done) {
        (Ok(result), true) => body["result"] = serde_json::Value::Object(result.clone()),
        (Err(reason), true) => body["error"] = json!({ "description": reason }),
        _ => {}
    }
    Ok(ok(body))
}
