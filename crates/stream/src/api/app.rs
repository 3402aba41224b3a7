//! `GET`/`PATCH /app` and `GET /tasks/{id}`.

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

    /// `GET /tasks/{id}`: one poll of a background task (see [`Client::wait_for_task`]).
    pub async fn get_task(&self, id: &str) -> Result<Task, StreamError> {
        let path = format!("/tasks/{}", segment(id));
        Ok(self.call::<Value, Task>("GetTask", Method::GET, &path, &[], None).await?.body)
    }
}
