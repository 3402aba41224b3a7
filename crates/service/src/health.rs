//! `/healthz` (the process answers) and `/readyz` (the database and Stream answer too).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "done", body = Object)))]
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the database and Stream both answer, else 503 naming which does not.
/// Stream's answer is reused for a few seconds (`ServiceLimits::ready_cache`), so probes do not
/// spend Stream's rate limit.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "done", body = Object), (status = 503, description = "the database or Stream does not answer", body = Object)))]
pub(crate) async fn readyz(State(s): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = match s.store().session().await {
        Ok(mut db) => db.ping().await.is_ok(),
        Err(_) => false,
    };
    let stream = match s.cached_stream_ready() {
        Some(ok) => ok,
        None => {
            let ok = s.stream().get_app().await.is_ok();
            s.remember_stream_ready(ok);
            ok
        }
    };
    let status = if database && stream { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({ "database": database, "stream": stream })))
}

/// Any other path.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}
