//! `gymchat serve` as a process: prints its URL, answers the apps against the database and the
//! sandbox, refuses to start without an identity provider, and stops on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use gymchat_testkit::read_fixture;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};

mod support;

#[tokio::test]
async fn serve_answers_the_apps_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("g.db").display());
    let store = gymchat_store::Store::open(&database).await.unwrap();
    store.load_fixture(&gymchat_store::DbFixture::from_json(&read_fixture("gym4.json")).unwrap()).await.unwrap();
    store.close().await;
    let running_sandbox = support::sandbox(Duration::ZERO).await;
    let sandbox = running_sandbox.url.clone();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gymchat"))
        .args(["serve", "--listen", "127.0.0.1:0", "--jwt-hs256-secret", "jwt", "--database-url", &database])
        .args(["--stream-url", &sandbox, "--stream-key", "k", "--stream-secret", "s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut first_line).unwrap();
    let url = serde_json::from_str::<Value>(&first_line).unwrap()["url"].as_str().unwrap().to_owned();

    let http = reqwest::Client::new();
    let ready = http.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let now = chrono::Utc::now().timestamp();
    let jwt = encode(
        &Header::default(),
        &json!({ "sub": "auth0|64f0a10000000000000000a1", "exp": now + 60, "scope": "resource:read" }),
        &EncodingKey::from_secret(b"jwt"),
    )
    .unwrap();
    let token: Value = http
        .get(format!("{url}/api/v1/chat/token"))
        .bearer_auth(jwt)
        .header("X-Gym-ID", "4")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["stream_user_id"], "gym_4_user_10", "{token}");
    // No OneSignal key: push is off, and readiness says so.
    let ready: Value = http.get(format!("{url}/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["push"], "off");

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    assert!(child.wait().unwrap().success());
}

#[test]
fn serve_refuses_to_start_without_an_identity_provider() {
    let out = Command::new(env!("CARGO_BIN_EXE_gymchat"))
        .args(["serve", "--listen", "127.0.0.1:0", "--stream-key", "k", "--stream-secret", "s"])
        .env_remove("GYMCHAT_JWT_HS256_SECRET")
        .env_remove("GYMCHAT_JWKS_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--jwks-url") && stderr.contains("--jwt-hs256-secret"), "{stderr}");
}

#[test]
fn serve_refuses_half_a_push_configuration() {
    let out = Command::new(env!("CARGO_BIN_EXE_gymchat"))
        .args(["serve", "--listen", "127.0.0.1:0", "--jwt-hs256-secret", "jwt", "--stream-key", "k"])
        .args(["--stream-secret", "s", "--onesignal-app-id", "app"])
        .env_remove("ONESIGNAL_REST_API_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--onesignal-api-key"), "{stderr}");
}
