//! Stream's import service (STREAM_API.md, "Import"): the file an import names is analysed
//! ([`analyze`]: the documented format, item order and references) and, when it holds no error,
//! applied to the app ([`apply`]) with each object's own times.
//!
//! An import task moves as Stream's do, one state per poll of `GET /imports/{id}`: `uploaded`,
//! then `analyzing`, then `completed` (the file applied) or `analyze_failed` (nothing applied,
//! with the reasons under `result.errors`). Sandbox choices, where Stream documents nothing: the
//! task moves only when polled; `device` and `future_channel_ban` items are checked for their
//! references and otherwise ignored (the sandbox keeps neither); a distinct channel by
//! `member_ids` is refused; an attachment URL is "publicly reachable" when it is an absolute
//! `http(s)` URL (nothing is fetched).

mod analyze;
mod apply;

pub use analyze::{Item, analyze};
pub use apply::apply;
