//! Stream id rules for gymchat (SYSTEM.md §3): the one place that knows what every id we
//! produce or meet looks like. Pure functions and newtypes; no I/O, no async.
//!
//! - [`numeric`]: positive database ids ([`GymId`], [`UserId`], [`RoomId`], [`EventId`]).
//! - [`stream`]: Stream's identifiers ([`StreamUserId`], [`Team`], [`ChannelType`],
//!   [`ChannelId`], [`Cid`]), built only by parsing against Stream's pattern and length limits.
//! - [`target`]: constructors for the tenant-scoped ids gymchat creates (`gym_4_user_10`,
//!   `gym_4`, `direct_…`, `room_4_639`, `event_4_639`, `general_4`).
//! - [`legacy`]: the older rules, kept only to recognise and map back what production holds.
//! - [`classify`]: total classifiers that say what any user or channel id is, with a reason when
//!   it is nothing known.
//!
//! Design decision: the newtypes have private fields and no unchecked constructor outside this
//! crate, so a value of type [`ChannelId`] is always an id Stream will accept. Produced ids are
//! never truncated; a direct id that would be too long is hashed instead.

pub mod classify;
pub mod error;
pub mod legacy;
pub mod numeric;
pub mod stream;
pub mod target;

pub use classify::{ChannelIdForm, UserIdForm, classify_channel_id, classify_user_id};
pub use error::{IdError, IdKind};
pub use legacy::{legacy_event_creator_hash, sanitize_auth0_subject};
pub use numeric::{EventId, GymId, RoomId, UserId};
pub use stream::{ChannelId, ChannelType, Cid, StreamUserId, Team};
