//! Every channel of a filter, each exactly once, past Stream's 1,000 offset cap: keyset pages on
//! `created_at`, cut into slices listed at once.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use gymchat_ids::Cid;
use serde_json::{Value, json};

use crate::client::Client;
use crate::error::{ErrorKind, StreamError};
use crate::limits::{CHANNEL_PAGE, QUERY_MEMBER_LIMIT};
use crate::model::{ChannelQuery, ChannelState, SortField};

/// Most slices a large listing is cut into (each listed by its own keyset loop, all at once).
const LISTING_SLICES: i64 = 16;

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
}
