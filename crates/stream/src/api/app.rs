//! `GET`/`PATCH /app`, `GET /rate_limits` and `GET /tasks/{id}`.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::shared::segment;
use crate::client::{Answer, Client};
use crate::error::StreamError;
use crate::model::Task;

/// App settings gymchat reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AppSettings {
    /// Multi-tenancy switch.
    #[serde(default)]
    pub multi_tenant_enabled: bool,
    /// Where Stream posts the app's events; empty when none is set.
    #[serde(default)]
    pub webhook_url: String,
    /// The channel types' settings, by type.
    #[serde(default)]
    pub channel_configs: BTreeMap<String, ChannelTypeConfig>,
}

/// A channel type's settings gymchat depends on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChannelTypeConfig {
    /// Read state is kept (mark read, unread counts): without it read positions cannot be
    /// carried.
    #[serde(default)]
    pub read_events: bool,
    /// The slash commands its messages may run (objects with a `name`).
    #[serde(default)]
    pub commands: Vec<Value>,
}

/// One operation's limit as the app has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct EndpointLimit {
    /// Calls per window (a minute).
    pub limit: u64,
    /// Calls left in the current window.
    #[serde(default)]
    pub remaining: u64,
    /// When the window resets (Unix seconds).
    #[serde(default)]
    pub reset: u64,
}

#[derive(Deserialize)]
struct RateLimitsBody {
    #[serde(default)]
    server_side: BTreeMap<String, EndpointLimit>,
}

#[derive(Deserialize)]
struct AppBody {
    app: AppSettings,
}

impl Client {
    /// `GET /app`.
    pub async fn get_app(&self) -> Result<Answer<AppSettings>, StreamError> {
        let a: Answer<AppBody> = self.call::<Value, _>("GetApp", Method::GET, "/app", &[], None).await?;
        Ok(a.map(|b| b.app))
    }

    /// `PATCH /app {"multi_tenant_enabled"}`.
    pub async fn set_multi_tenant(&self, enabled: bool) -> Result<(), StreamError> {
        let body = json!({ "multi_tenant_enabled": enabled });
        self.call::<_, IgnoredAny>("UpdateApp", Method::PATCH, "/app", &[], Some(&body)).await.map(|_| ())
    }

    /// `GET /rate_limits?server_side=true`: the app's real server-side limits per operation
    /// (plans differ from the documented defaults).
    pub async fn rate_limits(&self) -> Result<BTreeMap<String, EndpointLimit>, StreamError> {
        let query = [("server_side", "true".to_owned())];
        let a: Answer<RateLimitsBody> =
            self.call::<Value, _>("GetRateLimits", Method::GET, "/rate_limits", &query, None).await?;
        Ok(a.body.server_side)
    }

    /// `GET /tasks/{id}`: one poll of a background task (see [`Client::wait_for_task`]).
    pub async fn get_task(&self, id: &str) -> Result<Task, StreamError> {
        let path = format!("/tasks/{}", segment(id));
        Ok(self.call::<Value, Task>("GetTask", Method::GET, &path, &[], None).await?.body)
    }
}
