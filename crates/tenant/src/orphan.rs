//! When a channel that no room points at is proven orphaned, so that it may be deleted.
//!
//! A channel is proven orphaned only when all of these hold:
//! - it is the gym's (its team, or lacking one its `gym_id`: [`crate::belongs_to_gym`]);
//! - no room of any gym points at it, under its bare id or its `type:id`;
//! - what it was for is gone: every event its id names does not exist or is another gym's, or one
//!   of the two people its direct id names has no user row or no active membership of the gym, or
//!   the room its group id (`room_{G}_{R}`) names no longer exists.
//!
//! A General channel, a legacy group (`room_{name}_{creator}`) or an id of no known shape is never
//! proven orphaned by its id alone: nothing in it says that what it was for is gone. Whoever deletes on this word (cleanup, the chat service's orphan
//! route) asks [`Verdict::of`]; the audit reports the same verdict.

use gymchat_ids::{ChannelIdForm, EventId, GymId, RoomId, UserId, classify_channel_id};

/// What is known of an event a channel id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventStanding {
    /// The event.
    pub event: EventId,
    /// Its gym, when it exists.
    pub gym: Option<GymId>,
}

/// What is known of a person a direct channel id names, in the channel's gym.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonStanding {
    /// The person.
    pub user: UserId,
    /// They have a `user` row.
    pub exists: bool,
    /// They hold an active membership of the gym.
    pub active_member: bool,
}

/// What is known of the room a group channel id (`room_{G}_{R}`) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomStanding {
    /// The room.
    pub room: RoomId,
    /// A room with that id exists (in any gym).
    pub exists: bool,
}

/// Everything the verdict rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanEvidence {
    /// The channel is the gym's ([`crate::belongs_to_gym`]).
    pub belongs: bool,
    /// A room that points at the channel (its id and gym), if any.
    pub claimed_by: Option<(i64, GymId)>,
    /// Every event the channel's id names ([`named_events`]), as the database knows it.
    pub events: Vec<EventStanding>,
    /// The two people a direct channel's id names ([`named_people`]), as the database knows them.
    pub people: Vec<PersonStanding>,
    /// The room a group channel's id names ([`named_room`]), as the database knows it.
    pub room: Option<RoomStanding>,
}

/// Whether a channel may be deleted as an orphan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Proven orphaned, because of this.
    Orphaned(&'static str),
    /// Not proven, with why.
    NotProven(String),
}

impl Verdict {
    /// The verdict for the channel of `gym` this evidence describes.
    pub fn of(gym: GymId, evidence: &OrphanEvidence) -> Self {
        if let Some((room, room_gym)) = evidence.claimed_by {
            return Verdict::NotProven(format!("room {room} of gym {room_gym} points at it"));
        }
        if !evidence.belongs {
            return Verdict::NotProven(format!("it is not a channel of gym {gym} (team gym_{gym}, or gym_id {gym})"));
        }
        let events_gone = !evidence.events.is_empty() && evidence.events.iter().all(|e| e.gym.is_none_or(|g| g != gym));
        if events_gone {
            return Verdict::Orphaned("its event no longer exists");
        }
        if evidence.people.iter().any(|p| !p.exists || !p.active_member) {
            return Verdict::Orphaned("one of its two people left the gym");
        }
        if evidence.room.is_some_and(|r| !r.exists) {
            return Verdict::Orphaned("its room no longer exists");
        }
        Verdict::NotProven("no room points at it, but what it was for still exists".to_owned())
    }

    /// Proven orphaned.
    pub fn is_orphaned(&self) -> bool {
        matches!(self, Verdict::Orphaned(_))
    }
}

/// The events a channel id names, in every reading of it.
pub fn named_events(form: &ChannelIdForm) -> Vec<EventId> {
    match form {
        ChannelIdForm::Event { event, .. }
        | ChannelIdForm::LegacyEvent { event, .. }
        | ChannelIdForm::LegacySystemEvent { event } => vec![*event],
        ChannelIdForm::AmbiguousEvent { target_event, legacy_event, .. } => vec![*target_event, *legacy_event],
        _ => Vec::new(),
    }
}

/// The two people a direct channel id names (none for other ids, or a hashed direct id).
pub fn named_people(form: &ChannelIdForm) -> Vec<UserId> {
    match form {
        ChannelIdForm::LegacyDirect { first, second } | ChannelIdForm::Direct { first, second, .. } => {
            vec![*first, *second]
        }
        _ => Vec::new(),
    }
}

/// The room a group channel id of the target form names.
pub fn named_room(form: &ChannelIdForm) -> Option<RoomId> {
    match form {
        ChannelIdForm::Group { room, .. } => Some(*room),
        _ => None,
    }
}

/// What a channel id names: events, people, a room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Named {
    /// [`named_events`].
    pub events: Vec<EventId>,
    /// [`named_people`].
    pub people: Vec<UserId>,
    /// [`named_room`].
    pub room: Option<RoomId>,
}

/// What a bare channel id names.
pub fn named(channel_id: &str) -> Named {
    let form = classify_channel_id(channel_id);
    Named { events: named_events(&form), people: named_people(&form), room: named_room(&form) }
}
