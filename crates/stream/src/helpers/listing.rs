//! Every channel of a filter, each exactly once, past Stream's 1,000 offset cap: keyset pages on
//! `created_at`, cut into slices listed at once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::keyset::{Bound, Key, KeyValue};
use super::slice::{ChannelMapper, Keyed, Slice};
use crate::client::Client;
use crate::error::{ErrorKind, StreamError};
use crate::model::{ChannelQuery, ChannelState, SortField, Undecodable};

/// Most slices a large listing is cut into (each listed by its own keyset loop, all at once).
const LISTING_SLICES: i64 = 16;

/// Every channel of a filter, and whether the listing could vouch for all of them.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelListing<T = ChannelState> {
    /// Each channel once, oldest first, with every member (as the listing's mapper made it).
    pub channels: Vec<T>,
    /// Creation times shared by more channels than one query returns (30) that nothing else
    /// split into parts of less than a page (their `updated_at`, `last_message_at` and
    /// `member_count` all equal too): Stream orders ties differently from one query to the
    /// next, so channels of such a group may be missing. Empty when the listing is complete.
    pub incomplete_at: Vec<DateTime<Utc>>,
    /// Channels Stream returned that could not be decoded (by cid, with why): listed, but not
    /// understood.
    pub undecodable: Vec<Undecodable>,
}

impl<T> ChannelListing<T> {
    /// True when every channel of the filter is listed and understood.
    pub fn is_complete(&self) -> bool {
        self.incomplete_at.is_empty() && self.undecodable.is_empty()
    }
}

/// The listing in its final order (creation time, then cid), each channel once.
fn finish<T>(mut slice: Slice<T>) -> ChannelListing<T> {
    slice.channels.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    slice.channels.dedup_by(|a, b| a.1 == b.1);
    slice.incomplete_at.sort();
    slice.incomplete_at.dedup();
    slice.undecodable.sort_by(|a, b| a.id.cmp(&b.id));
    slice.undecodable.dedup();
    ChannelListing {
        channels: slice.channels.into_iter().map(|(_, _, t)| t).collect(),
        incomplete_at: slice.incomplete_at,
        undecodable: slice.undecodable,
    }
}

impl Client {
    /// Every channel matching `filter`, each exactly once, oldest first, with all its members,
    /// past Stream's 1,000 offset cap.
    ///
    /// Pages are keyed on `created_at`: each query asks for the channels created at or after the
    /// last creation time seen, so a group of channels sharing that time, which a page boundary
    /// may have cut, comes back whole at the head of the next page whatever order Stream gives
    /// ties. Channels already listed are skipped by cid. A whole page sharing one creation time
    /// is listed on its own, keyset-paged on `updated_at`, then `last_message_at`, then
    /// `member_count` until each part is less than a page; only a part that none of them splits
    /// is reported in [`ChannelListing::incomplete_at`], and the listing carries on after it.
    /// Nothing is ever dropped silently.
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
        let first = self.keyed_query(vec![filter.clone()], Key::CreatedAt).await?;
        let oldest = first.channels.first().map(|c| c.channel.created_at);
        let newest = if first.full { self.newest_channel(&filter).await? } else { None };
        let (Some(oldest), Some(newest)) = (oldest, newest) else {
            let mut listing = Slice { undecodable: first.undecodable, ..Slice::default() };
            listing.channels = self.keyed_page(first.channels, &map).await?;
            return Ok(finish(listing));
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
            tasks.spawn(async move {
                let mut slice = Slice::default();
                let lo = lo.map(|t| Bound { value: KeyValue::Time(t), after: false });
                let hi = hi.map(|t| json!({ "created_at": { "$lt": KeyValue::Time(t).json() } }));
                let listed = client.list_keyed(vec![filter], Key::CreatedAt, lo, hi, &map, &mut slice).await;
                (i, listed.map(|()| slice))
            });
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
        Ok(finish(listing))
    }

    /// A page's channels with their full member lists, turned by `map`, with their sort keys.
    pub(super) async fn keyed_page<T>(
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
}
