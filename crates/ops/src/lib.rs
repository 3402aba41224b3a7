//! gymchat's operations on production: the audit that compares the platform database with Stream
//! (SYSTEM.md §6) and the cleanup that acts on its findings (SYSTEM.md §7).
//!
//! - [`audit`]: reads both sides of each gym, compares them, and reports findings with evidence,
//!   a recommendation and the `gymchat` command that carries it out; as JSON or one HTML page.
//!
//! Not built yet (issue 9): the cleanup that acts on the audit's findings.
//!
//! Design decision: nothing destructive happens on partial information. A gym whose reads were
//! incomplete gets no destructive recommendation.

pub mod audit;
