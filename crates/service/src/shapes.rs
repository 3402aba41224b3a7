//! The answers' shapes the apps decode: the platform's `ChatRoom` (plus its gym) and the token.

use chrono::{DateTime, SecondsFormat, Utc};
use gymchat_ids::EventId;
use gymchat_store::Room;
use serde::Serialize;

/// A room as the apps know it (the platform's `ChatRoom`), plus its gym.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct ChatRoom {
    /// The room id.
    id: i64,
    /// Display name.
    name: Option<String>,
    /// A 1:1 chat.
    is_direct: bool,
    /// The event it is the chat of.
    event_id: Option<i64>,
    /// The bare Stream channel id.
    stream_channel_id: Option<String>,
    /// The Stream channel type.
    stream_channel_type: String,
    /// When it was created (RFC 3339, UTC).
    created_at: Option<String>,
    /// Its gym.
    gym_id: i64,
}

/// The answer of `GET /chat/token`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct TokenAnswer {
    /// The Stream user token (HS256 with the Stream secret; `user_id`, `iat`, `exp`).
    pub(crate) token: String,
    /// The Stream API key the app connects with.
    pub(crate) api_key: String,
    /// The caller's internal user id.
    pub(crate) internal_user_id: i64,
    /// The caller's Stream identity in this gym: `gym_{G}_user_{U}`.
    pub(crate) stream_user_id: String,
    /// When the token runs out (RFC 3339, UTC).
    pub(crate) expires_at: String,
    /// The gym.
    pub(crate) gym_id: i64,
}

fn iso(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

impl From<Room> for ChatRoom {
    fn from(r: Room) -> Self {
        ChatRoom {
            id: r.id.get(),
            name: r.name,
            is_direct: r.is_direct,
            event_id: r.event_id.map(EventId::get),
            stream_channel_id: r.stream_channel_id,
            stream_channel_type: r.stream_channel_type,
            created_at: iso(r.created_at),
            gym_id: r.gym_id.get(),
        }
    }
}
