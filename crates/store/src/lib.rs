//! The platform's relational data and gymchat's own tables, over sqlx on Postgres (production)
//! and SQLite (the embedded default), chosen by the `DATABASE_URL` scheme.
//!
//! - [`backend`]: [`Store`] (pool, migrations, schema profile) and [`Session`] (one connection or
//!   one transaction).
//! - [`repo`]: typed repository methods on [`Session`]: gyms, users, memberships, events,
//!   participations, rooms with members, hidden rows, locks, and the chat service's own keys and
//!   webhook ids.
//! - [`model`]: the rows as typed values, ids from `gymchat_ids`.
//! - [`fixture`]: loading a fixture file's `db` section, all or nothing.
//! - [`states`]: the states and kinds gymchat's journals record, as types.
//! - `value`: decoders for production's column types.
//! - `catalog`: the database's columns (types, nullability, defaults, enum labels), learnt at open.
//! - `member_index`: the one index on a platform table, made only where the platform has none.
//! - [`readiness`]: what a database lacks for gymchat, read without changing it (`doctor`).
//!
//! Migrations create the platform tables only when absent (`CREATE TABLE IF NOT EXISTS`) and add
//! nothing but `gymchat_` tables and, where the platform has no index on `chat_members (user_id,
//! room_id)`, gymchat's own.
//!
//! Design decision: gymchat must adopt the platform's existing production database as it is.
//! sqlx's bookkeeping table is renamed `gymchat_schema_migrations`. Reads accept production's column types (int4, enums, naive
//! timestamps) and quirks (NULLs, duplicate members and participations); one row that cannot be
//! understood is set aside and reported ([`SkippedRow`]), never the reason a whole read fails.
//! Writes cast to the enum types learnt from the catalog at open.

pub mod backend;
mod catalog;
pub mod error;
pub mod fixture;
mod member_index;
pub mod model;
pub mod readiness;
pub mod repo;
pub mod states;
mod value;

pub use backend::{Backend, MIGRATIONS_TABLE, Session, Store, redact_url};
pub use error::{Result, StoreError};
pub use fixture::{DbFixture, LoadReport};
pub use model::{
    Event, EventStatus, Gym, GymRole, Hidden, Member, Membership, Participation, ParticipationStatus, PlatformRole,
    Room, RoomStatus, RoomWithMembers, User,
};
pub use readiness::{PLATFORM_COLUMNS, Readiness};
pub use repo::{
    CallerInGym, ChannelMove, ClaimKind, CleanupAction, InboxCounts, InboxItem, Lease, Maintenance, MigrationItem,
    MigrationRun, MigrationWorker, NewItem, NewRoom, PendingRoom, RateGrant, RetiredRoom, Rows, SkippedRow, TextRow,
    direct_room_key, event_room_key, general_room_key,
};
pub use states::{ActionKind, ActionState, ItemKind, ItemState, RunState, UnknownLabel};
