//! Keyset paging of channels on a sort key, with tie groups split on the next key: what makes a
//! listing exact whatever order Stream gives channels with equal keys.
//!
//! Pages are sorted ascending on a key and each asks for the channels at or after the last value
//! seen (`$gte`), so a run of equal values cut by a page boundary comes back whole at the head of
//! the next page. A whole page of one value cannot be paged past that way: it is listed on its
//! own, with the key held at that value (`$eq`, or `$exists: false` for channels without one) and
//! the next key as the sort, until a part is less than a page; then the paging goes on strictly
//! after the value (`$gt`). Only a part that every key leaves whole is reported incomplete.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::slice::{ChannelMapper, Slice};
use crate::client::Client;
use crate::error::{ErrorKind, StreamError};
use crate::limits::{CHANNEL_PAGE, QUERY_MEMBER_LIMIT};
use crate::model::{ChannelQuery, ChannelState, SortField, Undecodable};

/// A channel field a listing pages on, in the order ties are split: filterable and sortable
/// (STREAM_API.md, "Query").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    CreatedAt,
    UpdatedAt,
    LastMessageAt,
    MemberCount,
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Key::CreatedAt => "created_at",
            Key::UpdatedAt => "updated_at",
            Key::LastMessageAt => "last_message_at",
            Key::MemberCount => "member_count",
        }
    }

    /// The key a tie group of this one is split on.
    fn next(self) -> Option<Key> {
        match self {
            Key::CreatedAt => Some(Key::UpdatedAt),
            Key::UpdatedAt => Some(Key::LastMessageAt),
            Key::LastMessageAt => Some(Key::MemberCount),
            Key::MemberCount => None,
        }
    }

    fn of(self, c: &ChannelState) -> KeyValue {
        let time = |t: Option<DateTime<Utc>>| t.map_or(KeyValue::Null, KeyValue::Time);
        match self {
            Key::CreatedAt => KeyValue::Time(c.channel.created_at),
            Key::UpdatedAt => KeyValue::Time(c.channel.updated_at),
            Key::LastMessageAt => time(c.channel.last_message_at),
            Key::MemberCount => c.channel.member_count.map_or(KeyValue::Null, KeyValue::Count),
        }
    }
}

/// A key's value; channels without one sort first, as Stream sorts them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum KeyValue {
    Null,
    Time(DateTime<Utc>),
    Count(u64),
}

impl KeyValue {
    pub(crate) fn json(&self) -> Value {
        match self {
            KeyValue::Null => Value::Null,
            KeyValue::Time(t) => Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            KeyValue::Count(n) => json!(n),
        }
    }

    /// The condition that holds a key at this value.
    fn equal(&self, key: Key) -> Value {
        match self {
            KeyValue::Null => json!({ key.name(): { "$exists": false } }),
            v => json!({ key.name(): { "$eq": v.json() } }),
        }
    }
}

/// A keyset lower bound: at or after a value, or strictly after it. A later bound is greater.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Bound {
    pub(crate) value: KeyValue,
    pub(crate) after: bool,
}

impl Bound {
    fn condition(&self, key: Key) -> Option<Value> {
        match (&self.value, self.after) {
            (KeyValue::Null, false) => None,
            (KeyValue::Null, true) => Some(json!({ key.name(): { "$exists": true } })),
            (v, false) => Some(json!({ key.name(): { "$gte": v.json() } })),
            (v, true) => Some(json!({ key.name(): { "$gt": v.json() } })),
        }
    }
}

/// One page of a listing: what decoded, what did not, and whether Stream returned a full page.
pub(crate) struct Page {
    pub(crate) channels: Vec<ChannelState>,
    pub(crate) undecodable: Vec<Undecodable>,
    pub(crate) full: bool,
}

impl Client {
    /// One page of the channels matching every condition, sorted ascending on `key`.
    pub(crate) async fn keyed_query(&self, conditions: Vec<Value>, key: Key) -> Result<Page, StreamError> {
        let filter_conditions = match conditions.len() {
            1 => conditions.into_iter().next().unwrap_or_default(),
            _ => json!({ "$and": conditions }),
        };
        let query = ChannelQuery {
            filter_conditions,
            sort: vec![SortField { field: key.name().into(), direction: 1 }],
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

    /// Lists into `slice` every channel matching `conditions` (and `hi`, an upper bound on
    /// `created_at`), keyset-paged on `key` from `lo`, tie groups split on the next key.
    pub(crate) fn list_keyed<'a, T: Send + 'static>(
        &'a self,
        conditions: Vec<Value>,
        key: Key,
        lo: Option<Bound>,
        hi: Option<Value>,
        map: &'a ChannelMapper<T>,
        slice: &'a mut Slice<T>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StreamError>> + Send + 'a>> {
        Box::pin(async move {
            let mut bound = lo;
            loop {
                let mut page_conditions = conditions.clone();
                page_conditions.extend(bound.as_ref().and_then(|b| b.condition(key)));
                page_conditions.extend(hi.clone());
                let page = self.keyed_query(page_conditions, key).await?;
                slice.undecodable.extend(page.undecodable);
                let (first, last) = match (page.channels.first(), page.channels.last()) {
                    (Some(f), Some(l)) => (key.of(f), key.of(l)),
                    _ if page.full => return Err(no_progress(key, bound.as_ref())),
                    _ => return Ok(()),
                };
                let created_at = page.channels[0].channel.created_at;
                slice.channels.extend(self.keyed_page(page.channels, map).await?);
                if !page.full {
                    return Ok(());
                }
                let next = if first == last {
                    // A whole page of one value: listed on its own, split on the next key.
                    match key.next() {
                        Some(split) => {
                            let mut held = conditions.clone();
                            held.push(last.equal(key));
                            held.extend(hi.clone());
                            self.list_keyed(held, split, None, None, map, slice).await?;
                        }
                        None => slice.incomplete_at.push(created_at),
                    }
                    Bound { value: last, after: true }
                } else {
                    Bound { value: last, after: false }
                };
                // Each page must move the bound on; a page that does not (an answer that ignores
                // the filter) would be asked for again and again.
                if bound.as_ref().is_some_and(|b| next <= *b) {
                    return Err(no_progress(key, bound.as_ref()));
                }
                bound = Some(next);
            }
        })
    }
}

/// The error of a listing whose page did not move it on.
fn no_progress(key: Key, bound: Option<&Bound>) -> StreamError {
    let at = bound.map_or_else(|| "the start".to_owned(), |b| b.value.json().to_string());
    let why = format!("a full page of channels at {} {at} did not move the listing on; it stops here", key.name());
    StreamError::new("QueryChannels", ErrorKind::Incomplete(why))
}
