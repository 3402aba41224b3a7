//! The one error type of the id rules: why a string is not a valid id.

use std::fmt;

/// Which kind of id a check was about, so errors read "channel id is empty", not "id is empty".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// A gym (tenant) id from the platform database.
    Gym,
    /// An internal user id from the platform database (`user.id`).
    User,
    /// A chat room id from the platform database (`chat_rooms.id`).
    Room,
    /// An event id from the platform database (`events.id`).
    Event,
    /// A Stream user id.
    StreamUser,
    /// A Stream team name.
    Team,
    /// A Stream channel type.
    ChannelType,
    /// A Stream channel id.
    Channel,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::Gym => "gym id",
            IdKind::User => "user id",
            IdKind::Room => "room id",
            IdKind::Event => "event id",
            IdKind::StreamUser => "Stream user id",
            IdKind::Team => "team",
            IdKind::ChannelType => "channel type",
            IdKind::Channel => "channel id",
        })
    }
}

/// Why a value was refused. Messages never echo long input back: only lengths and one character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The value is empty.
    #[error("{kind} is empty")]
    Empty {
        /// What was being parsed.
        kind: IdKind,
    },
    /// The value is longer than Stream allows.
    #[error("{kind} is {len} characters long; the limit is {max}")]
    TooLong {
        /// What was being parsed.
        kind: IdKind,
        /// Its length (characters, or bytes for teams).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The value holds a character Stream forbids in this kind of id.
    #[error("{kind} contains {ch:?} at position {pos}, which Stream does not allow")]
    InvalidChar {
        /// What was being parsed.
        kind: IdKind,
        /// The first offending character.
        ch: char,
        /// Its position, counted in characters from 0.
        pos: usize,
    },
    /// A numeric database id that is not a positive decimal number in canonical form.
    #[error("{kind} must be a positive decimal number without sign or leading zeros")]
    NotANumber {
        /// What was being parsed.
        kind: IdKind,
    },
    /// A cid that is not `type:id`.
    #[error("a cid must look like `type:id`")]
    MalformedCid,
    /// A direct chat was asked for between a user and themself.
    #[error("a direct chat needs two different users")]
    SameUser,
}
