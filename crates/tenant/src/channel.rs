//! Which channel a room gets, and which channel a room row points at.
//!
//! A room's purpose decides its channel id: the 1:1 chat of two people is `direct_{x}_{y}` (or
//! the hashed form), an event's chat `event_{G}_{E}`, the gym's General channel `general_{G}`,
//! every other room `room_{G}_{R}`. The chat service knows the purpose from the route; the
//! migration reads it off the room ([`Purpose::of_room`]).

use gymchat_ids::{ChannelId, ChannelType, Cid, EventId, GymId, IdError, RoomId, UserId};
use gymchat_store::{Room, RoomWithMembers};
use serde::{Deserialize, Serialize};

/// What a room is for, which decides its channel id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The 1:1 chat of two people.
    Direct(UserId, UserId),
    /// The chat of an event.
    Event(EventId),
    /// The gym's one General channel.
    General,
    /// Any other room: a group.
    Group(RoomId),
}

/// The kind of a room's channel, as plans and reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// `direct_…`.
    Direct,
    /// `event_{G}_{E}`.
    Event,
    /// `general_{G}`.
    General,
    /// `room_{G}_{R}`.
    Group,
}

impl Purpose {
    /// The purpose a room row shows: a direct room of exactly two members is their 1:1 chat; a
    /// room of an event that exists is the event's chat; any other room is a group (a General
    /// room the platform made, a group named "General", stays the group it is).
    pub fn of_room(room: &RoomWithMembers, event_exists: impl Fn(EventId) -> bool) -> Self {
        match (room.room.is_direct, room.room.event_id, room.members.as_slice()) {
            (true, _, [a, b]) if a != b => Purpose::Direct(*a, *b),
            (false, Some(event), _) if event_exists(event) => Purpose::Event(event),
            _ => Purpose::Group(room.room.id),
        }
    }

    /// Its kind.
    pub fn kind(&self) -> ChannelKind {
        match self {
            Purpose::Direct(..) => ChannelKind::Direct,
            Purpose::Event(_) => ChannelKind::Event,
            Purpose::General => ChannelKind::General,
            Purpose::Group(_) => ChannelKind::Group,
        }
    }

    /// The channel id this purpose gives in `gym`. Fails only for a direct chat of one person
    /// with themself.
    pub fn channel_id(&self, gym: GymId) -> Result<ChannelId, IdError> {
        Ok(match *self {
            Purpose::Direct(a, b) => ChannelId::direct(gym, a, b)?,
            Purpose::Event(event) => ChannelId::event(gym, event),
            Purpose::General => ChannelId::general(gym),
            Purpose::Group(room) => ChannelId::group(gym, room),
        })
    }

    /// The channel in `gym`, of type `messaging` (gymchat creates no other type).
    pub fn cid(&self, gym: GymId) -> Result<Cid, IdError> {
        Ok(Cid::new(ChannelType::messaging(), self.channel_id(gym)?))
    }
}

/// The channel a room row points at: none when it names none, else its cid or why the id it
/// names is not one Stream accepts.
pub fn room_cid(room: &Room) -> Option<Result<Cid, IdError>> {
    let id = room.stream_channel_id.as_deref()?;
    Some(ChannelType::parse(&room.stream_channel_type).and_then(|t| Ok(Cid::new(t, ChannelId::parse(id)?))))
}
