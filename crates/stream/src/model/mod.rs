//! Typed bodies of Stream's requests and responses. Custom fields travel flat, so every object
//! keeps the fields it does not name in a flattened `custom` map that round-trips.

use chrono::{DateTime, Utc};
use gymchat_ids::{ChannelId, ChannelType, Cid, StreamUserId, Team};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod message;

pub use message::{
    ATTACHMENT_URL_FIELDS, Message, NewMessage, NewReaction, Reaction, STREAM_MESSAGE_FIELDS, SendOptions, UserRef,
};

/// An object of a page that could not be decoded: its id (as far as it can be read) and why.
/// The rest of the page is used; the caller reports these, so nothing is dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Undecodable {
    /// The object's id (`type:id` for a channel), or `unknown`.
    pub id: String,
    /// Why it could not be decoded.
    pub reason: String,
}

/// Decodes each object of a page on its own, from its raw text (no JSON tree is built on the way):
/// the ones that decode, and the ones that do not, named by `id_of` as far as their text allows.
pub(crate) fn decode_each<T: serde::de::DeserializeOwned>(
    raws: Vec<Box<serde_json::value::RawValue>>,
    id_of: impl Fn(&Value) -> Option<String>,
) -> (Vec<T>, Vec<Undecodable>) {
    let mut items = Vec::with_capacity(raws.len());
    let mut undecodable = Vec::new();
    for raw in raws {
        match serde_json::from_str(raw.get()) {
            Ok(item) => items.push(item),
            Err(e) => {
                let id = serde_json::from_str::<Value>(raw.get()).ok().and_then(|v| id_of(&v));
                undecodable.push(Undecodable { id: id.unwrap_or_else(|| "unknown".into()), reason: e.to_string() });
            }
        }
    }
    (items, undecodable)
}

/// Items of several pages, with what could not be decoded in them.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<T> {
    /// What was decoded.
    pub items: Vec<T>,
    /// What was not.
    pub undecodable: Vec<Undecodable>,
}

impl<T> Decoded<T> {
    /// One line per object that could not be decoded, for a report: `{what} {id}: {reason}`.
    pub fn problems(&self, what: &str) -> Vec<String> {
        self.undecodable.iter().map(|u| format!("{what} {} could not be read: {}", u.id, u.reason)).collect()
    }
}

impl<T> Default for Decoded<T> {
    fn default() -> Self {
        Self { items: Vec::new(), undecodable: Vec::new() }
    }
}

/// A user, as sent in an upsert and as returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: StreamUserId,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Role (`user` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Teams (multi-tenancy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<Team>,
    /// Set by Stream; never sent.
    #[serde(default, skip_serializing)]
    pub created_at: Option<DateTime<Utc>>,
    /// Set by Stream; never sent.
    #[serde(default, skip_serializing)]
    pub updated_at: Option<DateTime<Utc>>,
    /// Set by Stream when deleted; never sent.
    #[serde(default, skip_serializing)]
    pub deleted_at: Option<DateTime<Utc>>,
    /// Custom fields.
    #[serde(flatten)]
    pub custom: Map<String, Value>,
}

impl User {
    /// A user with only an id.
    pub fn new(id: StreamUserId) -> Self {
        Self {
            id,
            name: None,
            image: None,
            role: None,
            teams: Vec::new(),
            created_at: None,
            updated_at: None,
            deleted_at: None,
            custom: Map::new(),
        }
    }
}

/// A partial user update: `set` and `unset` fields of one user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserPatch {
    /// The user.
    pub id: StreamUserId,
    /// Fields to set.
    pub set: Map<String, Value>,
    /// Fields to remove.
    pub unset: Vec<String>,
}

/// A channel as Stream returns it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Channel {
    /// Bare id.
    pub id: ChannelId,
    /// Type.
    #[serde(rename = "type")]
    pub kind: ChannelType,
    /// `type:id`.
    pub cid: Cid,
    /// Team.
    #[serde(default)]
    pub team: Option<Team>,
    /// Frozen.
    #[serde(default)]
    pub frozen: bool,
    /// Creator.
    #[serde(default)]
    pub created_by: Option<UserRef>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Soft-deleted.
    #[serde(default)]
    pub deleted_at: Option<DateTime<Utc>>,
    /// Last message.
    #[serde(default)]
    pub last_message_at: Option<DateTime<Utc>>,
    /// Members.
    #[serde(default)]
    pub member_count: Option<u64>,
    /// Custom fields (`name`, `gym_id`, …) and anything else Stream adds.
    #[serde(flatten)]
    pub custom: Map<String, Value>,
}

/// Fields of a channel object that Stream owns (STREAM_API.md, "Channel fields a full update may
/// write"), or parts of an answer that are not the channel's data: read back, never sent in a
/// full update. Everything else (name, image, disabled, cooldown, auto-translation settings,
/// custom fields) is the channel's data and goes back.
const STREAM_OWNED_CHANNEL_FIELDS: &[&str] = &[
    "config",
    "own_capabilities",
    "hidden",
    "muted",
    "truncated_at",
    "truncated_by",
    "truncated_by_id",
    "members",
    "messages",
    "read",
    "watcher_count",
    "watchers",
    "pinned_messages",
    "pending_messages",
    "push_preferences",
    "message_count",
    "blocked",
];

