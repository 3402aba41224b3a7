//! Messages and reactions as Stream returns them and as requests carry them, and the user
//! reference both nest.

use chrono::{DateTime, Utc};
use gymchat_ids::{Cid, StreamUserId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Attachment fields that hold a file's URL.
pub const ATTACHMENT_URL_FIELDS: &[&str] = &["image_url", "thumb_url", "asset_url"];

/// Just an id, as Stream nests users in channels and messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRef {
    /// Id.
    pub id: StreamUserId,
}

/// Fields of a message that Stream owns, computes or reads as its own; whatever else a message
/// carries is its custom data.
pub const STREAM_MESSAGE_FIELDS: &[&str] = &[
    "id",
    "cid",
    "text",
    "html",
    "type",
    "user",
    "user_id",
    "attachments",
    "latest_reactions",
    "own_reactions",
    "reaction_counts",
    "reaction_scores",
    "reaction_groups",
    "reply_count",
    "deleted_reply_count",
    "created_at",
    "updated_at",
    "deleted_at",
    "message_text_updated_at",
    "shadowed",
    "mentioned_users",
    "mentioned_users_ids",
    "silent",
    "pinned",
    "pinned_at",
    "pinned_by",
    "pin_expires",
    "parent_id",
    "show_in_channel",
    "thread_participants",
    "quoted_message_id",
    "quoted_message",
    "restricted_visibility",
    "i18n",
    "image_labels",
    "command",
    "args",
    "before_message_send_failed",
    "channel",
    "member",
    "poll_id",
    "poll",
    "moderation",
    "moderation_details",
];

/// A message as Stream returns it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Message {
    /// Id.
    pub id: String,
    /// The channel it is in.
    #[serde(default)]
    pub cid: Option<Cid>,
    /// Text.
    #[serde(default)]
    pub text: String,
    /// `regular`, `system`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Sender.
    #[serde(default)]
    pub user: Option<UserRef>,
    /// Sent.
    pub created_at: DateTime<Utc>,
    /// Custom fields and anything else Stream adds (the thread's `parent_id`,
    /// `show_in_channel` and `reply_count`, `quoted_message_id`, `silent`, the pin's `pinned`,
    /// `pinned_by` and `pin_expires`, `latest_reactions`, `reaction_counts`, …).
    #[serde(flatten)]
    pub custom: Map<String, Value>,
}

impl Message {
    fn text_field(&self, name: &str) -> Option<&str> {
        self.custom.get(name).and_then(Value::as_str).filter(|v| !v.is_empty())
    }

    /// The thread's first message this one replies to.
    pub fn parent_id(&self) -> Option<&str> {
        self.text_field("parent_id")
    }

    /// A reply that is also shown in the channel.
    pub fn shown_in_channel(&self) -> bool {
        self.custom.get("show_in_channel").and_then(Value::as_bool) == Some(true)
    }

    /// Replies in its thread.
    pub fn reply_count(&self) -> u64 {
        self.custom.get("reply_count").and_then(Value::as_u64).unwrap_or(0)
    }

    /// The message it quotes.
    pub fn quoted_message_id(&self) -> Option<&str> {
        self.text_field("quoted_message_id")
    }

    /// The file URLs of its attachments (`image_url`, `thumb_url`, `asset_url`), each as often as
    /// it appears.
    pub fn attachment_urls(&self) -> impl Iterator<Item = &str> {
        let attachments = self.custom.get("attachments").and_then(Value::as_array).into_iter().flatten();
        attachments.flat_map(|a| ATTACHMENT_URL_FIELDS.iter().filter_map(move |f| a.get(*f).and_then(Value::as_str)))
    }

    /// The users it mentions (`mentioned_users`, as user objects or ids).
    pub fn mentioned_user_ids(&self) -> Vec<&str> {
        let list = self.custom.get("mentioned_users").and_then(Value::as_array);
        list.into_iter().flatten().filter_map(|u| u.get("id").and_then(Value::as_str).or(u.as_str())).collect()
    }

    /// Who alone (with the sender) may see it; everyone when empty.
    pub fn restricted_visibility(&self) -> Vec<&str> {
        let list = self.custom.get("restricted_visibility").and_then(Value::as_array);
        list.into_iter().flatten().filter_map(Value::as_str).collect()
    }

