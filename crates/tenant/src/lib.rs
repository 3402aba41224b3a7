//! What a gym's Stream state must look like (SYSTEM.md §3–§5): the one place the chat service,
//! the audit, cleanup and the migration ask, so that none of them can hold its own version of a
//! tenant rule.
//!
//! - [`channel`]: which channel a room gets (`direct_…`, `event_{G}_{E}`, `general_{G}`,
//!   `room_{G}_{R}`) and which channel a room row points at.
//! - [`data`]: the team `gym_{G}` and the channel field `gym_id` (written as the string the
//!   platform writes, read as a string or a number), and the custom fields a gym's channel
//!   carries.
//! - [`members`]: who a room's channel must hold: each member's `gym_{G}_user_{U}`, how a
//!   channel's members differ from that, and who any member id is, seen from one gym.
//! - [`orphan`]: when a channel nobody points at is proven orphaned, so that it may be deleted.
//!
//! Design decision: pure functions over the store's rows and Stream's values, no I/O; the callers
//! read, these rules decide.

pub mod channel;
pub mod data;
pub mod members;
pub mod orphan;

pub use channel::{ChannelKind, Purpose, room_cid};
pub use data::{GYM_ID_FIELD, belongs_to_gym, channel_custom, gym_id_matches, gym_id_value, team, team_matches};
pub use members::{MemberDiff, Person, member_diff, member_ids, people_by_auth0, person, person_of};
pub use orphan::{
    EventStanding, Named, OrphanEvidence, PersonStanding, RoomStanding, Verdict, named, named_events, named_people,
    named_room,
};
