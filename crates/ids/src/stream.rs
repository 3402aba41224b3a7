//! Stream's own identifiers: user ids, teams, channel types, channel ids and cids.
//!
//! Each is a string newtype that can only be built by parsing (which enforces Stream's published
//! pattern and length limit) or by the constructors in [`crate::target`]. Parsing accepts what
//! Stream accepts, including the uppercase letters the live API keeps in user ids; the
//! constructors only ever produce lowercase `[a-z0-9_-]`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{IdError, IdKind};

/// Longest Stream user id.
pub const MAX_USER_ID_LEN: usize = 255;
/// Longest channel id and channel type.
pub const MAX_CHANNEL_ID_LEN: usize = 64;
/// Longest team name, in bytes.
pub const MAX_TEAM_LEN: usize = 100;

/// Checks length and charset: `\w` and `-`, plus what `extra` allows at a position (`@` in user
/// ids, a leading `!` in channel ids Stream generated).
fn check(s: &str, kind: IdKind, max: usize, extra: fn(char, usize) -> bool) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    let allowed = |(pos, c): (usize, char)| c.is_ascii_alphanumeric() || c == '_' || c == '-' || extra(c, pos);
    if let Some((pos, ch)) = s.chars().enumerate().find(|&pc| !allowed(pc)) {
        return Err(IdError::InvalidChar { kind, ch, pos });
    }
    // Every allowed character is ASCII, so bytes equal characters from here on.
    if s.len() > max {
        return Err(IdError::TooLong { kind, len: s.len(), max });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $validate:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let validate: fn(&str) -> Result<(), IdError> = $validate;
                validate(s).map(|()| Self(s.to_owned()))
            }

            /// The id as Stream spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Built by this crate's constructors, whose output is valid by construction.
            /// Debug builds still check, so a constructor bug fails loudly in tests.
            pub(crate) fn from_trusted(s: String) -> Self {
                debug_assert!(Self::parse(&s).is_ok(), "constructor produced an invalid id: {s}");
                Self(s)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A Stream user id: `^[@\w-]+$`, at most 255 characters.
    StreamUserId,
    |s| check(s, IdKind::StreamUser, MAX_USER_ID_LEN, |c, _| c == '@')
);
string_id!(
    /// A Stream channel type such as `messaging`: `^[\w-]+$`, at most 64 characters.
    ChannelType,
    |s| check(s, IdKind::ChannelType, MAX_CHANNEL_ID_LEN, |_, _| false)
);
string_id!(
    /// A bare Stream channel id (never `type:id`): `^[\w-]+$`, at most 64 characters, or an id
    /// Stream generated itself, which starts with the reserved `!` (`!members-<hash>` for a channel
    /// created from a member list). Parsing accepts both, because every id read back from Stream must be usable;
    /// gymchat's constructors ([`crate::target`]) never produce a `!`.
    ChannelId,
    |s| check(s, IdKind::Channel, MAX_CHANNEL_ID_LEN, |c, pos| c == '!' && pos == 0)
);

impl ChannelId {
    /// True for an id Stream generated (it starts with the reserved `!`, as `!members-…` does).
    pub fn is_stream_generated(&self) -> bool {
        self.0.starts_with('!')
    }
}
string_id!(
    /// A Stream team name: any non-empty string of at most 100 bytes. gymchat's teams are
    /// `gym_{G}` (see [`Team::for_gym`]); other names are accepted because they exist in the wild.
    Team,
    |s| {
        if s.is_empty() {
            Err(IdError::Empty { kind: IdKind::Team })
        } else if s.len() > MAX_TEAM_LEN {
            Err(IdError::TooLong { kind: IdKind::Team, len: s.len(), max: MAX_TEAM_LEN })
        } else {
            Ok(())
        }
    }
);

impl ChannelType {
    /// `messaging`, the type of every channel gymchat creates unless a room says otherwise.
    pub fn messaging() -> Self {
        Self::from_trusted("messaging".to_owned())
    }
}

/// A channel's full id, `type:id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cid {
    channel_type: ChannelType,
    id: ChannelId,
}

impl Cid {
    /// Joins a type and an id.
    pub fn new(channel_type: ChannelType, id: ChannelId) -> Self {
        Self { channel_type, id }
    }

    /// Parses `type:id`; both halves must be valid.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let (t, id) = s.split_once(':').ok_or(IdError::MalformedCid)?;
        Ok(Self { channel_type: ChannelType::parse(t)?, id: ChannelId::parse(id)? })
    }

    /// The channel type.
    pub fn channel_type(&self) -> &ChannelType {
        &self.channel_type
    }

    /// The bare channel id.
    pub fn id(&self) -> &ChannelId {
        &self.id
    }
}

impl FromStr for Cid {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Cid {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<Cid> for String {
    fn from(cid: Cid) -> String {
        cid.to_string()
    }
}

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.channel_type, self.id)
    }
}