impl Channel {
    /// What a full update must send back to keep the channel as it is: `team`, `frozen`, `name`
    /// and every custom field, without the fields Stream owns.
    pub fn data_for_full_update(&self) -> Map<String, Value> {
        let mut data: Map<String, Value> = self
            .custom
            .iter()
            .filter(|(k, _)| !STREAM_OWNED_CHANNEL_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(team) = &self.team {
            data.insert("team".to_owned(), Value::String(team.to_string()));
        }
        data.insert("frozen".to_owned(), Value::Bool(self.frozen));
        data
    }

    /// The value of a field as a full update's `data` would carry it.
    pub fn field(&self, name: &str) -> Option<Value> {
        match name {
            "team" => self.team.as_ref().map(|t| Value::String(t.to_string())),
            "frozen" => Some(Value::Bool(self.frozen)),
            other => self.custom.get(other).cloned(),
        }
    }
}

/// A channel member.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Member {
    /// The user.
    pub user_id: StreamUserId,
    /// Role in the channel.
    #[serde(default)]
    pub channel_role: Option<String>,
}

/// A channel with (a page of) its members and messages, oldest message first.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChannelState {
    /// The channel.
    pub channel: Channel,
    /// Members.
    #[serde(default)]
    pub members: Vec<Member>,
    /// Messages, oldest first.
    #[serde(default)]
    pub messages: Vec<Message>,
    /// Read positions of the first hundred members.
    #[serde(default)]
    pub read: Vec<ReadState>,
}

/// How far a member has read a channel (`read` of channel state).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReadState {
    /// The member.
    pub user: UserRef,
    /// Read up to this time.
    pub last_read: DateTime<Utc>,
    /// Messages after it that count as unread.
    #[serde(default)]
    pub unread_messages: u64,
    /// The last message read, when Stream knows it.
    #[serde(default)]
    pub last_read_message_id: Option<String>,
}

/// A member as Stream's requests carry it: an object with the user's id and, optionally, their
/// role in the channel (`channel_member`, `channel_moderator`, …), as Stream's own server SDK
/// always sends members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewMember {
    /// The user.
    pub user_id: StreamUserId,
    /// Their role in the channel; Stream's default (`channel_member`) when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_role: Option<String>,
}

impl From<StreamUserId> for NewMember {
    fn from(user_id: StreamUserId) -> Self {
        Self { user_id, channel_role: None }
    }
}

impl From<&StreamUserId> for NewMember {
    fn from(user_id: &StreamUserId) -> Self {
        Self { user_id: user_id.clone(), channel_role: None }
    }
}

/// `data` of a get-or-create: applied only when the channel is created.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChannelData {
    /// Creator (required server-side).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by_id: Option<StreamUserId>,
    /// Team.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<Team>,
    /// Members (at most 100).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<NewMember>,
    /// Frozen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frozen: Option<bool>,
    /// Custom fields (`name`, `gym_id`, …).
    #[serde(flatten)]
    pub custom: Map<String, Value>,
}

/// A channel update: members added and removed, or data replaced, and a message posted. Data and
/// member changes never travel in one call ([`crate::Client::update_channel`] refuses it, as the
/// docs and Stream's own SDK keep them apart). When `data` is given it is a full update: `data` replaces the channel's data, and whatever it does not carry (team and
/// frozen included) is deleted. Build `data` from the channel as read
/// ([`Channel::data_for_full_update`]) or use [`crate::Client::update_channel_data`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChannelUpdate {
    /// New data (team, frozen, name, custom fields), replacing the old whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
    /// Members to add (at most 100).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add_members: Vec<NewMember>,
    /// Members to remove (at most 100).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove_members: Vec<StreamUserId>,
    /// With `add_members`: the added members see no message sent before they were added.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hide_history: bool,
    /// With `add_members`: the added members see no message sent before this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hide_history_before: Option<DateTime<Utc>>,
    /// A message to post with the update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<NewMessage>,
    /// No push notification for the message.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skip_push: bool,
    /// The message does not show the channel again to the members who hid it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub keep_channel_hidden: bool,
}

/// The answer of a channel update.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UpdatedChannel {
    /// The channel after the update.
    pub channel: Channel,
    /// Its members.
    #[serde(default)]
    pub members: Vec<Member>,
    /// The message posted with it, if any.
    #[serde(default)]
    pub message: Option<Message>,
}

/// One sort key of a channel query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SortField {
    /// `created_at`, `updated_at` or `last_message_at`.
    pub field: String,
    /// 1 ascending, -1 descending.
    pub direction: i8,
}

/// A channel query (`POST /channels`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelQuery {
    /// Filter conditions.
    pub filter_conditions: Value,
    /// Sort keys (at most 5).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sort: Vec<SortField>,
    /// At most 30.
    pub limit: u32,
    /// At most 1,000.
    pub offset: u32,
    /// Include members and messages.
    pub state: bool,
    /// Messages per channel (at most 300).
    pub message_limit: u32,
    /// Members per channel (at most 100).
    pub member_limit: u32,
}

/// A background task's state.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Task {
    /// Id.
    pub task_id: String,
    /// `waiting`, `pending` or `running` while it runs; anything else is final (`completed`,
    /// `failed`, `error`, …).
    pub status: String,
    /// Per-item results once completed.
    #[serde(default)]
    pub result: Option<Map<String, Value>>,
    /// What went wrong, for a task that failed.
    #[serde(default)]
    pub error: Option<Value>,
}

impl Task {
    /// Still running: `waiting`, `pending` or `running`.
    pub fn is_running(&self) -> bool {
        matches!(self.status.as_str(), "waiting" | "pending" | "running")
    }
}
