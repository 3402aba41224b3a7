//! Constructors for the tenant-scoped ids gymchat produces (SYSTEM.md §3).
//!
//! Every id here is deterministic, lowercase `[a-z0-9_-]` and within Stream's limits for any
//! positive `i64` input, so the constructors cannot fail (except a direct chat with oneself).

use sha2::{Digest, Sha256};

use crate::error::IdError;
use crate::numeric::{EventId, GymId, RoomId, UserId};
use crate::stream::{ChannelId, MAX_CHANNEL_ID_LEN, StreamUserId, Team};

/// Hex digits of the SHA-256 kept in a hashed direct id: 128 bits, so distinct pairs never meet.
pub const DIRECT_HASH_HEX_LEN: usize = 32;

impl Team {
    /// `gym_{G}`: the Stream team of gym G.
    pub fn for_gym(gym: GymId) -> Self {
        Self::from_trusted(format!("gym_{gym}"))
    }
}

impl StreamUserId {
    /// `gym_{G}_user_{U}`: person U's identity inside gym G.
    pub fn for_member(gym: GymId, user: UserId) -> Self {
        Self::from_trusted(format!("gym_{gym}_user_{user}"))
    }

    /// `gym_{G}_bot`: gym G's announcer.
    pub fn bot(gym: GymId) -> Self {
        Self::from_trusted(format!("gym_{gym}_bot"))
    }

    /// `system`: Stream's conventional sender for system messages.
    pub fn system() -> Self {
        Self::from_trusted("system".to_owned())
    }
}

impl ChannelId {
    /// The 1:1 chat of users `a` and `b` in gym G: `direct_{x}_{y}` with x, y their Stream ids
    /// sorted as strings, or `direct_{G}_{h}` (h: 32 hex of SHA-256 over the sorted pair) when the
    /// plain form would pass 64 characters. Never truncated: truncation once merged different
    /// people's conversations. Symmetric in `a` and `b`.
    pub fn direct(gym: GymId, a: UserId, b: UserId) -> Result<Self, IdError> {
        if a == b {
            return Err(IdError::SameUser);
        }
        let (x, y) = sorted_pair(StreamUserId::for_member(gym, a), StreamUserId::for_member(gym, b));
        let plain = format!("direct_{x}_{y}");
        if plain.len() <= MAX_CHANNEL_ID_LEN {
            return Ok(Self::from_trusted(plain));
        }
        Ok(Self::from_trusted(format!("direct_{gym}_{}", direct_pair_hash(&x, &y))))
    }

    /// `room_{G}_{R}`: group room R of gym G.
    pub fn group(gym: GymId, room: RoomId) -> Self {
        Self::from_trusted(format!("room_{gym}_{room}"))
    }

    /// `event_{G}_{E}`: the chat of event E of gym G.
    pub fn event(gym: GymId, event: EventId) -> Self {
        Self::from_trusted(format!("event_{gym}_{event}"))
    }

    /// `general_{G}`: gym G's General channel.
    pub fn general(gym: GymId) -> Self {
        Self::from_trusted(format!("general_{gym}"))
    }
}

fn sorted_pair(a: StreamUserId, b: StreamUserId) -> (StreamUserId, StreamUserId) {
    if a <= b { (a, b) } else { (b, a) }
}

/// The stable hash of a sorted pair of Stream user ids. The separator `\n` cannot occur in an id,
/// so ("ab", "c") and ("a", "bc") hash differently.
fn direct_pair_hash(x: &StreamUserId, y: &StreamUserId) -> String {
    let mut hasher = Sha256::new();
    hasher.update(x.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(y.as_str().as_bytes());
    let mut h = hex::encode(hasher.finalize());
    h.truncate(DIRECT_HASH_HEX_LEN);
    h
}
