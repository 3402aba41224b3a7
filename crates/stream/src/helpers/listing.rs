//! Every channel of a filter, each exactly once, past Stream's 1,000 offset cap: keyset pages on
//! `created_at`, cut into slices listed at once.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use gymchat_ids::Cid;
use serde_json::{Value, json};

use crate::client::Client;
use crate::error::{ErrorKind, StreamError};
use crate::limits::{CHANNEL_PAGE, QUERY_MEMBER_LIMIT};
use crate::model::{ChannelQuery, ChannelState, SortField, Undecodable};

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
    /// Channels Stream returned that could not be decoded (by cid, with why): listed, but not
    /// understood.
    pub undecodable: Vec<Undecodable>,
}

/// What a listing makes of each channel, page by page, so that a large listing never holds
/// every channel's full state at once.
pub type ChannelMapper<T> = Arc<dyn Fn(ChannelState) -> T + Send + Sync>;

/// A listed channel with its sort key, before the listing's final order and deduplication.
type Keyed<T> = (DateTime<Utc>, Cid, T);

impl<T> ChannelListing<T> {
    /// True when every channel of the filter is listed and understood.
    pub fn is_complete(&self) -> bool {
        self.incomplete_at.is_empty() && self.undecodable.is_empty()
    }
}

/// What one slice of a listing found.
struct Slice<T> {
    channels: Vec<Keyed<T>>,
    incomplete_at: Vec<DateTime<Utc>>,
    undecodable: Vec<Undecodable>,
}

impl<T> Default for Slice<T> {
    fn default() -> Self {
        Self { channels: Vec::new(), incomplete_at: Vec::new(), undecodable: Vec::new() }
    }
}

impl<T> Slice<T> {
    /// The listing in its final order (creation time, then cid), each channel once.
    fn finish(mut self) -> ChannelListing<T> {
        self.channels.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        self.channels.dedup_by(|a, b| a.1 == b.1);
        self.incomplete_at.sort();
        self.incomplete_at.dedup();
        self.undecodable.sort_by(|a, b| a.id.cmp(&b.id));
        self.undecodable.dedup();
        ChannelListing {
            channels: self.channels.into_iter().map(|(_, _, t)| t).collect(),
            incomplete_at: self.incomplete_at,
            undecodable: self.undecodable,
        }
    }

    fn append(&mut self, other: Slice<T>) {
        self.channels.extend(other.channels);
        self.incomplete_at.extend(other.incomplete_at);
        self.undecodable.extend(other.undecodable);
    }
}

/// One page of a listing: what decoded, what did not, and whether Stream returned a full page.
struct Page {
    channels: Vec<ChannelState>,
    undecodable: Vec<Undecodable>,
    full: bool,
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
        let oldest = first.channels.first().map(|c| c.channel.created_at);
        let newest = if first.full { self.newest_channel(&filter).await? } else { None };
        let (Some(oldest), Some(newest)) = (oldest, newest) else {
            let mut listing = Slice { undecodable: first.undecodable, ..Slice::default() };
            listing.channels = self.keyed_page(first.channels, &map).await?;
            return Ok(listing.finish());
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
        let mut done: Vec<Option<Slice<T>>> = (0..slices).map(|_| None).collect();
        while let Some(slice) = tasks.join_next().await {
            let (i, slice) =
                slice.map_err(|e| StreamError::new("QueryChannels", ErrorKind::Connection(e.to_string())))?;
            done[i] = Some(slice?);
        }
        let mut listing = Slice::default();
        for slice in done.into_iter().flatten() {
            listing.append(slice);
        }
        Ok(listing.finish())
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
    ) -> Result<Page, StreamError> {
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
        let answer = self.query_channels(&query).await?;
        let full = answer.body.len() + answer.undecodable.len() >= CHANNEL_PAGE as usize;
        Ok(Page { channels: answer.body, undecodable: answer.undecodable, full })
    }

    /// The channels created in `[lo, hi)`, keyset-paged as [`Client::list_all_channels`] says;
    /// a channel the `$gte` bound brings back twice is dropped when the listing is finished.
    async fn list_slice<T>(
        &self,
        filter: &Value,
        lo: Option<DateTime<Utc>>,
        hi: Option<DateTime<Utc>>,
        map: &ChannelMapper<T>,
    ) -> Result<Slice<T>, StreamError> {
        let mut slice = Slice::default();
        // The lower bound: created at or after (`$gte`), or strictly after (`$gt`).
        let mut bound: Option<Bound> = lo.map(|t| Bound { after: false, t });
        loop {
            let page = self.channel_page(filter, bound.map(Bound::filter), hi).await?;
            slice.undecodable.extend(page.undecodable);
            let (first, last) = match (page.channels.first(), page.channels.last()) {
                (Some(f), Some(l)) => (f.channel.created_at, l.channel.created_at),
                _ if page.full => return Err(no_progress(bound)),
                _ => return Ok(slice),
            };
            slice.channels.extend(self.keyed_page(page.channels, map).await?);
            if !page.full {
                return Ok(slice);
            }
            let next = if first == last {
                // A whole page of one creation time: more may share it than a query returns.
                slice.incomplete_at.push(last);
                Bound { after: true, t: last }
            } else {
                Bound { after: false, t: last }
            };
            // Each page must move the bound on; a page that does not (an answer that ignores the
            // filter) would be asked for again and again.
            if bound.is_some_and(|b| next <= b) {
                return Err(no_progress(bound));
            }
            bound = Some(next);
        }
    }
}

/// A keyset lower bound on `created_at`: at or after `t`, or strictly after it. Ordered so that
/// a later bound is greater (`after` breaks ties of `t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Bound {
    t: DateTime<Utc>,
    after: bool,
}

impl Bound {
    fn filter(self) -> (&'static str, DateTime<Utc>) {
        (if self.after { "$gt" } else { "$gte" }, self.t)
    }
}

/// The error of a listing whose page did not move it on.
fn no_progress(bound: Option<Bound>) -> StreamError {
    let at = bound.map_or_else(|| "the start".to_owned(), |b| b.t.to_rfc3339());
    StreamError::new(
        "QueryChannels",
        ErrorKind::Incomplete(format!("a full page of channels at {at} did not move the listing on; it stops here")),
    )
}
