//! Stream's documented limits on one call (STREAM_API.md): the largest batches and pages, and
//! how far offsets reach. Every helper that batches or pages takes them from here.

/// Users per upsert or partial update, cids per batch delete, members per update, ids per
/// `$in` query.
pub const BATCH: usize = 100;
/// Channels per channel query.
pub const CHANNEL_PAGE: u32 = 30;
/// Messages per page of a channel's history.
pub const MESSAGE_PAGE: u32 = 300;
/// Members per page of a channel's state.
pub const MEMBER_PAGE: u32 = 300;
/// The largest member offset Stream accepts.
pub const MAX_MEMBER_OFFSET: u32 = 10_000;
/// Members per channel that a channel query returns at most.
pub const QUERY_MEMBER_LIMIT: u32 = 100;
