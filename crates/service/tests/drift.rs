//! The database and Stream do not drift: with the sandbox failing a fifth of all calls at random
//! (errors, resets, stalls, and writes applied whose answer is lost), rooms created through the
//! service exist on both sides or on neither, as the audit then confirms.

use std::time::Duration;

use gymchat_ids::GymId;
use gymchat_ops::audit::audit_gym;
use gymchat_stream::{Client, ClientConfig};
use gymchat_testkit::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod support;

use support::*;

/// An auditor that outlasts the faults (it repeats a failed read up to 12 times).
fn patient_client(url: &str) -> Client {
    let mut config = ClientConfig::new(url, KEY, SECRET);
    config.pace = false;
    config.retry.base_delay = Duration::from_millis(2);
    config.retry.max_attempts = 12;
    config.timeout = Duration::from_secs(2);
    Client::new(config).unwrap()
}

async fn synced(app: &App) -> (usize, usize, usize) {
    let report =
        audit_gym(&app.store, &patient_client(&app.sandbox_url), GymId::new(4).unwrap(), chrono::Utc::now(), &|_| {})
            .await
            .unwrap();
    assert!(report.complete, "the audit itself must complete: {:?}", report.sources);
    (report.summary.synced, report.summary.stream_only, report.summary.db_only)
}

/// Asks until the service answers 200 (a refused attempt must leave nothing behind, which the
/// audit checks), at most 30 times.
async fn until_ok(app: &App, path: &str, subject: &str, body: Option<Value>) -> (Value, usize) {
    for attempt in 1..=30 {
        let (status, answer) = match &body {
            Some(b) => app.post(path, subject, 4, Some(b.clone())).await,
            None => app.get(path, subject, 4).await,
        };
        match status {
            StatusCode::OK | StatusCode::CREATED => return (answer, attempt - 1),
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::CONFLICT | StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("{path}: unexpected {other}: {answer}"),
        }
    }
    panic!("{path}: never answered 200 in 30 attempts")
}

on_both_backends!(
    async fn rooms_created_while_stream_fails_at_random_exist_on_both_sides_or_neither(db) {
        // The service tries each call once, so every fault reaches its rollback and compensation.
        let app = spawn_app_with(
            &db,
            |c| {
                c.fail_rate = 0.2;
                c.seed = 11;
                c.stall = Duration::from_millis(2_500);
            },
            1,
        )
        .await;
        let (synced_before, stream_only_before, db_only_before) = synced(&app).await;
        let mut refused = 0;
        let mut created = 0;
        for (caller, other) in [(BRUNO, 17), (CARLA, 17)] {
            let (_, failures) = until_ok(&app, &format!("/api/v1/chat/rooms/direct/{other}"), caller, None).await;
            refused += failures;
            created += 1;
        }
        for n in 0..4 {
            let body = json!({ "name": format!("Crew {n}"), "member_ids": [10, 11] });
            let (_, failures) = until_ok(&app, "/api/v1/chat/rooms", BRUNO, Some(body)).await;
            refused += failures;
            created += 1;
        }
        let (synced_after, stream_only_after, db_only_after) = synced(&app).await;
        assert_eq!(synced_after, synced_before + created, "{refused} requests were refused on the way");
        assert_eq!(stream_only_after, stream_only_before, "a channel without a room was left");
        assert_eq!(db_only_after, db_only_before, "a room without a channel was left");
        // The faults did bite: otherwise this test proves nothing.
        let stats: Value = app.sandbox.stats().await;
        assert!(refused > 0, "no request failed; raise the fail rate or change the seed: {stats}");
    }
);
