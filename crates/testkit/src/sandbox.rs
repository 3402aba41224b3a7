//! The sandbox in the test's own process, over real HTTP on 127.0.0.1: started on a free port,
//! stopped when dropped, and the `/_sandbox` inspection endpoints tests read and script it with.

use gymchat_sandbox::{Config, InitialState, LimitMode, load_snapshot};
use jsonwebtoken::{EncodingKey, Header, encode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::fixture_path;

/// A running sandbox; it stops when this is dropped.
pub struct Sandbox {
    /// Its base URL.
    pub url: String,
    key: String,
    secret: String,
    http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

/// A sandbox configuration: `key` and `secret`, limits off, the reference scenario loaded.
pub fn gym4_config(key: &str, secret: &str) -> Config {
    let mut config = Config::new(key, secret);
    config.limits = LimitMode::Off;
    config.initial = InitialState::Snapshot(load_snapshot(&fixture_path("gym4.json")).expect("the fixture loads"));
    config
}

impl Sandbox {
    /// Starts a sandbox with `config`.
    pub async fn start(config: Config) -> Sandbox {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("a local address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let (key, secret) = (config.key.clone(), config.secret.expose_secret().to_owned());
        tokio::spawn(gymchat_sandbox::run(listener, config, async {
            let _ = stopped.await;
        }));
        Sandbox { url, key, secret, http: reqwest::Client::new(), _stop: stop }
    }

    /// The channel `cid` (`type:id`) as `user` sees it: its state read with that user's token,
    /// as the app reads it (messages they may see, up to 300).
    pub async fn seen_by(&self, user: &str, cid: &str) -> Value {
        let (kind, id) = cid.split_once(':').expect("a cid");
        let body = json!({ "state": true, "watch": false, "messages": { "limit": 300 } });
        self.post_as(user, &format!("/channels/{kind}/{id}/query"), body).await
    }

    /// `user`'s channel list as the app reads it: the channels they are a member of, most
    /// recent last message first (up to 30), as cids.
    pub async fn channel_list_of(&self, user: &str) -> Vec<String> {
        let body = json!({
            "filter_conditions": { "members": { "$in": [user] } },
            "sort": [{ "field": "last_message_at", "direction": -1 }],
            "limit": 30, "state": false, "watch": false,
        });
        let answer = self.post_as(user, "/channels", body).await;
        let channels = answer["channels"].as_array().expect("channels");
        channels.iter().map(|c| c["channel"]["cid"].as_str().expect("a cid").to_owned()).collect()
    }

    /// A POST with `user`'s token; the answer must be a success.
    async fn post_as(&self, user: &str, path: &str, body: Value) -> Value {
        let token =
            encode(&Header::default(), &json!({ "user_id": user }), &EncodingKey::from_secret(self.secret.as_bytes()))
                .expect("a user token");
        let response = self
            .http
            .post(format!("{}{path}?api_key={}", self.url, self.key))
            .header("Authorization", token)
            .header("stream-auth-type", "jwt")
            .json(&body)
            .send()
            .await
            .expect("the sandbox answers");
        let status = response.status();
        let answer: Value = response.json().await.expect("JSON");
        assert!(status.is_success(), "{user}: POST {path} answered {status} {answer}");
        answer
    }

    async fn get(&self, path: &str) -> Value {
        let response = self.http.get(format!("{}{path}", self.url)).send().await.expect("the sandbox answers");
        response.json().await.expect("JSON")
    }

    /// Its whole state, in the fixture's format (`GET /_sandbox/state`).
    pub async fn state(&self) -> Value {
        self.get("/_sandbox/state").await
    }

    /// What it observed (`GET /_sandbox/stats`).
    pub async fn stats(&self) -> Value {
        self.get("/_sandbox/stats").await
    }

    /// The channel with this bare id, if its state holds one.
    pub async fn channel(&self, id: &str) -> Option<Value> {
        let state = self.state().await;
        state["channels"].as_array()?.iter().find(|c| c["id"] == id).cloned()
    }

    /// The next calls of `operation` get these answers (`POST /_sandbox/script`), nothing applied.
    pub async fn script(&self, operation: &str, answers: Value) {
        let response = self
            .http
            .post(format!("{}/_sandbox/script", self.url))
            .json(&json!({ "operation": operation, "answers": answers }))
            .send()
            .await
            .expect("the sandbox answers");
        assert!(response.status().is_success(), "the script was refused: {}", response.status());
    }

    /// The next `n` calls of `operation` fail with 503, as in an outage of that endpoint.
    pub async fn outage(&self, operation: &str, n: usize) {
        self.script(operation, Value::Array((0..n).map(|_| json!({ "status": 503, "code": -1 })).collect())).await;
    }
}

/// A message id as two runs' final states compare it: a migration's note names its run in its
/// id (`gymchat-moved-…`, `gymchat-moved-back-…`), so notes compare by kind; other ids as they are.
pub fn comparable_message_id(id: &Value) -> Value {
    match id.as_str() {
        Some(id) if id.starts_with("gymchat-moved-back-") => Value::from("gymchat-moved-back-…"),
        Some(id) if id.starts_with("gymchat-moved-") => Value::from("gymchat-moved-…"),
        _ => id.clone(),
    }
}
