//! Inspection for tests under `/_sandbox`, a prefix Stream does not use: the state in snapshot
//! (fixture) form, per-operation statistics, and a reset to the initial state.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
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

/// `POST /_sandbox/reset`: back to the loaded fixture or state file; statistics and rate
/// windows start over.
pub async fn reset(State(s): State<Arc<Shared>>) -> Json<Value> {
    *lock(&s.app) = App::from_snapshot(s.initial.clone());
    lock(&s.stats).clear();
    lock(&s.limiter).reset();
    Json(json!({ "reset": true }))
}
