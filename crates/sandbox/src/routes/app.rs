//! `GET /app`, `PATCH /app` and `GET /tasks/{id}`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use bytes::Bytes;
use serde_json::json;

use super::{ApiResult, body_object, created, ok, server_only};
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
    Ok(created(json!({})))
}

/// `GET /tasks/{id}`: the first poll answers `running`, later ones `completed` with the result.
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
    let mut body = json!({
        "task_id": id,
        "status": if done { "completed" } else { "running" },
        "created_at": fmt_time(task.created_at),
        "updated_at": fmt_time(task.created_at),
    });
    if done {
        body["result"] = serde_json::Value::Object(task.result.clone());
    }
    Ok(ok(body))
}
