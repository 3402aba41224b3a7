//! Helpers that hide Stream's per-call limits ([`crate::limits`]):
//!
//! - `batches`: any number of users upserted or looked up and any number of channels deleted or
//!   read by cid, 100 (or 30) a call, deletes confirmed per cid, tasks polled to a final status
//!   within a deadline;
//! - `listing`: every channel of a filter listed past the 1,000 offset cap, each exactly once,
//!   keyset-paged with tie groups split on further keys (`keyset`);
//! - `paging`: every member of a channel, and a channel's whole history.
//!
//! Every paging loop ends: a page that brings nothing new ends it with an error instead of
//! asking for the same page again.

mod batches;
mod keyset;
mod listing;
pub(crate) mod paging;
mod slice;

pub use batches::{DeleteResults, TASK_DEADLINE};
pub use listing::ChannelListing;
pub use slice::ChannelMapper;
