//! The sandbox started in-process on port 0 for the client's tests, and reads of what it observed.

#![allow(dead_code, reason = "each test file uses a different part of the helper")]

use gymchat_sandbox::Config;
use gymchat_stream::{Client, ClientConfig};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const KEY: &str = "client-key";
pub const SECRET: &str = "client-secret";

/// A running sandbox; it stops when this is dropped.
pub struct Running {
    pub url: String,
    _stop: oneshot::Sender<()>,
}

impl Running {
    /// A client of this sandbox with `ClientConfig`'s defaults.
    pub fn client(&self) -> Client {
        Client::new(ClientConfig::new(&self.url, KEY, SECRET)).unwrap()
    }
}

pub async fn sandbox(config: Config) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(gymchat_sandbox::run(listener, config, async {
        let _ = stopped.await;
    }));
    Running { url, _stop: stop }
}

/// What the sandbox observed (`/_sandbox/stats`).
pub async fn stats(url: &str) -> Value {
    reqwest::get(format!("{url}/_sandbox/stats")).await.unwrap().json().await.unwrap()
}

/// Scripts the next answers of an operation (`/_sandbox/script`).
pub async fn script(url: &str, operation: &str, answers: Value) {
    let res = reqwest::Client::new()
        .post(format!("{url}/_sandbox/script"))
        .json(&json!({ "operation": operation, "answers": answers }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
}
