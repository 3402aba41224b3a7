//! The platform's rows as gymchat sees them (SYSTEM.md §2). The same structs are the row format
//! of a fixture file's `db` section, so field names are the column names, and a nullable column
//! left out of a fixture row is NULL.
//!
//! Production holds NULL in columns that were added without a backfill or that the application
//! fills. Fields keep the value as stored (`Option` where production allows NULL), and the
//! methods below say what gymchat takes NULL to mean, in one place:
//!
//! | column | NULL means |
//! | --- | --- |
//! | `gyms.is_active` | not active ([`Gym::active`]) |
//! | `gyms.subdomain`, `gyms.logo_url` | none |
//! | `user.is_active` | not active ([`User::active`]) |
//! | `user.role` | no platform role: not `SUPER_ADMIN` ([`User::is_super_admin`]) |
//! | `user_gyms.is_active` | not active ([`Membership::active_at`]) |
//! | `user_gyms.membership_expires_at` | never expires |
//! | `events.status` | no status recorded: neither cancelled nor completed; [`Event::is_over`] then goes by `end_time` |
//! | `events.title`, `events.creator_id` | none |
//! | `event_participations.status` | holds no place ([`Participation::holds_place`]) |
//! | `chat_rooms.status` | active ([`Room::is_active`]) |
//! | `chat_rooms.created_at`, `updated_at` | unknown (about a fifth of production's rooms have no `updated_at`) |
//! | `chat_rooms.stream_channel_type` | `messaging` |
//! | `chat_rooms.is_direct` | not direct |
//! | `chat_rooms.stream_channel_id`, `name`, `event_id` | none |
//! | `chat_members.room_id` | the room was deleted: the row belongs to no room and is not read |
//! | `chat_members.joined_at`, `chat_member_hidden.hidden_at` | unknown |
//!
//! Columns production declares NOT NULL (`events.start_time`, `user.email`, …) are required; a
//! row that breaks that, or holds a label gymchat does not know, is set aside by the reader
//! ([`crate::SkippedRow`]) instead of failing the read.

use chrono::{DateTime, Utc};
use gymchat_ids::{EventId, GymId, RoomId, UserId};
use serde::{Deserialize, Serialize};

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

            /// Reads a stored label; the error says which labels are known.
            pub(crate) fn from_db(label: &str) -> Result<Self, String> {
                match label {
                    $($label => Ok(Self::$variant),)+
                    other => Err(format!(
                        concat!("{:?} is not one of the ", stringify!($name), " labels ({})"),
                        other,
                        [$($label),+].join(", ")
                    )),
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
    #[serde(default)]
    pub subdomain: Option<String>,
    /// Logo URL.
    #[serde(default)]
    pub logo_url: Option<String>,
    /// Whether the gym is active, as stored.
    #[serde(default)]
    pub is_active: Option<bool>,
}

impl Gym {
    /// Active only when `is_active` is true (NULL is not active).
    pub fn active(&self) -> bool {
        self.is_active == Some(true)
    }
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
    /// Whether the account is active, as stored.
    #[serde(default)]
    pub is_active: Option<bool>,
    /// Platform-wide role, as stored (an old role conversion left unknown roles NULL).
    #[serde(default)]
    pub role: Option<PlatformRole>,
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

    /// Active only when `is_active` is true (NULL is not active).
    pub fn active(&self) -> bool {
        self.is_active == Some(true)
    }

    /// `SUPER_ADMIN` passes every gym check; a NULL role is no platform role.
    pub fn is_super_admin(&self) -> bool {
        self.role == Some(PlatformRole::SuperAdmin)
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
    /// Whether the membership is active, as stored.
    #[serde(default)]
    pub is_active: Option<bool>,
    /// When the membership runs out; NULL never.
    #[serde(default)]
    pub membership_expires_at: Option<DateTime<Utc>>,
}

impl Membership {
    /// SYSTEM.md §2: `is_active` is true and the membership has not run out at `now`.
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.is_active == Some(true) && self.membership_expires_at.is_none_or(|t| t > now)
    }
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
    #[serde(default)]
    pub title: Option<String>,
    /// Start.
    pub start_time: DateTime<Utc>,
    /// End.
    pub end_time: DateTime<Utc>,
    /// Status, as stored.
    #[serde(default)]
    pub status: Option<EventStatus>,
    /// Who created it.
    #[serde(default)]
    pub creator_id: Option<UserId>,
}

impl Event {
    /// Over when marked COMPLETED or when it has ended; a NULL status goes by `end_time`.
    pub fn is_over(&self, now: DateTime<Utc>) -> bool {
        self.status == Some(EventStatus::Completed) || self.end_time <= now
    }
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
    /// Status, as stored.
    #[serde(default)]
    pub status: Option<ParticipationStatus>,
}

impl Participation {
    /// Only REGISTERED holds a place (PENDING_PAYMENT, CANCELLED, WAITING_LIST and NULL do not).
    pub fn holds_place(&self) -> bool {
        self.status == Some(ParticipationStatus::Registered)
    }
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
    /// The Stream channel type; NULL reads as `messaging`.
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
    /// A 1:1 chat; NULL reads as false.
    #[serde(default)]
    pub is_direct: bool,
    /// Status, as stored.
    #[serde(default)]
    pub status: Option<RoomStatus>,
    /// Created, when recorded.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Last changed, when recorded.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl Room {
    /// Active unless CLOSED: a room with NULL status counts as active (SYSTEM.md §4).
    pub fn is_active(&self) -> bool {
        self.status != Some(RoomStatus::Closed)
    }
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
    /// The room; NULL when the room was deleted.
    #[serde(default)]
    pub room_id: Option<RoomId>,
    /// The member.
    pub user_id: UserId,
    /// When they joined, when recorded.
    #[serde(default)]
    pub joined_at: Option<DateTime<Utc>>,
}

/// A room a user has hidden from their list: `chat_member_hidden`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hidden {
    /// The user.
    pub user_id: UserId,
    /// The room.
    pub room_id: RoomId,
    /// When it was hidden, when recorded.
    #[serde(default)]
    pub hidden_at: Option<DateTime<Utc>>,
}

fn messaging() -> String {
    "messaging".to_owned()
}
