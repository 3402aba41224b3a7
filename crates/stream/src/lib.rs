//! gymchat's client for Stream Chat's server-side REST API, written from Stream's documented
//! behaviour (`shared/spec/STREAM_API.md`).
//!
//! - [`client`]: configuration and transport (rustls connection pool, api key, server token,
//!   `x-ratelimit-*` headers read on every answer, a `tracing` span per call without secrets,
//!   tokens or message bodies).
//! - [`api`]: one typed method per endpoint: app, users, channels, members, messages, tasks.
//! - [`limits`]: Stream's documented limits on one call (batch and page sizes, offsets).
//! - [`model`]: request and response bodies; custom fields round-trip through flattened maps;
//!   ids are `gymchat_ids` types, including the `!members-…` ids Stream generates.
//! - [`budget`]: a rate budget shared with other processes (the workers of one run).
//! - [`pacing`]: per-operation call slots within a share (default 50%) of each rate limit and of
//!   what `x-ratelimit-remaining` says is left, per rate window; 429s hold the operation.
//! - [`helpers`]: batches of 100 users or cids (deletes confirmed per cid, tasks polled within a
//!   deadline), every channel of a filter listed exactly once past the offset cap, every member
//!   of a channel, a channel's whole history.
//! - [`rules`]: Stream's limits on a message, the slash commands its text would run, and which
//!   attachment URLs are on Stream's CDN.
//! - `transfer`: what is not a JSON call (an import file's upload, a file's download).
//! - [`token`]: server and user tokens.
//! - [`error`]: [`StreamError`] with Stream's code, status, message and exception fields, 429s
//!   with or without a body, failed tasks, and whether an outcome is unknown (timeout, reset).
//!
//! Retries: transient failures (408, 429, 5xx, timeouts, resets) are repeated with full-jitter
//! exponential backoff; a 429 waits for `Retry-After` or the window's reset. A repeat is how an
//! unknown outcome gets settled, so each call says why repeating it is safe, and where Stream's
//! answer to a repeat is ambiguous the call settles it by reading back:
//! - reads, upserts, partial updates, member changes, hide and show: idempotent;
//! - get-or-create: creates once (its `data` applies only to a new channel);
//! - deletes: a repeat meets Stream's "does not exist" (404 with code 16 only), which is done;
//!   batch deletes are confirmed per cid;
//! - sends carry a caller-chosen id: "already exists" is [`Sent::AlreadyExisted`] only when
//!   that id's message is in the intended channel (ids are app-wide);
//! - an update that carries a message and is answered "already exists" is settled by reading the
//!   channel and the message again ([`Updated::AlreadyApplied`]);
//! - truncation sends a fixed `truncated_at`, so a repeat never removes newer messages.
//! - batch channel updates set a state (frozen, members, hidden): a repeat starts a second task
//!   that sets it again, and [`Client::freeze_channels`] confirms by reading back.
//!
//! Full channel updates replace the channel's data: [`Client::update_channel_data`] reads the
//! channel first and sends back everything it does not change.

pub mod api;
pub mod budget;
pub mod client;
pub mod error;
mod failure;
pub mod helpers;
mod in_flight;
pub mod limits;
pub mod model;
pub mod pacing;
pub mod rules;
pub mod token;
mod transfer;

pub use api::{
    AppSettings, ChannelTypeConfig, EndpointLimit, ImportMove, ImportTask, ImportUrl, Sent, Updated, UserDeletion,
};
pub use client::{Answer, Client, ClientConfig, RetryPolicy};
pub use error::{ErrorKind, RateLimit, StreamError, TaskFailure};
pub use helpers::{ChannelListing, ChannelMapper, DeleteResults};
pub use token::{server_token, user_token};
