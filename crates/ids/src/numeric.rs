//! Positive integer ids from the platform database: gyms, users, rooms and events.
//!
//! They are `i64` inside because that is what every SQL backend can hold, but zero and negative
//! values are refused: the platform's ids come from sequences that start at 1, and an id of 0 in
//! a Stream id (`gym_0_user_3`) would always be a bug.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{IdError, IdKind};

/// Parses a canonical positive decimal: digits only, no sign, no leading zero, fits in `i64`.
/// Canonical form matters: `gym_04_user_10` must not be read as `gym_4_user_10`.
pub(crate) fn parse_positive(s: &str, kind: IdKind) -> Result<i64, IdError> {
    let canonical = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0');
    if !canonical {
        return Err(IdError::NotANumber { kind });
    }
    s.parse::<i64>().map_err(|_| IdError::NotANumber { kind })
}

macro_rules! positive_id {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "i64", into = "i64")]
        pub struct $name(i64);

        impl $name {
            /// Wraps a database value; refuses zero and negatives.
            pub fn new(value: i64) -> Result<Self, IdError> {
                if value > 0 {
                    Ok(Self(value))
                } else {
                    Err(IdError::NotANumber { kind: $kind })
                }
            }

            /// The raw value, for binding into SQL.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl TryFrom<i64> for $name {
            type Error = IdError;
            fn try_from(value: i64) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                parse_positive(s, $kind).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

positive_id!(
    /// A gym (tenant) id: `gyms.id`.
    GymId,
    IdKind::Gym
);
positive_id!(
    /// An internal user id: `user.id`.
    UserId,
    IdKind::User
);
positive_id!(
    /// A chat room id: `chat_rooms.id`.
    RoomId,
    IdKind::Room
);
positive_id!(
    /// An event id: `events.id`.
    EventId,
    IdKind::Event
);
