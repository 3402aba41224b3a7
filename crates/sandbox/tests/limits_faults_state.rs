//! Rate limits, faults and state over real HTTP.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use gymchat_sandbox::InitialState;
use gymchat_sandbox::{LimitMode, load_snapshot};
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::*;

#[tokio::test]
async fn every_limited_response_carries_the_rate_limit_headers() {
    let mut c = config();
    c.limits = LimitMode::stream_defaults();
    let sbx = Sandbox::start(c).await;
    let a = sbx.call(Method::GET, "/app", None).await;
    let header = |n: &str| a.headers.get(n).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    assert_eq!(header("x-ratelimit-limit"), Some(10_000));
    assert_eq!(header("x-ratelimit-remaining"), Some(9_999));
    assert!(header("x-ratelimit-reset").unwrap() >= chrono::Utc::now().timestamp() as u64);
    sbx.stop().await;
}

#[tokio::test]
async fn a_burst_gets_429_after_the_limit_and_the_window_resets() {
    let mut c = config();
    c.limits = LimitMode::with_overrides(HashMap::from([("GetApp".to_owned(), 5)]));
    c.time_scale = 60.0; // a one-minute window lasts one second
    let sbx = Sandbox::start(c).await;
    let mut answers = Vec::new();
    for _ in 0..30 {
        answers.push(sbx.call(Method::GET, "/app", None).await);
    }
    let allowed = answers.iter().filter(|a| a.status == StatusCode::OK).count();
    let limited: Vec<&Answer> = answers.iter().filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS).collect();
    // The burst may straddle one window boundary, so at most two windows' worth gets through.
    assert!((1..=10).contains(&allowed), "allowed {allowed}");
    assert_eq!(allowed + limited.len(), 30);
    let first = limited.first().expect("the burst must be limited");
    assert_eq!(first.error_code(), 9);
    assert_eq!(first.headers["x-ratelimit-remaining"], "0");

    let reset: u64 = first.headers["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    let wait = (reset * 1000).saturating_sub(chrono::Utc::now().timestamp_millis() as u64) + 50;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    assert_eq!(sbx.call(Method::GET, "/app", None).await.status, StatusCode::OK, "a new window allows calls again");
    let stats = sbx.stats().await;
    assert_eq!(stats["operations"]["GetApp"]["rate_limited"].as_u64(), Some(limited.len() as u64));
    sbx.stop().await;
}

/// Generous against a busy CI machine: a normal answer takes a few milliseconds.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(500);
/// Longer than the client waits, so a stall is a timeout.
const STALL: Duration = Duration::from_millis(1_000);

/// What a client saw for one call.
fn outcome(res: Result<reqwest::Response, reqwest::Error>) -> String {
    match res {
        Ok(r) => r.status().as_u16().to_string(),
        Err(e) if e.is_timeout() => "timeout".to_owned(),
        Err(_) => "connection error".to_owned(),
    }
}

async fn fault_run(seed: u64) -> Vec<String> {
    let mut c = config();
    c.fail_rate = 0.5;
    c.seed = seed;
    c.stall = STALL;
    let sbx = Sandbox::start(c).await;
    let client = reqwest::Client::builder().timeout(CLIENT_TIMEOUT).pool_max_idle_per_host(0).build().unwrap();
    let mut seen = Vec::new();
    for _ in 0..40 {
        let res =
            client.get(format!("{}/app?api_key={KEY}", sbx.url)).header("Authorization", server_token()).send().await;
        seen.push(outcome(res));
    }
    sbx.stop().await;
    seen
}

#[tokio::test]
async fn the_same_seed_gives_the_same_faults() {
    let (a, b, other) = (fault_run(11).await, fault_run(11).await, fault_run(12).await);
    assert_eq!(a, b);
    assert_ne!(a, other);
    for kind in ["200", "500", "503", "429", "timeout", "connection error"] {
        assert!(a.iter().any(|o| o == kind), "{kind} never seen in {a:?}");
    }
}

