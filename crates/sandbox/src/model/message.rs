//! A message and its reactions as the sandbox keeps them (and snapshots write them).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRec {
    /// Id, unique across the app.
    pub id: String,
    /// Sender.
    pub user_id: String,
    /// Text.
    #[serde(default)]
    pub text: String,
    /// `regular` or `system`.
    #[serde(rename = "type", default = "regular")]
    pub kind: String,
    /// Sent.
    pub created_at: DateTime<Utc>,
    /// The slash command the text ran (`giphy`, `ban`, …), as Stream reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Reactions, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionRec>,
    /// Everything else, flat: custom fields, and the fields of a thread (`parent_id`,
    /// `show_in_channel`), a quote (`quoted_message_id`), a pin (`pinned`, `pinned_at`,
    /// `pinned_by`, `pin_expires`), `silent`, `restricted_visibility`, attachments, mentions.
    #[serde(flatten)]
    pub custom: Map<String, Value>,
}

fn regular() -> String {
    "regular".to_owned()
}

impl MessageRec {
    /// The message this one replies to in a thread.
    pub fn parent_id(&self) -> Option<&str> {
        self.custom.get("parent_id").and_then(Value::as_str)
    }

    /// Whether channel state shows it: every message but thread replies not also sent to the
    /// channel.
    pub fn shown_in_channel(&self) -> bool {
        self.parent_id().is_none() || self.custom.get("show_in_channel").and_then(Value::as_bool) == Some(true)
    }

    /// Whether `user` may see it: a private message (`restricted_visibility`) only its sender
    /// and the users it names.
    pub fn visible_to(&self, user: &str) -> bool {
        match self.custom.get("restricted_visibility").and_then(Value::as_array) {
            Some(readers) if !readers.is_empty() => {
                self.user_id == user || readers.iter().any(|r| r.as_str() == Some(user))
            }
            _ => true,
        }
    }

    /// Whether it is pinned now.
    pub fn is_pinned(&self, now: DateTime<Utc>) -> bool {
        let pinned = self.custom.get("pinned").and_then(Value::as_bool) == Some(true);
        let expires = self
            .custom
            .get("pin_expires")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        pinned && expires.is_none_or(|t| t > now)
    }
}

/// A reaction to a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactionRec {
    /// Its type (`like`, `love`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Who reacted.
    pub user_id: String,
    /// Score (1 unless given).
    #[serde(default = "one")]
    pub score: u64,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Custom fields, flat.
    #[serde(flatten)]
    pub custom: Map<String, Value>,
}

fn one() -> u64 {
    1
}
