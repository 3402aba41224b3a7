//! Recognising any user or channel id met in the wild (SYSTEM.md §3).
//!
//! Both classifiers are total: any string gets an answer and nothing panics. Where two readings
//! are possible the answer says so rather than guessing; the callers (audit, migration) hold the
//! database context that decides.

use crate::error::IdKind;
use crate::legacy::AUTH0_PROVIDERS;
use crate::numeric::{EventId, GymId, RoomId, UserId, parse_positive};
use crate::stream::{ChannelId, StreamUserId};
use crate::target::DIRECT_HASH_HEX_LEN;

/// What a Stream user id is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserIdForm {
    /// `gym_{G}_user_{U}`: the tenant-scoped target form.
    Target {
        /// The gym.
        gym: GymId,
        /// The internal user id.
        user: UserId,
    },
    /// `gym_{G}_bot`: a gym's announcer.
    Bot {
        /// The gym.
        gym: GymId,
    },
    /// `system`.
    System,
    /// `user_{U}`: the legacy, gym-less form.
    Legacy {
        /// The internal user id.
        user: UserId,
    },
    /// A sanitised Auth0 subject such as `auth0_64f0…` or `google-oauth2_1122…`: the oldest form.
    /// Map it back by sanitising `user.auth0_id` values with [`crate::sanitize_auth0_subject`].
    Auth0 {
        /// The connection prefix (`auth0`, `google-oauth2`, …).
        provider: String,
    },
    /// None of the shapes above, with the reason.
    Unknown {
        /// Why it was not recognised.
        reason: String,
    },
}

/// What a Stream channel id is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelIdForm {
    /// `direct_{x}_{y}` with x < y two target user ids of one gym.
    Direct {
        /// The gym.
        gym: GymId,
        /// The user whose Stream id sorts first.
        first: UserId,
        /// The other user.
        second: UserId,
    },
    /// `direct_{G}_{h}`: the hashed direct form used when the plain one would pass 64 chars.
    DirectHashed {
        /// The gym.
        gym: GymId,
        /// The 32 hex digits.
        hash: String,
    },
    /// `room_{G}_{R}`: a group room.
    Group {
        /// The gym.
        gym: GymId,
        /// The room.
        room: RoomId,
    },
    /// `event_{G}_{E}`: an event chat.
    Event {
        /// The gym.
        gym: GymId,
        /// The event.
        event: EventId,
    },
    /// `general_{G}`: a gym's General channel.
    General {
        /// The gym.
        gym: GymId,
    },
    /// `event_{A}_{B}` where B is eight digits: both the target form (gym A, event B) and the
    /// legacy form (event A, creator hash B) fit, since an MD5 prefix can be all digits.
    AmbiguousEvent {
        /// The reading as `event_{G}_{E}`.
        target_gym: GymId,
        /// The reading as `event_{G}_{E}`.
        target_event: EventId,
        /// The reading as `event_{E}_{hash}`.
        legacy_event: EventId,
        /// The reading as `event_{E}_{hash}`.
        creator_hash: String,
    },
    /// `direct_user_{a}_user_{b}`: legacy direct chat.
    LegacyDirect {
        /// First member as written.
        first: UserId,
        /// Second member as written.
        second: UserId,
    },
    /// `direct_{a15}_{b15}`: legacy direct chat whose member ids were cut to 15 characters.
    /// The split point is ambiguous in general; the first part is taken as the 15-char one when
    /// that fits, else the second.
    LegacyDirectCut {
        /// Prefix of the first member's Stream id.
        first_prefix: String,
        /// Prefix of the second member's Stream id.
        second_prefix: String,
    },
    /// `room_{name}_{creator}` such as `room_General_10`. A name made only of digits reads as the
    /// target form `room_{G}_{R}` instead; the database decides in that rare case.
    LegacyGroup {
        /// The room name as it was embedded.
        name: String,
        /// The creator's internal id.
        creator: UserId,
    },
    /// `event_{E}_{8 hex}`: legacy event chat; the hex is [`crate::legacy_event_creator_hash`].
    LegacyEvent {
        /// The event.
        event: EventId,
        /// The eight hex digits.
        creator_hash: String,
    },
    /// `event_{E}_system`: legacy event chat created by the system.
    LegacySystemEvent {
        /// The event.
        event: EventId,
    },
    /// An id Stream generated itself (`!members-<hash>`, from a channel created from a member
    /// list): neither a legacy nor a target form; gymchat never creates one.
    StreamGenerated,
    /// None of the shapes above, with the reason.
    Unknown {
        /// Why it was not recognised.
        reason: String,
    },
}

