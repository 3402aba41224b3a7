//! Inspection for tests under `/_sandbox`, a prefix Stream does not use: the state in snapshot
//! (fixture) form, what the sandbox observed of its clients (calls, 429s, faults, calls in
//! flight, token forms, slash commands run, and every rate window's counts), a reset of those
//! counts, and a reset to the initial state.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::model::App;
use crate::state::{ScriptedAnswer, Shared, lock};

/// `GET /_sandbox/state`.
pub async fn state(State(s): State<Arc<Shared>>) -> Json<Value> {
    let snapshot = lock(&s.app).snapshot();
    Json(serde_json::to_value(snapshot).unwrap_or_default())
}

/// `GET /_sandbox/stats`: the counters, with each limited operation's windows under
/// `operations.{op}.windows` (oldest first, the current one last).
pub async fn stats(State(s): State<Arc<Shared>>) -> Json<Value> {
    let mut stats = serde_json::to_value(&*lock(&s.stats)).unwrap_or_default();
    for (op, windows) in lock(&s.limiter).window_stats() {
        let entry = &mut stats["operations"][op.as_str()];
        if entry.is_null() {
            *entry = json!({ "calls": 0, "rate_limited": 0, "faults": {} });
        }
        entry["windows"] = serde_json::to_value(windows).unwrap_or_default();
    }
    Json(stats)
}

/// `POST /_sandbox/stats/reset`: zeroes the counters and the kept window counts; the app and the
/// rate windows in progress are kept.
pub async fn reset_stats(State(s): State<Arc<Shared>>) -> Json<Value> {
    s.reset_stats();
    lock(&s.limiter).forget_stats();
    Json(json!({ "reset": true }))
}

/// `POST /_sandbox/script {"operation": "DeleteUser", "answers": [{"status": 408, "code": 23}, …]}`:
/// the next calls of the operation get these answers, in order, instead of being handled (nothing
/// is applied). An answer without `code` has no Stream body (a proxy's 404, an edge's 429, an
/// empty 200); `retry_after` adds the header.
pub async fn script(State(s): State<Arc<Shared>>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let operation = body.get("operation").and_then(Value::as_str).map(str::to_owned);
    let answers: Option<Vec<ScriptedAnswer>> =
        body.get("answers").cloned().and_then(|a| serde_json::from_value(a).ok());
    match (operation, answers) {
        (Some(op), Some(answers)) => {
            let n = answers.len();
            let mut script = lock(&s.script);
            if answers.is_empty() {
                // An empty list clears what is still queued for the operation.
                script.remove(&op);
            } else {
                script.entry(op).or_default().extend(answers);
            }
            (StatusCode::OK, Json(json!({ "scripted": n })))
        }
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "expected {operation, answers: [{status, code?, retry_after?, raw_body?}]}" })),
        ),
    }
}

/// `POST /_sandbox/reset`: back to the initial state (a file is read again); statistics and
/// rate windows start over. A file that became unreadable leaves everything as it was.
pub async fn reset(State(s): State<Arc<Shared>>) -> (StatusCode, Json<Value>) {
    match s.initial.load() {
        Ok(snapshot) => {
            *lock(&s.app) = App::from_snapshot(snapshot);
            s.reset_stats();
            lock(&s.limiter).reset();
            (StatusCode::OK, Json(json!({ "reset": true })))
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "reset": false, "error": e.to_string() }))),
    }
}
