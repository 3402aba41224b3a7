//! What `GET /metrics` (served by `health`) shows, in Prometheus' text format: requests by route, method and status, their latency
//! as a histogram by route, the Stream client's calls by operation and status and its 429s
//! (`gymchat_stream_calls_total`, `gymchat_stream_rate_limited_total`), requests ended by their
//! deadline or turned away at the Stream gate (`gymchat_http_deadline_passed_total`,
//! `gymchat_http_turned_away_total`), and webhook deliveries by outcome
//! (`gymchat_webhooks_total{outcome=done|retry|failed}`), pushes by outcome
//! (`gymchat_pushes_total{outcome=sent|retry|failed}`), and, read from the database so every
//! replica shows the same, the push outbox by state (`gymchat_push_outbox{state}`) and the age of
//! its oldest waiting push (`gymchat_push_outbox_lag_seconds`).
//!
//! The recorder is the process's one global recorder (the `metrics` facade's design), installed
//! on first use; services in one process (tests) share it.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered, by route, method and status.
const REQUESTS: &str = "gymchat_http_requests_total";
/// Seconds from a request's arrival to its answer, by route.
const LATENCY: &str = "gymchat_http_request_duration_seconds";
/// Requests ended by their deadline.
const DEADLINE_PASSED: &str = "gymchat_http_deadline_passed_total";
/// Stream-bound requests turned away because every place was taken.
const TURNED_AWAY: &str = "gymchat_http_turned_away_total";
/// Webhook deliveries worked, by outcome.
const WEBHOOKS: &str = "gymchat_webhooks_total";
/// Pushes attempted, by outcome.
const PUSHES: &str = "gymchat_pushes_total";
/// Latency buckets: from a millisecond to ten seconds.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first use (`None` when another recorder was installed
/// first: then `/metrics` says so).
pub(crate) fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets_for_metric(Matcher::Full(LATENCY.to_owned()), BUCKETS);
            match builder.and_then(PrometheusBuilder::install_recorder) {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::error!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// Middleware: counts and times every request by its route pattern (never by its concrete path,
/// so ids do not multiply the series).
pub(crate) async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "route" => route.clone(), "method" => method, "status" => status).increment(1);
    metrics::histogram!(LATENCY, "route" => route).record(started.elapsed().as_secs_f64());
    response
}

/// A request passed its deadline.
pub(crate) fn deadline_passed() {
    metrics::counter!(DEADLINE_PASSED).increment(1);
}

/// A Stream-bound request found no place.
pub(crate) fn turned_away() {
    metrics::counter!(TURNED_AWAY).increment(1);
}

/// A webhook delivery's attempt ended: `done`, `retry` or `failed`.
pub(crate) fn webhook(outcome: &'static str) {
    metrics::counter!(WEBHOOKS, "outcome" => outcome).increment(1);
}

/// A push's attempt ended: `sent`, `retry` or `failed`.
pub(crate) fn push(outcome: &'static str) {
    metrics::counter!(PUSHES, "outcome" => outcome).increment(1);
}