impl ChannelIdForm {
    /// True for the forms gymchat produces today (including the ambiguous event reading).
    pub fn is_target(&self) -> bool {
        matches!(
            self,
            Self::Direct { .. }
                | Self::DirectHashed { .. }
                | Self::Group { .. }
                | Self::Event { .. }
                | Self::General { .. }
                | Self::AmbiguousEvent { .. }
        )
    }
}

fn unknown_channel(reason: impl Into<String>) -> ChannelIdForm {
    ChannelIdForm::Unknown { reason: reason.into() }
}

/// Splits `s` at its first `_`, returning the two sides.
fn split_first(s: &str) -> Option<(&str, &str)> {
    s.split_once('_')
}

fn gym(s: &str) -> Option<GymId> {
    parse_positive(s, IdKind::Gym).ok().and_then(|n| GymId::new(n).ok())
}

fn user(s: &str) -> Option<UserId> {
    parse_positive(s, IdKind::User).ok().and_then(|n| UserId::new(n).ok())
}

/// Reads `gym_{G}_user_{U}` exactly.
fn target_user(s: &str) -> Option<(GymId, UserId)> {
    let rest = s.strip_prefix("gym_")?;
    let (g, rest) = split_first(rest)?;
    let u = rest.strip_prefix("user_")?;
    Some((gym(g)?, user(u)?))
}

/// Classifies a Stream user id.
pub fn classify_user_id(id: &str) -> UserIdForm {
    if let Err(e) = StreamUserId::parse(id) {
        return UserIdForm::Unknown { reason: e.to_string() };
    }
    if id == "system" {
        return UserIdForm::System;
    }
    if let Some((gym, user)) = target_user(id) {
        return UserIdForm::Target { gym, user };
    }
    if let Some(g) = id.strip_prefix("gym_").and_then(|r| r.strip_suffix("_bot")).and_then(gym) {
        return UserIdForm::Bot { gym: g };
    }
    if let Some(u) = id.strip_prefix("user_").and_then(user) {
        return UserIdForm::Legacy { user: u };
    }
    if let Some((provider, rest)) = id.split_once('_')
        && AUTH0_PROVIDERS.contains(&provider)
        && !rest.is_empty()
        && !rest.bytes().any(|b| b.is_ascii_uppercase())
    {
        return UserIdForm::Auth0 { provider: provider.to_owned() };
    }
    UserIdForm::Unknown { reason: "not a target, bot, system, legacy user_{id} or sanitised Auth0 id".to_owned() }
}

/// Classifies a bare Stream channel id.
pub fn classify_channel_id(id: &str) -> ChannelIdForm {
    match ChannelId::parse(id) {
        Err(e) => return unknown_channel(e.to_string()),
        Ok(parsed) if parsed.is_stream_generated() => return ChannelIdForm::StreamGenerated,
        Ok(_) => {}
    }
    if let Some(rest) = id.strip_prefix("direct_") {
        return classify_direct(rest);
    }
    if let Some(rest) = id.strip_prefix("room_") {
        return classify_room(rest);
    }
    if let Some(rest) = id.strip_prefix("event_") {
        return classify_event(rest);
    }
    if let Some(rest) = id.strip_prefix("general_") {
        return match gym(rest) {
            Some(gym) => ChannelIdForm::General { gym },
            None => unknown_channel("general_ must be followed by a gym id"),
        };
    }
    unknown_channel("no known prefix (direct_, room_, event_, general_)")
}

