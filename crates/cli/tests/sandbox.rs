//! `gymchat sandbox` as a process: prints its URL, serves Stream's API, stops on SIGTERM and
//! saves its state.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use gymchat_testkit::fixture_path;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

#[tokio::test]
async fn sandbox_serves_the_fixture_and_saves_its_state_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gymchat"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--key", "k", "--secret", "s", "--rate-limits", "none"])
        .arg("--fixture")
        .arg(fixture_path("gym4.json"))
        .arg("--state")
        .arg(&state)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut first_line).unwrap();
    let url = serde_json::from_str::<serde_json::Value>(&first_line).unwrap()["url"].as_str().unwrap().to_owned();

    let token = encode(&Header::default(), &json!({ "server": true }), &EncodingKey::from_secret(b"s")).unwrap();
    let app: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/app?api_key=k"))
        .header("Authorization", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(app["app"]["multi_tenant_enabled"], true);

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    assert!(child.wait().unwrap().success());
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["channels"].as_array().unwrap().len(), 9);
}

#[test]
fn sandbox_refuses_a_bad_rate_limit_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_gymchat"))
        .args([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--key",
            "k",
            "--secret",
            "s",
            "--rate-limits",
            "/nonexistent.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nonexistent.json"));
}
