//! `/metrics`: requests by route pattern and status, Stream calls by operation and status.
//!
//! The recorder is the process's one (the `metrics` facade's design), so this test is alone in
//! its test binary: no other test counts into the series it reads.

use gymchat_testkit::TestDb;
use reqwest::StatusCode;

mod support;

use support::*;

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_stream_calls_by_operation() {
    // One backend after the other, never at once: each run's deltas are its own.
    for db in [TestDb::sqlite().await, TestDb::postgres().await] {
        counts_on(&db).await;
    }
}

async fn counts_on(db: &TestDb) {
    let app = spawn_app(db).await;
    // The recorder is the process's one: other tests of this binary count into it too, so
    // what this test proves is the difference its own requests make, series by series.
    let my_rooms = r#"gymchat_http_requests_total{route="/api/v1/chat/my-rooms",method="GET",status="200"}"#;
    let direct_403 =
        r#"gymchat_http_requests_total{route="/api/v1/chat/rooms/direct/{other_user_id}",method="GET",status="403"}"#;
    let partial_503 = r#"gymchat_stream_calls_total{operation="UpdateUsersPartial",status="503"}"#;
    let partial_400 = r#"gymchat_stream_calls_total{operation="UpdateUsersPartial",status="400"}"#;
    let upsert_201 = r#"gymchat_stream_calls_total{operation="UpdateUsers",status="201"}"#;
    let before = metrics(&app).await;
    assert_eq!(app.get("/api/v1/chat/my-rooms", ANA, 4).await.0, StatusCode::OK);
    assert_eq!(app.get("/api/v1/chat/my-rooms", ANA, 4).await.0, StatusCode::OK);
    assert_eq!(app.get("/api/v1/chat/rooms/direct/999", ANA, 4).await.0, StatusCode::FORBIDDEN);
    app.stream_outage("UpdateUsersPartial", 1).await;
    assert_eq!(app.get("/api/v1/chat/token", BRUNO, 4).await.0, StatusCode::OK, "retried after one 503");
    let after = metrics(&app).await;
    let delta = |series: &str| counter(&after, series) - counter(&before, series);
    assert_eq!(delta(my_rooms), 2.0, "{after}");
    assert_eq!(delta(direct_403), 1.0, "counted by route pattern: {after}");
    assert!(!after.contains("/direct/999"), "never by concrete path: {after}");
    assert!(after.contains("gymchat_http_request_duration_seconds_bucket{route=\"/api/v1/chat/my-rooms\""), "{after}");
    assert_eq!(delta(partial_503), 1.0, "{after}");
    // Bruno's identity did not exist yet: the partial update's 400 led to an upsert.
    assert_eq!((delta(partial_400), delta(upsert_201)), (1.0, 1.0), "{after}");
}

/// `/metrics` as text.
async fn metrics(app: &App) -> String {
    let response = app.http.get(format!("{}/metrics", app.url)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// A counter's value in Prometheus' text (0 when the series is absent).
fn counter(text: &str, series: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse::<f64>().ok())).unwrap_or(0.0)
}