fn classify_direct(rest: &str) -> ChannelIdForm {
    // Legacy `direct_user_{a}_user_{b}`.
    if let Some(r) = rest.strip_prefix("user_")
        && let Some((a, b)) = r.split_once("_user_")
        && let (Some(first), Some(second)) = (user(a), user(b))
    {
        return ChannelIdForm::LegacyDirect { first, second };
    }
    // Target `direct_gym_{G}_user_{U}_gym_{G}_user_{V}`. Users are digits, so the split is unique.
    if rest.starts_with("gym_") {
        return classify_target_direct(rest);
    }
    // Hashed `direct_{G}_{32 hex}`.
    if let Some((g, h)) = split_first(rest)
        && let Some(gym) = gym(g)
        && h.len() == DIRECT_HASH_HEX_LEN
        && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return ChannelIdForm::DirectHashed { gym, hash: h.to_owned() };
    }
    classify_direct_cut(rest)
}

fn classify_target_direct(rest: &str) -> ChannelIdForm {
    let Some(split) = rest.match_indices("_gym_").map(|(i, _)| i).find(|&i| target_user(&rest[..i]).is_some()) else {
        return classify_direct_cut(rest);
    };
    let (x, y) = (&rest[..split], &rest[split + 1..]);
    let (Some((gx, ux)), Some((gy, uy))) = (target_user(x), target_user(y)) else {
        return classify_direct_cut(rest);
    };
    if gx != gy {
        return unknown_channel("direct id joins users of two different gyms");
    }
    if ux == uy {
        return unknown_channel("direct id names the same user twice");
    }
    if x > y {
        return unknown_channel("direct id members are not in sorted order");
    }
    ChannelIdForm::Direct { gym: gx, first: ux, second: uy }
}

/// Legacy direct ids whose two member ids were each cut to at most 15 characters.
fn classify_direct_cut(rest: &str) -> ChannelIdForm {
    const CUT: usize = 15;
    // Every byte is ASCII here (the charset was checked), so byte indexing is safe.
    let first_cut = rest.len() > CUT + 1 && rest.as_bytes()[CUT] == b'_' && rest.len() - CUT - 1 <= CUT;
    let second_cut = rest.len() > CUT + 1 && rest.as_bytes()[rest.len() - CUT - 1] == b'_';
    let (a, b) = if first_cut {
        (&rest[..CUT], &rest[CUT + 1..])
    } else if second_cut && rest.len() - CUT - 1 <= CUT {
        (&rest[..rest.len() - CUT - 1], &rest[rest.len() - CUT..])
    } else {
        return unknown_channel("direct_ followed by no known member format");
    };
    ChannelIdForm::LegacyDirectCut { first_prefix: a.to_owned(), second_prefix: b.to_owned() }
}

fn classify_room(rest: &str) -> ChannelIdForm {
    if let Some((g, r)) = split_first(rest)
        && let (Some(gym), Some(room)) =
            (gym(g), parse_positive(r, IdKind::Room).ok().and_then(|n| RoomId::new(n).ok()))
    {
        return ChannelIdForm::Group { gym, room };
    }
    if let Some((name, creator)) = rest.rsplit_once('_')
        && !name.is_empty()
        && let Some(creator) = user(creator)
    {
        return ChannelIdForm::LegacyGroup { name: name.to_owned(), creator };
    }
    unknown_channel("room_ must be followed by {gym}_{room} or {name}_{creator}")
}

fn event_id(s: &str) -> Option<EventId> {
    parse_positive(s, IdKind::Event).ok().and_then(|n| EventId::new(n).ok())
}

fn classify_event(rest: &str) -> ChannelIdForm {
    let Some((a, b)) = split_first(rest) else {
        return unknown_channel("event_ must be followed by two parts");
    };
    if b == "system" {
        return match event_id(a) {
            Some(event) => ChannelIdForm::LegacySystemEvent { event },
            None => unknown_channel("event_{id}_system needs a numeric event id"),
        };
    }
    let is_hash = b.len() == 8 && b.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    match (gym(a), event_id(b), event_id(a), is_hash) {
        (Some(target_gym), Some(target_event), Some(legacy_event), true) => {
            ChannelIdForm::AmbiguousEvent { target_gym, target_event, legacy_event, creator_hash: b.to_owned() }
        }
        (Some(gym), Some(event), _, false) => ChannelIdForm::Event { gym, event },
        (_, _, Some(event), true) => ChannelIdForm::LegacyEvent { event, creator_hash: b.to_owned() },
        _ => unknown_channel("event_ must be followed by {gym}_{event}, {event}_{8 hex} or {event}_system"),
    }
}