    /// Sent `silent`: it raised no unread count.
    pub fn silent(&self) -> bool {
        self.custom.get("silent").and_then(Value::as_bool) == Some(true)
    }

    /// When its pin ends, if it does.
    pub fn pin_expires(&self) -> Option<DateTime<Utc>> {
        self.custom.get("pin_expires").and_then(Value::as_str).and_then(|t| t.parse().ok())
    }

    /// Its custom data: every field Stream does not own.
    pub fn custom_fields(&self) -> Map<String, Value> {
        let custom = self.custom.iter().filter(|(k, _)| !STREAM_MESSAGE_FIELDS.contains(&k.as_str()));
        custom.map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Its HTML as Stream rendered or was given it.
    pub fn html(&self) -> Option<&str> {
        self.text_field("html")
    }

    /// Reactions in all (of every type).
    pub fn reaction_total(&self) -> u64 {
        self.custom
            .get("reaction_counts")
            .and_then(Value::as_object)
            .map_or(0, |c| c.values().filter_map(Value::as_u64).sum())
    }

    /// Who pinned it, when it is pinned.
    pub fn pinned_by(&self) -> Option<&str> {
        if self.custom.get("pinned").and_then(Value::as_bool) != Some(true) {
            return None;
        }
        self.custom.get("pinned_by").and_then(|u| u.get("id")).and_then(Value::as_str).or(Some(""))
    }
}

/// A message to send. Its id is required and should be deterministic (derived from what the
/// message is for), so a retry is answered "already exists" instead of duplicating the message.
/// Check it against Stream's limits with [`crate::rules::check_message`] before sending.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewMessage {
    /// Caller-chosen id, unique across the app (≤ 255 chars, no `,` or `%`).
    pub id: String,
    /// Text.
    pub text: String,
    /// Sender.
    pub user_id: StreamUserId,
    /// `system` for system messages; `regular` when absent.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Attachments (at most 30).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Value>,
    /// Users mentioned (at most 25).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mentioned_users: Vec<StreamUserId>,
    /// Its HTML (server-side only; Stream renders it from the text when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// The thread's first message, for a reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// A reply that is also shown in the channel.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub show_in_channel: bool,
    /// The message this one quotes (in the same channel).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quoted_message_id: Option<String>,
    /// Only these users (and the sender) see it; everyone when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restricted_visibility: Vec<StreamUserId>,
    /// Raises no unread count and does not mark the channel unread.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub silent: bool,
    /// Custom fields (at most 5 KB).
    #[serde(flatten)]
    pub custom: Map<String, Value>,
}

impl NewMessage {
    /// A regular message without attachments, mentions or custom fields.
    pub fn new(id: impl Into<String>, user_id: StreamUserId, text: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            text: text.into(),
            user_id,
            kind: None,
            attachments: Vec::new(),
            mentioned_users: Vec::new(),
            html: None,
            parent_id: None,
            show_in_channel: false,
            quoted_message_id: None,
            restricted_visibility: Vec::new(),
            silent: false,
            custom: Map::new(),
        }
    }

    /// The same message as a `system` message.
    pub fn system(mut self) -> Self {
        self.kind = Some("system".to_owned());
        self
    }
}

/// How Stream should process a sent message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// No push notifications (copies and system notes).
    pub skip_push: bool,
    /// No URL scraping for previews (copies of old messages).
    pub skip_enrich_url: bool,
    /// The channel stays hidden for the members who hid it.
    pub keep_channel_hidden: bool,
}

impl SendOptions {
    /// What a copy of an existing message needs: no push, no URL enrichment, and the channel
    /// left hidden for whoever hid it.
    pub fn copy() -> Self {
        Self { skip_push: true, skip_enrich_url: true, keep_channel_hidden: true }
    }
}

/// A reaction to a message, as Stream returns it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Reaction {
    /// Its type (`like`, `love`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Who reacted.
    pub user_id: StreamUserId,
    /// Its score.
    #[serde(default = "one")]
    pub score: u64,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Custom fields and anything else Stream adds (`message_id`, `user`, `updated_at`).
    #[serde(flatten)]
    pub custom: Map<String, Value>,
}

fn one() -> u64 {
    1
}

/// A reaction to send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewReaction {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who reacts.
    pub user_id: StreamUserId,
    /// Its score (Stream's default 1 when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<u64>,
    /// Custom fields.
    #[serde(flatten)]
    pub custom: Map<String, Value>,
}
