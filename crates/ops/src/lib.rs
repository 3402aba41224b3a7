//! gymchat's operations on production: the audit that compares the platform database with Stream
//! (SYSTEM.md §6) and the cleanup that acts on its findings (SYSTEM.md §7).
//!
//! - [`audit`]: reads both sides of each gym, compares them, and reports findings with evidence,
//!   a recommendation and the `gymchat` command that carries it out; as JSON or one HTML page.
//! - [`cleanup`]: turns a fresh, complete audit into actions (delete orphaned channels, retire
//!   rooms whose channel is gone, repair member sets, teams and frozen state), dry-run unless
//!   told otherwise, every database change journaled so that it can be undone.
//! - [`migrate`]: plans and carries out the move to tenant-scoped ids, journaled per item,
//!   resumable, reversible, paced by the client.
//!
//! Design decision: nothing destructive happens on partial information. A gym whose reads were
//! incomplete gets no destructive recommendation, and cleanup does nothing for it.

pub mod audit;
pub mod cleanup;
pub mod migrate;
