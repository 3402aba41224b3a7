//! `GET /app`, `PATCH /app` and `GET /tasks/{id}`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use bytes::Bytes;
use serde_json::json;

use super::{ApiResult, body_object, ok, server_only};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::model::fmt_time;
use crate::state::{Shared, lock};

/// `GET /app`.
pub async fn get_app(State(s): State<Arc<Shared>>, Extension(caller): Extension<Caller>) -> ApiResult {
    server_only(&caller)?;
    let app = lock(&s.app);
    Ok(ok(json!({ "app": { "name": "gymchat-sandbox", "multi_tenant_enabled": app.multi_tenant_enabled } })))
}

/// `PATCH /app` with `multi_tenant_enabled`.
pub async fn update_app(State(s): State<Arc<Shared>>, Extension(caller): Extension<Caller>, body: Bytes) -> ApiResult {
    server_only(&caller)?;
    let body = body_object(&body)?;
    let mut app = lock(&s.app);
    if let Some(v) = body.get("multi_tenant_enabled") {
        app.multi_tenant_enabled =
            v.as_bool().ok_or_else(|| ApiError::input_field("multi_tenant_enabled", "must be a boolean"))?;
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
