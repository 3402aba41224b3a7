//! The platform's rows as gymchat sees them (SYSTEM.md §2). The same structs are the row format
//! of a fixture file's `db` section, so field names are the column names.

use chrono::{DateTime, Utc};
use gymchat_ids::{EventId, GymId, RoomId, UserId};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

macro_rules! db_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $label:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $label)] $variant),+
        }

        impl $name {
            /// The label as stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $label),+ }
            }

            /// Reads a stored label; `table` and `column` name the source in the error.
            pub(crate) fn from_db(label: &str, table: &'static str, column: &'static str) -> Result<Self, StoreError> {
                match label {
                    $($label => Ok(Self::$variant),)+
                    other => Err(StoreError::BadValue {
                        table,
                        column,
                        value: other.to_owned(),
                        reason: concat!("not one of the ", stringify!($name), " labels").to_owned(),
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

db_enum!(
    /// `user.role`: the platform-wide role. Only `SUPER_ADMIN` matters to chat.
    PlatformRole {
        /// Passes every gym check.
        SuperAdmin = "SUPER_ADMIN",
        /// Platform admin.
        Admin = "ADMIN",
        /// Trainer.
        Trainer = "TRAINER",
        /// Member.
        Member = "MEMBER",
    }
);

db_enum!(
    /// `user_gyms.role`: the role inside one gym.
    GymRole {
        /// Owns the gym.
        Owner = "OWNER",
        /// Runs the gym.
        Admin = "ADMIN",
        /// Trains members.
        Trainer = "TRAINER",
        /// Member.
        Member = "MEMBER",
    }
);

impl GymRole {
    /// True when this role is `minimum` or above (MEMBER < TRAINER < ADMIN < OWNER).
    pub fn at_least(self, minimum: GymRole) -> bool {
        let rank = |r: GymRole| match r {
            GymRole::Member => 0,
            GymRole::Trainer => 1,
            GymRole::Admin => 2,
            GymRole::Owner => 3,
        };
        rank(self) >= rank(minimum)
    }
}

db_enum!(
    /// `events.status`.
    EventStatus {
        /// Upcoming.
        Scheduled = "SCHEDULED",
        /// Called off.
        Cancelled = "CANCELLED",
        /// Over.
        Completed = "COMPLETED",
    }
);

db_enum!(
    /// `event_participations.status`.
    ParticipationStatus {
        /// Has a place.
        Registered = "REGISTERED",
        /// Waiting for payment.
        PendingPayment = "PENDING_PAYMENT",
        /// Withdrew.
        Cancelled = "CANCELLED",
        /// Waiting for a place.
        WaitingList = "WAITING_LIST",
    }
);

db_enum!(
    /// `chat_rooms.status`.
    RoomStatus {
        /// In use.
        Active = "ACTIVE",
        /// Closed (event over, room retired).
        Closed = "CLOSED",
    }
);

/// A gym (tenant): `gyms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gym {
    /// `gyms.id`.
    pub id: GymId,
    /// Display name.
    pub name: String,
    /// Unique subdomain.
    pub subdomain: String,
    /// Logo URL.
    #[serde(default)]
    pub logo_url: Option<String>,
    /// Whether the gym is active.
    #[serde(default = "yes")]
    pub is_active: bool,
}

/// A person: `user`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// `user.id`, the internal user id.
    pub id: UserId,
    /// Unique email.
    pub email: String,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Avatar URL.
    #[serde(default)]
    pub picture: Option<String>,
    /// The identity provider's subject (`auth0|…`, `google-oauth2|…`).
    #[serde(default)]
    pub auth0_id: Option<String>,
    /// Whether the account is active.
    #[serde(default = "yes")]
    pub is_active: bool,
    /// Platform-wide role.
    pub role: PlatformRole,
}

impl User {
    /// "First Last", falling back to whichever part exists, then to `None`.
    pub fn display_name(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.first_name, &self.last_name]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// A person's membership of a gym: `user_gyms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    /// The person.
    pub user_id: UserId,
    /// The gym.
    pub gym_id: GymId,
    /// Role in this gym.
    pub role: GymRole,
    /// Whether the membership is active.
    #[serde(default = "yes")]
    pub is_active: bool,
    /// When the membership runs out, if it does.
    #[serde(default)]
    pub membership_expires_at: Option<DateTime<Utc>>,
}

/// An event: `events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// `events.id`.
    pub id: EventId,
    /// The gym it belongs to.
    pub gym_id: GymId,
    /// Title.
    pub title: String,
    /// Start.
    pub start_time: DateTime<Utc>,
    /// End.
    pub end_time: DateTime<Utc>,
    /// Status.
    pub status: EventStatus,
    /// Who created it.
    #[serde(default)]
    pub creator_id: Option<UserId>,
}

/// A person's participation in an event: `event_participations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Participation {
    /// The event.
    pub event_id: EventId,
    /// The participant.
    pub member_id: UserId,
    /// The event's gym.
    pub gym_id: GymId,
    /// Status.
    pub status: ParticipationStatus,
}

/// A chat room: `chat_rooms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Room {
    /// `chat_rooms.id`, the room id.
    pub id: RoomId,
    /// The bare Stream channel id (never `type:id`). Kept as stored, legacy forms included;
    /// classify it with `gymchat_ids::classify_channel_id`.
    #[serde(default)]
    pub stream_channel_id: Option<String>,
    /// The Stream channel type, `messaging` by default.
    #[serde(default = "messaging")]
    pub stream_channel_type: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The gym it belongs to.
    pub gym_id: GymId,
    /// The event it is the chat of, if any.
    #[serde(default)]
    pub event_id: Option<EventId>,
    /// A 1:1 chat.
    #[serde(default)]
    pub is_direct: bool,
    /// Status.
    pub status: RoomStatus,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A room with its members, deduplicated (production holds duplicate member rows).
#[derive(Debug, Clone, PartialEq)]
pub struct RoomWithMembers {
    /// The room.
    pub room: Room,
    /// Its members' internal ids, ascending, each once.
    pub members: Vec<UserId>,
}

/// A member row: `chat_members`. `room_id` is nullable in production.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Row id; assigned by the database when absent.
    #[serde(default)]
    pub id: Option<i64>,
    /// The room.
    pub room_id: Option<RoomId>,
    /// The member.
    pub user_id: UserId,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

/// A room a user has hidden from their list: `chat_member_hidden`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hidden {
    /// The user.
    pub user_id: UserId,
    /// The room.
    pub room_id: RoomId,
    /// When it was hidden.
    pub hidden_at: DateTime<Utc>,
}

fn yes() -> bool {
    true
}

fn messaging() -> String {
    "messaging".to_owned()
}
