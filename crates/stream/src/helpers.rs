//! Helpers that hide Stream's per-call limits: any number of users upserted in batches of 100,
//! any number of channels deleted in batches of 100 with each cid confirmed, tasks polled to a
//! final status within a deadline, every channel of a filter listed past the 1,000 offset cap
//! with each channel exactly once, every member of a channel, and a channel's whole history.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use gymchat_ids::{Cid, StreamUserId};
use serde_json::{Map, Value, json};

use crate::api::channels::{MAX_MEMBER_OFFSET, MEMBER_PAGE};
use crate::client::Client;
use crate::error::{ErrorKind, StreamError, TaskFailure};
use crate::model::{ChannelQuery, ChannelState, Message, SortField, User};

/// Stream's largest batch for users, cids and members.
pub const BATCH: usize = 100;
/// Stream's largest page of channels.
const CHANNEL_PAGE: u32 = 30;
/// Stream's largest page of messages.
const MESSAGE_PAGE: u32 = 300;
/// Most members a channel query returns per channel.
const QUERY_MEMBER_LIMIT: u32 = 100;
/// Most slices a large listing is cut into (each listed by its own keyset loop, all at once).
const LISTING_SLICES: i64 = 16;
/// How long [`Client::delete_all_channels`] waits for each batch's task.
pub const TASK_DEADLINE: Duration = Duration::from_secs(600);

/// How a batch delete ended, per cid: `Ok` when the channel is gone, or why it is not.
pub type DeleteResults = BTreeMap<String, Result<(), String>>;

/// Every channel of a filter, and whether the listing could vouch for all of them.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelListing<T = ChannelState> {
    /// Each channel once, oldest first, with every member (as the listing's mapper made it).
    pub channels: Vec<T>,
    /// Creation times shared by more channels than one query returns (30): Stream orders ties
    /// differently from one query to the next, so channels of such a group may be missing. Empty
    /// when the listing is complete.
    pub incomplete_at: Vec<DateTime<Utc>>,
}

/// What a listing makes of each channel, page by page, so that a large listing never holds
/// every channel's full state at once.
pub type ChannelMapper<T> = Arc<dyn Fn(ChannelState) -> T + Send + Sync>;

/// A listed channel with its sort key, before the listing's final order and deduplication.
type Keyed<T> = (DateTime<Utc>, Cid, T);

impl<T> ChannelListing<T> {
    /// True when every channel of the filter is listed.
    pub fn is_complete(&self) -> bool {
        self.incomplete_at.is_empty()
    }
}

/// The listing in its final order (creation time, then cid), each channel once.
fn finish<T>(mut channels: Vec<Keyed<T>>, mut incomplete_at: Vec<DateTime<Utc>>) -> ChannelListing<T> {
    channels.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    channels.dedup_by(|a, b| a.1 == b.1);
    incomplete_at.sort();
    incomplete_at.dedup();
    ChannelListing { channels: channels.into_iter().map(|(_, _, t)| t).collect(), incomplete_at }
}

