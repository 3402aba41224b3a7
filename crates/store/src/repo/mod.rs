//! Typed reads and writes of the platform tables and gymchat's own, as methods on
//! [`crate::Session`]. One file per area; SQL is written once and run on either backend through
//! the crate-private `on_db!` macro.
//!
//! Reads of many rows never fail because of one row: each row is decoded on its own, and a row
//! that cannot be understood (a NULL where production declares NOT NULL, an unknown enum label,
//! a time out of range) is set aside as a [`SkippedRow`] naming its table, key and reason, next to
//! the rows that were understood ([`Rows`]). The caller chooses: go on and report them (audit,
//! migration), or insist on a complete read ([`Rows::complete`]). Reads of one row report such a
//! row as [`crate::StoreError::BadRow`]. Duplicates production holds (member rows, participations) are
//! collapsed; lists of ids are bound in chunks, never as one unbounded parameter list.

mod budget;
mod chat;
mod claims;
mod events;
mod inbox;
mod journal;
mod locks;
mod maintenance;
mod ops;
mod pending;
mod people;
mod rooms;
mod rows;
mod snapshot;

pub use budget::RateGrant;
pub use chat::{NewRoom, direct_room_key, event_room_key, general_room_key};
pub use claims::{ClaimKind, MigrationWorker};
pub use inbox::{InboxCounts, InboxItem};
pub use journal::{MigrationItem, MigrationRun, NewItem};
pub use locks::Lease;
pub use maintenance::Maintenance;
pub use ops::{ChannelMove, CleanupAction, RetiredRoom};
pub use pending::PendingRoom;
pub use people::CallerInGym;
pub use rows::{Rows, SkippedRow};
pub use snapshot::TextRow;
