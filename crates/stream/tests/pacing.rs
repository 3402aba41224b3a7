//! Pacing against the sandbox's rate limits (Stream's defaults, one-second windows), judged by
//! the sandbox's own per-window counts: no 429 for gymchat, and none for the live app sharing
//! the limits, however much of the window the live app spends.

use std::time::Duration;

use gymchat_ids::{GymId, StreamUserId, UserId};
use gymchat_sandbox::Config;
use gymchat_stream::model::User;
use gymchat_stream::{Client, ClientConfig};
use serde_json::Value;

mod support;

use support::{KEY, SECRET, sandbox};

fn member(user: i64) -> StreamUserId {
    StreamUserId::for_member(GymId::new(4).unwrap(), UserId::new(user).unwrap())
}

/// Upserts from 8 workers for `seconds`, paced at `share`, against a sandbox whose live app
/// spends `live` of every window. Returns the sandbox's UpdateUsers windows that the run
/// covered whole, after the first three (the pacer starts from Stream's one-minute windows and
/// learns the sandbox's one-second window from two readings).
async fn run(share: f64, live: f64, seconds: u64) -> (Vec<Value>, Value) {
    let mut config = Config::new(KEY, SECRET);
    config.time_scale = 60.0;
    config.live_traffic = live;
    let s = sandbox(config).await;
    let mut client_config = ClientConfig::new(&s.url, KEY, SECRET);
    client_config.budget_share = share;
    client_config.max_in_flight = 8;
    let client = Client::new(client_config).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut i = 0;
                while tokio::time::Instant::now() < deadline {
                    client.upsert_users(&[User::new(member(w * 100_000 + i + 1))]).await.unwrap();
                    i += 1;
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let stats = s.stats().await;
    let windows = stats["operations"]["UpdateUsers"]["windows"].as_array().unwrap().clone();
    // Drop the first three (learning) and the last (cut short by the deadline).
    let whole = windows.iter().skip(3).take(windows.len().saturating_sub(4)).cloned().collect();
    (whole, stats)
}

fn sum(windows: &[Value], field: &str) -> u64 {
    windows.iter().map(|w| w[field].as_u64().unwrap()).sum()
}

#[tokio::test]
async fn pacing_at_streams_default_limits_draws_no_429() {
    let (windows, stats) = run(0.5, 0.0, 6).await;
    assert!(windows.len() >= 2, "{stats}");
    assert_eq!(stats["operations"]["UpdateUsers"]["rate_limited"], 0, "{stats}");
    for w in &windows {
        assert!(w["accepted"].as_u64().unwrap() <= 150, "more than half of the limit: {w}");
    }
    // A pacer that never sends would pass the above: it must also use its share.
    assert!(sum(&windows, "accepted") >= 120 * windows.len() as u64, "{windows:?}");
}

#[tokio::test]
async fn sharing_the_limits_with_live_traffic_draws_no_429_for_either() {
    let (windows, stats) = run(0.5, 0.5, 6).await;
    assert!(windows.len() >= 2, "{stats}");
    assert_eq!(stats["operations"]["UpdateUsers"]["rate_limited"], 0, "{stats}");
    assert_eq!(sum(&windows, "live_refused"), 0, "the live app was refused: {windows:?}");
    assert!(sum(&windows, "accepted") >= 120 * windows.len() as u64, "gymchat used its half: {windows:?}");
}

#[tokio::test]
async fn heavier_live_traffic_slows_gymchat_down() {
    // The live app spends 80% of every window: gymchat's half would drive it into 429s.
    let (windows, stats) = run(0.5, 0.8, 6).await;
    assert!(windows.len() >= 2, "{stats}");
    assert_eq!(sum(&windows, "live_refused"), 0, "gymchat took what the live app needed: {windows:?}");
    assert_eq!(sum(&windows, "rate_limited"), 0, "{windows:?}");
    for w in &windows {
        assert!(w["accepted"].as_u64().unwrap() <= 60, "gymchat kept to what was left: {w}");
    }
}

#[tokio::test]
async fn fixed_sleeps_send_one_call_at_a_time_and_sleep_after_each() {
    // The benchmarks' baseline: no pacing, a fixed sleep of the window ÷ the documented limit
    // after each call (UpdateUsers: 300 a window of 3 s at the whole budget, so 10 ms), one call
    // in flight however many tasks call.
    let mut sandbox_config = Config::new(KEY, SECRET);
    sandbox_config.time_scale = 20.0;
    let s = sandbox(sandbox_config).await;
    let mut config = ClientConfig::new(&s.url, KEY, SECRET);
    config.pace = false;
    config.fixed_sleeps = true;
    config.max_in_flight = 1;
    config.budget_share = 1.0;
    config.rate_window = Duration::from_secs(3);
    let client = Client::new(config).unwrap();
    let started = tokio::time::Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let client = client.clone();
            tokio::spawn(async move {
                for i in 0..5 {
                    client.upsert_users(&[User::new(member(t * 100 + i + 1))]).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    let stats = s.stats().await;
    assert_eq!(stats["operations"]["UpdateUsers"]["calls"], 20, "{stats}");
    assert_eq!(stats["operations"]["UpdateUsers"]["rate_limited"], 0, "{stats}");
    assert_eq!(stats["in_flight_peak"], 1, "one call at a time: {stats}");
    assert!(elapsed >= Duration::from_millis(200), "20 calls, each followed by 10 ms of sleep: {elapsed:?}");
}
