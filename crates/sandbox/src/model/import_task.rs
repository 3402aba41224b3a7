//! An import task (Stream's import service, see `crate::import`) as the app keeps it.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// An import task.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRec {
    /// Id.
    pub id: String,
    /// The uploaded file's path (from `POST /import_urls`).
    pub path: String,
    /// `upsert` or `insert`.
    pub mode: String,
    /// Merge custom fields into existing objects instead of replacing them.
    pub merge_custom: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The file's size in bytes.
    pub size: usize,
    /// Where it is.
    pub state: String,
    /// Each move: (when, from, to).
    pub history: Vec<(DateTime<Utc>, String, String)>,
    /// Per item type counts when completed, or the errors when the analysis failed.
    pub result: Option<Value>,
}

impl ImportRec {
    /// A task for an uploaded file, in state `uploaded`.
    pub fn new(path: String, mode: String, merge_custom: bool, size: usize) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            path,
            mode,
            merge_custom,
            created_at: Utc::now(),
            size,
            state: "uploaded".into(),
            history: Vec::new(),
            result: None,
        }
    }

    /// Moves it to `next`, keeping the move in its history.
    pub fn enter(&mut self, next: &str) {
        self.history.push((Utc::now(), self.state.clone(), next.to_owned()));
        self.state = next.to_owned();
    }
}
