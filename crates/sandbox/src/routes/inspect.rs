//! Inspection for tests under `/_sandbox`, a prefix Stream does not use: the state in snapshot
//! (fixture) form, per-operation statistics, and a reset to the initial state.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::model::App;
use crate::state::{Shared, lock};

/// `GET /_sandbox/state`.
pub async fn state(State(s): State<Arc<Shared>>) -> Json<Value> {
    let snapshot = lock(&s.app).snapshot();
    Json(serde_json::to_value(snapshot).unwrap_or_default())
}

/// `GET /_sandbox/stats`.
pub async fn stats(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({ "operations": *lock(&s.stats) }))
}

/// `POST /_sandbox/reset`: back to the initial state (a file is read again); statistics and
/// rate windows start over. A file that became unreadable leaves everything as it was.
pub async fn reset(State(s): State<Arc<Shared>>) -> (StatusCode, Json<Value>) {
    match s.initial.load() {
        Ok(snapshot) => {
            *lock(&s.app) = App::from_snapshot(snapshot);
            lock(&s.stats).clear();
            lock(&s.limiter).reset();
            (StatusCode::OK, Json(json!({ "reset": true })))
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "reset": false, "error": e.to_string() }))),
    }
}
