//! A sandbox started in-process on port 0, and a plain HTTP client that speaks Stream's transport.

#![allow(dead_code, reason = "each test file uses a different part of the helper")]

use std::time::Duration;

use gymchat_sandbox::{Config, Snapshot, load_snapshot};
use jsonwebtoken::{EncodingKey, Header, encode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const KEY: &str = "sandbox-key";
pub const SECRET: &str = "sandbox-secret";

pub struct Sandbox {
    pub url: String,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), gymchat_sandbox::SandboxError>>>,
}

pub fn token(claims: Value, secret: &str) -> String {
    encode(&Header::default(), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

pub fn server_token() -> String {
    token(json!({ "server": true }), SECRET)
}

pub fn user_token(user: &str) -> String {
    token(json!({ "user_id": user }), SECRET)
}

pub fn gym4() -> Snapshot {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/gym4.json");
    load_snapshot(&path).unwrap()
}

/// Percent-encodes a query parameter value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The path of a QueryUsers call with this filter.
pub fn users_query(filter: Value) -> String {
    format!("/users?payload={}", urlencode(&json!({ "filter_conditions": filter }).to_string()))
}

/// Stream's defaults with limits off, no faults.
pub fn config() -> Config {
    let mut c = Config::new(KEY, SECRET);
    c.limits = gymchat_sandbox::LimitMode::Off;
    c
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// Asserts Stream's error shape and returns the code.
    pub fn error_code(&self) -> i64 {
        for field in ["code", "message", "StatusCode", "duration", "more_info", "details"] {
            assert!(self.body.get(field).is_some(), "error body lacks {field}: {}", self.body);
        }
        assert_eq!(self.body["StatusCode"], self.status.as_u16());
        self.body["code"].as_i64().unwrap()
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

impl Sandbox {
    pub async fn start(config: Config) -> Sandbox {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(gymchat_sandbox::run(listener, config, async {
            let _ = rx.await;
        }));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        Sandbox { url, http, stop: Some(tx), task: Some(task) }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// A Stream call with `api_key` and the given token.
    pub async fn call_as(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Answer {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut req = self
            .http
            .request(method, format!("{}{path}{sep}api_key={KEY}", self.url))
            .header("Authorization", token)
            .header("stream-auth-type", "jwt");
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let text = res.text().await.unwrap();
        Answer { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.call_as(&server_token(), method, path, body).await
    }

    pub async fn state(&self) -> Value {
        self.http.get(format!("{}/_sandbox/state", self.url)).send().await.unwrap().json().await.unwrap()
    }

    pub async fn stats(&self) -> Value {
        self.http.get(format!("{}/_sandbox/stats", self.url)).send().await.unwrap().json().await.unwrap()
    }

    pub async fn upsert_users(&self, users: &[(&str, &[&str])]) {
        let map: serde_json::Map<String, Value> =
            users.iter().map(|(id, teams)| ((*id).to_owned(), json!({ "id": id, "teams": teams }))).collect();
        let a = self.call(Method::POST, "/users", Some(json!({ "users": map }))).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    }

    pub async fn create_channel(&self, id: &str, team: Option<&str>, members: &[&str]) -> Answer {
        let mut data = json!({ "created_by_id": members[0], "members": members });
        if let Some(team) = team {
            data["team"] = json!(team);
        }
        self.call(Method::POST, &format!("/channels/messaging/{id}/query"), Some(json!({ "data": data }))).await
    }
}