#[tokio::test]
async fn only_the_applied_kind_of_fault_leaves_a_write_behind() {
    let mut c = config();
    c.fail_rate = 0.5;
    c.seed = 5;
    c.stall = STALL;
    let sbx = Sandbox::start(c).await;
    let client = reqwest::Client::builder().timeout(CLIENT_TIMEOUT).pool_max_idle_per_host(0).build().unwrap();
    let mut succeeded = 0;
    for i in 0..60 {
        let body = json!({ "users": { format!("u{i}"): { "id": format!("u{i}") } } });
        let res = client
            .post(format!("{}/users?api_key={KEY}", sbx.url))
            .header("Authorization", server_token())
            .json(&body)
            .send()
            .await;
        succeeded += usize::from(res.is_ok_and(|r| r.status() == StatusCode::CREATED));
    }
    // Stalled requests apply nothing (they end in a 503), so the state can be read at once.
    let stats = sbx.stats().await;
    let applied_lost =
        stats["operations"]["UpdateUsers"]["faults"]["applied_response_lost"].as_u64().unwrap_or(0) as usize;
    assert!(applied_lost > 0, "the seed should exercise the applied-then-lost fault: {stats}");
    let present = sbx.state().await["users"].as_array().unwrap().len();
    assert_eq!(present, succeeded + applied_lost, "{stats}");
    sbx.stop().await;
}

#[tokio::test]
async fn state_is_inspected_in_fixture_form_saved_on_shutdown_and_reset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut c = config();
    c.initial = InitialState::Snapshot(gym4());
    c.save_to = Some(path.clone());
    let sbx = Sandbox::start(c).await;

    let state = sbx.state().await;
    assert_eq!(state["multi_tenant_enabled"], true);
    assert_eq!(state["channels"].as_array().unwrap().len(), 9);
    let direct = state["channels"].as_array().unwrap().iter().find(|c| c["id"] == "direct_user_10_user_8").unwrap();
    assert_eq!(direct["members"], json!(["user_10", "user_8"]));
    assert_eq!(direct["messages"].as_array().unwrap().len(), 12);
    assert_eq!(direct["messages"][0]["id"], "direct_user_10_user_8-m1");
    assert_eq!(direct["name"], "Chat Ana Torres - Bruno Diaz");

    sbx.call(Method::DELETE, "/channels/messaging/event_644_d3d94468", None).await;
    let soft = sbx.state().await;
    let deleted = soft["channels"].as_array().unwrap().iter().find(|c| c["id"] == "event_644_d3d94468").unwrap();
    assert!(deleted["deleted_at"].is_string());

    sbx.create_channel("room_4_639", Some("gym_4"), &["user_10"]).await;
    let reset = sbx.http.post(format!("{}/_sandbox/reset", sbx.url)).send().await.unwrap();
    assert!(reset.status().is_success());
    assert_eq!(sbx.state().await["channels"].as_array().unwrap().len(), 9, "reset returns to the fixture");

    sbx.create_channel("room_4_639", Some("gym_4"), &["user_10"]).await;
    sbx.stop().await;
    let saved = load_snapshot(&path).unwrap();
    assert_eq!(saved.channels.len(), 10);

    let mut again = config();
    again.initial = InitialState::Snapshot(saved);
    let restarted = Sandbox::start(again).await;
    let found =
        restarted.call(Method::POST, "/channels", Some(json!({ "filter_conditions": { "id": "room_4_639" } }))).await;
    assert_eq!(found.body["channels"].as_array().unwrap().len(), 1);
    restarted.stop().await;
}

#[test]
fn broken_inputs_are_refused_with_their_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"stream\": {\"channels\": [{\"id\": 1}]}}").unwrap();
    let err = load_snapshot(&bad).unwrap_err().to_string();
    assert!(err.contains("bad.json"), "{err}");
    let limits = dir.path().join("limits.json");
    std::fs::write(&limits, "{\"GetAppp\": 5}").unwrap();
    assert!(gymchat_sandbox::parse_limits(limits.to_str().unwrap()).unwrap_err().to_string().contains("GetAppp"));
    std::fs::write(&limits, "{\"GetApp\": 5}").unwrap();
    assert!(gymchat_sandbox::parse_limits(limits.to_str().unwrap()).is_ok());
    assert_eq!(gymchat_sandbox::parse_limits("none").unwrap(), LimitMode::Off);
}
