//! Helpers that hide Stream's per-call limits: any number of users upserted in batches of 100,
//! any number of channels deleted in batches of 100 with their tasks awaited, every channel of a
//! filter listed past the 1,000 offset cap, and a channel's whole history.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use gymchat_ids::Cid;
use serde_json::{Map, Value, json};

use crate::client::Client;
use crate::error::{ErrorKind, StreamError};
use crate::model::{ChannelQuery, ChannelState, Message, SortField, User};

/// Stream's largest batch for users, cids and members.
pub const BATCH: usize = 100;
/// Stream's largest page of channels.
const CHANNEL_PAGE: u32 = 30;
/// Stream's largest page of messages.
const MESSAGE_PAGE: u32 = 300;
/// Stream's largest offset.
const MAX_OFFSET: u32 = 1_000;

/// How a batch delete ended, per cid: `Ok` or the task's reason.
pub type DeleteResults = BTreeMap<String, Result<(), String>>;

impl Client {
    /// Upserts every user, 100 per call, in order. Stops at the first failed batch; the batches
    /// before it are applied (upserts are idempotent, so running again is safe).
    pub async fn upsert_all_users(&self, users: &[User]) -> Result<usize, StreamError> {
        for chunk in users.chunks(BATCH) {
            self.upsert_users(chunk).await?;
        }
        Ok(users.len())
    }

    /// Deletes every channel, 100 per batch call, and waits for each batch's task. Channels
    /// already gone are reported as done.
    pub async fn delete_all_channels(&self, cids: &[Cid], hard: bool) -> Result<DeleteResults, StreamError> {
        let mut results = DeleteResults::new();
        for chunk in cids.chunks(BATCH) {
            let task_id = match self.delete_channels(chunk, hard).await {
                Ok(id) => id,
                // "channels not found": every one of them is already gone.
                Err(e) if e.is_not_found() => {
                    results.extend(chunk.iter().map(|c| (c.to_string(), Ok(()))));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let outcome = self.wait_for_task(&task_id).await?;
            for cid in chunk {
                let key = cid.to_string();
                let status = outcome.get(&key).and_then(|r| r.get("status")).and_then(Value::as_str);
                let result = match status {
                    Some("ok") => Ok(()),
                    _ if !self.channel_exists(cid).await? => Ok(()),
                    other => Err(format!("task {task_id} reported {}", other.unwrap_or("nothing"))),
                };
                results.insert(key, result);
            }
        }
        Ok(results)
    }

    /// Whether a live (not deleted) channel has this cid; asks without creating anything.
    pub async fn channel_exists(&self, cid: &Cid) -> Result<bool, StreamError> {
        let query = ChannelQuery {
            filter_conditions: json!({ "cid": { "$in": [cid] } }),
            sort: Vec::new(),
            limit: 1,
            offset: 0,
            state: false,
            message_limit: 0,
            member_limit: 0,
        };
        Ok(!self.query_channels(&query).await?.body.is_empty())
    }

    /// Polls a task until it completes, backing off from 100 ms to 5 s; a failed task is an error.
    pub async fn wait_for_task(&self, task_id: &str) -> Result<Map<String, Value>, StreamError> {
        let mut delay = Duration::from_millis(100);
        loop {
            let task = self.get_task(task_id).await?;
            match task.status.as_str() {
                "completed" => return Ok(task.result.unwrap_or_default()),
                "failed" => {
                    return Err(StreamError::new("GetTask", ErrorKind::Decode(format!("task {task_id} failed"))));
                }
                _ => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Every channel matching `filter`, each exactly once, oldest first, without Stream's
    /// 1,000 offset cap: pages are keyed on `created_at` (`$gte` the last one seen), skipping the
    /// channels already returned with that same time, so ties at a page boundary are neither lost
    /// nor repeated. Fails only if more than 1,000 channels share one creation time.
    pub async fn list_all_channels(&self, filter: Value) -> Result<Vec<ChannelState>, StreamError> {
        let mut all = Vec::new();
        let mut seen = HashSet::new();
        let mut since: Option<DateTime<Utc>> = None;
        let mut at_since = 0u32;
        loop {
            let mut conditions = vec![filter.clone()];
            if let Some(t) = since {
                conditions.push(json!({ "created_at": { "$gte": t.to_rfc3339_opts(SecondsFormat::Micros, true) } }));
            }
            if at_since > MAX_OFFSET {
                return Err(StreamError::new(
                    "QueryChannels",
                    ErrorKind::Decode(format!("more than {MAX_OFFSET} channels share the creation time {since:?}")),
                ));
            }
            let query = ChannelQuery {
                filter_conditions: json!({ "$and": conditions }),
                sort: vec![SortField { field: "created_at".into(), direction: 1 }],
                limit: CHANNEL_PAGE,
                offset: at_since,
                state: true,
                message_limit: 0,
                member_limit: 100,
            };
            let page = self.query_channels(&query).await?.body;
            let full = page.len() as u32 == CHANNEL_PAGE;
            for state in page {
                let created = state.channel.created_at;
                if since == Some(created) {
                    at_since += 1;
                } else {
                    since = Some(created);
                    at_since = 1;
                }
                if seen.insert(state.channel.cid.clone()) {
                    all.push(state);
                }
            }
            if !full {
                return Ok(all);
            }
        }
    }

    /// The channel's whole history, oldest first, paging back 300 messages at a time.
    pub async fn channel_history(&self, cid: &Cid) -> Result<Vec<Message>, StreamError> {
        let mut pages: Vec<Vec<Message>> = Vec::new();
        let mut before: Option<String> = None;
        loop {
            let page = self.get_or_create_channel(cid, None, MESSAGE_PAGE, before.as_deref()).await?.body.messages;
            let full = page.len() as u32 == MESSAGE_PAGE;
            before = page.first().map(|m| m.id.clone());
            pages.push(page);
            if !full || before.is_none() {
                break;
            }
        }
        Ok(pages.into_iter().rev().flatten().collect())
    }
}