fn time_filter(op: &str, t: DateTime<Utc>) -> Value {
    json!({ "created_at": { op: t.to_rfc3339_opts(SecondsFormat::AutoSi, true) } })
}

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
    /// returns) are left out. Fails when any query fails.
    pub async fn users_by_ids<S: AsRef<str>>(&self, ids: &[S]) -> Result<Vec<User>, StreamError> {
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in ids.chunks(BATCH) {
            let (client, chunk) = (self.clone(), chunk.iter().map(|id| id.as_ref().to_owned()).collect::<Vec<_>>());
            tasks.spawn(async move { client.query_users(json!({ "id": { "$in": chunk } }), BATCH as u32, 0).await });
        }
        let mut users = Vec::with_capacity(ids.len());
        while let Some(answer) = tasks.join_next().await {
            let answer = answer.map_err(|e| StreamError::new("QueryUsers", ErrorKind::Connection(e.to_string())))??;
            users.extend(answer.body);
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
    /// or without; creates nothing.
    async fn channels_among(&self, cids: &[Cid], state: bool) -> Result<Vec<ChannelState>, StreamError> {
        let mut found = Vec::new();
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
            found.extend(self.query_channels(&query).await?.body);
        }
        Ok(found)
    }

    /// Which of these cids name a live (not deleted) channel; asks without creating anything.
    pub async fn existing_cids(&self, cids: &[Cid]) -> Result<HashSet<Cid>, StreamError> {
        Ok(self.channels_among(cids, false).await?.into_iter().map(|c| c.channel.cid).collect())
    }

    /// The live channels among these cids, with every member; cids without a live channel are
    /// left out. Asks 30 cids per query and creates nothing.
    pub async fn channels_by_cids(&self, cids: &[Cid]) -> Result<Vec<ChannelState>, StreamError> {
        let found = self.channels_among(cids, true).await?;
        let mut found = found;
        self.complete_members(&mut found).await?;
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

    /// Every channel matching `filter`, each exactly once, oldest first, with all its members,
    /// past Stream's 1,000 offset cap.
    ///
    /// Pages are keyed on `created_at`: each query asks for the channels created at or after the
    /// last creation time seen, so a group of channels sharing that time, which a page boundary
    /// may have cut, comes back whole at the head of the next page whatever order Stream gives
    /// ties. Channels already listed are skipped by cid. A group of 30 or more channels sharing
    /// one time cannot be vouched for that way: the listing says so in
    /// [`ChannelListing::incomplete_at`] and carries on after it. Nothing is ever dropped silently.
    ///
    /// When there is more than a page, the span of creation times is cut into slices listed at
    /// the same time (each channel falls in exactly one slice, by its creation time), so a large
    /// listing runs at the pace of its rate limit rather than of one call after another.
    pub async fn list_all_channels(&self, filter: Value) -> Result<ChannelListing, StreamError> {
        self.list_all_channels_as(filter, Arc::new(|state| state)).await
    }

    /// [`Client::list_all_channels`], each channel turned by `map` as soon as its page (with its
    /// full member list) has arrived: a listing of many channels holds only what the caller keeps.
    pub async fn list_all_channels_as<T: Send + 'static>(
        &self,
        filter: Value,
        map: ChannelMapper<T>,
    ) -> Result<ChannelListing<T>, StreamError> {
        let first = self.channel_page(&filter, None, None).await?;
        let full = first.len() as u32 == CHANNEL_PAGE;
        let oldest = first.first().map(|c| c.channel.created_at);
        let newest = if full { self.newest_channel(&filter).await? } else { None };
        let (Some(oldest), Some(newest)) = (oldest, newest) else {
            let channels = self.keyed_page(first, &map).await?;
            return Ok(finish(channels, Vec::new()));
        };
        // Slice bounds: [b0, b1), [b1, b2), …; the last slice is open above.
        let span = (newest - oldest).num_microseconds().unwrap_or(i64::MAX).max(1);
        let slices = (self.max_in_flight() as i64).clamp(1, LISTING_SLICES);
        let bounds: Vec<DateTime<Utc>> =
            (1..slices).map(|i| oldest + chrono::Duration::microseconds(span / slices * i)).collect();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..slices as usize {
            let lo = if i == 0 { None } else { Some(bounds[i - 1]) };
            let hi = bounds.get(i).copied();
            let (client, filter, map) = (self.clone(), filter.clone(), map.clone());
            tasks.spawn(async move { (i, client.list_slice(&filter, lo, hi, &map).await) });
        }
        // Kept in the slices' order, the channels come nearly sorted, which `finish` sorts in
        // about one pass.
        let mut done: Vec<Option<Vec<Keyed<T>>>> = (0..slices).map(|_| None).collect();
        let mut incomplete_at = Vec::new();
        while let Some(slice) = tasks.join_next().await {
            let (i, slice) =
                slice.map_err(|e| StreamError::new("QueryChannels", ErrorKind::Connection(e.to_string())))?;
            let (slice, incomplete) = slice?;
            done[i] = Some(slice);
            incomplete_at.extend(incomplete);
        }
        Ok(finish(done.into_iter().flatten().flatten().collect(), incomplete_at))
    }

    /// A page's channels with their full member lists, turned by `map`, with their sort keys.
    async fn keyed_page<T>(
        &self,
        mut page: Vec<ChannelState>,
        map: &ChannelMapper<T>,
    ) -> Result<Vec<Keyed<T>>, StreamError> {
        self.complete_members(&mut page).await?;
        Ok(page.into_iter().map(|state| (state.channel.created_at, state.channel.cid.clone(), map(state))).collect())
    }

    /// The most recently created channel's creation time, if any.
    async fn newest_channel(&self, filter: &Value) -> Result<Option<DateTime<Utc>>, StreamError> {
        let query = ChannelQuery {
            filter_conditions: filter.clone(),
            sort: vec![SortField { field: "created_at".into(), direction: -1 }],
            limit: 1,
            offset: 0,
            state: false,
            message_limit: 0,
            member_limit: 0,
        };
        Ok(self.query_channels(&query).await?.body.first().map(|c| c.channel.created_at))
    }

    /// One page of `filter`'s channels created in `[lo, hi)` (either end open), after `after`.
    async fn channel_page(
        &self,
        filter: &Value,
        after: Option<(&str, DateTime<Utc>)>,
        hi: Option<DateTime<Utc>>,
    ) -> Result<Vec<ChannelState>, StreamError> {
        let mut conditions = vec![filter.clone()];
        if let Some((op, t)) = after {
            conditions.push(time_filter(op, t));
        }
        if let Some(t) = hi {
            conditions.push(time_filter("$lt", t));
        }
        let query = ChannelQuery {
            filter_conditions: json!({ "$and": conditions }),
            sort: vec![SortField { field: "created_at".into(), direction: 1 }],
            limit: CHANNEL_PAGE,
            offset: 0,
            state: true,
            message_limit: 0,
            member_limit: QUERY_MEMBER_LIMIT,
        };
        Ok(self.query_channels(&query).await?.body)
    }

    /// The channels created in `[lo, hi)`, keyset-paged as [`Client::list_all_channels`] says;
    /// a channel the `$gte` bound brings back twice is dropped when the listing is finished.
    async fn list_slice<T>(
        &self,
        filter: &Value,
        lo: Option<DateTime<Utc>>,
        hi: Option<DateTime<Utc>>,
        map: &ChannelMapper<T>,
    ) -> Result<(Vec<Keyed<T>>, Vec<DateTime<Utc>>), StreamError> {
        let mut channels = Vec::new();
        let mut incomplete_at = Vec::new();
        // The lower bound: created at or after (`$gte`), or strictly after (`$gt`).
        let mut bound: Option<(&str, DateTime<Utc>)> = lo.map(|t| ("$gte", t));
        loop {
            let page = self.channel_page(filter, bound, hi).await?;
            let full = page.len() as u32 == CHANNEL_PAGE;
            let (first, last) = match (page.first(), page.last()) {
                (Some(f), Some(l)) => (f.channel.created_at, l.channel.created_at),
                _ => return Ok((channels, incomplete_at)),
            };
            channels.extend(self.keyed_page(page, map).await?);
            if !full {
                return Ok((channels, incomplete_at));
            }
            bound = if first == last {
                // A whole page of one creation time: more may share it than a query returns.
                incomplete_at.push(last);
                Some(("$gt", last))
            } else {
                Some(("$gte", last))
            };
        }
    }

    /// Completes the member lists that a channel query cut at 100.
    async fn complete_members(&self, channels: &mut [ChannelState]) -> Result<(), StreamError> {
        for state in channels {
            let count = state.channel.member_count.unwrap_or(0) as usize;
            if count > state.members.len() {
                let all = self.channel_members(&state.channel.cid).await?;
                state.members =
                    all.into_iter().map(|user_id| crate::model::Member { user_id, channel_role: None }).collect();
            }
        }
        Ok(())
    }

    /// Every member of a channel, paging 300 at a time (Stream's offset stops at 10,000).
    pub async fn channel_members(&self, cid: &Cid) -> Result<Vec<StreamUserId>, StreamError> {
        let mut members = Vec::new();
        let mut seen = HashSet::new();
        let mut offset = 0;
        loop {
            let page = self.channel_members_page(cid, offset).await?;
            let len = page.members.len() as u32;
            for m in page.members {
                if seen.insert(m.user_id.clone()) {
                    members.push(m.user_id);
                }
            }
            offset += len;
            if len < MEMBER_PAGE {
                return Ok(members);
            }
            if offset > MAX_MEMBER_OFFSET {
                let why = format!("{cid} has more members than Stream's member paging reaches ({offset} read)");
                return Err(StreamError::new("GetOrCreateChannel", ErrorKind::Incomplete(why)));
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
