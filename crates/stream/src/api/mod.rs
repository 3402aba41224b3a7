//! One method per Stream endpoint, named after Stream's operation, one file per area. Each is a
//! single call with its own settling of an unknown outcome where Stream's answers allow it; no
//! batching happens here (see [`crate::helpers`]).
//!
//! - `app`: app settings and background tasks.
//! - `users`: upsert, partial update, query, delete.
//! - `channels`: get-or-create, query, update (full and partial), delete, hide, show, truncate.
//! - `messages`: send and read messages.

mod app;
pub(crate) mod channels;
mod messages;
mod users;

pub use app::AppSettings;
pub use channels::Updated;
pub use messages::Sent;
pub use users::UserDeletion;

use gymchat_ids::Cid;

use crate::error::StreamError;

/// A delete that finds nothing to delete has nothing left to do: `None`. Only Stream's own
/// "does not exist" (404 with code 16) counts.
pub(crate) fn gone_is_done<T>(result: Result<T, StreamError>) -> Result<Option<T>, StreamError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// `/channels/{type}/{id}{suffix}`. Ids Stream generated (`!members-…`) go in as they are: `!`
/// is allowed in a URL path.
pub(crate) fn channel_path(cid: &Cid, suffix: &str) -> String {
    format!("/channels/{}/{}{suffix}", cid.channel_type(), cid.id())
}
