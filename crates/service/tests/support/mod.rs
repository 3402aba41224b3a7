//! What the service tests share: [`spawn_app`] starts the reference scenario on a database, the
//! sandbox over HTTP with the scenario's Stream side, and the service on a free port, and gives
//! helpers that call it as the apps, the workers and Stream do.

#![allow(dead_code, reason = "each test file uses a different part of the helper")]

use std::time::Duration;

use chrono::Utc;
use gymchat_sandbox::Config;
use gymchat_service::{AppState, IdentityConfig, PushConfig, ServiceConfig, ServiceLimits};
use gymchat_store::{DbFixture, Store};
use gymchat_stream::{Client, ClientConfig};
use gymchat_testkit::sandbox::{Sandbox, gym4_config};
use gymchat_testkit::{TestDb, read_fixture};
use hmac::{Hmac, Mac};
use jsonwebtoken::{EncodingKey, Header, encode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::oneshot;

pub const KEY: &str = "k";
pub const SECRET: &str = "s";
pub const JWT_SECRET: &str = "identity-provider-test-secret";
pub const WORKER_KEY: &str = "worker-test-key";

/// Subjects of the reference scenario's people: Ana (10, OWNER of gym 4), Bruno (8, TRAINER of
/// gym 4, MEMBER of gym 1), Carla (11, MEMBER of 4), Diego (17, MEMBER of 4), Elena (21, OWNER of
/// gym 5).
pub const ANA: &str = "auth0|64f0a10000000000000000a1";
pub const BRUNO: &str = "google-oauth2|112233445566778899001";
pub const CARLA: &str = "auth0|64f0a11000000000000000b2";
pub const DIEGO: &str = "auth0|64f0a17000000000000000c3";
pub const ELENA: &str = "auth0|64f0a21000000000000000d4";

/// A running service with its database and sandbox; both stop when this is dropped.
pub struct App {
    pub url: String,
    pub sandbox_url: String,
    pub sandbox: Sandbox,
    pub store: Store,
    pub stream: Client,
    pub http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

/// A sandbox with the reference scenario's Stream side, limits off.
pub async fn sandbox() -> Sandbox {
    sandbox_with(|_| {}).await
}

/// Like [`sandbox`], with its configuration edited (faults, latency).
pub async fn sandbox_with(edit: impl FnOnce(&mut Config)) -> Sandbox {
    let mut config = gym4_config(KEY, SECRET);
    edit(&mut config);
    Sandbox::start(config).await
}

/// A Stream client of the sandbox that gives up quickly.
pub fn client(sandbox_url: &str) -> Client {
    client_trying(sandbox_url, 3)
}

/// A Stream client of the sandbox that makes at most `attempts` attempts per call.
pub fn client_trying(sandbox_url: &str, attempts: u32) -> Client {
    let mut config = ClientConfig::new(sandbox_url, KEY, SECRET);
    config.pace = false;
    config.retry.base_delay = Duration::from_millis(5);
    config.retry.max_attempts = attempts;
    config.timeout = Duration::from_secs(2);
    Client::new(config).unwrap()
}

/// Starts the service on a database already holding the scenario and a running sandbox.
pub async fn start_service(db_url: &str, sandbox_url: &str) -> (String, oneshot::Sender<()>) {
    let identity = IdentityConfig::Hs256 { secret: JWT_SECRET.into(), issuer: None, audience: None };
    start_service_with(db_url, sandbox_url, identity).await
}

/// Like [`start_service`], with callers' tokens checked as `identity` says.
pub async fn start_service_with(
    db_url: &str,
    sandbox_url: &str,
    identity: IdentityConfig,
) -> (String, oneshot::Sender<()>) {
    start_service_using(db_url, client(sandbox_url), identity).await
}

/// The limits the tests run the service with: the defaults, with webhook retries quick.
pub fn test_limits() -> ServiceLimits {
    ServiceLimits { webhook_retry_base: Duration::from_millis(200), ..ServiceLimits::default() }
}

/// Like [`start_service`], calling Stream with `stream`.
pub async fn start_service_using(
    db_url: &str,
    stream: Client,
    identity: IdentityConfig,
) -> (String, oneshot::Sender<()>) {
    start_service_limited(db_url, stream, identity, test_limits()).await
}

/// Like [`start_service_using`], with the service's limits.
pub async fn start_service_limited(
    db_url: &str,
    stream: Client,
    identity: IdentityConfig,
    limits: ServiceLimits,
) -> (String, oneshot::Sender<()>) {
    start_service_pushing(db_url, stream, identity, limits, None).await
}

/// Like [`start_service_limited`], sending push notifications as `push` says.
pub async fn start_service_pushing(
    db_url: &str,
    stream: Client,
    identity: IdentityConfig,
    limits: ServiceLimits,
    push: Option<PushConfig>,
) -> (String, oneshot::Sender<()>) {
    let store = Store::open(db_url).await.unwrap();
    let config = ServiceConfig {
        stream_key: KEY.into(),
        stream_secret: SECRET.into(),
        identity,
        worker_api_key: Some(WORKER_KEY.into()),
        token_ttl: chrono::Duration::hours(1),
        push,
        limits,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(gymchat_service::serve(listener, AppState::new(store, stream, config), async {
        let _ = stopped.await;
    }));
    (url, stop)
}

/// The reference scenario on `db`, the sandbox, and the service.
pub async fn spawn_app(db: &TestDb) -> App {
    spawn_app_with(db, |_| {}, 3).await
}

/// Like [`spawn_app`], with the sandbox's configuration edited (faults, latency) and the
/// service's Stream client making at most `attempts` attempts per call.
pub async fn spawn_app_with(db: &TestDb, edit: impl FnOnce(&mut Config), attempts: u32) -> App {
    spawn_app_limited(db, edit, attempts, test_limits()).await
}

/// Like [`spawn_app_with`], with the service's limits.
pub async fn spawn_app_limited(
    db: &TestDb,
    edit: impl FnOnce(&mut Config),
    attempts: u32,
    limits: ServiceLimits,
) -> App {
    spawn_app_pushing(db, edit, attempts, limits, None).await
}

/// Like [`spawn_app_limited`], sending push notifications as `push` says.
pub async fn spawn_app_pushing(
    db: &TestDb,
    edit: impl FnOnce(&mut Config),
    attempts: u32,
    limits: ServiceLimits,
    push: Option<PushConfig>,
) -> App {
    let store = Store::open(db.url()).await.unwrap();
    store.load_fixture(&DbFixture::from_json(&read_fixture("gym4.json")).unwrap()).await.unwrap();
    let sandbox = sandbox_with(edit).await;
    let sandbox_url = sandbox.url.clone();
    let identity = IdentityConfig::Hs256 { secret: JWT_SECRET.into(), issuer: None, audience: None };
    let (url, stop) =
        start_service_pushing(db.url(), client_trying(&sandbox_url, attempts), identity, limits, push).await;
    App { url, stream: client(&sandbox_url), sandbox_url, sandbox, store, http: reqwest::Client::new(), _stop: stop }
}

/// The resource scopes the platform's Auth0 Action puts in a person's token, by their highest
/// role (APP_CONTRACT §1.3): OWNERs Ana and Elena `resource:admin`, `resource:write`,
/// `resource:read`; TRAINER Bruno `resource:write`, `resource:read`; members `resource:read`.
pub fn scopes_of(subject: &str) -> &'static str {
    match subject {
        ANA | ELENA => "resource:admin resource:write resource:read",
        BRUNO => "resource:write resource:read",
        _ => "resource:read",
    }
}

/// An identity provider's token for `subject` with the scopes of their role, valid for an hour.
pub fn jwt(subject: &str) -> String {
    jwt_scoped(subject, scopes_of(subject))
}

/// An identity provider's token for `subject` granting `scope` (space-separated).
pub fn jwt_scoped(subject: &str, scope: &str) -> String {
    let now = Utc::now().timestamp();
    encode(
        &Header::default(),
        &json!({ "sub": subject, "iat": now, "exp": now + 3600, "scope": scope }),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

/// The hex HMAC-SHA256 of `body` with Stream's secret, as Stream signs webhooks.
pub fn signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

impl App {
    /// Calls the service as `subject` in gym `gym`: the status and the JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        subject: &str,
        gym: i64,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(jwt(subject))
            .header("X-Gym-ID", gym.to_string());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET` as `subject` in gym `gym`.
    pub async fn get(&self, path: &str, subject: &str, gym: i64) -> (StatusCode, Value) {
        self.call(Method::GET, path, subject, gym, None).await
    }

    /// `POST` as `subject` in gym `gym`.
    pub async fn post(&self, path: &str, subject: &str, gym: i64, body: Option<Value>) -> (StatusCode, Value) {
        self.call(Method::POST, path, subject, gym, body).await
    }

    /// A worker's `POST` with the right key.
    pub async fn worker(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .header("X-API-Key", WORKER_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Stream's webhook delivery of `event` with id `webhook_id`, signed.
    pub async fn webhook(&self, path: &str, webhook_id: &str, event: &Value) -> StatusCode {
        let body = serde_json::to_vec(event).unwrap();
        self.http
            .post(format!("{}{path}", self.url))
            .header("X-Signature", signature(&body))
            .header("X-Webhook-Id", webhook_id)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// The sandbox's whole state.
    pub async fn stream_state(&self) -> Value {
        self.sandbox.state().await
    }

    /// The sandbox's channel with this bare id, if any.
    pub async fn stream_channel(&self, id: &str) -> Option<Value> {
        self.sandbox.channel(id).await
    }

    /// The sandbox's user with this id, if any.
    pub async fn stream_user(&self, id: &str) -> Option<Value> {
        let state = self.stream_state().await;
        state["users"].as_array().unwrap().iter().find(|u| u["id"] == id).cloned()
    }

    /// The next `n` calls of `operation` fail with 503 at the sandbox.
    pub async fn stream_outage(&self, operation: &str, n: usize) {
        self.sandbox.outage(operation, n).await;
    }
}

/// Waits until `check` holds, up to 5 s (for work done after a webhook's answer).
pub async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Runs SQL on the test database directly (what an operator's change would be).
pub async fn execute(db: &TestDb, sql: &str) {
    use sqlx::Connection;
    if db.is_postgres() {
        let mut c = sqlx::PgConnection::connect(db.url()).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut c).await.unwrap();
    }
}
