//! Stream's import API: `POST /import_urls {"filename"}` answers a path and an upload URL (on the
//! sandbox, `PUT /_sandbox/uploads/{path}`, which like a pre-signed storage URL takes no Stream
//! auth); `POST /imports {"path", "mode", "merge_custom"?}` starts a task on an uploaded file;
//! `GET /imports/{id}` answers it, moving it one state per poll (see [`crate::import`]).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::{ApiResult, body_object, created, ok, own_address, server_only};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::import::{analyze, apply};
use crate::model::{ImportRec, fmt_time};
use crate::state::{Shared, lock};

/// The largest import file Stream takes.
pub const MAX_IMPORT_BYTES: usize = 300 * 1024 * 1024;

/// `POST /import_urls {"filename"}`.
pub async fn create_url(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    server_only(&caller)?;
    let body = body_object(&body)?;
    let filename = body
        .get("filename")
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty() && !f.contains(['/', '\\']))
        .ok_or_else(|| ApiError::input_field("filename", "filename is required, without '/'"))?;
    let host = own_address(&headers);
    let path = format!("imports/{}/{filename}", uuid::Uuid::new_v4().simple());
    lock(&s.app).uploads.insert(path.clone(), None);
    Ok(created(json!({ "path": path, "upload_url": format!("http://{host}/_sandbox/uploads/{path}") })))
}

/// `PUT /_sandbox/uploads/{path}`: the file, to a path `POST /import_urls` gave.
pub async fn upload(State(s): State<Arc<Shared>>, Path(path): Path<String>, body: Bytes) -> StatusCode {
    let mut app = lock(&s.app);
    match app.uploads.get_mut(&path) {
        Some(slot) => {
            *slot = Some(body);
            StatusCode::OK
        }
        None => StatusCode::FORBIDDEN,
    }
}

/// `POST /imports {"path", "mode", "merge_custom"?}`.
pub async fn create(State(s): State<Arc<Shared>>, Extension(caller): Extension<Caller>, body: Bytes) -> ApiResult {
    server_only(&caller)?;
    let body = body_object(&body)?;
    let path =
        body.get("path").and_then(Value::as_str).ok_or_else(|| ApiError::input_field("path", "path is required"))?;
    let mode = body.get("mode").and_then(Value::as_str).unwrap_or("upsert");
    if !["upsert", "insert"].contains(&mode) {
        return Err(ApiError::input_field("mode", format!("mode {mode:?} is not upsert or insert")));
    }
    let merge_custom = body.get("merge_custom").and_then(Value::as_bool).unwrap_or(false);
    let mut app = lock(&s.app);
    let size = match app.uploads.get(path) {
        Some(Some(file)) => file.len(),
        Some(None) => return Err(ApiError::input_field("path", format!("nothing was uploaded to {path}"))),
        None => return Err(ApiError::input_field("path", format!("{path} is not an import URL's path"))),
    };
    if size > MAX_IMPORT_BYTES {
        return Err(ApiError::input_field("path", format!("the file is {size} bytes, the most is {MAX_IMPORT_BYTES}")));
    }
    let task = ImportRec::new(path.to_owned(), mode.to_owned(), merge_custom, size);
    let answer = task_json(&task);
    app.imports.insert(task.id.clone(), task);
    Ok(created(json!({ "import_task": answer })))
}

/// `GET /imports/{id}`: the task, one state further than at the last poll. The analysis and the
/// import happen at the poll that leaves `analyzing`.
pub async fn get(
    State(s): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    server_only(&caller)?;
    let mut guard = lock(&s.app);
    let app = &mut *guard;
    let mut task =
        app.imports.get(&id).cloned().ok_or_else(|| ApiError::not_found(format!("import {id} not found")))?;
    match task.state.as_str() {
        "uploaded" => task.enter("analyzing"),
        "analyzing" => {
            let file = app.uploads.get(&task.path).cloned().flatten().unwrap_or_default();
            match analyze(app, &file) {
                Err(errors) => {
                    task.result = Some(json!({ "errors": errors }));
                    task.enter("analyze_failed");
                }
                Ok(items) => {
                    task.enter("importing");
                    let counts = apply(app, items, task.mode == "upsert", task.merge_custom);
                    task.result = Some(json!({ "stats": counts }));
                    task.enter("completed");
                }
            }
        }
        _ => {}
    }
    let answer = task_json(&task);
    app.imports.insert(id, task);
    Ok(ok(json!({ "import_task": answer })))
}

/// A task as Stream answers it.
fn task_json(task: &ImportRec) -> Value {
    let history: Vec<Value> = task
        .history
        .iter()
        .map(|(at, prev, next)| json!({ "created_at": fmt_time(*at), "prev_state": prev, "next_state": next }))
        .collect();
    let updated = task.history.last().map_or(task.created_at, |(at, _, _)| *at);
    let mut answer = Map::new();
    answer.insert("id".into(), json!(task.id));
    answer.insert("state".into(), json!(task.state));
    answer.insert("path".into(), json!(task.path));
    answer.insert("mode".into(), json!(task.mode));
    answer.insert("size".into(), json!(task.size));
    answer.insert("history".into(), Value::Array(history));
    answer.insert("created_at".into(), json!(fmt_time(task.created_at)));
    answer.insert("updated_at".into(), json!(fmt_time(updated)));
    if let Some(result) = &task.result {
        answer.insert("result".into(), result.clone());
    }
    Value::Object(answer)
}
