//! The answers' shapes the apps decode (APP_CONTRACT §1.7, §1.8): the platform's `ChatRoom`,
//! exactly its seven keys in its order, datetimes naive as Python writes them, and the token.

use chrono::{DateTime, Timelike, Utc};
use gymchat_ids::EventId;
use gymchat_store::Room;
use serde::Serialize;

/// A room as the apps know it: the platform's `ChatRoom`, these seven keys in this order.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct ChatRoom {
    /// Display name.
    name: Option<String>,
    /// A 1:1 chat.
    is_direct: bool,
    /// The event it is the chat of.
    event_id: Option<i64>,
    /// The room id.
    id: i64,
    /// The bare Stream channel id.
    stream_channel_id: Option<String>,
    /// The Stream channel type.
    stream_channel_type: String,
    /// When it was created: naive UTC (`2025-01-02T03:04:05.123456`).
    created_at: Option<String>,
}

/// The answer of `GET /chat/token`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct TokenAnswer {
    /// The Stream user token (HS256 with the Stream secret; `user_id`, `iat`, `exp` an hour on).
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

/// A UTC time as Python's `isoformat()` writes a naive datetime: no zone, and six fractional
/// digits only when the microseconds are not zero.
pub(crate) fn naive(t: DateTime<Utc>) -> String {
    let t = t.naive_utc();
    if t.nanosecond() / 1000 == 0 {
        t.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
    }
}

/// A UTC time as Pydantic writes an aware datetime: a zero offset is `Z`.
pub(crate) fn aware(t: DateTime<Utc>) -> String {
    format!("{}Z", naive(t))
}

/// A UTC time as Python's `isoformat()` writes an aware datetime: `+00:00`.
pub(crate) fn aware_isoformat(t: DateTime<Utc>) -> String {
    format!("{}+00:00", naive(t))
}

impl From<Room> for ChatRoom {
    fn from(r: Room) -> Self {
        ChatRoom {
            name: r.name,
            is_direct: r.is_direct,
            event_id: r.event_id.map(EventId::get),
            id: r.id.get(),
            stream_channel_id: r.stream_channel_id,
            stream_channel_type: r.stream_channel_type,
            created_at: r.created_at.map(naive),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn times_are_written_as_python_writes_them() {
        let whole = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(naive(whole), "2025-01-02T03:04:05");
        let fraction = whole + chrono::Duration::microseconds(123_456);
        assert_eq!(naive(fraction), "2025-01-02T03:04:05.123456");
        assert_eq!(aware(whole), "2025-01-02T03:04:05Z");
        assert_eq!(aware_isoformat(fraction), "2025-01-02T03:04:05.123456+00:00");
    }

    #[test]
    fn a_room_has_the_platforms_seven_keys_in_its_order() {
        let room = Room {
            id: gymchat_ids::RoomId::new(642).unwrap(),
            stream_channel_id: Some("direct_gym_4_user_10_gym_4_user_8".into()),
            stream_channel_type: "messaging".into(),
            name: Some("Chat".into()),
            gym_id: gymchat_ids::GymId::new(4).unwrap(),
            event_id: None,
            is_direct: true,
            status: None,
            created_at: Some(
                Utc.with_ymd_and_hms(2025, 12, 15, 17, 3, 11).unwrap() + chrono::Duration::microseconds(482_193),
            ),
            updated_at: None,
        };
        assert_eq!(
            serde_json::to_string(&ChatRoom::from(room)).unwrap(),
            r#"{"name":"Chat","is_direct":true,"event_id":null,"id":642,"stream_channel_id":"direct_gym_4_user_10_gym_4_user_8","stream_channel_type":"messaging","created_at":"2025-12-15T17:03:11.482193"}"#
        );
    }
}
