//! The operations endpoints: `/healthz` (the process answers), `/readyz` (the database and
//! Stream answer too) and `/metrics` (the recorder of `metrics`, plus the push outbox as the
//! database has it).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "done", body = Object)))]
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the database and Stream both answer, else 503 naming which does not;
/// `push` says whether push notifications are on.
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
    // Push is optional: without OneSignal's key nothing is queued, and readiness says so.
    let push = if s.config().push.is_some() { "on" } else { "off" };
    (status, Json(json!({ "database": database, "stream": stream, "push": push })))
}

/// Any other path.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// The push outbox as the database has it, in Prometheus' text format.
async fn outbox_gauges(s: &AppState) -> Result<String, gymchat_store::StoreError> {
    let mut db = s.store().session().await?;
    let counts = db.push_outbox_counts().await?;
    let lag = db.oldest_waiting_push().await?.map_or(0.0, |t| (Utc::now() - t).num_milliseconds() as f64 / 1000.0);
    let mut out = String::from("# TYPE gymchat_push_outbox gauge\n");
    for (state, n) in
        [("pending", counts.pending), ("working", counts.working), ("sent", counts.done), ("failed", counts.failed)]
    {
        out.push_str(&format!("gymchat_push_outbox{{state=\"{state}\"}} {n}\n"));
    }
    out.push_str(&format!("# TYPE gymchat_push_outbox_lag_seconds gauge\ngymchat_push_outbox_lag_seconds {lag}\n"));
    Ok(out)
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "done", body = String, content_type = "text/plain")))]
pub(crate) async fn metrics(State(s): State<AppState>) -> Response {
    let Some(h) = crate::metrics::handle() else {
        return crate::error::ApiError::unavailable("metrics are not available in this process").into_response();
    };
    let mut text = h.render();
    match outbox_gauges(&s).await {
        Ok(gauges) => text.push_str(&gauges),
        Err(e) => tracing::warn!(error = %e, "the push outbox could not be counted for /metrics"),
    }
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
