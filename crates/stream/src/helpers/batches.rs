//! Batches: users upserted and looked up, channels read by cid and deleted (each cid confirmed),
//! and background tasks polled to their end.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use gymchat_ids::Cid;
use serde_json::{Map, Value, json};

use crate::client::Client;
use crate::error::{ErrorKind, StreamError, TaskFailure};
use crate::limits::{BATCH, CHANNEL_PAGE, QUERY_MEMBER_LIMIT};
use crate::model::{ChannelQuery, ChannelState, Decoded, SortField, User};

/// How long [`Client::delete_all_channels`] waits for each batch's task.
pub const TASK_DEADLINE: Duration = Duration::from_secs(600);

/// How a batch delete ended, per cid: `Ok` when the channel is gone, or why it is not.
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

    /// The users among these ids, 100 per query, the queries in flight together (within the
    /// client's concurrency and pacing); ids without a user (or a deleted one Stream no longer
    /// returns) are left out, users that cannot be decoded are named apart. Fails when any query
    /// fails.
    pub async fn users_by_ids<S: AsRef<str>>(&self, ids: &[S]) -> Result<Decoded<User>, StreamError> {
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in ids.chunks(BATCH) {
            let (client, chunk) = (self.clone(), chunk.iter().map(|id| id.as_ref().to_owned()).collect::<Vec<_>>());
            tasks.spawn(async move { client.query_users(json!({ "id": { "$in": chunk } }), BATCH as u32, 0).await });
        }
        let mut users = Decoded::default();
        while let Some(answer) = tasks.join_next().await {
            let answer = answer.map_err(|e| StreamError::new("QueryUsers", ErrorKind::Connection(e.to_string())))??;
            users.items.extend(answer.body);
            users.undecodable.extend(answer.undecodable);
        }
        Ok(users)
    }

    /// Deletes every channel, 100 per batch call, waits for each batch's task, and then confirms
    /// each cid by asking Stream which of them still exist: a cid is `Ok` only when its channel
    /// is gone. A batch answered "not found" or a task that failed marks nothing deleted by
    /// itself; the confirmation decides.
    pub async fn delete_all_channels(&self, cids: &[Cid], hard: bool) -> Result<DeleteResults, StreamError> {
        let mut results = DeleteResults::new();
        for chunk in cids.chunks(BATCH) {
            let outcome = match self.delete_channels(chunk, hard).await {
                Ok(task_id) => match self.wait_for_task(&task_id, TASK_DEADLINE).await {
                    Ok(_) => None,
                    Err(
                        e @ StreamError { kind: ErrorKind::TaskFailed { .. } | ErrorKind::TaskDeadline { .. }, .. },
                    ) => Some(e.to_string()),
                    Err(e) => return Err(e),
                },
                // Stream answers 404 when none of the cids exists; confirm rather than believe.
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e),
            };
            let still = self.existing_cids(chunk).await?;
            for cid in chunk {
                let result = if !still.contains(cid) {
                    Ok(())
                } else {
                    Err(outcome.clone().unwrap_or_else(|| "the channel still exists after the delete".to_owned()))
                };
                results.insert(cid.to_string(), result);
            }
        }
        Ok(results)
    }

    /// The live channels among these cids, 30 per query, with their state (members, first 100)
    /// or without; creates nothing. Channels that cannot be decoded are named apart.
    pub(crate) async fn channels_among(&self, cids: &[Cid], state: bool) -> Result<Decoded<ChannelState>, StreamError> {
        let mut found = Decoded::default();
        for chunk in cids.chunks(CHANNEL_PAGE as usize) {
            let query = ChannelQuery {
                filter_conditions: json!({ "cid": { "$in": chunk } }),
                sort: vec![SortField { field: "created_at".into(), direction: 1 }],
                limit: CHANNEL_PAGE,
                offset: 0,
                state,
                message_limit: 0,
                member_limit: if state { QUERY_MEMBER_LIMIT } else { 0 },
            };
            let answer = self.query_channels(&query).await?;
            found.items.extend(answer.body);
            found.undecodable.extend(answer.undecodable);
        }
        Ok(found)
    }

    /// Which of these cids name a live (not deleted) channel; asks without creating anything. A
    /// channel Stream returned but that could not be decoded exists all the same.
    pub async fn existing_cids(&self, cids: &[Cid]) -> Result<HashSet<Cid>, StreamError> {
        let found = self.channels_among(cids, false).await?;
        let unreadable = found.undecodable.iter().filter_map(|u| Cid::parse(&u.id).ok());
        Ok(found.items.into_iter().map(|c| c.channel.cid).chain(unreadable).collect())
    }

    /// The live channels among these cids, with every member; cids without a live channel are
    /// left out, channels that cannot be decoded are named apart. Asks 30 cids per query and
    /// creates nothing.
    pub async fn channels_by_cids(&self, cids: &[Cid]) -> Result<Decoded<ChannelState>, StreamError> {
        let mut found = self.channels_among(cids, true).await?;
        self.complete_members(&mut found.items).await?;
        Ok(found)
    }

    /// Whether a live (not deleted) channel has this cid; asks without creating anything.
    pub async fn channel_exists(&self, cid: &Cid) -> Result<bool, StreamError> {
        Ok(!self.existing_cids(std::slice::from_ref(cid)).await?.is_empty())
    }

    /// Polls a task until it reaches a final status, backing off from 100 ms to 5 s. Only
    /// `completed` is success (its per-item results are returned); every other final status
    /// (`failed`, `error`, or one not documented) is [`ErrorKind::TaskFailed`]; a task still
    /// running after `deadline` is [`ErrorKind::TaskDeadline`].
    pub async fn wait_for_task(&self, task_id: &str, deadline: Duration) -> Result<Map<String, Value>, StreamError> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            let task = self.get_task(task_id).await?;
            if task.status == "completed" {
                return Ok(task.result.unwrap_or_default());
            }
            if !task.is_running() {
                let reason = task.error.map(|e| e.to_string()).unwrap_or_default();
                let failure = TaskFailure { task_id: task_id.to_owned(), status: task.status, reason };
                let kind = ErrorKind::TaskFailed(Box::new(failure));
                return Err(StreamError::new("GetTask", kind));
            }
            if started.elapsed() + delay > deadline {
                let kind = ErrorKind::TaskDeadline { task_id: task_id.to_owned(), waited: started.elapsed() };
                return Err(StreamError::new("GetTask", kind));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}
