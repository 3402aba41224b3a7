//! A local stand-in for the Stream Chat endpoints gymchat calls (SYSTEM.md §8), written from
//! Stream's published behaviour (`shared/spec/STREAM_API.md`) and depending on none of gymchat's
//! crates, so it cannot share their bugs.
//!
//! - [`server`]: [`run`] serves a bound listener until a shutdown future completes.
//! - `pipeline`: per request, in Stream's order: auth, rate limit, latency and faults, handler,
//!   Stream's error body or reply with `duration`, `x-ratelimit-*` headers.
//! - [`routes`]: the endpoints (app, users, channels, messages, tasks) and `/_sandbox` inspection.
//! - [`auth`], [`ratelimit`], [`faults`], [`filter`]: Stream's rules, each testable alone.
//! - [`import`]: Stream's import service: a file analysed, then applied with its own times.
//! - [`model`]: the in-memory app and its snapshot format (a fixture's `stream` section).
//!
//! Design decisions: state is in memory behind short locks; where Stream's behaviour is
//! uncertain the sandbox takes the conservative reading (see `STREAM_API.md` marks) or makes it
//! a switch (`strict_team_members`); the one fault that applies a write and then loses the answer
//! is explicit, every other fault fails before anything is applied.

pub mod auth;
pub mod config;
pub mod error;
pub mod faults;
pub mod filter;
pub mod import;
pub mod model;
mod pipeline;
pub mod ratelimit;
pub mod routes;
pub mod server;
mod state;

pub use config::{Config, InitialState, SandboxError, load_snapshot, parse_limits, save_snapshot};
pub use faults::Fault;
pub use model::{ChannelSnapshot, MemberState, Snapshot};
pub use ratelimit::LimitMode;
pub use server::{run, run_and_tell};
