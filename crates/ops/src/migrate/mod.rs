//! `gymchat migrate`: moves gyms from legacy Stream ids to tenant-scoped ids (SYSTEM.md §5).
//!
//! - [`mod@plan`]: reads the database and Stream and says what will happen, with a content hash;
//!   [`estimate`]: calls and least wall time of each strategy under Stream's limits.
//! - [`mod@apply`]: carries a plan out under one lock per database ([`lock`]), journaled per item,
//!   resumable after a kill at any point, stopped by a circuit breaker when too many items fail
//!   (`run`); users first (`users`), then each room by rebuild (`rebuild`, with its history
//!   copied by `history` and its reactions and pins by `marks`, last messages in the order of
//!   `order`, or imported through Stream's import service, or written for it, by `import`, and
//!   what each member had of it carried by `carry`) or in place (`in_place`),
//!   through the channel steps both share (`channels`); [`report`] is what it tells.
//! - [`mod@rollback`]: puts every switched room back on its old channel, with a note (`notes`);
//!   [`mod@abandon`] ends an unfinished run on purpose, undoing nothing.
//! - [`work()`]: another worker joins an open run (`gymchat migrate work`), on any machine;
//!   `apply` is its first worker. Items are claimed from the journal, each under a lease of its
//!   own (`work`), and the workers share one rate budget through the database ([`budget`]).
//! - [`mod@verify`]: checks by a fresh audit that the gyms are fully tenant-scoped, and
//!   (`faithful`) that members see in each copied room what they saw.
//! - [`options`] and [`error`]: what the operator chooses, and why a command or a step failed.
//!
//! The journal (`gymchat_migration_runs`, `gymchat_migration_items`) is the run's memory: a
//! resumed `apply` reads its items from there, not from a new plan, and every step is safe to
//! repeat (deterministic channel and message ids; updates that read back what they set).

pub mod abandon;
pub mod apply;
mod attachments;
mod breaker;
pub mod budget;
mod carry;
mod channels;
pub mod error;
pub mod estimate;
mod faithful;
mod freezer;
mod history;
mod import;
mod in_place;
pub mod lock;
mod marks;
mod notes;
pub mod options;
mod order;
pub mod plan;
mod rebuild;
mod renew;
pub mod report;
pub mod rollback;
mod run;
mod users;
pub mod verify;
mod work;

pub use abandon::abandon;
pub use apply::apply;
pub use breaker::BREAKER_WINDOW;
pub use budget::shared_budget;
pub use error::{MigrateError, StepError};
pub use faithful::Difference;
pub use lock::{LEASE_TTL_SECONDS, LOCK_NAME, holder_name};
pub use notes::NOTE_PREFIX;
pub use options::{ApplyOptions, History, IMPORT_DEADLINE_SECONDS, Options, RollbackOptions, Strategy};
pub use plan::Plan;
pub use report::{GymSkipped, ImportFile, ItemOutcome, Progress, Report, count_states};
pub use rollback::rollback;
pub use run::MAINTENANCE_TTL;
pub use verify::{Verification, verify};
pub use work::{WorkReport, work};
