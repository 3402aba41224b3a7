//! One method per Stream endpoint, named after Stream's operation, one file per area. Each is a
//! single call with its own settling of an unknown outcome where Stream's answers allow it; no
//! batching happens here (see [`crate::helpers`]).
//!
//! - `app`: app settings and background tasks.
//! - `batch`: batch channel updates (`PUT /channels/batch`) and batch freezing.
//! - `users`: upsert, partial update, query, delete.
//! - `channels`: get-or-create, query, update (full and partial), delete, hide, show, truncate.
//! - `messages`: send and read messages.
//! - `files`: uploads to a channel's CDN.
//! - `imports`: Stream's import service (upload URL, upload, task, polls).
//! - `conversation`: a message's thread, reactions and partial updates (pins).

mod app;
mod batch;
pub(crate) mod channels;
mod conversation;
mod files;
mod imports;
mod messages;
mod shared;
mod users;

pub use app::{AppSettings, ChannelTypeConfig, EndpointLimit};
pub use channels::Updated;
pub use imports::{ImportMove, ImportTask, ImportUrl};
pub use messages::Sent;
pub use users::UserDeletion;
