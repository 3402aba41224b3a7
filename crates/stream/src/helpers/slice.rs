//! What a channel listing gathers as it goes: each channel mapped page by page
//! ([`ChannelMapper`]) with its sort key, and the parts it could not list or understand.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use gymchat_ids::Cid;

use crate::model::{ChannelState, Undecodable};

/// What a listing makes of each channel, page by page, so that a large listing never holds
/// every channel's full state at once.
pub type ChannelMapper<T> = Arc<dyn Fn(ChannelState) -> T + Send + Sync>;

/// A listed channel with its sort key, before the listing's final order and deduplication.
pub(crate) type Keyed<T> = (DateTime<Utc>, Cid, T);

/// What one slice of a listing found.
pub(crate) struct Slice<T> {
    pub(crate) channels: Vec<Keyed<T>>,
    pub(crate) incomplete_at: Vec<DateTime<Utc>>,
    pub(crate) undecodable: Vec<Undecodable>,
}

impl<T> Default for Slice<T> {
    fn default() -> Self {
        Self { channels: Vec::new(), incomplete_at: Vec::new(), undecodable: Vec::new() }
    }
}

impl<T> Slice<T> {
    /// Adds another slice's findings to this one.
    pub(crate) fn append(&mut self, other: Slice<T>) {
        self.channels.extend(other.channels);
        self.incomplete_at.extend(other.incomplete_at);
        self.undecodable.extend(other.undecodable);
    }
}
