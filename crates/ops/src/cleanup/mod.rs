//! `gymchat cleanup`: acts on the audit's findings (SYSTEM.md §7).
//!
//! - [`plan`]: what a fresh, complete audit recommends that cleanup does: delete stream-only
//!   channels proven orphaned (refusing those with messages unless asked), retire closed rooms
//!   whose channel is gone, repair member sets, team, `gym_id` and frozen state of target
//!   channels. An audit that was not complete gives no action at all.
//! - [`apply`] carries a plan out under a run id. Channel deletes go in batches with their tasks
//!   awaited and each cid confirmed. Every database change is journaled in
//!   `gymchat_cleanup_actions` in the transaction that makes it, with what it replaced, so that
//!   [`undo`] restores it exactly. Stream's side cannot be undone (a deleted channel is gone):
//!   the journal says so.
//!
//! Cleanup never deletes Stream users (a hard user delete takes every channel of the user with
//! it) and never touches a channel that a room points at: the audit's orphan proof and a check of
//! the rooms just before acting both say so.

mod apply;
mod channel;
mod error;
pub mod plan;
mod undo;

pub use apply::{Applied, Outcome, apply};
pub use channel::plan_for_channel;
pub use error::CleanupError;
pub use plan::{Action, Options, Plan, Refusal, restrict_to};
pub use undo::{Undone, undo};
