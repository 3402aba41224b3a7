//! Stream's import API (STREAM_API.md, "Import"): an upload URL for a file, the upload, an import
//! task on the uploaded file, and its polls until it ends.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::shared::segment;
use crate::client::Client;
use crate::error::StreamError;

/// Where to upload an import file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ImportUrl {
    /// The path to name in [`Client::create_import`].
    pub path: String,
    /// Where to `PUT` the file (pre-signed: no Stream auth).
    pub upload_url: String,
}

/// One move of an import task.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ImportMove {
    /// From.
    #[serde(default)]
    pub prev_state: String,
    /// To.
    #[serde(default)]
    pub next_state: String,
}

/// An import task.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ImportTask {
    /// Id.
    pub id: String,
    /// `uploaded`, `analyzing`, `analyze_failed`, `waiting_confirmation`, `importing`,
    /// `completed` or `failed`.
    pub state: String,
    /// The file's path.
    #[serde(default)]
    pub path: String,
    /// `upsert` or `insert`.
    #[serde(default)]
    pub mode: String,
    /// Its moves so far.
    #[serde(default)]
    pub history: Vec<ImportMove>,
    /// What Stream reported: counts, or the analysis's errors.
    #[serde(default)]
    pub result: Option<Value>,
}

impl ImportTask {
    /// Whether it has ended (`completed`, `analyze_failed` or `failed`).
    pub fn ended(&self) -> bool {
        ["completed", "analyze_failed", "failed"].contains(&self.state.as_str())
    }

    /// Whether it ended well.
    pub fn completed(&self) -> bool {
        self.state == "completed"
    }

    /// Stream's reasons for a failure, one per line (`result.errors`, else the whole result).
    pub fn reasons(&self) -> Vec<String> {
        match &self.result {
            Some(Value::Object(r)) => match r.get("errors") {
                Some(Value::Array(errors)) => {
                    errors.iter().map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned)).collect()
                }
                _ => vec![Value::Object(r.clone()).to_string()],
            },
            Some(other) => vec![other.to_string()],
            None => Vec::new(),
        }
    }
}

#[derive(Deserialize)]
struct TaskBody {
    import_task: ImportTask,
}

/// The first and the longest wait between polls of an import.
const FIRST_POLL: Duration = Duration::from_secs(1);
const LONGEST_POLL: Duration = Duration::from_secs(30);

impl Client {
    /// `POST /import_urls {"filename"}`.
    pub async fn create_import_url(&self, filename: &str) -> Result<ImportUrl, StreamError> {
        let body = json!({ "filename": filename });
        Ok(self.call("CreateImportURL", Method::POST, "/import_urls", &[], Some(&body)).await?.body)
    }

    /// `PUT`s the file to an import URL, allowing `timeout` for it.
    pub async fn upload_import(
        &self,
        url: &ImportUrl,
        file: bytes::Bytes,
        timeout: Duration,
    ) -> Result<(), StreamError> {
        self.put_file(&url.upload_url, file, timeout).await
    }

    /// `POST /imports {"path", "mode"}`: `upsert` overwrites what exists, `insert` leaves it.
    pub async fn create_import(&self, path: &str, upsert: bool) -> Result<ImportTask, StreamError> {
        let body = json!({ "path": path, "mode": if upsert { "upsert" } else { "insert" } });
        let a = self.call::<_, TaskBody>("CreateImport", Method::POST, "/imports", &[], Some(&body)).await?;
        Ok(a.body.import_task)
    }

    /// `GET /imports/{id}`.
    pub async fn get_import(&self, id: &str) -> Result<ImportTask, StreamError> {
        let path = format!("/imports/{}", segment(id));
        Ok(self.call::<Value, TaskBody>("GetImport", Method::GET, &path, &[], None).await?.body.import_task)
    }

    /// Polls an import until it ends (waits doubling from one second to thirty), telling
    /// `moved` each state it is seen in. At `deadline` it answers the task as it stands, not
    /// ended (it goes on at Stream: wait for it again later).
    pub async fn wait_for_import(
        &self,
        id: &str,
        deadline: Duration,
        moved: &(dyn Fn(&ImportTask) + Sync),
    ) -> Result<ImportTask, StreamError> {
        let start = Instant::now();
        let mut wait = FIRST_POLL;
        let mut seen = String::new();
        loop {
            let task = self.get_import(id).await?;
            if task.state != seen {
                seen.clone_from(&task.state);
                moved(&task);
            }
            if task.ended() {
                return Ok(task);
            }
            let left = deadline.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Ok(task);
            }
            tokio::time::sleep(wait.min(left)).await;
            wait = (wait * 2).min(LONGEST_POLL);
        }
    }
}
